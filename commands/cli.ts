// Builds the commander program; every verb registers itself from its own file.
import { Command, CommanderError } from 'commander';
import { UserError } from '../lib/errors.js';
import { packageVersion } from '../lib/paths.js';
import type { Ctx } from './context.js';
import { registerDoctor } from './doctor.js';
import { registerManifest } from './manifest.js';
import { registerStart } from './start.js';
import { registerPolicy } from './policy.js';
import { registerScan } from './scan.js';
import { registerSidecar } from './sidecar.js';
import { registerProposals } from './proposals.js';
import { registerAllowlist } from './allowlist.js';
import { registerImages } from './images.js';
import { registerLifecycleVerbs } from './lifecycle-verbs.js';
import { registerDashboard } from './dashboard.js';
import { registerTmux } from './tmux.js';

// A verb's action sets the exit code here instead of calling process.exit (only main.ts exits).
export interface Outcome { exitCode: number }

export function buildProgram(ctx: Ctx, outcome: Outcome): Command {
  const program = new Command('bottle')
    .description('Run Claude Code agents in sandboxes ("bottles") with a tmux-native cockpit')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.out(s), writeErr: (s) => ctx.err(s) })
    .exitOverride();
  registerTmux(program, ctx, outcome);
  registerDashboard(program, ctx, outcome);
  registerStart(program, ctx, outcome);
  registerLifecycleVerbs(program, ctx, outcome);
  registerProposals(program, ctx, outcome);
  registerAllowlist(program, ctx, outcome);
  registerImages(program, ctx, outcome);
  registerDoctor(program, ctx, outcome);
  registerManifest(program, ctx, outcome);
  registerPolicy(program, ctx, outcome);
  registerScan(program, ctx, outcome);
  registerSidecar(program, ctx, outcome);
  return program;
}

// Runs the CLI for argv (without node and script); returns the exit code, never throws.
export async function runCli(argv: string[], ctx: Ctx): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const program = buildProgram(ctx, outcome);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (e) {
    return reportError(e, ctx);
  }
}

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
