// The real process behind a command's Ctx: this process's env, cwd, stdout and stderr.
import type { Ctx } from '../lib/cli.js';
import { run } from '../lib/run/index.js';

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

// Called once by main.ts; tests build their own Ctx with captured output instead.
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
