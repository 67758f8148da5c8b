// `bottle sidecar supervise`: runs the supervise server until SIGTERM/SIGINT, then exits 0.
import type { Command } from 'commander';
import { parseListenAddress } from '../listen.js';
import type { Ctx, Outcome } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { startSupervise } from './server.js';
import { notifyReady, settleAfterStart, stopSignal } from '../ready.js';

// HOST:PORT for supervise (the shared parser, with supervise's port in the example).
export const parseListen = (value: string): { host: string; port: number } => parseListenAddress(value, '0.0.0.0:9100');

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UserError(`${flag} ${value}: expected a non-negative number`);
  return n;
}

interface Opts {
  listen: string;
  queueDir: string;
  decisionsDir: string;
  policyFile?: string;
  eventsFile?: string;
  waitSeconds: string;
  pollMs: string;
}

// Registers `supervise` under `bottle sidecar`.
export function register(sidecar: Command, ctx: Ctx, outcome: Outcome): void {
  sidecar
    .command('supervise')
    .description('MCP server where the agent proposes allowlist/route changes; also receives Claude Code hook events')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:9100')
    .requiredOption('--queue-dir <dir>', 'where proposals are written (one JSON file each)')
    .requiredOption('--decisions-dir <dir>', 'where the host writes decisions (only read here)')
    .option('--policy-file <file>', 'policy file hashed into each proposal, to detect stale ones')
    .option('--events-file <file>', 'append hook events here as JSON lines (default: $BOTTLE_EVENTS_FILE)')
    .option('--wait-seconds <n>', 'how long a propose call waits for a decision', '60')
    .option('--poll-ms <n>', 'fallback poll of the decisions dir (fs.watch misses events on some mounts)', '2000')
    .addHelpText('after', `
Endpoints: POST / and /mcp (MCP Streamable HTTP, stateless), POST /hooks/claude
(Claude Code hook JSON), GET /events, GET /healthz. Tools: propose_allowlist_change,
propose_route_change, check_proposal.`)
    .action(async (o: Opts) => {
      const { host, port } = parseListen(o.listen);
      const stopped = stopSignal();
      const server = await startSupervise({
        host, port,
        queueDir: o.queueDir,
        decisionsDir: o.decisionsDir,
        policyFile: o.policyFile,
        eventsFile: o.eventsFile ?? (ctx.env.BOTTLE_EVENTS_FILE || undefined),
        waitSeconds: positive('--wait-seconds', o.waitSeconds),
        pollMs: Math.max(50, positive('--poll-ms', o.pollMs)),
        log: (line) => ctx.err(`supervise: ${line}`),
      });
      ctx.out(`supervise listening on ${server.url} (MCP at / and /mcp)`);
      notifyReady(ctx.env);
      settleAfterStart();
      const sig = await stopped;
      ctx.err(`supervise: ${sig}, closing`);
      await server.close();
      outcome.exitCode = 0;
    });
}
