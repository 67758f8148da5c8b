// How a verb's outcome and errors reach the process: kept apart from cli.ts so fast paths
// (the bundle's daemons, the key table) report errors without loading every verb.
import { CommanderError } from 'commander';
import { engineUnreachableMessage } from '../lib/docker/unreachable.js';
import { UserError } from '../lib/errors.js';
import type { Ctx } from '../lib/cli.js';

// The line a failure is reported with, without the `bottle: ` prefix.
export function errorLine(e: unknown, env: NodeJS.ProcessEnv): string {
  if (e instanceof CommanderError) return e.message.replace(/^error: /, '');
  if (e instanceof UserError) return e.message;
  // Anything the user can cause is theirs to fix, not an internal error: the engine being down.
  const engine = engineUnreachableMessage(e, env);
  if (engine) return engine;
  return `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

export function reportError(e: unknown, ctx: Ctx): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (or help/version, which exit 0).
    return e.exitCode;
  }
  const debug = Boolean(ctx.env.BOTTLE_DEBUG) && !/^(0|false|no|off)$/i.test(ctx.env.BOTTLE_DEBUG ?? '');
  ctx.err(`bottle: ${errorLine(e, ctx.env)}`);
  const known = e instanceof UserError || engineUnreachableMessage(e, ctx.env) !== undefined;
  if (known) {
    if (debug && e instanceof Error && e.stack) ctx.err(e.stack);
    return e instanceof UserError ? e.exitCode : 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  ctx.err(debug ? (err.stack ?? '') : 'bottle: set BOTTLE_DEBUG=1 to see the stack trace');
  return 70;
}
