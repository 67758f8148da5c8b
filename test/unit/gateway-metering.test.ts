// Issue 16 item 2, the gateway half: answers to POST /v1/messages on the model route are
// metered as they pass (one usage line in the events file per request), and metering delays
// nothing: a fake model upstream sends each SSE event only once the client has received the
// previous one, so any holding back by the gateway would show as a timeout.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { createCA, LeafMinter } from '../../lib/pki/index.js';
import { startGateway, staticLookup } from '../../sidecars/gateway/index.js';
import { appendEvent, parseEventLine } from '../../sidecars/supervise/events.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, tlsOver } from '../fixtures/gateway/client.js';
import { until } from '../fixtures/gateway/world.js';

const policy = (port: number) => `version: 1
allow: [allowed.test]
routes:
  - host: route.test
    port: ${port}
    headers: { x-api-key: "\${GW_TEST_TOKEN}" }
model: { host: route.test, serverFetch: false }
limits: { maxBodyBytes: 64KiB }
`;

const sseEvent = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const STREAM = [
  sseEvent('message_start', { message: { id: 'msg_s1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage: { input_tokens: 120, cache_creation_input_tokens: 30, cache_read_input_tokens: 4000, output_tokens: 1 } } }),
  sseEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  sseEvent('ping', {}),
  ...Array.from({ length: 8 }, (_, i) => sseEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `part ${i} — ✓ ` } })),
  sseEvent('content_block_stop', { index: 0 }),
  sseEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 57 } }),
  sseEvent('message_stop', {}),
];
const JSON_ANSWER = JSON.stringify({ id: 'msg_j1', type: 'message', model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'hi' }], usage: { input_tokens: 9, output_tokens: 4, cache_read_input_tokens: 0 } });
const BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hello' }] });
const WAIT_MS = 2000;

interface World {
  proxy: { host: string; port: number };
  caPem: string;
  port: number;
  eventsFile: string;
  // Resolves the upstream's wait for event k (the client has it).
  clientHas: (k: number) => void;
  timeouts: number[]; // events the upstream sent after waiting in vain
  sentBytes: Buffer[];
}

async function startWorld(t: { teardown(fn: () => unknown): void }): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-metering-'));
  const ca = createCA(join(dir, 'upca'), { commonName: 'metering test upstream CA' });
  const minter = new LeafMinter(ca);
  const waiters = new Map<number, () => void>();
  const had = new Set<number>();
  const w = {
    eventsFile: join(dir, 'events.jsonl'),
    timeouts: [] as number[],
    sentBytes: [] as Buffer[],
    clientHas: (k: number) => {
      had.add(k);
      waiters.get(k)?.();
    },
  };
  const waitFor = (k: number) => new Promise<void>((resolve) => {
    if (had.has(k)) return resolve();
    const timer = setTimeout(() => {
      w.timeouts.push(k);
      resolve();
    }, WAIT_MS);
    waiters.set(k, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    for await (const _ of req);
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: 77, usage: { input_tokens: 77 } }));
    } else if (url.searchParams.get('mode') === 'json') {
      const gz = url.searchParams.get('gzip') === '1';
      const body = gz ? zlib.gzipSync(JSON_ANSWER) : Buffer.from(JSON_ANSWER);
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_json', 'content-length': body.length, ...(gz ? { 'content-encoding': 'gzip' } : {}) });
      res.end(body);
    } else if (url.searchParams.get('mode') === 'cut') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(STREAM[0]);
      setTimeout(() => res.socket?.destroy(), 50);
    } else {
      had.clear();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_sse' });
      for (let k = 0; k < STREAM.length; k++) {
        const bytes = Buffer.from(STREAM[k]!);
        w.sentBytes.push(bytes);
        res.write(bytes);
        if (k < STREAM.length - 1) await waitFor(k);
      }
      res.end();
    }
  };
  const server = https.createServer({ SNICallback: (name, cb) => cb(null, minter.secureContext(name)) }, (req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  mkdirSync(join(dir, 'policy'));
  writeFileSync(join(dir, 'policy', 'policy.yaml'), policy(port));
  const gw = await startGateway({
    policyDir: join(dir, 'policy'),
    caDir: join(dir, 'ca'),
    upstreamCaPem: ca.certPem,
    allowPrivateUpstream: ['route.test'],
    lookup: staticLookup(new Map([['route.test', ['127.0.0.1']]])),
    env: { GW_TEST_TOKEN: FAKE.routeToken },
    watch: false,
    passthroughPorts: [443, port],
    onUsage: (ev) => {
      const e = appendEvent(w.eventsFile, ev);
      if (e) throw e;
    },
  });
  t.teardown(async () => {
    await gw.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { ...w, proxy: { host: gw.host, port: gw.port }, caPem: gw.caCertPem, port };
}

// POSTs through CONNECT + TLS; `onData` sees the body so far after each chunk.
async function post(w: World, path: string, onData: (soFar: string) => void = () => {}): Promise<{ status: number; body: Buffer; error?: string }> {
  const tunnel = await connect(w.proxy, `route.test:${w.port}`);
  const socket = await tlsOver(tunnel.socket, w.caPem, 'route.test');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const req = http.request({
      createConnection: () => socket, method: 'POST', path,
      headers: { host: `route.test:${w.port}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder', 'content-length': Buffer.byteLength(BODY) },
    }, (res) => {
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        onData(Buffer.concat(chunks).toString());
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, body: Buffer.concat(chunks), error: e.message }));
    req.end(BODY);
  });
}

const usageLines = (w: World) => (existsSync(w.eventsFile) ? readFileSync(w.eventsFile, 'utf8').split('\n').filter(Boolean) : []);

t.test('SSE: every event reaches the client before the next is sent, byte-identical; one usage line', async (t) => {
  const w = await startWorld(t);
  const r = await post(w, '/v1/messages?beta=true', (soFar) => {
    let len = 0;
    for (let k = 0; k < STREAM.length; k++) {
      len += Buffer.byteLength(STREAM[k]!);
      if (Buffer.byteLength(soFar) >= len) w.clientHas(k);
    }
  });
  t.equal(r.status, 200);
  t.same(w.timeouts, [], 'the upstream never waited in vain for the client to get an event');
  t.ok(r.body.equals(Buffer.concat(w.sentBytes)), 'the client got the stream byte for byte');
  await until(() => usageLines(w).length > 0, 'a usage line');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const lines = usageLines(w);
  t.equal(lines.length, 1, 'exactly one line');
  t.equal(parseEventLine(lines[0]!)?.type, 'usage', 'a line the events reader takes');
  const ev = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(ev.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.same({ ...ev, time: 'T' }, { type: 'usage', time: 'T', origin: 'gateway', model: 'claude-sonnet-4-5', input: 120, output: 57, cacheRead: 4000, cacheWrite: 30, requestId: 'req_sse', path: '/v1/messages', status: 200 });
  t.same(Object.keys(ev), ['type', 'time', 'origin', 'model', 'input', 'output', 'cacheRead', 'cacheWrite', 'requestId', 'path', 'status'], 'the field order of the shape');
});

t.test('JSON answers (plain and gzip) are metered; count_tokens is not; a cut stream counts what it said', async (t) => {
  const w = await startWorld(t);
  const counted = await post(w, '/v1/messages/count_tokens');
  t.equal(counted.status, 200);
  const plain = await post(w, '/v1/messages?mode=json');
  t.same(JSON.parse(plain.body.toString()), JSON.parse(JSON_ANSWER));
  const gz = await post(w, '/v1/messages?mode=json&gzip=1');
  t.same(JSON.parse(gz.body.toString()), JSON.parse(JSON_ANSWER), 'decoded for the client as any routed answer');
  const cut = await post(w, '/v1/messages?mode=cut');
  t.ok(cut.error, 'the cut stream ends in an error for the client');
  t.equal(cut.body.toString(), STREAM[0], 'after what was sent');
  await until(() => usageLines(w).length >= 3, 'three usage lines');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const evs = usageLines(w).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(evs.length, 3, 'none for count_tokens');
  const pick = (e: Record<string, unknown>) => [e.model, e.input, e.output, e.cacheRead, e.cacheWrite, e.requestId];
  t.same(evs.slice(0, 2).map(pick), [['claude-haiku-4-5', 9, 4, 0, 0, 'req_json'], ['claude-haiku-4-5', 9, 4, 0, 0, 'req_json']]);
  t.same(pick(evs[2]!), ['claude-sonnet-4-5', 120, 1, 4000, 30, 'msg_s1'], 'cut after message_start: its counts, the message id');
});
