// IP literal parsing (every spelling a URL parser or libc accepts) and the SSRF range table.
import { allow, block, type Verdict } from './types.js';

// Parses IPv4 the way inet_aton and WHATWG URL do: 1–4 parts, each decimal, octal (leading 0)
// or hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`, `0x7f.1`).
export function parseIPv4(s: string): number | undefined {
  let parts = s.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts = parts.slice(0, -1);
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseIPv4Part(p);
    if (n === undefined) return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (4 - nums.length)) return undefined;
  let value = 0;
  nums.forEach((n, i) => { value += n * 256 ** (3 - i); });
  return value + last;
}

function parseIPv4Part(p: string): number | undefined {
  if (/^0x[0-9a-f]*$/i.test(p)) return p.length === 2 ? 0 : parseInt(p.slice(2), 16);
  if (/^0[0-7]+$/.test(p)) return parseInt(p.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(p)) return Number(p);
  return undefined;
}

// True when the last dot-separated label is numeric-looking: such a host must parse as IPv4
// (WHATWG rejects it otherwise), so an unparseable one is invalid, never a hostname.
export function endsInNumber(host: string): boolean {
  const labels = host.split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const last = labels[labels.length - 1] ?? '';
  return /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// Parses an IPv6 literal (brackets and a %zone allowed) into eight 16-bit groups.
export function parseIPv6(input: string): number[] | undefined {
  let s = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    const groups = side.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(g)) return undefined;
        const v4 = g.split('.').map(Number);
        if (v4.some((n) => n > 255)) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parseSide(halves[0]!);
  const tail = halves.length === 2 ? parseSide(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

// RFC 5952 text form, so allowlist entries and request hosts compare as strings.
export function formatIPv6(g: number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const V4_RANGES: Array<[number, number, string]> = [
  ['0.0.0.0', 8, 'this network'], ['127.0.0.0', 8, 'loopback'], ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'], ['192.168.0.0', 16, 'private'], ['169.254.0.0', 16, 'link-local/metadata'],
  ['100.64.0.0', 10, 'carrier-grade NAT'], ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved/broadcast'],
].map(([base, bits, name]) => [parseIPv4(base as string)!, bits as number, `${name} ${base}/${bits}`]);

function v4Forbidden(n: number): string | undefined {
  for (const [base, bits, name] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === base) return name;
  }
  return undefined;
}

function v6Forbidden(g: number[]): string | undefined {
  const allZero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const embedded = (hi: number, lo: number) => v4Forbidden(((hi << 16) | lo) >>> 0);
  if (allZero(0, 8)) return 'unspecified ::';
  if (allZero(0, 7) && g[7] === 1) return 'loopback ::1';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), SIIT, NAT64 and 6to4 carry an
  // IPv4 address that some stacks route to directly: judge the embedded address.
  if (allZero(0, 5) && g[5] === 0xffff) return mapped('::ffff:0:0/96', embedded(g[6]!, g[7]!));
  if (allZero(0, 6)) return mapped('::/96', embedded(g[6]!, g[7]!));
  if (allZero(0, 4) && g[4] === 0xffff && g[5] === 0) return mapped('::ffff:0:0:0/96', embedded(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && allZero(2, 6)) return mapped('64:ff9b::/96', embedded(g[6]!, g[7]!));
  // Local-use NAT64 (RFC 8215) may embed the IPv4 address at any RFC 6052 length (/48 … /96), so
  // which IPv4 host it reaches cannot be known here: the whole prefix is refused.
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'local-use NAT64 64:ff9b:1::/48';
  if (g[0] === 0x2002) return mapped('2002::/16', embedded(g[1]!, g[2]!));
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'unique-local fc00::/7';
  if ((first & 0xffc0) === 0xfe80) return 'link-local fe80::/10';
  if ((first & 0xffc0) === 0xfec0) return 'site-local fec0::/10';
  if ((first & 0xff00) === 0xff00) return 'multicast ff00::/8';
  return undefined;
}

function mapped(prefix: string, inner: string | undefined): string | undefined {
  return inner === undefined ? undefined : `${inner} via ${prefix}`;
}

// A parsed IP literal: its canonical text and, when it may not be dialled, the range it hits.
export interface IpInfo { version: 4 | 6; canonical: string; forbidden?: string }

// Classifies any IPv4/IPv6 spelling; undefined when `s` is not an IP literal.
export function parseIp(s: string): IpInfo | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return withRange({ version: 4, canonical: formatIPv4(v4) }, v4Forbidden(v4));
  const v6 = parseIPv6(s);
  if (v6 !== undefined) return withRange({ version: 6, canonical: formatIPv6(v6) }, v6Forbidden(v6));
  return undefined;
}

function withRange(info: IpInfo, forbidden: string | undefined): IpInfo {
  return forbidden === undefined ? info : { ...info, forbidden };
}

// Called by the daemon with every DNS answer before dialling, so a name that resolves (or
// re-resolves, DNS rebinding) to a private/loopback/metadata address is never reached.
// `allowPrivate` names test upstreams that legitimately live on a private network; it is
// never defaulted and matches exact host names only, not IP literals or wildcards.
export function checkResolved(host: string, ips: readonly string[], allowPrivate?: ReadonlySet<string>): Verdict {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (ips.length === 0) return block('ssrf-resolved', `${name} resolved to no addresses`, 'no-address');
  const exempt = allowPrivate !== undefined && parseIp(name) === undefined && allowPrivate.has(name);
  for (const ip of ips) {
    const info = parseIp(ip);
    if (!info) return block('ssrf-resolved', `${name} resolved to an unparseable address`, 'bad-address');
    if (info.forbidden !== undefined && !exempt) {
      return block('ssrf-resolved', `${name} resolves to ${info.canonical} (${info.forbidden})`, 'private-address');
    }
  }
  return allow(exempt ? `${name} resolved (private addresses allowed for this host)` : `${name} resolved to public addresses`);
}
