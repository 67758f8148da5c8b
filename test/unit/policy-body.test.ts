// header-dlp and body-dlp: what is scanned, what is skipped and why, and what is refused
// outright because it cannot be scanned.
import t from 'tap';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { dlpOnlyPolicy, evaluate, HOP_BY_HOP, loadPolicy, type HttpRequest } from '../../lib/policy/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const open = dlpOnlyPolicy();
const req = (headers: Record<string, string | string[]>, body?: string | Uint8Array, url = 'https://x.test/api'): HttpRequest =>
  ({ method: body === undefined ? 'GET' : 'POST', url, headers, ...(body === undefined ? {} : { body }) });

t.test('header-dlp scans every header, including multi-valued ones', async (t) => {
  t.match(evaluate(open, req({ 'X-Api-Key': FAKE.github })), { stage: 'header-dlp', rule: 'github-token' });
  t.match(evaluate(open, req({ 'X-Multi': ['fine', FAKE.slack] })), { stage: 'header-dlp' });
  t.match(evaluate(open, req({ Accept: `text/html, ${FAKE.awsKeyId}` })), { stage: 'header-dlp' });
  t.match(evaluate(open, req({ 'X-Request-Id': '3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f', 'Accept-Language': 'en-GB,en;q=0.9' })), { verdict: 'allow' });
});

t.test('hop-by-hop headers are consumed by the gateway and not scanned', async (t) => {
  t.same([...HOP_BY_HOP].sort(), ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
  t.match(evaluate(open, req({ 'Proxy-Authorization': `Basic ${FAKE.github}` })), { verdict: 'allow' });
});

t.test('a header a route overwrites is not scanned (its value never leaves)', async (t) => {
  const p = loadPolicy('version: 1\nroutes: [{ host: api.x.test, headers: { X-Api-Key: X_KEY } }]\n');
  const placeholder = { 'x-api-key': FAKE.anthropic };
  t.match(evaluate(p, req(placeholder, undefined, 'https://api.x.test/v1')), { verdict: 'allow' });
  t.match(evaluate(p, req({ 'X-Other': FAKE.anthropic }, undefined, 'https://api.x.test/v1')), { stage: 'header-dlp' });
  const other = loadPolicy('version: 1\nallow: [y.test]\nroutes: [{ host: api.x.test, headers: { X-Api-Key: X_KEY } }]\n');
  t.match(evaluate(other, req(placeholder, undefined, 'https://y.test/')), { stage: 'header-dlp' }, 'only on the route host');
});

t.test('Host must match the URL; Content-Length must be a number', async (t) => {
  t.match(evaluate(open, req({ Host: 'x.test:443' })), { verdict: 'allow' });
  t.match(evaluate(open, req({ host: 'X.TEST' })), { verdict: 'allow' });
  t.match(evaluate(open, req({ Host: 'evil.test' })), { stage: 'host-mismatch', rule: 'host-mismatch' }, 'a Host mismatch is its own stage, not header DLP');
  t.match(evaluate(open, req({ 'Content-Length': '12' }, 'hello world!')), { verdict: 'allow' });
  t.match(evaluate(open, req({ 'Content-Length': '12, 13' }, 'hello world!')), { stage: 'header-dlp', rule: 'bad-content-length' });
});

t.test('bodies that cannot be scanned are blocked, never passed', async (t) => {
  const small = loadPolicy('version: 1\nallow: ["*"]\nlimits: { maxBodyBytes: 1KiB }\n');
  t.match(evaluate(small, req({}, 'a'.repeat(1024))), { verdict: 'allow' });
  t.match(evaluate(small, req({}, 'a'.repeat(1025))), { stage: 'body-dlp', rule: 'body-too-large' });
  t.match(evaluate(small, req({}, 'é'.repeat(600))), { rule: 'body-too-large' }, 'the limit counts bytes, not characters');
  t.match(evaluate(open, req({ 'Content-Encoding': 'gzip' }, 'not gzip at all')), { stage: 'body-dlp', rule: 'compressed-body', reason: /does not decode/ });
  t.match(evaluate(open, req({ 'content-encoding': 'identity, br' }, 'x')), { rule: 'compressed-body' });
  t.match(evaluate(open, req({ 'Content-Encoding': 'zstd' }, 'x')), { rule: 'compressed-body', reason: /"zstd", which the gateway cannot decode/ });
  t.match(evaluate(small, req({ 'Content-Encoding': 'gzip' }, gzipSync(Buffer.alloc(4097)))), { rule: 'compressed-body', reason: /decompresses to over 4096 bytes/ }, 'a bomb stops at 4x the cap');
  t.match(evaluate(small, req({ 'Content-Encoding': 'gzip' }, gzipSync(Buffer.alloc(4096)))), { verdict: 'allow' });
  const gzParts = (n: number) => Buffer.concat([
    ...Array.from({ length: n }, () => Buffer.concat([Buffer.from('--b\r\nContent-Encoding: gzip\r\n\r\n'), gzipSync(Buffer.alloc(1500)), Buffer.from('\r\n')])),
    Buffer.from('--b--\r\n'),
  ]);
  t.match(evaluate(small, req({ 'Content-Type': 'multipart/mixed; boundary=b' }, gzParts(2))), { verdict: 'allow' });
  t.match(evaluate(small, req({ 'Content-Type': 'multipart/mixed; boundary=b' }, gzParts(3))), { rule: 'compressed-body', reason: /over 4096 bytes/ }, 'the cap covers all parts together');
  t.match(evaluate(open, req({ 'Content-Encoding': 'gzip, gzip, gzip, gzip, gzip' }, 'x')), { rule: 'compressed-body', reason: /5 stacked/ });
  t.match(evaluate(open, req({ 'Content-Type': 'text/plain; charset=utf-7' }, 'x')), { stage: 'body-dlp', rule: 'unsupported-charset' });
  t.match(evaluate(open, req({ 'Content-Type': ['text/plain', 'application/json'] }, '{}')), { rule: 'ambiguous-content-type' });
  t.match(evaluate(open, req({ 'Content-Encoding': 'identity' }, 'plain')), { verdict: 'allow' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, '{"a": tru')), { stage: 'body-dlp', rule: 'unparseable-json' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/problem+json; charset=utf-8' }, '{oops}')), { rule: 'unparseable-json' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=%zz')), { rule: 'unparseable-form' });
  t.match(evaluate(open, req({ 'Content-Type': 'multipart/form-data' }, 'x')), { rule: 'unparseable-multipart' }, 'no boundary');
  t.match(evaluate(open, req({ 'Content-Type': 'multipart/form-data; boundary=b' }, '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n')), { rule: 'unparseable-multipart' }, 'no closing delimiter');
  const gzPart = '--b\r\nContent-Encoding: gzip\r\n\r\nxx\r\n--b--\r\n';
  t.match(evaluate(open, req({ 'Content-Type': 'multipart/mixed; boundary=b' }, gzPart)), { rule: 'compressed-body' });
});

t.test('well-formed bodies without secrets pass', async (t) => {
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, '')), { verdict: 'allow' }, 'empty JSON body');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, '{"a":[1,2,{"b":null}],"c":"text"}')), { verdict: 'allow' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/x-www-form-urlencoded' }, 'name=Ada+Lovelace&lang=en&empty=')), { verdict: 'allow' });
  const mp = '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n';
  t.match(evaluate(open, req({ 'Content-Type': 'multipart/form-data; boundary=b' }, mp)), { verdict: 'allow' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/octet-stream' }, new Uint8Array([0, 1, 2, 255, 254, 10, 13]))), { verdict: 'allow' });
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, deep)), { verdict: 'allow' }, 'deep nesting does not overflow');
});

t.test('body-dlp finds secrets in raw, binary and typed bodies', async (t) => {
  t.match(evaluate(open, req({}, `token dump: ${FAKE.github}`)), { stage: 'body-dlp', reason: /secret in body/ });
  t.match(evaluate(open, req({}, new Uint8Array(Buffer.concat([Buffer.from([0, 255]), Buffer.from(FAKE.slack)])))), { stage: 'body-dlp' });
  const pem = ['-----BEGIN', 'RSA PRIVATE', 'KEY-----'].join(' ');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, JSON.stringify({ key: `${pem}\nMIIEow...` }))), { stage: 'body-dlp' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/x-www-form-urlencoded' }, `${encodeURIComponent(FAKE.awsKeyId)}`)), { stage: 'body-dlp', reason: /form key/ });
});

// Issue 13, class 2: what is scanned must be what is forwarded.
t.test('compressed bodies are decompressed (gzip, deflate, raw deflate, br, stacked) and scanned', async (t) => {
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  const leak = json({ note: `key ${FAKE.github}` });
  const cases: Array<[string, string, Buffer]> = [
    ['gzip', 'gzip', gzipSync(leak)],
    ['x-gzip', 'x-gzip', gzipSync(leak)],
    ['deflate', 'deflate', deflateSync(leak)],
    ['raw deflate', 'deflate', deflateRawSync(leak)],
    ['br', 'br', brotliCompressSync(leak)],
    ['stacked gzip, br', 'gzip, br', brotliCompressSync(gzipSync(leak))],
  ];
  for (const [what, coding, body] of cases) {
    t.match(evaluate(open, req({ 'Content-Type': 'application/json', 'Content-Encoding': coding }, body)), { stage: 'body-dlp', rule: 'github-token', reason: /compressed body/ }, what);
  }
  t.match(evaluate(open, req({ 'Content-Encoding': ['gzip', 'br'] }, brotliCompressSync(gzipSync(leak)))), { rule: 'github-token' }, 'codings over two headers');
  const ok = json({ name: 'lodash', version: '4.17.21', description: 'Lodash modular utilities.'.repeat(20) });
  t.match(evaluate(open, req({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, gzipSync(ok))), { verdict: 'allow' }, 'gzip of an ordinary JSON body');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, gzipSync('{"a": tru'))), { rule: 'unparseable-json' }, 'the decompressed body is parsed as its type');
});

t.test('JSON: every value of a duplicated key, and long numbers, are scanned', async (t) => {
  const dup = `{"note": "${FAKE.github}", "note": "harmless"}`;
  t.equal(JSON.parse(dup).note, 'harmless', 'JSON.parse keeps only the last value');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, dup)), { stage: 'body-dlp', rule: 'github-token', reason: /JSON value/ });
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, `{"a": {"k": "${FAKE.slack}"}, "a": 1}`)), { rule: 'slack-token' }, 'an object overwritten by a later duplicate');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, '{"card": 4111111111111111}')), { rule: 'credit-card-number' }, 'a card number as a JSON number');
  t.match(evaluate(open, req({ 'Content-Type': 'application/json' }, '{"id": 12345678, "ratio": -1.5e10, "ok": true}')), { verdict: 'allow' });
});

t.test('charsets: the bytes as UTF-8 are scanned whatever charset the body declares', async (t) => {
  const body = `note: ${FAKE.github}`;
  t.match(evaluate(open, req({ 'Content-Type': 'text/plain; charset=utf-16' }, body)), { stage: 'body-dlp', rule: 'github-token' }, 'UTF-8 bytes declared UTF-16');
  t.match(evaluate(open, req({ 'Content-Type': 'text/plain; charset=utf-16be' }, body)), { rule: 'github-token' });
  t.match(evaluate(open, req({ 'Content-Type': 'application/json; charset=utf-16le' }, JSON.stringify({ k: FAKE.github }))), { stage: 'body-dlp' }, 'JSON declared UTF-16 is refused or caught');
  t.match(evaluate(open, req({ 'Content-Type': 'text/plain; charset=iso-8859-1' }, Buffer.from('caf\xe9 ordinary text', 'latin1'))), { verdict: 'allow' });
  t.match(evaluate(open, req({ 'Content-Type': 'text/plain; charset=utf-16le' }, Buffer.from(`note: ${FAKE.slack}`, 'utf16le'))), { rule: 'slack-token' }, 'real UTF-16 is read as declared');
});

t.test('multipart: each part after its own content coding, transfer encoding and charset', async (t) => {
  const mp = (head: string, content: Buffer) => Buffer.concat([Buffer.from(`--Bnd\r\nContent-Disposition: form-data; name="f"\r\n${head}\r\n`), content, Buffer.from('\r\n--Bnd--\r\n')]);
  const type = { 'Content-Type': 'multipart/form-data; boundary=Bnd' };
  t.match(evaluate(open, req(type, mp('Content-Encoding: gzip\r\n', gzipSync(`k ${FAKE.github}`)))), { rule: 'github-token', reason: /decompressed/ }, 'a gzip part');
  t.match(evaluate(open, req(type, mp('Content-Type: text/plain; charset=utf-7\r\n', Buffer.from('+AGcAaABwAF8-')))), { rule: 'unsupported-charset' }, 'a part in a charset the gateway cannot read');
  const nested = Buffer.concat([
    Buffer.from('--Outer\r\nContent-Type: multipart/mixed; boundary=Inner\r\n\r\n--Inner\r\nContent-Encoding: gzip\r\n\r\n'),
    gzipSync(`k ${FAKE.slack}`),
    Buffer.from('\r\n--Inner--\r\n\r\n--Outer--\r\n'),
  ]);
  t.match(evaluate(open, req({ 'Content-Type': 'multipart/mixed; boundary=Outer' }, nested)), { rule: 'slack-token' }, 'multipart inside multipart, case-sensitive boundary');
  t.match(evaluate(open, req(type, mp('Content-Type: text/plain\r\nContent-Type: application/json\r\n', Buffer.from('{}')))), { rule: 'ambiguous-content-type' });
});
