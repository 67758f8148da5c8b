// Host names as the gateway sees them (SNI, CONNECT targets) turned into what a leaf
// certificate needs. Pure: no crypto, no I/O. The agent controls these strings, so anything
// that is not a plain DNS name or IP literal is refused rather than copied into a certificate.
import { isIPv4, isIPv6 } from 'node:net';

// A host the agent asked for that cannot be put in a certificate.
export class InvalidHostError extends Error {
  override name = 'InvalidHostError';
  constructor(readonly host: string, reason: string) {
    super(`cannot mint a certificate for ${JSON.stringify(host)}: ${reason}`);
  }
}

// What a leaf is issued for: one SAN entry, plus the cache key (the canonical spelling).
export type LeafSubject =
  | { kind: 'dns'; name: string }
  | { kind: 'ip'; name: string; bytes: Buffer };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

// Lower-cases, drops a trailing dot and IPv6 brackets, canonicalises IPv6, validates.
export function parseHost(input: string): LeafSubject {
  let host = input.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIPv4(host)) return { kind: 'ip', name: host, bytes: ipv4Bytes(host) };
  if (isIPv6(host)) {
    if (host.includes('%')) throw new InvalidHostError(input, 'IPv6 zone ids have no certificate form');
    // WHATWG URL parsing gives the RFC 5952 spelling, so ::0:1 and ::1 share one cache entry.
    const name = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    return { kind: 'ip', name, bytes: ipv6Bytes(name) };
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0) throw new InvalidHostError(input, 'empty name');
  if (host.length > 253) throw new InvalidHostError(input, 'longer than 253 characters');
  for (const label of host.split('.')) {
    if (!LABEL.test(label)) throw new InvalidHostError(input, `bad DNS label ${JSON.stringify(label)}`);
  }
  return { kind: 'dns', name: host };
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

// Expects the canonical form from parseHost: hex groups and at most one '::' (the WHATWG
// serialiser never emits a dotted IPv4 tail). node:net has no inet_pton, and forge's
// bytesFromIPv6 mis-reads IPv4-mapped addresses, so the SAN bytes are computed here.
export function ipv6Bytes(ip: string): Buffer {
  const [head, rest] = ip.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let words = groups(head);
  if (rest !== undefined) {
    const back = groups(rest);
    words = [...words, ...new Array<number>(8 - words.length - back.length).fill(0), ...back];
  }
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}
