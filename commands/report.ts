// How a verb's outcome and errors reach the process: kept apart from cli.ts so fast paths
// (the bundle's daemons, the key table) report errors without loading every verb.
import { CommanderError } from 'commander';
import { UserError } from '../lib/errors.js';
import type { Ctx } from './context.js';

// A verb's action sets the exit code here instead of calling process.exit (only main.ts exits).
export interface Outcome { exitCode: number }

export function reportError(e: unknown, ctx: Ctx): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (or help/version, which exit 0).
    return e.exitCode;
  }
  const debug = Boolean(ctx.env.BOTTLE_DEBUG);
  if (e instanceof UserError) {
    ctx.err(`bottle: ${e.message}`);
    if (debug && e.stack) ctx.err(e.stack);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  ctx.err(`bottle: internal error: ${err.message}`);
  ctx.err(debug ? (err.stack ?? '') : 'bottle: set BOTTLE_DEBUG=1 to see the stack trace');
  return 70;
}
