// Pure checks for the small languages inside a manifest: names, host patterns, git URLs.
import { isIP } from 'node:net';

// Agent names become slug prefixes and container names, hence short and lowercase.
export const AGENT_NAME = /^[a-z][a-z0-9-]{0,30}$/;
export { ENV_NAME } from '../template.js';
// Remote names become bare-repo directory names in git-gate; `.` and `..` are refused.
export const GIT_REMOTE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]+$/;
export { HEADER_NAME } from '../template.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type HostKind = 'hostname' | 'wildcard' | 'ip' | 'any';

// Normalises a host pattern (lowercase) and says what it is, or undefined if it is none.
export function parseHostPattern(raw: string): { host: string; kind: HostKind } | undefined {
  const s = raw.trim().toLowerCase();
  if (s === '*') return { host: s, kind: 'any' };
  if (isIP(s)) return { host: s, kind: 'ip' };
  if (s.startsWith('*.')) return isHostname(s.slice(2)) ? { host: s, kind: 'wildcard' } : undefined;
  return isHostname(s) ? { host: s, kind: 'hostname' } : undefined;
}

// A DNS hostname: dot-separated LDH labels, not all-numeric at the top (that would be an IP).
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)\S+$/;

// Says what is wrong with a git upstream, or undefined if git and git-gate can use it.
export function gitUpstreamProblem(s: string): string | undefined {
  if (SCP_LIKE.test(s)) return undefined;
  if (s.startsWith('/')) return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (!scheme) return 'expected a git URL (git@host:path, ssh://, https://, git://, file://) or an absolute path';
  if (!['ssh', 'https', 'git', 'file'].includes(scheme)) {
    return `unsupported scheme ${scheme}://; use ssh://, https://, git:// or file://`;
  }
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return 'expected a git URL (git@host:path, ssh://, https://, git://, file://) or an absolute path';
  }
  if (scheme === 'file') return url.pathname.length > 1 ? undefined : 'file:// URL has no path';
  if (!url.hostname) return `${scheme}:// URL has no host`;
  if (url.password) return 'credentials in the URL; use identity (ssh) or an egress route instead';
  if (url.pathname.length <= 1) return `${scheme}:// URL has no repository path`;
  return undefined;
}

// Closest candidate within edit distance 2, for "did you mean" hints.
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
