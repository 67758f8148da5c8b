// How a verb's outcome and errors reach the process: kept apart from cli.ts so fast paths
// (the bundle's daemons, the key table) report errors without loading every verb.
import { CommanderError } from 'commander';
import { engineUnreachableMessage } from '../lib/docker/unreachable.js';
import { UserError } from '../lib/errors.js';
import type { Ctx } from '../lib/cli.js';

export function reportError(e: unknown, ctx: Ctx): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (or help/version, which exit 0).
    return e.exitCode;
  }
  const debug = Boolean(ctx.env.BOTTLE_DEBUG) && !/^(0|false|no|off)$/i.test(ctx.env.BOTTLE_DEBUG ?? '');
  if (e instanceof UserError) {
    ctx.err(`bottle: ${e.message}`);
    if (debug && e.stack) ctx.err(e.stack);
    return e.exitCode;
  }
  // Anything the user can cause is theirs to fix, not an internal error: the engine being down.
  const engine = engineUnreachableMessage(e, ctx.env);
  if (engine) {
    ctx.err(`bottle: ${engine}`);
    if (debug && e instanceof Error && e.stack) ctx.err(e.stack);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  ctx.err(`bottle: internal error: ${err.message}`);
  ctx.err(debug ? (err.stack ?? '') : 'bottle: set BOTTLE_DEBUG=1 to see the stack trace');
  return 70;
}
