// `bottle sidecar <daemon>`: the processes of the sidecar bundle. Each daemon registers its
// subcommand from its own module under sidecars/, so adding one is one import and one line.
import type { Command } from 'commander';
import type { Ctx } from './context.js';
import type { Outcome } from './cli.js';
import { register as registerInit } from '../sidecars/init/cli.js';
import { register as registerSupervise } from '../sidecars/supervise/cli.js';
import { registerGitGate } from '../sidecars/git-gate/cli.js';
import { registerGateway, registerGatewaySecrets } from '../sidecars/gateway/cli.js';

// Adds `bottle sidecar` and one subcommand per daemon module.
export function registerSidecar(program: Command, ctx: Ctx, outcome: Outcome): void {
  const sidecar = program
    .command('sidecar')
    .description('run one of the sidecar bundle\'s daemons (normally inside the bundle container)')
    .addHelpText('after', `
These commands are what runs inside a bottle's sidecar bundle: \`init\` is the container's
entry point and starts the other daemons as \`bottle sidecar <name>\`. Each one is also an
ordinary foreground process that can be run locally for development or debugging (give it
loopback addresses and temporary directories); stop it with Ctrl-C.`);
  registerInit(sidecar, ctx, outcome);
  registerSupervise(sidecar, ctx, outcome);
  registerGitGate(sidecar, ctx, outcome);
  registerGateway(sidecar, ctx, outcome);
  registerGatewaySecrets(sidecar, ctx, outcome);
}
