// WebSocket messages from the agent are judged like request bodies before any frame of them
// leaves (issue 13, class 5): over ws:// (absolute form) and wss:// (intercepted CONNECT),
// text and binary, whole or fragmented with control frames between the fragments. The
// upstream records every byte it received after the 101; a refused message must be absent
// from it entirely, and an ordinary one must arrive byte for byte as the agent sent it.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import t from 'tap';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, tlsOver } from '../fixtures/gateway/client.js';
import { startWorld, until, type World } from '../fixtures/gateway/world.js';
import { FrameReader, type RecordedRequest } from '../helpers/upstream.js';

type Frame = { opcode: number; payload: Buffer };

// One client frame (always masked, as clients must), FIN and RSV1 as given.
function frame(opcode: number, payload: Buffer | string, fin = true, rsv1 = false): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + 4);
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  head[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  return Buffer.concat([head, Buffer.from(data.map((b, i) => b ^ key[i & 3]!))]);
}

interface Conn {
  send(...frames: Buffer[]): void;
  upstream: RecordedRequest; // body: every byte the upstream received after the 101
  closed: Promise<Frame[]>; // every frame the agent got, once the gateway hung up (or 3 s passed)
  end(): void;
}

// Opens a WebSocket to `host` through the gateway, ws:// (absolute form) or wss:// (CONNECT,
// TLS), offering permessage-deflate like browsers do.
async function open(w: World, how: 'ws' | 'wss', host = 'allowed.test', path = '/ws'): Promise<Conn> {
  let socket: Duplex;
  let target: string;
  if (how === 'ws') {
    socket = net.connect(w.proxy.port, w.proxy.host);
    target = `http://${host}:${w.upstream.httpPort}${path}`;
  } else {
    const tunnel = await connect(w.proxy, `${host}:${w.upstream.httpsPort}`);
    socket = await tlsOver(tunnel.socket, w.caPem, host);
    target = path;
  }
  const port = how === 'ws' ? w.upstream.httpPort : w.upstream.httpsPort;
  const reader = new FrameReader();
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  let switched = false;
  // A gateway that never hangs up fails the test in 3 s, not at tap's timeout.
  const closed = new Promise<Frame[]>((resolve) => {
    socket.on('close', () => resolve(frames));
    setTimeout(() => socket.destroy(), 3000).unref();
  });
  socket.on('error', () => {});
  const head = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (switched) {
        frames.push(...reader.push(chunk));
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      switched = true;
      frames.push(...reader.push(buf.subarray(end + 4)));
      resolve(buf.subarray(0, end).toString('latin1'));
    });
  });
  socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n');
  const h = await head;
  if (!h.startsWith('HTTP/1.1 101 ')) throw new Error(`no upgrade: ${h.split('\r\n')[0]}`);
  const upstream = w.upstream.requests.at(-1)!;
  return { send: (...f) => { for (const x of f) socket.write(x); }, upstream, closed, end: () => socket.destroy() };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Sends frames and waits until the upstream has received exactly them.
async function delivered(c: Conn, bytes: Buffer): Promise<void> {
  c.send(bytes);
  await until(() => c.upstream.body.length >= bytes.length, 'the upstream to receive the frames');
}

const closeCode = (frames: Frame[]) => frames.find((f) => f.opcode === 8)?.payload.readUInt16BE(0);

t.test('ordinary messages pass byte for byte: text, binary, fragmented with a ping between, 16- and 64-bit lengths', async (t) => {
  const w = await startWorld(t);
  for (const how of ['ws', 'wss'] as const) {
    const c = await open(w, how);
    t.equal(c.upstream.headers['sec-websocket-extensions'], undefined, `${how}: the deflate offer is not passed on, so frames are plain`);
    const bytes = Buffer.concat([
      frame(1, 'hello, build passed'),
      frame(2, randomBytes(300)),
      frame(1, 'part one, ', false), frame(9, 'are you there'), frame(0, 'part two, ', false), frame(0, 'done'),
      frame(2, Buffer.alloc(40_000, 0x61)),
      frame(10, ''),
    ]);
    await delivered(c, bytes);
    t.ok(c.upstream.body.equals(bytes), `${how}: the upstream received exactly the frames sent`);
    c.end();
  }
});

t.test('a message carrying a secret never reaches the upstream, whole or split over fragments, text or binary, ws or wss', async (t) => {
  const w = await startWorld(t);
  const gh = FAKE.github;
  const cut = Math.floor(gh.length / 2);
  const cases: Array<[string, Buffer[]]> = [
    ['text', [frame(1, `my token is ${gh}`)]],
    ['binary', [frame(2, Buffer.concat([randomBytes(64).map((b) => b & 0x7f), Buffer.from(`aws_access_key_id=${FAKE.awsKeyId}`), Buffer.alloc(64)]))]],
    ['text split over fragments, a ping between', [frame(1, `token ${gh.slice(0, cut)}`, false), frame(9, 'ping'), frame(0, gh.slice(cut))]],
    ['binary split over three fragments', [frame(2, `k=${FAKE.slack.slice(0, 6)}`, false), frame(0, FAKE.slack.slice(6, 14), false), frame(0, FAKE.slack.slice(14))]],
    ['the route secret (canary) to another host', [frame(1, `found ${FAKE.routeToken}`)]],
    ['a ping carrying a secret', [frame(9, gh)]],
  ];
  const w2 = await startWorld(t, { env: { GW_TEST_TOKEN: FAKE.routeToken } });
  for (const how of ['ws', 'wss'] as const) {
    for (const [what, frames] of cases) {
      const world = what.includes('route secret') ? w2 : w;
      const c = await open(world, how);
      const ok = frame(1, 'an ordinary message first');
      await delivered(c, ok);
      for (const f of frames) {
        c.send(f);
        await pause(15); // fragments arrive apart: the first ones are held, not forwarded
      }
      const got = await c.closed;
      t.equal(closeCode(got), 1008, `${how} ${what}: closed with 1008 (policy)`);
      t.ok(c.upstream.body.equals(ok), `${how} ${what}: the upstream received no frame of that message`);
    }
  }
  const logged = w.decisions().filter((d) => d.status === 1008);
  t.ok(logged.length > 0 && logged.every((d) => d.verdict === 'block'), 'each refusal is a decision line');
  t.notMatch(w.lines.join('\n') + w2.lines.join('\n'), gh, 'no secret in the log');
});

t.test('a message over the cap is refused (1009) and none of it is forwarded; so is a frame that cannot be read', async (t) => {
  const w = await startWorld(t); // maxBodyBytes: 64 KiB
  for (const how of ['ws', 'wss'] as const) {
    const c = await open(w, how);
    const ok = frame(2, Buffer.alloc(1000, 0x62));
    await delivered(c, ok);
    c.send(frame(2, Buffer.alloc(30_000, 0x61), false), frame(0, Buffer.alloc(30_000, 0x61), false), frame(0, Buffer.alloc(30_000, 0x61)));
    t.equal(closeCode(await c.closed), 1009, `${how}: fragments adding up past the cap`);
    t.ok(c.upstream.body.equals(ok), `${how}: nothing of it upstream`);

    const one = await open(w, how);
    one.send(frame(2, Buffer.alloc(100_000, 0x61)).subarray(0, 20_000)); // its declared length alone is too much
    t.equal(closeCode(await one.closed), 1009, `${how}: one frame declaring more than the cap`);
    t.equal(one.upstream.body.length, 0);

    const deflated = await open(w, how);
    deflated.send(frame(1, 'compressed?', true, true));
    t.equal(closeCode(await deflated.closed), 1002, `${how}: a compressed (RSV1) frame cannot be checked`);
    t.equal(deflated.upstream.body.length, 0);
  }
});
