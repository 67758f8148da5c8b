// URL stages: scheme, CRLF, traversal, length, URL DLP candidates and entropy. The raw URL
// string is checked before WHATWG parsing, which silently strips CR/LF and resolves `..`.
import { domainToUnicode } from 'node:url';
import { shannonEntropy } from '../secrets/index.js';
import { Candidates } from './candidates.js';
import { normalizeText, percentDecodeRepeated } from './decoders.js';
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
  const host = normalizeHost(url.hostname);
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
    username: percentDecodeRepeated(url.username),
    password: percentDecodeRepeated(url.password),
    rawPath: q < 0 ? beforeHash : beforeHash.slice(0, q),
    rawQuery: q < 0 ? '' : beforeHash.slice(q + 1),
    rawFragment: hash < 0 ? '' : rest.slice(hash + 1),
  };
}

// crlf stage: CR/LF raw or percent-encoded (at any depth) anywhere in the URL; header
// injection through the request line.
export function checkCrlf(raw: string): Verdict | undefined {
  if (/[\r\n]/.test(raw) || /[\r\n]/.test(percentDecodeRepeated(raw))) {
    return block('crlf', 'CR/LF in URL (header injection)', 'crlf');
  }
  return undefined;
}

// traversal stage: a `..` path segment, raw or encoded (`%2e%2e`, `..%2f`, `%252e`, `\`, `..;`).
export function checkTraversal(view: UrlView): Verdict | undefined {
  const decoded = normalizeText(percentDecodeRepeated(view.rawPath));
  for (const p of [view.rawPath, decoded]) {
    // `..;x` is `..` to servlet containers that strip path parameters.
    if (p.split(/[/\\]/).some((seg) => seg === '..' || seg.startsWith('..;'))) return block('traversal', 'path traversal (..) in URL path', 'traversal');
  }
  return undefined;
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
  const segments = view.rawPath.split('/').filter((s) => s !== '').map((s) => percentDecodeRepeated(s));
  const query: Array<[string, string]> = [];
  if (view.rawQuery !== '') {
    for (const pair of view.rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const k = eq < 0 ? pair : pair.slice(0, eq);
      const v = eq < 0 ? '' : pair.slice(eq + 1);
      query.push([percentDecodeRepeated(k), percentDecodeRepeated(v)]);
    }
  }
  return { segments, query };
}

// Hostname DLP: the name with dots removed (a secret split across labels), and its decodings
// (base32/hex-encoded DNS labels). Used for every request and for CONNECT.
export function addHostCandidates(c: Candidates, host: HostInfo): void {
  if (host.ip) return;
  c.add('hostname', host.host);
  // An IDN label is punycode here; look-alike letters only show in its Unicode form.
  if (host.host.includes('xn--')) c.add('hostname (dots removed)', domainToUnicode(host.host).replace(/\./g, ''));
  const dotless = host.host.replace(/\./g, '');
  c.addDecoded('hostname (dots removed)', dotless, { strip: false });
  const labels = host.host.split('.');
  if (labels.length > 2) c.addDecoded('subdomain', labels.slice(0, -2).join(''), { strip: false });
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
  if (view.rawFragment) c.addDecoded('URL fragment', percentDecodeRepeated(view.rawFragment));
  addHostCandidates(c, view.host);
  if (parts.query.length > 1) c.addDecoded('joined query values', parts.query.map(([, v]) => v).join(''));
  const path = percentDecodeRepeated(view.rawPath);
  if (parts.segments.length > 1) c.addDecoded('path', path);
  c.add('URL', percentDecodeRepeated(view.raw));
  c.add('URL', view.raw);
  return c;
}

const SRI = /^sha(?:1-[A-Za-z0-9+/]{27}=|256-[A-Za-z0-9+/]{43}=|384-[A-Za-z0-9+/]{64}|512-[A-Za-z0-9+/]{86}==)$/;
const PATH_QUERY_MIN = 20;
const PATH_QUERY_MAX_BITS = 4.5;
const LABEL_MIN = 8;
const LABEL_MAX_BITS = 4.0;

// entropy stage: random-looking path segments, query keys/values and subdomain labels carry
// secrets no pattern knows. Subresource-integrity digests (`sha512-…`) are exempt: package
// managers send them and they are hashes, not secrets.
export function checkEntropy(view: UrlView, parts: UrlParts): Verdict | undefined {
  const high = (s: string, min: number, max: number) => s.length >= min && !SRI.test(s) && shannonEntropy(s) > max;
  for (const s of parts.segments) {
    if (high(s, PATH_QUERY_MIN, PATH_QUERY_MAX_BITS)) return entropyBlock('path segment', s, 'entropy-path');
  }
  for (const [k, v] of parts.query) {
    if (high(k, PATH_QUERY_MIN, PATH_QUERY_MAX_BITS)) return entropyBlock('query key', k, 'entropy-query');
    if (high(v, PATH_QUERY_MIN, PATH_QUERY_MAX_BITS)) return entropyBlock('query value', v, 'entropy-query');
  }
  return checkSubdomainEntropy(view.host);
}

export function checkSubdomainEntropy(host: HostInfo): Verdict | undefined {
  if (host.ip) return undefined;
  const labels = host.host.split('.').slice(0, -2);
  for (const l of labels) {
    if (l.length >= LABEL_MIN && shannonEntropy(l) > LABEL_MAX_BITS) return entropyBlock('subdomain label', l, 'entropy-subdomain');
  }
  return undefined;
}

function entropyBlock(where: string, s: string, rule: string): Verdict {
  return block('entropy', `high-entropy ${where} (${shannonEntropy(s).toFixed(1)} bits/char, ${s.length} chars)`, rule);
}
