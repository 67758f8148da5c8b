// Reads a command's stdout up to a byte cap, killing it past the cap. lib/run buffers whole
// outputs; a push's patch can be arbitrarily large, so the hook streams it here instead.
import { spawnChild } from '../../lib/run/spawn.js';

export interface CappedResult {
  stdout: string;
  bytes: number;
  /** The output went past maxBytes; stdout holds only the first part and must not be trusted as complete. */
  truncated: boolean;
  exitCode: number | undefined;
  stderr: string;
}

export type CappedReader = (argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; maxBytes: number }) => Promise<CappedResult>;

// Runs argv (no shell) and collects at most maxBytes of stdout; stderr is kept to its last 8 KB.
// A command that cannot start rejects with the runner's BinaryNotFoundError or CommandError.
export const readCapped: CappedReader = async (argv, opts) => {
  const child = spawnChild(argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    if (truncated) return;
    bytes += c.length;
    if (bytes > opts.maxBytes) {
      truncated = true;
      child.kill('SIGKILL');
      return;
    }
    chunks.push(c);
  });
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString('utf8')).slice(-8192); });
  const { exitCode } = await child.closed;
  return { stdout: Buffer.concat(chunks).toString('utf8'), bytes, truncated, exitCode: exitCode ?? undefined, stderr };
};
