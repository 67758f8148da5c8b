// The gateway daemon in-process: an HTTP forward proxy (absolute-form + CONNECT) on one
// listening socket, plus a non-listening inner HTTP server for requests inside tunnels.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { evaluate, PASSTHROUGH_PORT, type GrantLapsedEvent } from '../../lib/policy/index.js';
import type { UsageEvent } from '../../lib/usage/meter.js';
import { ensureCA, LeafMinter } from '../../lib/pki/index.js';
import { handleConnect, serveTunnelRequest, serveTunnelUpgrade } from './connect.js';
import { DEFAULT_TIMEOUTS, type GatewayContext, type Timeouts } from './context.js';
import { createAgents, systemLookup, type Lookup } from './dial.js';
import { Flow } from './flow.js';
import { proxyRequest } from './forward.js';
import { inUseLine, LapseReporter, scheduleLapses } from './lapse.js';
import { DecisionLog } from './log.js';
import { BudgetGuard } from './budget.js';
import { PolicyStore, watchPolicyDir, type ReloadOutcome } from './reload.js';
import { failed, sendRaw, sendText } from './respond.js';
import { parseAbsolute } from './target.js';
import { proxyUpgrade } from './upgrade.js';
import { collectStartupGarbage } from '../ready.js';

// Everything startGateway needs; only the directories are required.
export interface GatewayOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (any free port)
  fd?: number; // accept on this inherited bound socket instead of host:port
  policyDir: string; // holds policy.yaml
  caDir: string; // the bundle CA (created here if missing)
  upstreamCaPem?: string; // extra trust for upstream TLS
  allowPrivateUpstream?: Iterable<string>; // names that may resolve to private addresses
  lookup?: Lookup; // default: the system resolver
  env?: Readonly<Record<string, string | undefined>>; // route header values; default process.env
  logSinks?: ReadonlyArray<(line: string) => void>; // decision lines (JSON)
  diag?: (message: string) => void; // reloads and failures, for humans
  onGrantLapsedInUse?: (ev: GrantLapsedEvent) => void; // once per lapsed grant a request hits (the events file)
  onUsage?: (ev: UsageEvent) => void; // once per metered model answer (the events file); unset: no metering
  eventsFile?: string; // where usage is read back from for the budget (budget.json in policyDir)
  watch?: boolean; // reload on changes in policyDir (default true)
  settle?: boolean; // give back start-up memory before the warm-up (ready.ts collectStartupGarbage; the CLI sets it)
  timeouts?: Partial<Timeouts>;
  maxHeaderBytes?: number; // default 16 KiB
  passthroughPorts?: readonly number[]; // default [443]: where uninspected tunnels may go
}

// A running gateway.
export interface Gateway {
  readonly host: string;
  readonly port: number;
  readonly url: string; // http://host:port, the proxy URL clients use
  readonly caCertPem: string; // what clients must trust
  readonly policyHash: string;
  // Re-reads policy.yaml (SIGHUP); an invalid file keeps the current policy.
  reload(why: string): ReloadOutcome;
  close(): Promise<void>;
}

// Answers for requests node's parser rejected (too-big headers, garbage) or that timed out.
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

// Starts listening; resolves once the port is bound. Throws a UserError for a missing or
// invalid policy.yaml or an unusable CA directory.
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const diag = o.diag ?? (() => {});
  const store = new PolicyStore(o.policyDir, o.env ?? process.env);
  const ca = ensureCA(o.caDir);
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeouts };
  const agents = createAgents(o.upstreamCaPem);
  const sockets = new Set<Duplex>();
  const serverOptions: http.ServerOptions = { maxHeaderSize: o.maxHeaderBytes ?? 16 * 1024, noDelay: true, keepAlive: true };
  const main = http.createServer(serverOptions);
  const inner = http.createServer(serverOptions);
  const g: GatewayContext = {
    store,
    minter: new LeafMinter(ca),
    lookup: o.lookup ?? systemLookup,
    allowPrivate: new Set([...(o.allowPrivateUpstream ?? [])].map((n) => n.toLowerCase().replace(/\.$/, ''))),
    agents,
    log: new DecisionLog(o.logSinks ?? []),
    lapses: new LapseReporter((ev) => {
      diag(inUseLine(ev));
      o.onGrantLapsedInUse?.(ev);
    }),
    diag,
    onUsage: o.onUsage,
    budget: new BudgetGuard(o.policyDir, o.eventsFile, diag),
    timeouts,
    passthroughPorts: o.passthroughPorts ?? [PASSTHROUGH_PORT],
    inner,
    tunnels: new WeakMap(),
    track(socket) {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
  };
  for (const s of [main, inner]) {
    s.timeout = timeouts.clientIdleMs;
    s.on('clientError', onClientError);
  }
  inner.keepAliveTimeout = 30_000; // reopening a tunnel costs a CONNECT and a handshake
  main.on('connection', (socket: Socket) => g.track(socket));
  main.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const abs = parseAbsolute(req.url ?? '');
    if ('error' in abs) {
      sendText(res, { status: 400, body: `bad request: ${abs.error}\n` });
      return;
    }
    const flow = new Flow(g, { res }, req.method ?? 'GET', abs.target.host.host, abs.path);
    proxyRequest(flow, req, res, abs.target).catch((e) => failed(diag, res, e));
  });
  main.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const abs = parseAbsolute(req.url ?? '');
    if ('error' in abs) {
      sendRaw(socket, { status: 400, body: `bad request: ${abs.error}\n` });
      return;
    }
    const flow = new Flow(g, { socket }, req.method ?? 'GET', abs.target.host.host, abs.path);
    proxyUpgrade(flow, req, socket, head, abs.target).catch(() => socket.destroy());
  });
  main.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => handleConnect(g, req, socket, head));
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => serveTunnelRequest(g, req, res));
  inner.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => serveTunnelUpgrade(g, req, socket, head));

  await new Promise<void>((resolve, reject) => {
    main.once('error', reject);
    const ready = () => {
      main.off('error', reject);
      resolve();
    };
    if (o.fd !== undefined) main.listen({ fd: o.fd }, ready);
    else main.listen(o.port ?? 0, o.host ?? '127.0.0.1', ready);
  });
  main.on('error', (e) => diag(`listener error: ${e.message}`));
  const addr = main.address() as AddressInfo;
  // The scanner compiles its rules on first use (~50 ms): paid right after the caller has said
  // it listens (a bottle's readiness, and so its bring-up, does not wait for it) and before an
  // agent's first request can arrive, which comes after the rest of the bring-up. A request
  // that did come first would compile them itself. With `settle`, the start-up garbage goes
  // first: that collection also drops compiled code, which the warm-up then compiles again (the
  // other way round, a bottle's first request paid ~20 ms more).
  setImmediate(() => {
    if (o.settle) collectStartupGarbage();
    evaluate(store.current.policy, { method: 'GET', url: 'http://warm-up.invalid/', headers: {} });
  });

  let cancelLapses = scheduleLapses(store.current.policy, diag);
  const reload = (why: string): ReloadOutcome => {
    g.budget.reload();
    const r = store.reload();
    if (r.error) diag(`policy reload (${why}) rejected, keeping ${r.hash}: ${r.error}`);
    else if (r.changed) {
      diag(`policy reloaded (${why}): ${r.hash}`);
      cancelLapses();
      cancelLapses = scheduleLapses(store.current.policy, diag);
    }
    return r;
  };
  const unwatch = o.watch === false ? () => {} : watchPolicyDir(o.policyDir, () => reload('file change'), diag);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return {
    host: addr.address,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    caCertPem: ca.certPem,
    get policyHash() {
      return store.current.hash;
    },
    reload,
    close: async () => {
      unwatch();
      cancelLapses();
      const closed = new Promise<void>((resolve) => main.close(() => resolve()));
      main.closeAllConnections();
      inner.closeAllConnections();
      for (const s of sockets) s.destroy();
      agents.destroy();
      await closed;
    },
  };
}
