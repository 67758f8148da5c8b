// What the gateway refuses to carry: secrets anywhere in a request, private upstreams, bodies
// too big to scan, requests that do not match their tunnel. Each block is a 403 and the
// upstream's request log shows the request never arrived. Route credentials are injected
// only for their host and never appear in responses (masked when an upstream echoes them) or
// logs.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import t from 'tap';
import { prepareCanaries } from '../../lib/policy/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, httpsViaProxy, rawExchange, streamViaProxy, tlsOver, viaProxy, type Proxy } from '../fixtures/gateway/client.js';
import { startWorld, until } from '../fixtures/gateway/world.js';
import { downloadBytes, FrameReader } from '../helpers/upstream.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

t.test('a secret in the path, query (base64), a header, a JSON body or a multipart part → 403, never forwarded', async (t) => {
  const w = await startWorld(t);
  const boundary = 'bottle-test-boundary';
  const multipart = [
    `--${boundary}`, 'Content-Disposition: form-data; name="note"', '', 'hello',
    `--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="creds.txt"', 'Content-Type: text/plain', '',
    `aws_access_key_id = ${FAKE.awsKeyId}`, `--${boundary}--`, '',
  ].join('\r\n');
  const cases: Array<[string, string, Parameters<typeof httpsViaProxy>[3]]> = [
    ['path', `/dlp/path/${FAKE.github}`, {}],
    ['query (base64)', `/dlp/query?data=${encodeURIComponent(b64(FAKE.github))}`, {}],
    ['header', '/dlp/header', { headers: { 'x-custom': FAKE.awsKeyId } }],
    ['JSON body', '/dlp/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: `my key is ${FAKE.github}` }) }],
    ['multipart', '/dlp/multipart', { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart }],
  ];
  for (const [what, path, opts] of cases) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', path), opts);
    t.equal(r.status, 403, what);
    t.match(r.body.toString(), /^blocked: .+\nTo request access/, `${what}: block body`);
    t.notMatch(r.body.toString(), FAKE.github, `${what}: the reason does not quote the secret`);
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  const log = w.lines.join('\n');
  for (const secret of [FAKE.github, FAKE.awsKeyId, b64(FAKE.github)]) t.notMatch(log, secret, 'the decision log holds no secret');
  t.match(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => d.stage), ['url-dlp', 'url-dlp', 'header-dlp', 'body-dlp', 'body-dlp']);
  t.equal(w.decisions()[1]!.path, '[withheld]', 'a URL that carried a secret is not logged');
});

t.test('plain HTTP is scanned too', async (t) => {
  const w = await startWorld(t);
  const r = await viaProxy(w.proxy, w.http('allowed.test', '/dlp'), { headers: { 'x-note': FAKE.slack } });
  t.equal(r.status, 403);
  t.same(w.upstream.requests, []);
});

t.test('route headers: injected only for the route host over TLS, a client-sent copy replaced, the value never echoed or logged', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/r1'), { headers: { authorization: 'Bearer agent-placeholder' } });
  t.equal(r.status, 200);
  const seen = w.upstream.requests.at(-1)!;
  const auth = seen.rawHeaders.filter((_, i, a) => i % 2 === 0 && a[i]!.toLowerCase() === 'authorization');
  t.equal(auth.length, 1, 'exactly one Authorization header upstream');
  t.equal(seen.headers.authorization, `Bearer ${token}`);

  const plain = await new Promise<http.IncomingMessage>((resolve) => {
    http.request({ host: w.proxy.host, port: w.proxy.port, path: w.http('route.test', '/r2'), headers: { host: `route.test:${w.upstream.httpPort}`, AUTHORIZATION: 'x' } }, resolve).end();
  });
  plain.resume();
  t.equal(plain.statusCode, 200);
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, undefined, 'plain HTTP to the route host: no credential in the clear, and the client\'s copy dropped');

  await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/not-a-route'), { headers: { authorization: 'Bearer mine' } });
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, 'Bearer mine', 'other hosts get no route header');
  await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/plain'));
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, undefined);

  t.notMatch(JSON.stringify(r.headers) + r.body.toString(), token, 'not in the response');
  t.notMatch(w.lines.join('\n') + w.diag.join('\n'), token, 'not in the log');
  const echoBack = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/echo'), { method: 'POST', body: `found it: ${token}` });
  t.equal(echoBack.status, 403, 'the agent cannot send the route secret anywhere (canary)');
  t.match(echoBack.body.toString(), /route secret/);
});

t.test('a route host that echoes the credential: the agent gets it masked, in every encoding and framing', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  const stars = '*'.repeat(token.length);
  const forms = prepareCanaries([token]).forms.map((f) => f.text);
  const leaks = (text: string) => forms.filter((f) => text.includes(f));

  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/reflect?base64=1'));
  t.equal(r.status, 200);
  const seen = w.upstream.requests.at(-1)!;
  t.equal(seen.headers.authorization, `Bearer ${token}`, 'the upstream got the credential');
  t.equal(seen.headers['accept-encoding'], 'identity', 'and was asked for a body the gateway can read');
  t.equal(r.headers['x-reflect-authorization'], `Bearer ${stars}`, 'masked in a response header, same length');
  const body = r.body.toString();
  t.same(leaks(JSON.stringify(r.headers) + body), [], 'no form of the secret (raw, hex, base64, base32) reaches the agent');
  t.ok(body.includes(`"authorization":"Bearer ${stars}"`), 'masked in the body, same length');
  t.equal(Number(r.headers['content-length']), r.body.length, 'Content-Length still true');
  t.equal(JSON.parse(body).base64.length, Buffer.from(`Bearer ${token}`).toString('base64').length, 'the base64 copy is masked in place');

  const split = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/reflect?split=1'));
  t.same(leaks(split.body.toString()), [], 'a secret cut across two writes is masked too');
  t.ok(split.body.toString().includes(`Bearer ${stars}`));

  for (const encoding of ['gzip', 'deflate', 'br']) {
    const c = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', `/reflect?encoding=${encoding}`));
    t.equal(c.status, 200, encoding);
    t.equal(c.headers['content-encoding'], undefined, `${encoding}: decoded by the gateway`);
    t.same(leaks(c.body.toString()), [], `${encoding}: masked`);
    t.equal(JSON.parse(c.body.toString()).headers.authorization, `Bearer ${stars}`, `${encoding}: the plain body arrives`);
  }
  const head = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/reflect?encoding=gzip'), { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD of an encoded routed resource: nothing to decode, no error');
  t.equal(head.headers['content-encoding'], 'gzip', 'its headers stay as sent');
  t.equal(head.headers['x-reflect-authorization'], `Bearer ${stars}`, 'and masked');
  const unknown = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/reflect?encoding=x-unknown'));
  t.equal(unknown.status, 502, 'an encoding the gateway cannot read is refused (fail closed)');
  t.match(unknown.body.toString(), /cannot be checked for route secrets/);
  t.same(leaks(unknown.body.toString()), []);

  const plain = await viaProxy(w.proxy, w.http('route.test', '/reflect'));
  t.same(leaks(JSON.stringify(plain.headers) + plain.body.toString()), [], 'plain HTTP to the route host: masked too');

  const other = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/reflect'), { headers: { authorization: 'Bearer the-agents-own' } });
  t.equal(other.headers['x-reflect-authorization'], 'Bearer the-agents-own', 'a host without a route is passed through untouched');
  t.equal(w.upstream.requests.at(-1)!.headers['accept-encoding'], undefined, 'and its Accept-Encoding is the client\'s');

  await until(() => w.diag.some((l) => l.includes('masked')), 'a diag line about the masking');
  t.match(w.diag.find((l) => l.includes('masked')), /^gateway: masked \d+ route secret\(s\) in the response from route\.test to GET \/reflect$/);
  t.notMatch(w.lines.join('\n') + w.diag.join('\n'), token, 'the secret is in no log line');
});

t.test('a WebSocket to a route host: the 101 head, every message and a refusal are masked too', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token } });
  const stars = '*'.repeat(token.length);
  // wss:// (the route's credential goes only over TLS): everything the gateway answers in 1 s.
  const upgrade = async (path: string) => {
    const authority = `route.test:${w.upstream.httpsPort}`;
    const s = await tlsOver((await connect(w.proxy, authority)).socket, w.caPem, 'route.test');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n');
    await new Promise<void>((resolve) => {
      s.on('close', resolve);
      setTimeout(() => { s.destroy(); resolve(); }, 1000);
    });
    return Buffer.concat(chunks).toString('latin1');
  };
  const accepted = await upgrade('/ws-reflect');
  t.match(accepted, /^HTTP\/1\.1 101 /);
  t.ok(accepted.includes(`X-Reflect-Authorization: Bearer ${stars}\r\n`), 'the 101 head is masked');
  t.ok(accepted.includes('X-Reflect-Extensions: none\r\n'), 'the client\'s permessage-deflate offer is not passed on (frames stay readable)');
  const frames = new FrameReader().push(Buffer.from(accepted.slice(accepted.indexOf('\r\n\r\n') + 4), 'latin1'));
  t.same(frames.map((f) => f.payload.toString()), [`hello Bearer ${stars}`, `again Bearer ${stars} bye`],
    'each message is masked, also one whose frame arrived in two parts; frame lengths unchanged');
  const refused = await upgrade('/ws-refuse');
  t.match(refused, /^HTTP\/1\.1 403 /);
  t.ok(refused.includes(`X-Reflect-Authorization: Bearer ${stars}\r\n`) && refused.includes(`refused: Bearer ${stars}\n`), 'a refusal: head and body masked');
  t.notOk(`${accepted}${refused}`.includes(token));
});

t.test('a routed SSE stream is masked without being held back', async (t) => {
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: FAKE.routeToken } });
  const { text, arrivals } = await streamViaProxy(w.proxy, w.caPem, w.https('route.test', '/sse?n=4&gap=150'));
  const sent = w.upstream.sseSent[0]!;
  t.equal((text.match(/^data: event \d$/gm) ?? []).length, 4);
  t.ok(arrivals[0]! < sent[3]!, 'the first event arrived before the last one was sent');
});

t.test('a route whose env var is unset fails closed with 502 and sends nothing', async (t) => {
  const w = await startWorld(t, { env: {} });
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/r'));
  t.equal(r.status, 502);
  t.match(r.body.toString(), /GW_TEST_TOKEN/);
  t.same(w.upstream.requests, []);
});

t.test('private upstreams: IP literals (any spelling) and names resolving to private addresses are blocked', async (t) => {
  const w = await startWorld(t);
  const literal = await viaProxy(w.proxy, `http://127.0.0.1:${w.upstream.httpPort}/`);
  t.equal(literal.status, 403);
  t.match(literal.body.toString(), /^blocked: 127\.0\.0\.1 is in a forbidden range/);
  for (const host of ['127.0.0.1', '0x7f000001', '2130706433', '[::1]']) {
    const c = await connect(w.proxy, `${host}:${w.upstream.httpsPort}`);
    t.equal(c.status, 403, `CONNECT ${host}`);
  }
  const viaName = await httpsViaProxy(w.proxy, w.caPem, w.https('private.test', '/p'));
  t.equal(viaName.status, 403);
  t.match(viaName.body.toString(), /^blocked: private\.test resolves to 127\.0\.0\.2/);
  const plainName = await viaProxy(w.proxy, w.http('private.test', '/p'));
  t.equal(plainName.status, 403);
  t.same(w.upstream.requests, []);
});

t.test('no header is raw-scanned only: a base64 secret in User-Agent or Accept-Language never reaches the upstream', async (t) => {
  const w = await startWorld(t);
  const hidden = Buffer.from(FAKE.github).toString('base64');
  for (const [name, value] of [['user-agent', `agent/1.0 ${hidden}`], ['accept-language', `en;q=0.9, ${hidden}`]] as const) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/ua'), { headers: { [name]: value } });
    t.equal(r.status, 403, name);
    t.match(r.body.toString(), /^blocked: .*base64-decoded/, name);
  }
  t.same(w.upstream.requests, [], 'the upstream received nothing');
});

t.test('a routed request loses Range/If-Range (slices of a reflected token are too short to mask); others keep them', async (t) => {
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: FAKE.routeToken } });
  const ranged = { range: 'bytes=7-12', 'if-range': '"etag-1"' };
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/reflect'), { headers: ranged })).status, 200);
  const routed = w.upstream.requests.at(-1)!;
  t.equal(routed.headers.range, undefined, 'no Range upstream of a route');
  t.equal(routed.headers['if-range'], undefined, 'no If-Range either');
  t.equal(routed.headers.authorization, `Bearer ${FAKE.routeToken}`, 'the credential was injected');
  await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/hello'), { headers: ranged });
  t.equal(w.upstream.requests.at(-1)!.headers.range, 'bytes=7-12', 'a host without a route gets the Range it was sent');
});

t.test('DLP-only mode: paste, capture and tunnel services are refused (HTTP and HTTPS) and nothing is dialled', async (t) => {
  const w = await startWorld(t, { policy: 'version: 1\nallow: ["*"]\n' });
  const plain = await viaProxy(w.proxy, `http://pastebin.com:${w.upstream.httpPort}/api/api_post.php`, { method: 'POST', body: 'api_paste_code=anything' });
  t.equal(plain.status, 403);
  t.match(plain.body.toString(), /^blocked: pastebin\.com is a well-known paste, capture or tunnel service/);
  const tls = await httpsViaProxy(w.proxy, w.caPem, `https://webhook.site:${w.upstream.httpsPort}/token`);
  t.equal(tls.status, 403);
  t.same(w.upstream.requests, [], 'the upstream received nothing');
  t.match(w.decisions().map((d) => d.stage), ['blocklist', 'blocklist']);
});

t.test('local-use NAT64 (64:ff9b:1::/48) is an SSRF range: by name and as a literal, nothing reaches the upstream', async (t) => {
  const w = await startWorld(t, { policy: 'version: 1\nallow: ["*"]\n' });
  const viaName = await viaProxy(w.proxy, w.http('nat64.test', '/p'));
  t.equal(viaName.status, 403);
  t.match(viaName.body.toString(), /^blocked: nat64\.test resolves to 64:ff9b:1::7f00:1 \(local-use NAT64/);
  const tunnel = await httpsViaProxy(w.proxy, w.caPem, w.https('nat64.test', '/p'));
  t.equal(tunnel.status, 403, 'HTTPS by name (answered inside the tunnel)');
  const literal = await viaProxy(w.proxy, `http://[64:ff9b:1::7f00:1]:${w.upstream.httpPort}/`);
  t.equal(literal.status, 403);
  t.match(literal.body.toString(), /local-use NAT64 64:ff9b:1::\/48/);
  t.same(w.upstream.requests, [], 'the upstream received nothing');
});

async function postStreamed(proxy: Proxy, url: string, chunks: Buffer[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.host, port: proxy.port, method: 'POST', path: url, headers: { host: new URL(url).host, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => (e.message.includes('EPIPE') || e.message.includes('ECONNRESET') ? undefined : reject(e)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

t.test('a body over limits.maxBodyBytes is refused before anything is forwarded (declared or chunked)', async (t) => {
  const w = await startWorld(t);
  const big = downloadBytes(100 * 1024);
  const declared = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/echo/big'), { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
  t.equal(declared.status, 403);
  t.match(declared.body.toString(), /^blocked: body is over 65536 bytes/);
  const chunked = await postStreamed(w.proxy, w.http('allowed.test', '/echo/chunked'), [big.subarray(0, 40_000), big.subarray(40_000)]);
  t.equal(chunked, 403);
  t.same(w.upstream.requests, []);
  const small = await postStreamed(w.proxy, w.http('allowed.test', '/echo/small'), [Buffer.from('a'.repeat(30_000)), Buffer.from('b'.repeat(30_000))], { 'content-type': 'text/plain' });
  t.equal(small, 200, 'a chunked body under the cap is buffered, scanned and forwarded');
  t.equal(w.upstream.requests.at(-1)!.body.length, 60_000);
});

t.test('SNI or Host that does not name the CONNECT host is refused', async (t) => {
  const w = await startWorld(t);
  const sni = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/sni'), { sni: 'other.test' });
  t.equal(sni.status, 403);
  t.match(sni.body.toString(), /^blocked: TLS SNI does not match the CONNECT host/);
  const host = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/host'), { hostHeader: 'other.test' });
  t.equal(host.status, 403);
  t.match(host.body.toString(), /^blocked: host header mismatch\n/);
  t.same(w.upstream.requests, []);
  // Issue #12: a Host mismatch is its own stage, not header-dlp (no secret was found).
  t.same(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => [d.stage, d.status]), [['sni', 403], ['host-mismatch', 403]]);
});

t.test('a WebSocket upgrade meets the same stages: a secret in a header or a Host for another host is refused first', async (t) => {
  const w = await startWorld(t);
  const authority = `allowed.test:${w.upstream.httpPort}`;
  const upgrade = (target: string, host: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
  t.match(await rawExchange(w.proxy, upgrade(`http://${authority}/ws`, authority, `X-Token: ${FAKE.github}\r\n`)), /^HTTP\/1\.1 403 /);
  const tunnel = await connect(w.proxy, authority);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    tunnel.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    tunnel.socket.on('close', () => resolve(text));
  });
  tunnel.socket.write(upgrade('/ws', 'other.test'));
  t.match(await answer, /^HTTP\/1\.1 403 [^]*\r\n\r\nblocked: host header mismatch\n/);
  t.same(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => [d.stage, d.status]), [['header-dlp', 403], ['host-mismatch', 403]]);
  t.same(w.upstream.requests, []);
});

t.test('an upstream whose certificate does not verify is a 502, not a silent pass', async (t) => {
  const w = await startWorld(t, { upstreamCa: false });
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/x'));
  t.equal(r.status, 502);
  t.match(r.body.toString(), /^upstream error: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
  t.same(w.upstream.requests, []);
});

// Issue 13 class 6: terminated means judged in full (the model route is the one exception,
// test/unit/gateway-model-route.test.ts).
t.test('a route host that is also passthrough is terminated (header injected) and its content scanned', async (t) => {
  const policy = 'version: 1\nallow: [allowed.test]\nroutes:\n  - host: route.test\n    headers: { Authorization: "Bearer ${GW_TEST_TOKEN}" }\npassthrough: [route.test]\n';
  const w = await startWorld(t, { policy, env: { GW_TEST_TOKEN: FAKE.routeToken } });
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/echo'), { method: 'POST', body: 'an ordinary request' });
  t.equal(r.status, 200, 'verified against the gateway CA: intercepted');
  t.equal(w.upstream.requests.at(-1)!.headers.authorization, `Bearer ${FAKE.routeToken}`);
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/echo'), { method: 'POST', body: `mentioning ${FAKE.github}` })).status, 403, 'its content is scanned');
  t.equal(w.upstream.requests.length, 1);
});
