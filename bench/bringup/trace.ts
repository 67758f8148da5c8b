// Which engine API requests a `bottle start` makes, and which wait for which: a logging TCP
// proxy on loopback between the CLI (DOCKER_HOST=tcp://127.0.0.1:PORT) and the engine (its unix
// socket, or a tcp address). Each request is recorded with its connection, when it was sent and
// when the last byte of its answer before the next request (or the connection's end) came;
// its depth is 1 + the deepest request answered before it was sent, so the deepest request is
// the number of sequential round trips (plus one per new connection on the way: a TCP
// handshake costs a round trip too). Hijacked streams (exec start) and follows (logs) end when
// their last byte came.
//
// Run: `npx tsx bench/bringup/trace.ts` (local engine; DOCKER_HOST=tcp://… for another one):
// one `bottle start --yes --no-attach` of the bringup bench's manifest through the proxy, the
// timeline and the chain printed, the bottle removed. TRACE_DELAY_MS=50 delays every answer
// (and every handshake) as a remote engine would; TRACE_ENGINE2=1 traces a start on the bringup
// bench's remote engine instead (a second engine, TRACE_ENGINE2_LATENCY_MS=50 away);
// TRACE_SOURCE=1 runs the CLI from source.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// One request as the proxy saw it (ms since the trace began).
export interface TracedRequest {
  conn: number;
  /** The first request on its connection (the handshake preceded it). */
  fresh: boolean;
  method: string;
  path: string;
  sentMs: number;
  /** First and last byte of the answer (undefined: none came). */
  firstMs?: number;
  lastMs?: number;
  /** 1 + the deepest request whose answer had ended before this one was sent. */
  depth: number;
  /** That request (its index), if any. */
  after?: number;
}

export interface EngineTrace {
  /** tcp://127.0.0.1:PORT */
  host: string;
  requests: TracedRequest[];
  close(): Promise<void>;
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;

// Where the proxy forwards to: a unix socket path, or host:port.
export type TraceTarget = { socketPath: string } | { host: string; port: number };

// `delayMs`: every answer reaches the CLI that much later, and a new connection's first bytes
// reach the engine that much later (its handshake): a remote engine `delayMs` away.
export async function startEngineTrace(target: TraceTarget, delayMs = 0): Promise<EngineTrace> {
  const t0 = performance.now();
  const requests: TracedRequest[] = [];
  const sockets = new Set<Socket>();
  let conns = 0;
  const server = createServer((client) => {
    const conn = ++conns;
    let current: TracedRequest | undefined;
    const upstream = 'socketPath' in target ? createConnection(target.socketPath) : createConnection(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const openedMs = performance.now();
    const later = (f: () => void, ms: number): void => {
      if (ms <= 0) f();
      else setTimeout(f, ms);
    };
    client.on('data', (chunk: Buffer) => {
      const m = REQUEST_LINE.exec(chunk.subarray(0, 2048).toString('latin1'));
      if (m) {
        const sentMs = performance.now() - t0;
        const done = requests.map((r, i) => ({ r, i })).filter(({ r }) => r.lastMs !== undefined && r.lastMs <= sentMs);
        const before = done.reduce<{ r: TracedRequest; i: number } | undefined>((a, x) => (!a || x.r.depth > a.r.depth ? x : a), undefined);
        current = {
          conn, fresh: !requests.some((r) => r.conn === conn), method: m[1]!, path: m[2]!.replace(/^\/v[\d.]+/, ''), sentMs,
          depth: 1 + (before?.r.depth ?? 0), ...(before ? { after: before.i } : {}),
        };
        requests.push(current);
      }
      later(() => upstream.write(chunk), delayMs - (performance.now() - openedMs));
    });
    upstream.on('data', (chunk: Buffer) => {
      const ms = performance.now() - t0;
      if (current) {
        current.firstMs ??= ms;
        current.lastMs = ms;
      }
      later(() => client.write(chunk), delayMs);
    });
    const end = (): void => {
      later(() => client.destroy(), delayMs);
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    host: `tcp://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// The timeline as text: one line per request, then the deepest chain (request → request).
export function formatTrace(requests: readonly TracedRequest[]): string {
  const ms = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(0)).padStart(6);
  const lines = requests.map((r) => `${ms(r.sentMs)} ${ms(r.lastMs)}  d${String(r.depth).padEnd(3)} c${String(r.conn).padEnd(3)}${r.fresh ? '+' : ' '} ${r.method} ${r.path.split('?')[0]}`);
  const chain: TracedRequest[] = [];
  let next = requests.reduce<TracedRequest | undefined>((a, r) => (!a || r.depth > a.depth ? r : a), undefined);
  for (; next; next = next.after === undefined ? undefined : requests[next.after]) chain.unshift(next);
  const fresh = chain.filter((r) => r.fresh).length;
  return [
    '  sent   done  depth conn(+ new) request',
    ...lines,
    `${requests.length} requests on ${new Set(requests.map((r) => r.conn)).size} connections; sequential chain: ${chain.length} requests (${fresh} on new connections):`,
    ...chain.map((r) => `  ${r.fresh ? '+' : ' '}${r.method} ${r.path.split('?')[0]}`),
  ].join('\n');
}

// The engine the env selects, as a proxy target.
function targetOf(host: string | undefined): TraceTarget {
  if (!host || host.startsWith('unix://')) return { socketPath: host ? host.slice('unix://'.length) : '/var/run/docker.sock' };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { lifecycleDeps, removeBottleFully } = await import('../../lib/lifecycle/index.js');
  const { sandboxEnv, sandboxManifest, spawnBottle } = await import('../../test/helpers/sandbox.js');
  const delayMs = Number(process.env.TRACE_DELAY_MS ?? 0);
  // TRACE_ENGINE2=1: the bringup bench's remote engine (a second engine, 50 ms away).
  const e2 = process.env.TRACE_ENGINE2 === '1' ? await secondEngine() : undefined;
  const trace = await startEngineTrace(e2 ? { host: e2.ip, port: 2375 } : targetOf(process.env.DOCKER_HOST), delayMs);
  const root = mkdtempSync(join(tmpdir(), 'bottle-trace-'));
  const env = { ...sandboxEnv(root), DOCKER_HOST: trace.host };
  const manifest = join(root, 'bottle.yaml');
  writeFileSync(manifest, sandboxManifest('bench-trace'));
  let slug = '';
  try {
    const t0 = performance.now();
    const r = await spawnBottle(['start', 'bench-trace', '--yes', '--no-attach', '--manifest', manifest], env, undefined, { compiled: process.env.TRACE_SOURCE !== '1' }).done;
    slug = r.stdout.trim();
    if (r.code !== 0) throw new Error(`bottle start exited ${r.code}:\n${r.stderr}`);
    const ms = performance.now() - t0;
    const requests = [...trace.requests];
    process.stdout.write(`${formatTrace(requests)}\nbottle start: ${ms.toFixed(0)} ms${delayMs ? ` with ${delayMs} ms added to every answer and handshake` : ''}\n`);
  } finally {
    // Through the proxy still: the bottle's metadata names it as the engine.
    if (slug) await removeBottleFully(lifecycleDeps(env), slug, () => undefined).catch((e: Error) => process.stderr.write(`cleanup: ${e.message}\n`));
    await trace.close();
    await e2?.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function secondEngine() {
  const { default: Docker } = await import('dockerode');
  const { startSecondEngine } = await import('../../test/helpers/second-engine.js');
  const { IMAGES } = await import('../../test/helpers/sandbox.js');
  const e2 = await startSecondEngine(new Docker());
  try {
    await e2.loadImages([...IMAGES]);
    await e2.setLatency(Number(process.env.TRACE_ENGINE2_LATENCY_MS ?? 50));
    return e2;
  } catch (e) {
    await e2.close();
    throw e;
  }
}
