// `bottle sidecar init`: the bundle's supervisor. Runs until SIGTERM/SIGINT and the children are gone.
import type { Command } from 'commander';
import type { Ctx, Outcome } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { DAEMON_NAMES } from '../daemons.js';
import { collectOverrides, resolveDaemons } from './config.js';
import { replicaCount, startGatewayFront, type GatewayFront } from './gateway-front.js';
import { Supervisor } from './supervisor.js';
import { settleAfterStart } from '../ready.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

interface Opts { daemon: string[]; graceMs?: string; eventsFile?: string }

function graceMs(flag: string | undefined, env: string | undefined): number {
  const raw = flag ?? env ?? '8000';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new UserError(`grace ${JSON.stringify(raw)}: expected milliseconds, e.g. --grace-ms 8000`);
  return n;
}

// Registers `init` under `bottle sidecar`.
export function register(sidecar: Command, ctx: Ctx, outcome: Outcome): void {
  sidecar
    .command('init')
    .description('supervise the bundle daemons: restart the ones that die, forward signals (the bundle entry point)')
    .option('--daemon <name=argv>', 'testing/ops escape hatch: run JSON argv as daemon <name> (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--grace-ms <ms>', 'time between forwarded SIGTERM and SIGKILL (default: $BOTTLE_SIDECAR_GRACE_MS or 8000)')
    .option('--events-file <file>', 'also append JSON event lines here (default: $BOTTLE_EVENTS_FILE)')
    .addHelpText('after', `
Daemons: BOTTLE_SIDECAR_DAEMONS=csv picks which to run (default: ${DAEMON_NAMES.join(', ')};
set but empty: none, init just waits for a signal). Each runs as \`bottle sidecar <name>\` with
flags from the bundle env (see sidecars/daemons.ts).

Escape hatch for tests and operations: BOTTLE_SIDECAR_COMMANDS='{"name":["argv0","arg"]}' or
--daemon name='["argv0","arg"]' replaces (or adds) a daemon's command; without
BOTTLE_SIDECAR_DAEMONS, only the overridden daemons run.

Readiness: each daemon gets a pipe whose fd is in $BOTTLE_READY_FD and writes one line to it
once it serves; init then records a daemon-ready event (the host's bring-up waits for these,
so a replacement command should do the same).

Output: children's lines prefixed "[name] "; init's own events as JSON lines on stdout.
Signals: SIGTERM/SIGINT go to every daemon's process group, then SIGKILL after the grace;
the exit code is the first non-zero child ending during shutdown (signal N counts as 128+N;
ending by the forwarded signal itself counts as clean).
SIGHUP goes to the gateway only (policy reload). A dead daemon is restarted after
0.2 s, doubling to 5 s while it keeps dying, reset after 60 s healthy.

Gateway: init binds its address and control socket itself and runs
BOTTLE_GATEWAY_REPLICAS (default 2; 0 = one gateway on its own socket) gateways accepting
on that one socket, so a killed gateway costs no refused connection: the other replica
serves, and while none is alive clients wait in the queue; the second starts once the
first replica of every daemon serves (or after BOTTLE_SIDECAR_STAGGER_MS, default 3000). Route secrets approved after launch are kept by init and handed to every
(re)started gateway.
Run under an init that reaps orphans (\`docker run --init\`): node cannot waitpid(-1).`)
    .action(async (o: Opts) => {
      const overrides = collectOverrides(ctx.env, o.daemon);
      const resolved = resolveDaemons(ctx.env, overrides);
      const replicas = replicaCount(ctx.env);
      let front: GatewayFront | undefined;
      if (replicas > 0 && !overrides.has('gateway') && resolved.some((d) => d.name === 'gateway')) {
        front = await startGatewayFront(ctx.env, replicas, (m) => ctx.err(`[init] gateway front: ${m}`));
      }
      const daemons = resolved.map((d) => (front && d.name === 'gateway' ? front.spec : d));
      const supervisor = new Supervisor({
        daemons,
        env: ctx.env,
        out: ctx.out,
        err: ctx.err,
        eventsFile: o.eventsFile ?? (ctx.env.BOTTLE_EVENTS_FILE || undefined),
        graceMs: graceMs(o.graceMs, ctx.env.BOTTLE_SIDECAR_GRACE_MS),
        ...(ctx.env.BOTTLE_SIDECAR_STAGGER_MS ? { staggerMs: graceMs(undefined, ctx.env.BOTTLE_SIDECAR_STAGGER_MS) } : {}),
        // Init's own start-up garbage too, once the bundle is up (see settleAfterStart).
        onAllReady: () => settleAfterStart(),
      });
      const handlers = SIGNALS.map((sig) => [sig, () => supervisor.signal(sig)] as const);
      for (const [sig, h] of handlers) process.on(sig, h);
      try {
        supervisor.start();
        outcome.exitCode = await supervisor.done;
      } finally {
        for (const [sig, h] of handlers) process.off(sig, h);
        front?.close();
      }
    });
}
