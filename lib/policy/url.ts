// URL stages: scheme, CRLF, traversal, length, URL DLP candidates and entropy. The raw URL
// string is checked before WHATWG parsing, which silently strips CR/LF and resolves `..`.
import { domainToUnicode } from 'node:url';
import { shannonEntropy } from '../secrets/index.js';
import { Candidates, inReferenceMode, withoutSigV4KeyIds } from './candidates.js';
import { decodeBase32, decodeHex, normalizeText, percentDecodeFully, printable, readable } from './decoders.js';
import { normalizeHost, type HostInfo } from './hosts.js';
import { block, type Verdict } from './types.js';

// A request URL split into the raw pieces the stages look at.
export interface UrlView {
  raw: string;
  host: HostInfo;
  username: string;
  password: string;
  rawPath: string;
  rawQuery: string;
  rawFragment: string;
}

// scheme stage: an absolute http(s) URL with a valid host, or a block.
export function parseRequestUrl(raw: string): UrlView | Verdict {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return block('scheme', scheme ? `scheme ${scheme}: is not allowed (http and https only)` : 'not an absolute http(s) URL', 'scheme');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return block('scheme', 'malformed URL', 'malformed-url');
  }
  const host = inReferenceMode() ? normalizeHost(url.hostname) : cachedHost(url.hostname);
  if (!host) return block('scheme', 'malformed host name', 'malformed-host');
  const afterScheme = raw.slice(scheme.length + 1).replace(/^[/\\]*/, '');
  const authEnd = afterScheme.search(/[/\\?#]/);
  const rest = authEnd < 0 ? '' : afterScheme.slice(authEnd);
  const hash = rest.indexOf('#');
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const q = beforeHash.indexOf('?');
  return {
    raw,
    host,
    username: percentDecodeFully(url.username),
    password: percentDecodeFully(url.password),
    rawPath: q < 0 ? beforeHash : beforeHash.slice(0, q),
    rawQuery: q < 0 ? '' : beforeHash.slice(q + 1),
    rawFragment: hash < 0 ? '' : rest.slice(hash + 1),
  };
}

// Fast path: normalizeHost of recent URL host names, memoized (a pure function; bounded, dropped
// whole when full). The HostInfo objects are frozen and shared, which lets per-host work
// (hostname candidates, subdomain entropy) be cached against them in WeakMaps below.
const HOST_MEMO_ENTRIES = 1024;
const hostMemo = new Map<string, HostInfo | null>();

function cachedHost(hostname: string): HostInfo | undefined {
  const hit = hostMemo.get(hostname);
  if (hit !== undefined) return hit ?? undefined;
  const h = normalizeHost(hostname);
  if (h) {
    if (h.ip) Object.freeze(h.ip);
    Object.freeze(h);
  }
  if (hostMemo.size >= HOST_MEMO_ENTRIES) hostMemo.clear();
  hostMemo.set(hostname, h ?? null);
  return h;
}

// crlf stage: CR/LF raw or percent-encoded (at any depth) anywhere in the URL; header
// injection through the request line.
export function checkCrlf(raw: string): Verdict | undefined {
  if (/[\r\n]/.test(raw) || /[\r\n]/.test(percentDecodeFully(raw))) {
    return block('crlf', 'CR/LF in URL (header injection)', 'crlf');
  }
  return undefined;
}

// traversal stage: a `..` path segment, raw or encoded (`%2e%2e`, `..%2f`, `%252e`, `\`, `..;`).
export function checkTraversal(view: UrlView): Verdict | undefined {
  // Fast path: with no '%' and no non-ASCII character (which NFKC may fold to dots: U+FF0E,
  // U+2025...) the decoded path is the raw one, and a `..` segment needs ".." in it.
  if (!inReferenceMode() && plainPath(view.rawPath)) return undefined;
  const decoded = normalizeText(percentDecodeFully(view.rawPath));
  for (const p of [view.rawPath, decoded]) {
    // `..;x` is `..` to servlet containers that strip path parameters.
    if (p.split(/[/\\]/).some((seg) => seg === '..' || seg.startsWith('..;'))) return block('traversal', 'path traversal (..) in URL path', 'traversal');
  }
  return undefined;
}

function plainPath(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x25 || c >= 0x80 || (c === 0x2e && p.charCodeAt(i + 1) === 0x2e)) return false;
  }
  return true;
}

export function checkUrlLength(raw: string, max: number): Verdict | undefined {
  return raw.length > max ? block('url-length', `URL is ${raw.length} characters (limit ${max})`, 'url-length') : undefined;
}

// Decoded path segments and query pairs, computed once for both DLP and entropy.
export interface UrlParts {
  segments: string[];
  query: Array<[string, string]>;
}

export function urlParts(view: UrlView): UrlParts {
  const segments = view.rawPath.split('/').filter((s) => s !== '').map((s) => percentDecodeFully(s));
  const query: Array<[string, string]> = [];
  if (view.rawQuery !== '') {
    for (const pair of view.rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const k = eq < 0 ? pair : pair.slice(0, eq);
      const v = eq < 0 ? '' : pair.slice(eq + 1);
      query.push([percentDecodeFully(k), percentDecodeFully(v)]);
    }
  }
  return { segments, query };
}

// What addHostCandidates needs of Candidates (a recorder stands in for it on the fast path).
interface CandidateSink {
  add(where: string, text: string): void;
  addDecoded(where: string, text: string, opts?: { strip?: boolean }): void;
}

// Fast path: the add/addDecoded calls addHostCandidates makes for one (shared, frozen) HostInfo,
// recorded once and replayed into each request's Candidates, which still de-duplicates, decodes
// (memoized) and scans them as if made afresh.
// Only frozen (memoized) HostInfos are recorded: nothing can change them after.
type HostCall = [how: 'add' | 'strip' | 'nostrip', where: string, text: string];
const hostCalls = new WeakMap<HostInfo, HostCall[]>();
const STRIP = { strip: true } as const;
const NO_STRIP = { strip: false } as const;

// Hostname DLP: the name with dots removed (a secret split across labels), and its decodings
// (base32/hex-encoded DNS labels). Used for every request and for CONNECT.
export function addHostCandidates(c: Candidates, host: HostInfo): void {
  if (inReferenceMode() || !Object.isFrozen(host)) {
    hostCandidates(c, host);
    return;
  }
  let calls = hostCalls.get(host);
  if (!calls) {
    const rec: HostCall[] = [];
    hostCandidates({
      add: (where, text) => rec.push(['add', where, text]),
      addDecoded: (where, text, opts) => rec.push([(opts?.strip ?? true) ? 'strip' : 'nostrip', where, text]),
    }, host);
    calls = rec;
    hostCalls.set(host, calls);
  }
  for (const [how, where, text] of calls) {
    if (how === 'add') c.add(where, text);
    else c.addDecoded(where, text, how === 'strip' ? STRIP : NO_STRIP);
  }
}

function hostCandidates(c: CandidateSink, host: HostInfo): void {
  if (host.ip) return;
  c.add('hostname', host.host);
  // An IDN label is punycode here; look-alike letters only show in its Unicode form.
  if (host.host.includes('xn--')) c.add('hostname (dots removed)', domainToUnicode(host.host).replace(/\./g, ''));
  const dotless = host.host.replace(/\./g, '');
  c.addDecoded('hostname (dots removed)', dotless, { strip: false });
  const labels = host.host.split('.');
  if (labels.length > 2) c.addDecoded('subdomain', labels.slice(0, -2).join(''), { strip: false });
  addLabelChains(c, host.host);
}

// Hex and base32 runs across labels long enough to carry 16 bytes, the least a pattern needs
// (route secrets are found in their encoded forms by the canary stage, undecoded).
const HEX_CHAIN = /[0-9a-f]{32,}/g;
const BASE32_CHAIN = /[a-z2-7]{26,}/g;

// Data split over labels (`7768….616b.6c6f.evil.test`, maybe after a counter label or before a
// word label): each maximal run of hex and of base32 characters over the joined labels (the
// top-level label aside: it is never the sender's to choose) is decoded at every alignment an
// edge label could shift it by (2 for hex, 8 for base32). Edge garbage decodes to bytes around
// the data, never into it. DNS names are case-insensitive, so these are the encodings a name
// carries losslessly (base64 does not survive).
function addLabelChains(c: CandidateSink, name: string): void {
  const joined = name.slice(0, name.lastIndexOf('.') + 1).replace(/[.-]/g, '');
  for (const run of joined.match(HEX_CHAIN) ?? []) {
    for (let off = 0; off < 2; off++) addChain(c, 'hex', decodeHex(run.slice(off, off + ((run.length - off) & ~1))));
  }
  for (const run of joined.match(BASE32_CHAIN) ?? []) {
    for (let off = 0; off < 8; off++) addChain(c, 'base32', decodeBase32(run.slice(off)));
  }
}

function addChain(c: CandidateSink, how: string, bytes: Uint8Array | undefined): void {
  const text = bytes && readable(bytes);
  if (text) c.add(`${how}-decoded hostname labels`, text);
}

// url-dlp candidates, most specific first: query values, keys, path segments, userinfo,
// fragment, then joined/whole-URL forms.
export function urlCandidates(view: UrlView, parts: UrlParts): Candidates {
  const c = new Candidates();
  for (const [, v] of parts.query) c.addDecoded('query value', v);
  for (const [k] of parts.query) c.addDecoded('query key', k);
  for (const s of parts.segments) c.addDecoded('path segment', s);
  if (view.username) c.addDecoded('URL userinfo', view.username);
  if (view.password) c.addDecoded('URL userinfo', view.password);
  if (view.rawFragment) c.addDecoded('URL fragment', percentDecodeFully(view.rawFragment));
  addHostCandidates(c, view.host);
  // Each value is a whole value here (a SigV4 credential ends at its value's end), then joined.
  if (parts.query.length > 1) c.addDecoded('joined query values', parts.query.map(([, v]) => withoutSigV4KeyIds(v)).join(''));
  const path = percentDecodeFully(view.rawPath);
  if (parts.segments.length > 1) c.addDecoded('path', path);
  c.add('URL', percentDecodeFully(view.raw));
  c.add('URL', view.raw);
  return c;
}

const SRI = /^sha(?:1-[A-Za-z0-9+/]{27}=|256-[A-Za-z0-9+/]{43}=|384-[A-Za-z0-9+/]{64}|512-[A-Za-z0-9+/]{86}==)$/;
const PATH_QUERY_MIN = 20;
const PATH_QUERY_MAX_BITS = 4.5;
const LABEL_MIN = 8;
const LABEL_MAX_BITS = 4.0;
// Byte lengths of standard digests, MACs and signatures: MD5 (16), SHA-1 (20), SHA-224 (28),
// SHA-256 and HMAC-SHA256 (32), SHA-384 (48), SHA-512 and Ed25519 (64), RSA 1024 to 4096 bits.
// Not 30: a 40-character AWS secret access key is base64 of 30 bytes.
const DIGEST_BYTES = new Set([16, 20, 28, 32, 48, 64, 128, 256, 384, 512]);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// A name (file, host, e-mail address, version, credential scope) is words joined by `.` and
// `@`; any other punctuation and it is not one.
const NAME = /^[A-Za-z0-9._@/~-]+$/;
const NAME_JOINER = /[.@]/;

// Whether `s` is exactly a digest or signature as services send one: the canonical base64 or
// base64url encoding (one alphabet, padding and spare bits as an encoder writes them) of a
// standard digest length, decoding to binary. Hex needs no exemption: it never exceeds 4 bits
// per character. Text encoded to such a length is text, not a digest, and stays judged.
export function digestShaped(s: string): boolean {
  const url = BASE64URL.test(s);
  if (!url && !BASE64.test(s)) return false;
  const bytes = Buffer.from(s, url ? 'base64url' : 'base64');
  if (!DIGEST_BYTES.has(bytes.length)) return false;
  const canonical = url ? bytes.toString('base64url') : bytes.toString('base64');
  if (s !== canonical && s !== canonical.replace(/=+$/, '')) return false;
  return printable(bytes) === undefined;
}

// Whether a path segment, query key or value looks like a random secret: 20+ characters above
// 4.5 bits/char. What it cannot be is exempt: a SigV4 credential's public key id, a
// subresource-integrity or other digest (package managers, signed URLs and content-addressed
// stores send them; they are hashes, not secrets, and pattern DLP still reads their decodings).
// A name is judged word by word: per-character entropy grows with length, and a long wheel file
// name or service-account address is many short words, not one random string. Returns the
// random-looking part, if any.
function highEntropy(value: string): string | undefined {
  // Fast path: removing key ids only shortens a value; a short one stays short.
  if (value.length < PATH_QUERY_MIN && !inReferenceMode()) return undefined;
  const s = withoutSigV4KeyIds(value);
  if (s.length < PATH_QUERY_MIN || SRI.test(s)) return undefined;
  const parts = NAME.test(s) && NAME_JOINER.test(s) ? s.split(NAME_JOINER) : [s];
  return parts.find((p) => p.length >= PATH_QUERY_MIN && shannonEntropy(p) > PATH_QUERY_MAX_BITS && !digestShaped(p));
}

// entropy stage: random-looking path segments, query keys/values and subdomain labels carry
// secrets no pattern knows.
export function checkEntropy(view: UrlView, parts: UrlParts): Verdict | undefined {
  for (const s of parts.segments) {
    const high = highEntropy(s);
    if (high) return entropyBlock('path segment', high, 'entropy-path');
  }
  for (const [k, v] of parts.query) {
    const key = highEntropy(k);
    if (key) return entropyBlock('query key', key, 'entropy-query');
    const value = highEntropy(v);
    if (value) return entropyBlock('query value', value, 'entropy-query');
  }
  return checkSubdomainEntropy(view.host);
}

// Fast path: hosts whose labels were found clean (a pure function of the frozen HostInfo).
const cleanLabels = new WeakSet<HostInfo>();

export function checkSubdomainEntropy(host: HostInfo): Verdict | undefined {
  if (host.ip) return undefined;
  const fast = !inReferenceMode();
  if (fast && cleanLabels.has(host)) return undefined;
  const v = subdomainEntropy(host);
  if (fast && !v && Object.isFrozen(host)) cleanLabels.add(host);
  return v;
}

function subdomainEntropy(host: HostInfo): Verdict | undefined {
  const labels = host.host.split('.').slice(0, -2);
  for (const l of labels) {
    if (l.length >= LABEL_MIN && shannonEntropy(l) > LABEL_MAX_BITS) return entropyBlock('subdomain label', l, 'entropy-subdomain');
  }
  return undefined;
}

function entropyBlock(where: string, s: string, rule: string): Verdict {
  return block('entropy', `high-entropy ${where} (${shannonEntropy(s).toFixed(1)} bits/char, ${s.length} chars)`, rule);
}
