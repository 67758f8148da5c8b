// Host names and host patterns: one normal form for policy entries, URLs and CONNECT targets.
import { domainToASCII } from 'node:url';
import { endsInNumber, parseIp, type IpInfo } from './ip.js';

// A request host after normalisation: lower-case ASCII (punycode), no trailing dot, IP
// literals in canonical text (so `0x7f000001` and `127.0.0.1` are one host).
export interface HostInfo { host: string; ip?: IpInfo }

// Normalises a host from a URL, a CONNECT line or a policy entry; undefined when invalid.
export function normalizeHost(raw: string): HostInfo | undefined {
  let h = raw.trim().toLowerCase();
  if (h.startsWith('[')) {
    if (!h.endsWith(']')) return undefined;
    const ip = parseIp(h);
    return ip?.version === 6 ? { host: ip.canonical, ip } : undefined;
  }
  if (h.includes(':')) {
    const ip = parseIp(h);
    return ip?.version === 6 ? { host: ip.canonical, ip } : undefined;
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === '') return undefined;
  const ip = parseIp(h);
  if (ip) return { host: ip.canonical, ip };
  if (endsInNumber(h)) return undefined;
  // domainToASCII parses like a URL host ("a/b" -> "a"), so only IDN text may reach it.
  if (/[\x00-\x2c\x2f\x3a-\x5e\x60\x7b-\x7f]/.test(h)) return undefined;
  const ascii = /^[a-z0-9._-]+$/.test(h) ? h : domainToASCII(h);
  if (!ascii || ascii.length > 253 || !/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(ascii)) return undefined;
  if (ascii.split('.').some((l) => l.length > 63)) return undefined;
  return { host: ascii };
}

// Validates one allow/block/passthrough entry and returns its normal form, or an error
// message that tells the operator how to write it instead.
export function normalizePattern(raw: string): { pattern: string } | { error: string } {
  const s = raw.trim();
  if (s === '*') return { pattern: '*' };
  if (s.includes('://')) return { error: `"${raw}" is a URL; write the bare host name` };
  if (s.includes('/')) return { error: `"${raw}" has a path; write the bare host name` };
  if (/^[^[\]:]+:\d+$/.test(s) || /^\[.*\]:\d+$/.test(s)) return { error: `"${raw}" has a port; ports are not part of host patterns` };
  if (s.startsWith('*.')) {
    const rest = normalizeHost(s.slice(2));
    if (!rest || rest.ip) return { error: `"${raw}": a wildcard must be followed by a domain name (e.g. *.example.com)` };
    return { pattern: `*.${rest.host}` };
  }
  if (s.includes('*')) return { error: `"${raw}": "*" is allowed only alone or as a leading "*." label` };
  const h = normalizeHost(s);
  if (!h) return { error: `"${raw}" is not a valid host name or IP address` };
  return { pattern: h.host };
}

// Whether two patterns can match one host: "*" matches every host, "*.x.com" x.com and its
// subdomains, anything else (a name or an IP) that one host.
export function patternsOverlap(a: string, b: string): boolean {
  if (a === '*' || b === '*') return true;
  const [wa, wb] = [a.startsWith('*.'), b.startsWith('*.')];
  const [sa, sb] = [wa ? a.slice(2) : a, wb ? b.slice(2) : b];
  return sa === sb || (wa && sb.endsWith(`.${sa}`)) || (wb && sa.endsWith(`.${sb}`));
}

// A compiled pattern list: `*` matches anything, `*.x.com` matches x.com and its subdomains,
// anything else (names and IPs) matches exactly.
export class HostMatcher {
  private readonly any: boolean;
  private readonly exact = new Set<string>();
  private readonly wild = new Set<string>();

  constructor(patterns: readonly string[]) {
    this.any = patterns.includes('*');
    for (const p of patterns) {
      if (p.startsWith('*.')) this.wild.add(p.slice(2));
      else if (p !== '*') this.exact.add(p);
    }
  }

  // Returns the pattern that matched (for verdict reasons), or undefined.
  match(host: HostInfo): string | undefined {
    if (this.exact.has(host.host)) return host.host;
    if (!host.ip && this.wild.size > 0) {
      let h = host.host;
      for (;;) {
        if (this.wild.has(h)) return `*.${h}`;
        const dot = h.indexOf('.');
        if (dot < 0) break;
        h = h.slice(dot + 1);
      }
    }
    return this.any ? '*' : undefined;
  }
}
