// The one way this project runs commands: argv arrays in, one result shape out. Children that
// outlive the call (daemons, detached, streamed) start through spawn.ts, with the same errors.
import { BinaryNotFoundError, CommandError } from '../errors.js';
import { binaryMissing } from './spawn.js';

export interface RunResult {
  argv: string[];
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
  failed: boolean;
  timedOut: boolean;
}

export interface RunOptions {
  /** Return a failed result instead of throwing (probes decide on exitCode). */
  probe?: boolean;
  input?: string;
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending it. */
  extendEnv?: boolean;
  cwd?: string;
  timeoutMs?: number;
  /** Hint appended to BinaryNotFoundError, e.g. how to install the binary. */
  installHint?: string;
}

export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

// Runs argv[0] with argv[1..]; never through a shell.
export const run: Runner = async (argv, opts = {}) => {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const started = performance.now();
  const r = await (await loadExeca())(file, args, {
    reject: false,
    input: opts.input,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    cwd: opts.cwd,
    timeout: opts.timeoutMs,
    stdin: opts.input === undefined ? 'ignore' : undefined,
    stripFinalNewline: true,
  });
  const result: RunResult = {
    argv: [...argv],
    exitCode: r.exitCode,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    durationMs: Math.round(performance.now() - started),
    failed: r.failed,
    timedOut: r.timedOut,
  };
  const code = (r as { code?: string }).code;
  if (r.exitCode === undefined && binaryMissing(code, opts.cwd)) {
    throw new BinaryNotFoundError(file, argv, opts.installHint);
  }
  if (result.failed && !opts.probe) {
    throw new CommandError(argv, result.exitCode, result.stderr || (r.message ?? ""), result.timedOut);
  }
  return result;
};

// Whether a binary is on PATH (no spawn; used by doctor and test skips).
export async function which(binary: string, pathEnv = process.env.PATH ?? ''): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const { join, delimiter } = await import('node:path');
  if (binary.includes('/')) {
    try { await access(binary, constants.X_OK); return binary; } catch { return undefined; }
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try { await access(candidate, constants.X_OK); return candidate; } catch { /* next */ }
  }
  return undefined;
}

// Runs argv with the terminal handed over (stdio inherited): claude in the foreground.
// Returns the exit code; a missing binary is a BinaryNotFoundError like everywhere else.
export async function runInteractive(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; installHint?: string } = {}): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runInteractive: empty argv');
  const r = await (await loadExeca())(file, args, { reject: false, stdio: 'inherit', env: opts.env, cwd: opts.cwd });
  if ((r as { code?: string }).code === 'ENOENT' && r.exitCode === undefined) {
    throw new BinaryNotFoundError(file, argv, opts.installHint);
  }
  return r.exitCode ?? (r.signal ? 128 : 1);
}

// execa costs ~60 ms to import: paid by the first command run, not by every CLI start.
export async function loadExeca(): Promise<typeof import('execa').execa> {
  return (await import('execa')).execa;
}

// Why this process cannot hand a terminal to an interactive child (claude), or undefined when
// it can: docker exec -it fails with a raw "the input device is not a TTY" otherwise.
export function terminalProblem(): string | undefined {
  if (!process.stdin.isTTY) return 'stdin is not a terminal';
  if (!process.stdout.isTTY) return 'stdout is not a terminal';
  return undefined;
}

// A y/N question on the terminal (asked on stderr), or undefined when stdin is not one.
export function terminalQuestion(): ((question: string) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
}
