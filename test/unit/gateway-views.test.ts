// Issue 13, classes 2 and 4, attacked through the real gateway: what the gateway scans must be
// every view the upstream might read (decompressed, every duplicate JSON key, the bytes as
// UTF-8 whatever the declared charset, each multipart part, the de-chunked body) and every
// shape a secret can be wrapped in (wrapped base64, base64 of binary, deep percent-encoding,
// data split over host labels, case changes). Each attack must leave the upstream's request log
// empty; ordinary traffic of the same shapes must arrive byte for byte as sent.
import { brotliCompressSync, deflateRawSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { encodeBase32 } from '../../lib/policy/decoders.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, httpsViaProxy, rawExchange, viaProxy } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld, type World } from '../fixtures/gateway/world.js';

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const wrap = (s: string, cols: number, eol: string) => s.match(new RegExp(`.{1,${cols}}`, 'g'))!.join(eol);
const post = (w: World, path: string, headers: Record<string, string>, body: Buffer | string) =>
  viaProxy(w.proxy, w.http('allowed.test', path), { method: 'POST', headers, body });

// A binary file (zip-like header, high bytes) with a credential inside.
const binaryWith = (secret: string) => Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4, 0x14, 0, 0x80, 0xff, 0]), Buffer.from(secret), Buffer.from([0, 0x9c, 0xfe, 1, 2])]);

t.test('class 2: every view of a body is scanned; nothing unscannable is forwarded', async (t) => {
  const w = await startWorld(t);
  const leak = json({ note: `deploy key ${FAKE.github}` });
  const multipart = (head: string, content: Buffer) => Buffer.concat([
    Buffer.from(`--Bnd\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n${head}\r\n`), content, Buffer.from('\r\n--Bnd--\r\n'),
  ]);
  const mpType = 'multipart/form-data; boundary=Bnd';
  const cases: Array<[string, Record<string, string>, Buffer | string, RegExp]> = [
    ['gzip body', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(leak), /github-token/],
    ['raw deflate body', { 'content-type': 'application/json', 'content-encoding': 'deflate' }, deflateRawSync(leak), /github-token/],
    ['br body', { 'content-type': 'application/json', 'content-encoding': 'br' }, brotliCompressSync(Buffer.concat([leak, Buffer.alloc(200, 32)])), /github-token/],
    ['stacked gzip, br', { 'content-type': 'application/json', 'content-encoding': 'gzip, br' }, brotliCompressSync(gzipSync(leak)), /github-token/],
    ['corrupt gzip (fail closed)', { 'content-encoding': 'gzip' }, Buffer.from(`not gzip ${'x'.repeat(40)}`), /does not decode/],
    ['gzip bomb past the cap (fail closed)', { 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(10 * 1024 * 1024)), /decompresses to over/],
    ['unknown coding (fail closed)', { 'content-encoding': 'zstd' }, Buffer.from('whatever'), /cannot decode/],
    ['duplicate JSON key, secret first', { 'content-type': 'application/json' }, `{"note": "${FAKE.github}", "note": "nothing to see"}`, /github-token/],
    ['charset=utf-16 on UTF-8 bytes', { 'content-type': 'text/plain; charset=utf-16' }, `note: ${FAKE.github}`, /github-token/],
    ['charset=utf-7 (undecodable, fail closed)', { 'content-type': 'text/plain; charset=utf-7' }, 'note: +AGcAaABwAF8-', /charset/],
    ['multipart part with its own gzip coding', { 'content-type': mpType }, multipart('Content-Encoding: gzip\r\n', gzipSync(`k ${FAKE.awsKeyId}`)), /aws-access-key-id/],
  ];
  for (const [what, headers, body, reason] of cases) {
    const r = await post(w, '/views', headers, body);
    t.equal(r.status, 403, what);
    t.match(r.body.toString(), reason, `${what}: reason`);
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  t.ok(w.decisions().every((d) => d.stage === 'body-dlp'), 'every refusal is body-dlp');
});

// The gateway reads the body through node's HTTP parser, which de-chunks it; chunk extensions
// and trailers never reach the upstream, so what is scanned (the de-chunked bytes) is exactly
// what is sent on, re-framed with a Content-Length.
t.test('class 2: chunked framing: the de-chunked body is scanned and is what is forwarded', async (t) => {
  const w = await startWorld(t);
  const target = w.http('allowed.test', '/chunked');
  const host = new URL(target).host;
  const chunked = (chunks: string[], trailer = '') =>
    `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trail\r\nConnection: close\r\n\r\n` +
    chunks.map((c, i) => `${Buffer.byteLength(c).toString(16)};ext${i}="v${i}"\r\n${c}\r\n`).join('') + `0\r\n${trailer}\r\n`;
  const half = FAKE.github.length >> 1;
  const split = await rawExchange(w.proxy, chunked(['token ', FAKE.github.slice(0, half), FAKE.github.slice(half)]));
  t.match(split, /^HTTP\/1\.1 403 /, 'a secret split over chunks is found in the de-chunked body');
  t.same(w.upstream.requests, [], 'and never forwarded');

  const ok = await rawExchange(w.proxy, chunked(['hello ', 'chunked ', 'world'], `X-Trail: ${FAKE.slack}\r\n`));
  t.match(ok, /^HTTP\/1\.1 200 /);
  const seen = w.upstream.requests.at(-1)!;
  t.equal(seen.body.toString('latin1'), 'hello chunked world', 'the upstream received exactly the scanned bytes');
  t.equal(seen.headers['content-length'], '19', 're-framed with a Content-Length');
  t.notOk(seen.headers['transfer-encoding'], 'no chunked framing (hence no extensions or trailers) upstream');
  t.notMatch(JSON.stringify(seen), FAKE.slack, 'the trailer never reached the upstream');
});

t.test('class 4: wrapped base64, base64 of binary, deep percent-encoding, case changes', async (t) => {
  const w = await startWorld(t);
  // The key starts 4 bytes before a line ends (lines hold 48 bytes at 64 columns, 57 at 76).
  const blob = (cols: 64 | 76) => Buffer.from(`${'#'.repeat(cols === 64 ? 44 : 53)}${FAKE.awsKeyId}\n${'#'.repeat(60)}`).toString('base64');
  // Decoding used to stop after 3 rounds, at each of 3 nested layers: 13 layers got through.
  let nested = [...FAKE.github].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  for (let i = 1; i < 13; i++) nested = encodeURIComponent(nested);
  const sends: Array<[string, () => ReturnType<typeof viaProxy>]> = [
    ['base64 wrapped at 76 columns (base64)', () => post(w, '/b64', { 'content-type': 'text/plain' }, wrap(blob(76), 76, '\n'))],
    ['base64 wrapped at 64 columns, CRLF (openssl, MIME)', () => post(w, '/b64', { 'content-type': 'application/json' }, JSON.stringify({ pem: wrap(blob(64), 64, '\r\n') }))],
    ['base64 of binary with a secret inside', () => post(w, '/bin', { 'content-type': 'application/json' }, JSON.stringify({ file: binaryWith(FAKE.slack).toString('base64') }))],
    ['percent-encoding 13 deep', () => viaProxy(w.proxy, w.http('allowed.test', `/q?v=${nested}`))],
    ['GHP_ prefix in upper case', () => viaProxy(w.proxy, w.http('allowed.test', '/h'), { headers: { 'x-note': FAKE.github.replace('ghp_', 'GHP_') } })],
    ['AWS key id in lower case', () => post(w, '/lc', { 'content-type': 'text/plain' }, `id ${FAKE.awsKeyId.toLowerCase()}`)],
  ];
  for (const [what, send] of sends) {
    const r = await send();
    t.equal(r.status, 403, what);
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  t.same(w.decisions().map((d) => d.stage), ['body-dlp', 'body-dlp', 'body-dlp', 'url-dlp', 'header-dlp', 'body-dlp']);
});

t.test('class 4: hex and base32 data split over host labels is refused before DNS', async (t) => {
  const w = await startWorld(t, { policy: BASE_POLICY.replace('allow: [', 'allow: ["*.allowed.test", ') });
  const labels = (s: string, n: number) => s.match(new RegExp(`.{1,${n}}`, 'g'))!.join('.');
  const hex = Buffer.from(FAKE.github).toString('hex');
  const b32 = encodeBase32(Buffer.from(FAKE.github)).toLowerCase();
  const names = [
    `7.${labels(hex, 30)}.exfil.allowed.test`, // a counter label first, a word label after
    `q7.${labels(b32, 20)}.www.allowed.test`, // a label that shifts the base32 alignment
  ];
  for (const name of names) {
    const r = await viaProxy(w.proxy, `http://${name}:${w.upstream.httpPort}/`);
    t.equal(r.status, 403, `request to ${name.slice(0, 24)}…`);
    const c = await connect(w.proxy, `${name}:${w.upstream.httpsPort}`);
    t.equal(c.status, 403, 'CONNECT too');
    c.socket.destroy();
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  t.ok(w.decisions().every((d) => d.stage === 'url-dlp' && d.verdict === 'block'), JSON.stringify(w.decisions().map((d) => d.stage)));
});

t.test('ordinary traffic of the same shapes arrives byte for byte as sent', async (t) => {
  const w = await startWorld(t);
  const lockfile = json({
    name: 'app', lockfileVersion: 3, requires: true,
    packages: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`node_modules/pkg-${i}`, {
      version: `1.${i}.0`, resolved: `https://registry.npmjs.org/pkg-${i}/-/pkg-${i}-1.${i}.0.tgz`,
      integrity: `sha512-${Buffer.from(Array.from({ length: 64 }, (_, j) => ((i * 7 + 1) * (j + 3)) & 0xff)).toString('base64')}`,
    }])),
  });
  const image = Buffer.alloc(40 * 1024);
  for (let i = 0; i < image.length; i++) image[i] = (i * 2654435761) >>> 24;
  const bodies: Array<[string, Record<string, string>, Buffer]> = [
    ['gzip of an ordinary JSON body', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(json({ query: 'ordinary search terms', page: 2, tags: ['a', 'b'] }))],
    ['lockfile JSON', { 'content-type': 'application/json' }, lockfile],
    ['long base64 image data', { 'content-type': 'application/json' }, json({ image: `data:image/png;base64,${image.toString('base64')}` })],
    ['wrapped base64 of binary', { 'content-type': 'text/plain' }, Buffer.from(wrap(image.subarray(0, 8192).toString('base64'), 76, '\r\n'))],
  ];
  for (const [what, headers, body] of bodies) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/echo'), { method: 'POST', headers, body });
    t.equal(r.status, 200, what);
    const seen = w.upstream.requests.at(-1)!;
    t.ok(seen.body.equals(body), `${what}: the upstream received the original bytes`);
    t.equal(seen.headers['content-encoding'], headers['content-encoding'], `${what}: content coding unchanged`);
  }
  t.equal(w.upstream.requests.length, bodies.length);
});
