// `bottle sidecar ...` with only the sidecar verb loaded (the bundle's daemons start, and
// restart after a crash, without importing the dashboard, backends or image builder).
import { Command } from 'commander';
import { packageVersion } from '../lib/paths.js';
import { reportError, type Outcome } from './report.js';
import type { Ctx } from './context.js';
import { registerSidecar } from './sidecar.js';

export async function runSidecarCli(argv: string[], ctx: Ctx): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const program = new Command('bottle')
    .version(packageVersion(), '-V, --version')
    .configureOutput({ writeOut: (s) => ctx.out(s), writeErr: (s) => ctx.err(s) })
    .exitOverride();
  registerSidecar(program, ctx, outcome);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (e) {
    return reportError(e, ctx);
  }
}
