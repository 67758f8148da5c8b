// header-dlp stage: every header name and value ("all" mode) gets the full treatment (name,
// value, decodings, tokens, cookie pairs); only hop-by-hop headers, Host and Content-Length,
// which never leave the gateway as sent, are left out. No header is "benign": a `User-Agent:
// <base64 of a secret>` is as much an exit as any other.
import { Candidates } from './candidates.js';
import { normalizeHost, type HostInfo } from './hosts.js';
import { block, type Verdict } from './types.js';

// Hop-by-hop headers: the gateway consumes them and must strip them (RFC 9110 §7.6.1) before
// forwarding, which is what makes skipping them here sound. The daemon should use this set.
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// A header name safe to quote in a block reason (letters and dashes only: no secret looks so).
const QUOTABLE_NAME = /^[A-Za-z]{1,20}(-[A-Za-z]{1,20}){0,4}$/;

export interface HeaderList { name: string; lname: string; value: string }

// Flattens `Record<string, string | string[]>` into one entry per value.
export function headerEntries(headers: Record<string, string | string[]>): HeaderList[] {
  const out: HeaderList[] = [];
  for (const [name, v] of Object.entries(headers)) {
    const lname = name.toLowerCase();
    for (const value of Array.isArray(v) ? v : [v]) out.push({ name, lname, value: String(value) });
  }
  return out;
}

// The first value of a header (case-insensitive), for content-type and friends.
export function headerValue(entries: readonly HeaderList[], lname: string): string | undefined {
  return entries.find((e) => e.lname === lname)?.value;
}

// Structural checks before header DLP: Host must name the URL's host (a mismatch, its own
// `host-mismatch` stage, is how a request smuggles itself to another virtual host);
// Content-Length must be one number.
export function checkHeaderStructure(entries: readonly HeaderList[], urlHost: HostInfo): Verdict | undefined {
  for (const e of entries) {
    if (e.lname === 'host') {
      const h = normalizeHost(e.value.replace(/:\d+$/, ''));
      if (!h || h.host !== urlHost.host) return block('host-mismatch', 'Host header does not match the request URL', 'host-mismatch');
    } else if (e.lname === 'content-length') {
      if (!/^\s*\d+\s*$/.test(e.value)) return block('header-dlp', 'malformed Content-Length header', 'bad-content-length');
    }
  }
  return undefined;
}

// header-dlp candidates: names, values, their decodings, and tokens of structured values.
// `replaced` lists (lower-case) headers a route will overwrite: their agent-supplied values
// never leave the gateway, so they are not scanned (this is how a placeholder credential
// reaches a route host without tripping DLP).
export function headerCandidates(entries: readonly HeaderList[], replaced: ReadonlySet<string>): Candidates {
  const c = new Candidates();
  for (const e of entries) {
    if (HOP_BY_HOP.has(e.lname) || replaced.has(e.lname) || e.lname === 'host' || e.lname === 'content-length') continue;
    const where = QUOTABLE_NAME.test(e.name) ? `${e.name} header` : 'header value';
    c.add('header name', e.name);
    c.addDecoded(where, e.value, { strip: false, prefix: `${e.name}: ` });
    // `Bearer <blob>`, cookies, `k=v, k2=v2`: decode each token on its own too.
    const tokens = e.value.split(/[\s,;=]+/);
    if (tokens.length > 1) for (const t of tokens) if (t.length >= 10) c.addDecoded(where, t, { strip: false });
    // Cookies: each `name=value` pair on its own, so a keyword rule sees its name beside its value.
    if (e.lname === 'cookie' || e.lname === 'set-cookie') {
      for (const pair of e.value.split(';')) if (pair.includes('=')) c.addDecoded(where, pair.trim(), { strip: false });
    }
  }
  return c;
}
