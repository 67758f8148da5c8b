// header-dlp and body-dlp: what is scanned, what is skipped and why, and what is refused
// outright because it cannot be scanned.
import t from 'tap';
import { gzipSync } from 'node:zlib';
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
  t.match(evaluate(open, req({ 'Content-Encoding': 'gzip' }, gzipSync(FAKE.github))), { stage: 'body-dlp', rule: 'compressed-body' });
  t.match(evaluate(open, req({ 'content-encoding': 'identity, br' }, 'x')), { rule: 'compressed-body' });
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
