// Errors that cross module boundaries. A UserError is something the operator can fix;
// commands/ prints its message as one line and exits non-zero, without a stack trace.

export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, readonly exitCode = 1, options?: ErrorOptions) {
    super(message, options);
  }
}

// A subprocess's binary is not installed (ENOENT on spawn).
export class BinaryNotFoundError extends UserError {
  override name = 'BinaryNotFoundError';
  constructor(readonly binary: string, readonly argv: readonly string[], hint?: string, options?: ErrorOptions) {
    super(`${binary}: command not found${hint ? `; ${hint}` : ''}`, undefined, options);
  }
}

// A subprocess ran and failed; carries what is needed to explain why.
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly timedOut = false,
    /** `cause`: the spawn error of a process that never started (see lib/run/spawn.ts). */
    options?: ErrorOptions,
  ) {
    const why = timedOut ? 'timed out' : exitCode !== undefined ? `exited ${exitCode}` : options?.cause ? 'did not start' : 'exited by signal';
    const detail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${argv.join(' ')}: ${why}${detail ? `: ${detail}` : ''}`, options);
  }
}
