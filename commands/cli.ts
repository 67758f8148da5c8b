// Builds the commander program; every verb registers itself from its own file.
import { Command } from 'commander';
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

import { reportError, type Outcome } from './report.js';

export { reportError, type Outcome };

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

