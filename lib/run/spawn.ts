// Children that outlive one call (daemons, detached bring-ups, streamed output): argv in, never a
// shell, and a child that could not start settles as the runner's typed errors, like `run`'s.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { BinaryNotFoundError, CommandError } from '../errors.js';

// How a child ended, as node reports it: an exit code, or the signal that killed it.
export interface ChildExit { exitCode: number | null; signal: NodeJS.Signals | null }

// Unlike run's options, nothing to buffer or time out: the caller owns the child's lifetime.
export interface SpawnOptions {
  /** The child's whole environment (default: this process's); never merged. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: stdin ignored, stdout and stderr piped. Extra slots give extra fds (3, 4, ...). */
  stdio?: StdioOptions;
  /** Its own session and process group (signal them all with killGroup). */
  detached?: boolean;
  /** Hint appended to BinaryNotFoundError, e.g. how to install the binary. */
  installHint?: string;
}

// A started child; `pid` is undefined when it never started (then exited and closed reject).
export interface Child {
  readonly argv: readonly string[];
  readonly pid: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Every stdio slot, for pipes past stderr (a readiness fd). */
  readonly stdio: ChildProcess['stdio'];
  /** The exit; rejects with BinaryNotFoundError or CommandError when the child never started. */
  readonly exited: Promise<ChildExit>;
  /** Like exited, once its stdio has closed too (all its output read). */
  readonly closed: Promise<ChildExit>;
  /** Started and not yet exited. */
  readonly running: boolean;
  kill(sig?: NodeJS.Signals): void;
  /** Its whole process group (a detached child leads one); the child alone if the group is gone. */
  killGroup(sig: NodeJS.Signals): void;
  /** Lets this process exit while the child runs on. */
  unref(): void;
}

// Starts argv[0] with argv[1..]. Never throws for a child that cannot start: that settles `exited`.
export function spawnChild(argv: readonly string[], opts: SpawnOptions = {}): Child {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnChild: empty argv');
  const child = spawn(file, args, {
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.detached ? { detached: true } : {}),
  });
  let exit!: (e: ChildExit) => void;
  let close!: (e: ChildExit) => void;
  let fail!: (e: Error) => void;
  let failClosed!: (e: Error) => void;
  const exited = new Promise<ChildExit>((resolve, reject) => { exit = resolve; fail = reject; });
  const closed = new Promise<ChildExit>((resolve, reject) => { close = resolve; failClosed = reject; });
  // A caller may watch only one of them; the other's rejection is no crash.
  exited.catch(() => undefined);
  closed.catch(() => undefined);
  child.once('exit', (exitCode, signal) => exit({ exitCode, signal }));
  child.once('close', (exitCode, signal) => close({ exitCode, signal }));
  // Always listening: an 'error' without a listener (a failed kill) would throw in this process.
  // Both promises settle here, synchronously: after a failed start node still emits 'close'.
  child.on('error', (e: NodeJS.ErrnoException) => {
    if (child.pid !== undefined) return;
    const err = startFailure(e, argv, opts);
    fail(err);
    failClosed(err);
  });
  return {
    argv: [...argv],
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    stdio: child.stdio,
    exited,
    closed,
    get running() { return child.pid !== undefined && child.exitCode === null && child.signalCode === null; },
    kill(sig) { child.kill(sig); },
    killGroup(sig) {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try { child.kill(sig); } catch { /* already gone */ }
      }
    },
    unref() { child.unref(); },
  };
}

// Whether a spawn's ENOENT is the binary's: spawn reports a missing cwd as ENOENT too.
export function binaryMissing(code: string | undefined, cwd: string | undefined): boolean {
  return code === 'ENOENT' && !(cwd && !isDir(cwd));
}

function startFailure(e: NodeJS.ErrnoException, argv: readonly string[], opts: SpawnOptions): Error {
  if (binaryMissing(e.code, opts.cwd)) return new BinaryNotFoundError(argv[0]!, argv, opts.installHint, { cause: e });
  return new CommandError(argv, undefined, e.message, false, { cause: e });
}

function isDir(path: string): boolean {
  try { return statSync(path).isDirectory(); } catch { return false; }
}
