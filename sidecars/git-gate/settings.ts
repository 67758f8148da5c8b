// What each bare repo's hooks need to know, kept in the repo's own git config (`gitgate.*`):
// hooks run with only git's env and cwd, and the agent can neither read nor write repo config.
import type { Runner } from '../../lib/run/index.js';
import { upstreamKind, type Upstream } from './config.js';
import { gitArgv } from './git.js';
import { DEFAULT_REVIEW_HOLD_MS } from '../../lib/proposals/types.js';

// One repo's settings as the hooks read them back.
export interface RepoSettings extends Upstream {
  /** Cap on bytes scanned per push (diffs plus new objects read whole); past it the push is rejected, never passed unscanned. */
  maxScanBytes: number;
  /** Bound on the access hook's mirror refresh, so an unreachable upstream cannot hang fetches. */
  fetchTimeoutMs: number;
  /** Bound on forwarding a push upstream. */
  pushTimeoutMs: number;
  /** JSON-lines file the daemon tails to stdout; hooks cannot write to the daemon's stdout. */
  decisionLog?: string;
  /** Where a push held for review is queued and its decision read (set when reviewHoldMs is). */
  reviewQueueDir?: string;
  reviewDecisionsDir?: string;
}

export const DEFAULTS = { maxScanBytes: 50 * 1024 * 1024, fetchTimeoutMs: 20_000, pushTimeoutMs: 300_000 } as const;

const KEYS = {
  name: 'gitgate.name',
  upstream: 'gitgate.upstream',
  identityFile: 'gitgate.identityFile',
  tokenEnv: 'gitgate.tokenEnv',
  maxScanBytes: 'gitgate.maxScanBytes',
  fetchTimeoutMs: 'gitgate.fetchTimeoutMs',
  pushTimeoutMs: 'gitgate.pushTimeoutMs',
  decisionLog: 'gitgate.decisionLog',
  // Space-separated: fingerprints hold no spaces.
  dlpIgnore: 'gitgate.dlpIgnore',
  reviewHoldMs: 'gitgate.reviewHoldMs',
  reviewQueueDir: 'gitgate.reviewQueueDir',
  reviewDecisionsDir: 'gitgate.reviewDecisionsDir',
} as const;

// `git config` argv lists that write the settings (after the section was removed, so none linger).
export function settingsConfigArgs(s: RepoSettings): string[][] {
  return (Object.keys(KEYS) as Array<keyof typeof KEYS>)
    .filter((k) => s[k] !== undefined)
    .map((k) => {
      const v = s[k]!;
      return ['config', KEYS[k], Array.isArray(v) ? v.join(' ') : String(v)];
    });
}

// Parses `git config -z --get-regexp ^gitgate\.` ("key\nvalue\0"; keys come back lowercased).
export function parseSettings(raw: string): RepoSettings | undefined {
  const byKey = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const nl = entry.indexOf('\n');
    if (nl > 0) byKey.set(entry.slice(0, nl), entry.slice(nl + 1));
  }
  const get = (k: keyof typeof KEYS): string | undefined => byKey.get(KEYS[k].toLowerCase());
  const name = get('name');
  const upstream = get('upstream');
  const kind = upstream ? upstreamKind(upstream) : undefined;
  if (!name || !upstream || !kind) return undefined;
  const num = (k: 'maxScanBytes' | 'fetchTimeoutMs' | 'pushTimeoutMs'): number => {
    const n = Number(get(k));
    return Number.isFinite(n) && n > 0 ? n : DEFAULTS[k];
  };
  const identityFile = get('identityFile');
  const tokenEnv = get('tokenEnv');
  const decisionLog = get('decisionLog');
  const hold = Number(get('reviewHoldMs'));
  const reviewQueueDir = get('reviewQueueDir');
  const reviewDecisionsDir = get('reviewDecisionsDir');
  const dlpIgnore = get('dlpIgnore')?.split(' ').filter(Boolean) ?? [];
  return {
    name, upstream, kind,
    ...(identityFile ? { identityFile } : {}),
    ...(tokenEnv ? { tokenEnv } : {}),
    maxScanBytes: num('maxScanBytes'),
    fetchTimeoutMs: num('fetchTimeoutMs'),
    pushTimeoutMs: num('pushTimeoutMs'),
    ...(decisionLog ? { decisionLog } : {}),
    ...(dlpIgnore.length ? { dlpIgnore } : {}),
    // A malformed hold still means review (fail closed): the default bound applies.
    ...(get('reviewHoldMs') !== undefined ? { reviewHoldMs: Number.isFinite(hold) && hold > 0 ? hold : DEFAULT_REVIEW_HOLD_MS } : {}),
    ...(reviewQueueDir ? { reviewQueueDir } : {}),
    ...(reviewDecisionsDir ? { reviewDecisionsDir } : {}),
  };
}

// Reads a repo's settings; undefined for a repo the gate did not set up.
export async function readSettings(run: Runner, gitDir: string): Promise<RepoSettings | undefined> {
  const r = await run(gitArgv(gitDir, undefined, ['config', '-z', '--get-regexp', '^gitgate\\.']), { probe: true });
  return r.exitCode === 0 ? parseSettings(r.stdout) : undefined;
}
