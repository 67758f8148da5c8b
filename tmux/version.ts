// tmux version parsing and feature gates. The binary (`tmux -V`) and the running server
// (`display -p '#{version}'`) can differ: a server started before an upgrade keeps its version.

// Oldest tmux bottle supports: `run-shell -C`, `display -d`, `unbind -q`, pane hooks are 3.2.
export const MIN_TMUX_VERSION = '3.2';

export type TmuxChannel = 'release' | 'rc' | 'next' | 'master';

export interface TmuxVersion {
  major: number;
  minor: number;
  /** Patch letter of a release such as 3.3a. */
  patch?: string;
  /** rc and next-X.Y count as X.Y (features land before the release); master as newest. */
  channel: TmuxChannel;
  raw: string;
}

// A version string tmux printed that we cannot read.
export class TmuxVersionError extends Error {
  override name = 'TmuxVersionError';
  constructor(readonly raw: string) {
    super(`cannot parse tmux version ${JSON.stringify(raw)} (expected e.g. "tmux 3.3a"); check \`tmux -V\``);
  }
}

const RELEASE = /^(next-)?(\d+)\.(\d+)([a-z])?(-rc\d*)?$/;

// Accepts `tmux -V` output ("tmux 3.3a") or a bare `#{version}` ("3.3a").
export function parseVersion(raw: string): TmuxVersion {
  const text = raw.trim().replace(/^tmux\s+/, '');
  // Built from git: no number. OpenBSD's base tmux reports "openbsd-7.4" and tracks master.
  if (text === 'master' || /^openbsd-\d/.test(text)) {
    return { major: Number.POSITIVE_INFINITY, minor: Number.POSITIVE_INFINITY, channel: 'master', raw };
  }
  const m = RELEASE.exec(text);
  if (!m) throw new TmuxVersionError(raw);
  const [, next, major, minor, patch, rc] = m;
  const channel: TmuxChannel = next ? 'next' : rc ? 'rc' : 'release';
  return { major: Number(major), minor: Number(minor), ...(patch ? { patch } : {}), channel, raw };
}

// Orders versions by major, minor, patch letter (3.3 < 3.3a < 3.4).
export function compareVersions(a: TmuxVersion, b: TmuxVersion): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  const pa = a.patch ?? '';
  const pb = b.patch ?? '';
  return pa === pb ? 0 : pa < pb ? -1 : 1;
}

// Feature gate: atLeast(v, '3.2').
export function atLeast(v: TmuxVersion, min: string | TmuxVersion): boolean {
  return compareVersions(v, typeof min === 'string' ? parseVersion(min) : min) >= 0;
}

// Human form for doctor output and error messages.
export function formatVersion(v: TmuxVersion): string {
  if (v.channel === 'master') return 'master';
  const base = `${v.major}.${v.minor}${v.patch ?? ''}`;
  return v.channel === 'next' ? `next-${base}` : v.channel === 'rc' ? `${base}-rc` : base;
}
