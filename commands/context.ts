// What a command needs from the outside world, injected so tests can run verbs in-process.
import { run, type Runner } from '../lib/run/index.js';

export interface Ctx {
  env: NodeJS.ProcessEnv;
  cwd: string;
  run: Runner;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stdout is a terminal (progress and colour decisions). */
  isTTY: boolean;
}

// `bottle ls --json | head -1`: a reader that stops early is not an error worth a stack trace.
let pipeGuarded = false;
function guardPipes(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

export function processCtx(): Ctx {
  guardPipes();
  return {
    env: process.env,
    cwd: process.cwd(),
    run,
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    isTTY: Boolean(process.stdout.isTTY),
  };
}
