// Detached `bottle start` / `bottle stop` children: their own session and process group, no pipe
// to the dashboard, unref'd, so `q` (or a dashboard crash) never takes a bring-up down with it.
import { closeSync, openSync, readSync, fstatSync, rmSync } from 'node:fs';
import { spawnChild } from '../lib/run/spawn.js';

export interface Detached {
  pid: number | undefined;
  /** Exit code (128+n for a signal, 127 when it could not start). */
  exit: Promise<number>;
}

export interface DetachedOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** File that receives the child's stderr (its last lines explain a failure). */
  stderrFile?: string;
}

// Starts argv detached; stdout goes nowhere, stderr to `stderrFile` or nowhere.
export function spawnDetached(argv: readonly string[], opts: DetachedOptions): Detached {
  const errFd = opts.stderrFile ? openSync(opts.stderrFile, 'a', 0o600) : undefined;
  try {
    const child = spawnChild(argv, { detached: true, stdio: ['ignore', 'ignore', errFd ?? 'ignore'], env: opts.env, cwd: opts.cwd });
    const exit = child.exited.then(({ exitCode, signal }) => exitCode ?? (signal ? 128 : 1), () => 127);
    child.unref();
    return { pid: child.pid, exit };
  } finally {
    // The child has its own copy of the descriptor.
    if (errFd !== undefined) closeSync(errFd);
  }
}

// The last non-empty line of a stderr capture file (read through a descriptor opened before the
// bottle's state could be removed), then the file is deleted. '' when there is nothing.
export class StderrCapture {
  readonly #fd: number;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'a+', 0o600);
  }

  lastLine(): string {
    try {
      const size = fstatSync(this.#fd).size;
      const len = Math.min(size, 16 * 1024);
      const buf = Buffer.alloc(len);
      readSync(this.#fd, buf, 0, len, size - len);
      const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
      return lines[lines.length - 1] ?? '';
    } catch {
      return '';
    }
  }

  close(): void {
    try { closeSync(this.#fd); } catch { /* closed */ }
    rmSync(this.path, { force: true });
  }
}
