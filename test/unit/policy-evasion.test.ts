// Evasion: the same planted secret hidden behind every encoding trick the reference lists.
// Each case must still be blocked by a DLP stage.
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
