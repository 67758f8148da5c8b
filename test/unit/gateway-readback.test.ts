// A route credential never comes back to the agent readable, and never goes out where it
// should not (issue 13, class 7). Read-back: an upstream reflects the injected token in the
// status reason, a header name, cut across two headers, percent- and JSON-escaped, and under
// a transfer coding; the assertions are on the raw bytes the agent's socket received.
// Injection: only over TLS to the route's port; plain HTTP and another port get no credential
// (asserted on what the upstream received).
import net, { type AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import t from 'tap';
import { loadPolicy, serializePolicy } from '../../lib/policy/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, httpsViaProxy, tlsOver, viaProxy } from '../fixtures/gateway/client.js';
import { startWorld, type World } from '../fixtures/gateway/world.js';

// Everything the gateway sent back for one request over a fresh CONNECT + TLS tunnel.
async function rawHttps(w: World, host: string, port: number, path: string): Promise<Buffer> {
  const tunnel = await connect(w.proxy, `${host}:${port}`);
  const s = await tlsOver(tunnel.socket, w.caPem, host);
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
  await new Promise<void>((resolve) => {
    s.on('close', () => resolve());
    setTimeout(() => { s.destroy(); resolve(); }, 3000).unref();
  });
  return Buffer.concat(chunks);
}

// The body of a raw response, de-chunked when it is chunked.
function bodyOf(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end).toString('latin1');
  let body = raw.subarray(end + 4);
  if (!/^transfer-encoding:.*chunked/im.test(head)) return body;
  const out: Buffer[] = [];
  for (;;) {
    const eol = body.indexOf('\r\n');
    const size = parseInt(body.subarray(0, eol).toString(), 16);
    if (!size) return Buffer.concat(out);
    out.push(body.subarray(eol + 2, eol + 2 + size));
    body = body.subarray(eol + 4 + size);
  }
}

// Every way the agent could read `raw`: as sent, percent-decoded, JSON-unescaped, and its
// body gunzipped if it is gzip.
function readings(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const out = [text, text.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    text.replace(/\\u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\\//g, '/')];
  try {
    out.push(zlib.gunzipSync(bodyOf(raw)).toString('latin1'));
  } catch {
    // not gzip: nothing more to read
  }
  return out;
}

// Whether the token, or either half of it, can be read in the response.
function readable(raw: Buffer, token: string): boolean {
  const half = Math.floor(token.length / 2);
  const parts = [token, token.slice(0, half), token.slice(half)];
  return readings(raw).some((r) => parts.some((p) => r.includes(p)));
}

t.test('the route credential reflected in the reason, a header name, two headers, escaped or transfer-coded never reaches the agent readable', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  for (const where of ['reason', 'name', 'split', 'escaped', 'te-gzip']) {
    const raw = await rawHttps(w, 'route.test', w.upstream.httpsPort, `/readback?in=${where}`);
    t.equal(w.upstream.requests.at(-1)!.headers.authorization, `Bearer ${token}`, `${where}: the upstream got the credential`);
    t.ok(raw.length > 0, `${where}: an answer came`);
    t.notOk(readable(raw, token), `${where}: no readable form of the token in the raw bytes`);
    if (where !== 'te-gzip') t.match(raw.toString('latin1'), /^HTTP\/1\.1 200 /, `${where}: still delivered`);
    else t.match(raw.toString('latin1'), /^HTTP\/1\.1 200 [^]*\r\n\r\n[^]*token: \*+/, 'te-gzip: decoded by the gateway, then masked');
  }
});

t.test('a token with characters JSON and URLs escape (`/`, `+`) is masked in its escaped forms too', async (t) => {
  const token = `${FAKE.routeToken}/x+y`;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  const raw = await rawHttps(w, 'route.test', w.upstream.httpsPort, '/readback?in=escaped');
  t.ok(w.upstream.requests.at(-1)!.headers.authorization === `Bearer ${token}`);
  const body = bodyOf(raw).toString('latin1');
  t.equal(body.split('\n').length, 4, 'four escaped copies came back');
  t.notOk(readable(raw, token), 'none of them readable');
  t.ok(body.split('\n').every((line) => line.includes('*'.repeat(20))), 'each one masked');
});

t.test('route headers go only over TLS to the route port: plain HTTP and another port get none, and lose a client copy', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  // Another port of the route host, speaking the same TLS (a relay to the upstream's HTTPS port).
  const relay = net.createServer((s) => {
    const up = net.connect(w.upstream.httpsPort, '127.0.0.1');
    s.pipe(up).pipe(s);
    s.on('error', () => up.destroy());
    up.on('error', () => s.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => relay.close());
  const otherPort = (relay.address() as AddressInfo).port;

  const tls = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/ok'));
  t.equal(tls.status, 200);
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'over TLS to the route port: injected');

  const plain = await viaProxy(w.proxy, w.http('route.test', '/plain'), { headers: { authorization: 'Bearer agent-copy' } });
  t.equal(plain.status, 200);
  t.equal(w.upstream.requests.at(-1)!.url, '/plain');
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, undefined, 'plain HTTP: no credential, and the client copy dropped');

  const other = await httpsViaProxy(w.proxy, w.caPem, `https://route.test:${otherPort}/other-port`, { headers: { authorization: 'Bearer agent-copy' } });
  t.equal(other.status, 200);
  t.equal(w.upstream.requests.at(-1)!.url, '/other-port');
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, undefined, 'TLS to another port: no credential, and the client copy dropped');

  // A route that names its port: that port only, and no longer the default one.
  w.writePolicy(`version: 1\nroutes:\n  - host: route.test\n    port: ${otherPort}\n    headers: { Authorization: "Bearer \${GW_TEST_TOKEN}" }\n`);
  t.notOk(w.gw.reload('test').error);
  await httpsViaProxy(w.proxy, w.caPem, `https://route.test:${otherPort}/named-port`);
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'the route\'s own port: injected');
  await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/default-port'));
  t.equal(w.upstream.requests.at(-1)!.url, '/default-port');
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, undefined, 'the default port: not any more');
});

t.test('a route port is loaded, checked and written back', async (t) => {
  const text = 'version: 1\nroutes:\n  - host: api.example.com\n    port: 8443\n    headers: { Authorization: "Bearer ${T}" }\n';
  const p = loadPolicy(text);
  t.equal(p.routes[0]!.port, 8443);
  t.same(loadPolicy(serializePolicy(p)), p, 'serialize → load keeps it');
  t.equal(loadPolicy(text.replace('    port: 8443\n', '')).routes[0]!.port, undefined, 'absent: 443 is meant');
  t.throws(() => loadPolicy(text.replace('8443', '70000')), /routes\[0\]\.port: must be between 1 and 65535/);
});
