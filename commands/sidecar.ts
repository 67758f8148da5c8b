// `bottle sidecar <daemon>`: the processes of the sidecar bundle. Each daemon registers its
// subcommand from its own module under sidecars/, so adding one is one line in DAEMONS.
import type { Command } from 'commander';
import type { Ctx, Outcome } from '../lib/cli.js';

type Register = (sidecar: Command, ctx: Ctx, outcome: Outcome) => void;

// Each daemon's module, loaded only when named (a daemon, and init restarting one, then starts
// without importing the others: supervise's MCP SDK, the gateway's scanner, ...).
const DAEMONS: ReadonlyArray<{ name: string; load: () => Promise<Register> }> = [
  { name: 'init', load: async () => (await import('../sidecars/init/cli.js')).register },
  { name: 'supervise', load: async () => (await import('../sidecars/supervise/cli.js')).register },
  { name: 'git-gate', load: async () => (await import('../sidecars/git-gate/cli.js')).registerGitGate },
  { name: 'gateway', load: async () => (await import('../sidecars/gateway/cli.js')).registerGateway },
  { name: 'gateway-secrets', load: async () => (await import('../sidecars/gateway/cli.js')).registerGatewaySecrets },
];

// The registrar for `argv` (starting at `sidecar`): only the named daemon's module when argv
// names one, all of them otherwise (help, typos).
export async function sidecarRegistrar(argv: readonly string[]): Promise<(program: Command, ctx: Ctx, outcome: Outcome) => void> {
  const named = DAEMONS.filter((d) => d.name === argv[1]);
  const registers = await Promise.all((named.length ? named : DAEMONS).map((d) => d.load()));
  return (program, ctx, outcome) => {
    const sidecar = addSidecar(program);
    for (const register of registers) register(sidecar, ctx, outcome);
  };
}

// Adds the `bottle sidecar` command itself.
function addSidecar(program: Command): Command {
  return program
    .command('sidecar')
    .description('run one of the sidecar bundle\'s daemons (normally inside the bundle container)')
    .addHelpText('after', `
These commands are what runs inside a bottle's sidecar bundle: \`init\` is the container's
entry point and starts the other daemons as \`bottle sidecar <name>\`. Each one is also an
ordinary foreground process that can be run locally for development or debugging (give it
loopback addresses and temporary directories); stop it with Ctrl-C.`);
}
