// Misbehaving peers must not take the daemon down: resets mid-body, garbage, failed TLS
// handshakes, oversized headers, upstream resets and refusals. After each, the same gateway
// still serves a normal request.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import t, { type Test } from 'tap';
import { connect, httpsViaProxy, rawExchange, tlsOver, viaProxy } from '../fixtures/gateway/client.js';
import { startWorld, until, type World } from '../fixtures/gateway/world.js';
import { within } from '../helpers/wait.js';

async function stillServes(t: Test, w: World, what: string): Promise<void> {
  const r = await viaProxy(w.proxy, w.http('allowed.test', '/'));
  t.equal(r.status, 200, `still serving after ${what}`);
}

// A POST head that announces 10000 body bytes and asks for "100 Continue", plus the first 100.
function partialPost(url: string, host: string, fill: string): string {
  return `POST ${url} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 10000\r\nExpect: 100-continue\r\n\r\n${fill.repeat(100)}`;
}

// Resolves once `socket` has received "100 Continue": the gateway's HTTP server has parsed the
// head and handed the request on, so the body is being read. Fails with what did arrive.
function continued(socket: Duplex): Promise<void> {
  let heard = '';
  return within('the gateway to answer 100 Continue', new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      heard += d.toString('latin1');
      if (/^HTTP\/1\.1 100 /.test(heard)) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  }), { describe: () => `received: ${JSON.stringify(heard)}` });
}

// Sends a partial POST on a new socket and resets it (RST, not FIN) while the gateway reads the body.
async function resetMidBody(port: number, host: string, request: string): Promise<void> {
  const s = net.connect(port, host);
  s.on('error', () => {});
  const answered = continued(s);
  s.write(request);
  await answered;
  s.resetAndDestroy();
}

t.test('a client that resets mid-body (plain and inside a TLS tunnel)', async (t) => {
  const w = await startWorld(t);
  const aborted = () => w.decisions().filter((d) => d.status === 499).length;
  await resetMidBody(w.proxy.port, w.proxy.host, partialPost(w.http('allowed.test', '/echo'), `allowed.test:${w.upstream.httpPort}`, 'x'));
  await until(() => aborted() === 1, 'the plain aborted request to be logged');
  await stillServes(t, w, 'a plain RST mid-body');
  const tunnel = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  tunnel.socket.on('error', () => {});
  const tls = await tlsOver(tunnel.socket, w.caPem, 'allowed.test');
  tls.on('error', () => {});
  const answered = continued(tls);
  tls.write(partialPost('/echo', `allowed.test:${w.upstream.httpsPort}`, 'y'));
  await answered;
  tunnel.socket.resetAndDestroy();
  await until(() => aborted() === 2, 'the aborted request inside the tunnel to be logged');
  await stillServes(t, w, 'an RST inside a tunnel');
  t.same(w.upstream.requests.filter((r) => r.method === 'POST'), [], 'the partial bodies were never forwarded');
  t.match(w.decisions().filter((d) => d.status === 499), [{ method: 'POST' }, { method: 'POST' }], 'both logged as client aborts');
});

t.test('garbage request lines, binary noise and oversized headers get 4xx, not a crash', async (t) => {
  const w = await startWorld(t);
  t.match(await rawExchange(w.proxy, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.match(await rawExchange(w.proxy, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0xde, 0xad, 0xbe, 0xef])), /^HTTP\/1\.1 400|^$/);
  t.match(await rawExchange(w.proxy, `GET ${w.http('allowed.test', '/')} HTTP/1.1\r\nHost: allowed.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  t.match(await rawExchange(w.proxy, 'CONNECT not a target HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.match(await rawExchange(w.proxy, `GET ${w.http('allowed.test', '/')} HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`), /^HTTP\/1\.1 400/, 'smuggling framing refused');
  await stillServes(t, w, 'garbage');
});

// Resolves when the gateway closes `socket` (whatever it says first is discarded).
function closes(socket: net.Socket): Promise<void> {
  socket.on('error', () => {});
  socket.resume();
  return new Promise<void>((resolve) => socket.on('close', () => resolve()));
}

t.test('a failed TLS handshake in a tunnel, a silent tunnel, and garbage inside a tunnel', async (t) => {
  const w = await startWorld(t, { timeouts: { handshakeMs: 300 } });
  const a = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  // A TLS record holding a 4-byte "ClientHello" of junk: the handshake fails at once.
  a.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]));
  await closes(a.socket);
  const silent = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  const started = Date.now();
  await closes(silent.socket);
  t.ok(Date.now() - started < 5000, 'a tunnel that never starts a handshake is dropped after handshakeMs');
  const stalled = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await closes(stalled.socket);
  t.pass('a handshake that stalls half-way is dropped too');
  const b = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  const untrusted = await tlsOver(b.socket, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 'allowed.test').catch((e: Error) => e);
  t.type(untrusted, Error, 'a client that rejects the leaf just goes away');
  const c = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  c.socket.write('NOT HTTP AT ALL\r\n\r\n');
  const answer = await new Promise<string>((resolve) => {
    let s = '';
    c.socket.on('data', (d: Buffer) => (s += d.toString()));
    c.socket.on('close', () => resolve(s));
  });
  t.match(answer, /^HTTP\/1\.1 400/);
  await stillServes(t, w, 'broken tunnels');
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/'))).status, 200);
});

t.test('upstream resets and refusals become 502 upstream error', async (t) => {
  const w = await startWorld(t);
  const reset = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/reset'));
  t.equal(reset.status, 502);
  t.match(reset.body.toString(), /^upstream error: /);
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await viaProxy(w.proxy, `http://allowed.test:${port}/`);
  t.equal(refused.status, 502);
  t.equal(refused.body.toString(), 'upstream error: connection refused\n');
  t.match(w.decisions().at(-1), { verdict: 'allow', status: 502, reason: 'upstream error: connection refused' });
  const odd = await viaProxy(w.proxy, w.http('allowed.test', '/bad-head'));
  t.ok(odd.status === 502 || odd.status === 200, `a response head node will not re-send is handled (${odd.status})`);
  await stillServes(t, w, 'upstream failures');
});

t.test('a client that walks away from a large download', async (t) => {
  const w = await startWorld(t);
  const tunnel = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  const tls = await tlsOver(tunnel.socket, w.caPem, 'allowed.test');
  tls.write(`GET /download HTTP/1.1\r\nHost: allowed.test:${w.upstream.httpsPort}\r\n\r\n`);
  await new Promise<void>((resolve) => tls.once('data', () => resolve()));
  tls.destroy();
  tunnel.socket.destroy();
  await stillServes(t, w, 'an abandoned download');
});

t.test('close() ends open tunnels and keep-alive sockets', async (t) => {
  const w = await startWorld(t);
  const tunnel = await connect(w.proxy, `allowed.test:${w.upstream.httpsPort}`);
  const closed = new Promise<void>((resolve) => tunnel.socket.on('close', () => resolve()));
  tunnel.socket.on('error', () => {});
  await w.gw.close();
  await closed;
  t.pass('tunnel closed by close()');
});
