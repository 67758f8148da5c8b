// `bottle sidecar gateway`: runs the egress gateway until SIGTERM/SIGINT; SIGHUP reloads the
// policy. Decision lines go to stdout (and --log); human messages go to stderr.
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Ctx, Outcome } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { CA_CERT_FILE } from '../../lib/pki/index.js';
import { parseHostsFile, staticLookup, suffixLookup } from './dial.js';
import { batchedWriter } from './log.js';
import { startGateway } from './server.js';
import { parseListenAddress } from '../listen.js';
import { appendEvent, queuedAppender } from '../supervise/events.js';
import { DEFAULT_CONTROL_SOCKET, sendSecrets, startControlSocket } from './control.js';
import { notifyReady, stopSignal } from '../ready.js';

export { parseListenAddress } from '../listen.js';

function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${flag} ${file}: ${(e as Error).message}`);
  }
}

interface Opts {
  listen: string;
  listenFd?: string;
  policyDir: string;
  caDir: string;
  upstreamCa?: string;
  allowPrivateUpstream: string[];
  log?: string;
  hostsFile?: string;
  watch: boolean;
  controlSocket?: string;
  eventsFile?: string;
  resolveOnly: string[];
}

// Registers `gateway` under `bottle sidecar`.
export function registerGateway(sidecar: Command, ctx: Ctx, outcome: Outcome): void {
  sidecar
    .command('gateway')
    .description('egress proxy: allowlist, SSRF guard, TLS interception, DLP and credential injection')
    .option('--listen <host:port>', 'proxy address', '127.0.0.1:8888')
    .option('--listen-fd <n>', 'accept on this inherited bound socket instead of binding --listen (init shares one between gateway replicas)')
    .requiredOption('--policy-dir <dir>', 'directory holding policy.yaml (watched; replace the file by rename)')
    .requiredOption('--ca-dir <dir>', 'bundle CA directory (ca.crt + ca.key; created if missing)')
    .option('--upstream-ca <file>', 'extra CA (PEM) trusted for upstream TLS, besides the system store')
    .option('--allow-private-upstream <name...>', 'host name allowed to resolve to private addresses (test upstreams only)', [] as string[])
    .option('--log <file>', 'also append decision lines (JSON) to this file')
    .option('--hosts-file <file>', 'resolve names ONLY from this /etc/hosts-format file (tests)')
    .option('--resolve-only <suffix...>', 'resolve only names under these suffixes, e.g. test (test bundles: no public name is ever dialled)', [] as string[])
    .option('--no-watch', 'do not watch --policy-dir; reload on SIGHUP only')
    .option('--control-socket <path>', 'unix socket on which `bottle sidecar gateway-secrets` hands over route secrets approved after launch')
    .option('--events-file <file>', 'append an event here when a request hits a lapsed time-boxed grant, and a usage event per model answer (default: $BOTTLE_EVENTS_FILE)')
    .addHelpText('after', `
Clients use it as HTTP(S)_PROXY. Blocked requests get 403 "blocked: <reason>" and the
supervise tool call to ask with (propose_allowlist_change, its host and reason), as JSON for
Accept: application/json, the reason in the status line too. A CONNECT to a host the
allowlist or blocklist refuses is opened and answered the same way inside (TLS with a leaf
from the CA in --ca-dir; nothing resolved or dialled); private addresses, host names carrying
a secret and malformed targets are refused at the CONNECT ("CONNECT blocked: ..."). Route
headers (policy.yaml routes) are filled from this process's env. SIGHUP, or a change in
--policy-dir, reloads policy.yaml; an invalid file is rejected and the old policy stays.`)
    .action(async (o: Opts) => {
      const { host, port } = parseListenAddress(o.listen);
      const fd = o.listenFd === undefined ? undefined : Number(o.listenFd);
      if (fd !== undefined && (!/^\d+$/.test(o.listenFd!) || fd < 3)) throw new UserError(`--listen-fd ${o.listenFd}: expected an inherited descriptor number >= 3`);
      const upstreamCaPem = o.upstreamCa ? readFlagFile('--upstream-ca', o.upstreamCa) : undefined;
      const base = o.hostsFile ? staticLookup(parseHostsFile(readFlagFile('--hosts-file', o.hostsFile))) : undefined;
      const lookup = o.resolveOnly.length ? suffixLookup(o.resolveOnly, base) : base;
      const sinks: Array<(line: string) => void> = [batchedWriter((text) => ctx.out(text))];
      const file = o.log ? createWriteStream(o.log, { flags: 'a' }) : undefined;
      if (file) {
        file.on('error', (e) => ctx.err(`gateway: --log ${o.log}: ${e.message}`));
        sinks.push(batchedWriter((text) => file.write(text)));
      }
      const eventsFile = o.eventsFile ?? (ctx.env.BOTTLE_EVENTS_FILE || undefined);
      let usageErrorSaid = false;
      // A private copy: secrets approved after launch are added to it over the control socket,
      // which is up before the first request is accepted.
      const secretEnv: Record<string, string | undefined> = { ...ctx.env };
      let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
      // Signals are ours from the first moment: init forwards SIGHUP to a replica that may still
      // be starting (its default action would kill it), and a SIGTERM then must not be fatal.
      let hupWhileStarting = false;
      const onHup = () => { if (gateway) gateway.reload('SIGHUP'); else hupWhileStarting = true; };
      process.on('SIGHUP', onHup);
      const stopped = stopSignal();
      const control = o.controlSocket
        ? await startControlSocket(o.controlSocket, secretEnv, () => void gateway?.reload('new secrets'), (m) => ctx.err(`gateway: ${m}`))
        : undefined;
      gateway = await startGateway({
        host, port, fd,
        policyDir: o.policyDir,
        caDir: o.caDir,
        upstreamCaPem,
        allowPrivateUpstream: o.allowPrivateUpstream,
        lookup,
        env: secretEnv,
        logSinks: sinks,
        diag: (m) => ctx.err(`gateway: ${m}`),
        onGrantLapsedInUse: (ev) => {
          const e = appendEvent(eventsFile, ev);
          if (e) ctx.err(`gateway: cannot append to events file ${eventsFile}: ${e.message}`);
        },
        // Metering only where its events go, written off the stream's path (a sync write at the
        // end of an answer held its last event back); a failing file is said once, not per request.
        onUsage: eventsFile ? queuedAppender(eventsFile, (e) => {
          if (usageErrorSaid) return;
          usageErrorSaid = true;
          ctx.err(`gateway: cannot append usage to events file ${eventsFile}: ${e.message} (said once)`);
        }) : undefined,
        eventsFile,
        watch: o.watch,
        settle: true,
      });
      ctx.err(`gateway: listening on ${gateway.url}${fd === undefined ? '' : ` (shared socket, fd ${fd})`} (policy ${gateway.policyHash}; clients trust ${join(o.caDir, CA_CERT_FILE)})`);
      if (hupWhileStarting) gateway.reload('SIGHUP while starting');
      notifyReady(ctx.env);
      const sig = await stopped;
      process.off('SIGHUP', onHup);
      ctx.err(`gateway: ${sig}, closing`);
      control?.close();
      await gateway?.close();
      await new Promise<void>((resolve) => (file ? file.end(resolve) : resolve()));
      outcome.exitCode = 0;
    });
}

// Registers `gateway-secrets NAME...`: run in the bundle by the host (engine exec whose Env
// carries the values) to hand a running gateway secrets for routes approved after launch.
export function registerGatewaySecrets(sidecar: Command, ctx: Ctx, outcome: Outcome): void {
  sidecar
    .command('gateway-secrets')
    .description('hand the running gateway the values of the named env vars (route secrets approved after launch)')
    .argument('<names...>', 'env var names; their values are read from this process\'s environment')
    .option('--control-socket <path>', 'the gateway\'s control socket', DEFAULT_CONTROL_SOCKET)
    .action(async (names: string[], o: { controlSocket: string }) => {
      const secrets: Record<string, string> = {};
      const missing = names.filter((n) => !ctx.env[n]);
      if (missing.length) throw new UserError(`not set in this environment: ${missing.join(', ')}`);
      for (const n of names) secrets[n] = ctx.env[n]!;
      await sendSecrets(o.controlSocket, secrets).catch((e: Error) => { throw new UserError(e.message); });
      ctx.err(`gateway-secrets: gateway updated (${names.join(', ')})`);
      outcome.exitCode = 0;
    });
}
