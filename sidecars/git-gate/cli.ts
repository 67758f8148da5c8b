// `bottle sidecar git-gate`: serves the agent's repos over git://, scanning pushes for secrets
// and forwarding clean ones upstream. Runs until SIGTERM/SIGINT (exit 0) or until git daemon
// dies (exit 1, so the init supervisor restarts the whole gate with its backoff).
import type { Command } from 'commander';
import type { Ctx, Outcome } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { loadUpstreams } from './config.js';
import { startGitGate } from './daemon.js';
import { DEFAULTS } from './settings.js';
import { notifyReady, settleAfterStart } from '../ready.js';

interface Opts {
  reposDir: string;
  upstreams: string;
  listen: string;
  port: string;
  stateDir?: string;
  maxScanMb: string;
  fetchTimeoutMs: string;
  reviewQueueDir?: string;
  reviewDecisionsDir?: string;
}

function reviewDirs(queueDir: string | undefined, decisionsDir: string | undefined): { queueDir: string; decisionsDir: string } {
  if (!queueDir || !decisionsDir) throw new UserError('--review-queue-dir and --review-decisions-dir go together; pass both');
  return { queueDir, decisionsDir };
}

function number(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < min || n > max) throw new UserError(`${flag} ${value}: expected a number from ${min} to ${max}`);
  return n;
}

// Registers `git-gate` under `bottle sidecar`.
export function registerGitGate(sidecar: Command, ctx: Ctx, outcome: Outcome): void {
  sidecar
    .command('git-gate')
    .description('git daemon serving one mirror per upstream; pushes are scanned for secrets and forwarded upstream')
    .requiredOption('--repos-dir <dir>', 'where the bare mirrors live (<dir>/<name>.git)')
    .requiredOption('--upstreams <file>', 'JSON or YAML list of {name, upstream, identityFile?, tokenEnv?, dlpIgnore?}')
    .option('--listen <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '9418')
    .option('--state-dir <dir>', 'hook scripts and decisions.jsonl (default: <repos-dir>/.git-gate)')
    .option('--max-scan-mb <n>', 'bytes scanned per push (diffs and new objects); a bigger push is rejected, never passed unscanned', String(DEFAULTS.maxScanBytes / 1024 / 1024))
    .option('--fetch-timeout-ms <ms>', 'bound on refreshing a mirror before each fetch or push', String(DEFAULTS.fetchTimeoutMs))
    .option('--review-queue-dir <dir>', 'where pushes to upstreams with reviewHoldMs are held as proposals (the supervise queue)')
    .option('--review-decisions-dir <dir>', "where the operator's decisions on held pushes appear (the supervise decisions dir)")
    .addHelpText('after', `
The agent clones git://git-gate/<name>.git. Before every fetch or push the mirror is refreshed
from upstream (git daemon --access-hook, bounded by --fetch-timeout-ms; on failure the last
good state is served). A push is scanned commit by commit (only commits the gate has not seen);
any finding rejects it with rule, file and line (commit and tag messages are scanned too;
files git classifies as binary are not). A clean push is forwarded upstream with the
host-side identity (identityFile for ssh, the env var named by tokenEnv for https) before it
is accepted, so an upstream rejection fails the agent's push too. An upstream with
reviewHoldMs holds a clean push as a proposal of kind push (its diff beside it) until the
operator approves (forwarded), rejects (refused, with the note) or the hold runs out (refused).

stdout: one JSON line per push decision and per failed refresh; stderr: git daemon's log.`)
    .action(async (o: Opts) => {
      const port = number('--port', o.port, 1, 65535);
      const maxScanBytes = Math.round(number('--max-scan-mb', o.maxScanMb, 0.001, 100_000) * 1024 * 1024);
      const fetchTimeoutMs = number('--fetch-timeout-ms', o.fetchTimeoutMs, 100, 3_600_000);
      const gate = await startGitGate({
        reposDir: o.reposDir,
        upstreams: loadUpstreams(o.upstreams),
        host: o.listen,
        port,
        stateDir: o.stateDir,
        maxScanBytes,
        fetchTimeoutMs,
        ...(o.reviewQueueDir || o.reviewDecisionsDir ? { review: reviewDirs(o.reviewQueueDir, o.reviewDecisionsDir) } : {}),
        env: ctx.env,
        run: ctx.run,
        out: ctx.out,
        err: ctx.err,
      });
      ctx.err(`git-gate listening on git://${o.listen}:${gate.port}/ serving ${gate.repos.map((r) => `${r.name}.git`).join(', ') || 'no repos'}`);
      notifyReady(ctx.env);
      settleAfterStart();
      let onSignal!: (s: NodeJS.Signals) => void;
      const signalled = new Promise<NodeJS.Signals>((resolve) => { onSignal = resolve; });
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        const first = await Promise.race([signalled, gate.exited]);
        if (typeof first === 'string') {
          ctx.err(`git-gate: ${first}, stopping git daemon`);
          await gate.stop();
          outcome.exitCode = 0;
        } else {
          ctx.err(`git-gate: git daemon exited unexpectedly (${first.signal ?? `code ${first.exitCode}`}); exiting so the supervisor restarts the gate`);
          await gate.stop();
          outcome.exitCode = 1;
        }
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}

// Same function under the name the other sidecars use, so commands/sidecar.ts can wire it alike.
export const register = registerGitGate;
