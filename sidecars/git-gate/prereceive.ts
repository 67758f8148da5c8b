// The pre-receive hook: scan exactly what the agent pushed, reject on any finding, otherwise
// forward the ref updates upstream and accept locally only if upstream accepted them.
import type { Runner } from '../../lib/run/index.js';
import type { Scanner } from '../../lib/secrets/index.js';
import type { CappedReader } from './capped.js';
import { MAX_LOGGED_COMMITS, type GateEvent, type PushDecision } from './decisions.js';
import { authFor, gitArgv, isCreation, isDeletion, logArgs, pushArgs, type RefUpdate } from './git.js';
import { parsePatch, scanPatch, type Hit } from './patch.js';
import type { RepoSettings } from './settings.js';

export interface HookDeps {
  run: Runner;
  readCapped: CappedReader;
  scanner: Scanner;
  /** A line for the pushing client (the hook's stderr; git shows it as "remote: ..."). */
  err: (line: string) => void;
  record: (event: GateEvent) => void;
  now?: () => Date;
}

// What scanning one ref update found.
interface RefScan {
  update: RefUpdate;
  hits: Hit[];
  commits: string[];
  binaryFiles: number;
  /** Set when the range could not be scanned completely: the ref is rejected. */
  problem?: string;
}

export const TAG_MESSAGE_PATH = '<tag message>';
const MAX_REPORTED = 50;
const HEX = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

// Parses pre-receive stdin ("old new ref" per line); anything else is a protocol error.
export function parseUpdates(stdin: string): RefUpdate[] {
  return stdin.split('\n').filter((l) => l.trim()).map((line) => {
    const [old, neu, ref, ...rest] = line.trim().split(' ');
    if (!old || !neu || !ref || rest.length || !HEX.test(old) || !HEX.test(neu)) {
      throw new Error(`unexpected pre-receive input line: ${JSON.stringify(line.slice(0, 200))}`);
    }
    return { old, new: neu, ref };
  });
}

// The rejection text, one line per finding; `redacted` never holds the whole secret.
export function findingLines(ref: string, hits: Hit[]): string[] {
  return hits.map((h) => `git-gate: rejected ${ref}: ${h.commit.slice(0, 7)} ${h.file}:${h.line}: ${h.finding.ruleId}: ${h.finding.redacted}`);
}

export const SECRET_HINT = 'git-gate: hint: nothing was forwarded. Remove the secret from history (git commit --amend for the last commit, '
  + 'git rebase -i for older ones), then push again.';

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Number((bytes / 1024 / 1024).toFixed(1))} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

async function scanUpdate(gitDir: string, u: RefUpdate, budget: number, total: number, deps: HookDeps): Promise<RefScan & { bytes: number }> {
  const base = { update: u, hits: [] as Hit[], commits: [] as string[], binaryFiles: 0, bytes: 0 };
  const log = await deps.readCapped(gitArgv(gitDir, undefined, logArgs(u)), { maxBytes: budget });
  if (log.truncated) {
    return { ...base, problem: `too much to scan (the push exceeds the gate's ${size(total)} diff budget); push fewer or smaller commits at a time` };
  }
  if (log.exitCode !== 0) {
    const why = log.stderr.trim().split('\n').pop() || `git log exited ${log.exitCode}`;
    return { ...base, problem: `could not list the pushed commits (${why})` };
  }
  const commits = parsePatch(log.stdout);
  const hits = scanPatch(commits, deps.scanner);
  // An annotated tag (possibly of another tag) carries messages that git log does not show.
  let object = u.new;
  for (let depth = 0; depth < 10; depth++) {
    const type = await deps.run(gitArgv(gitDir, undefined, ['cat-file', '-t', object]), { probe: true });
    if (type.stdout.trim() !== 'tag') break;
    const tag = (await deps.run(gitArgv(gitDir, undefined, ['cat-file', 'tag', object]))).stdout;
    const body = tag.slice(tag.indexOf('\n\n') + 2);
    for (const finding of deps.scanner.scan(body)) hits.push({ commit: object, file: TAG_MESSAGE_PATH, line: finding.line, finding });
    object = /^object ([0-9a-f]+)$/m.exec(tag)?.[1] ?? '';
  }
  return {
    ...base, hits, bytes: log.bytes,
    commits: commits.map((c) => c.sha),
    binaryFiles: commits.reduce((n, c) => n + c.files.filter((f) => f.binary).length, 0),
  };
}

// Forwards every update in one push (atomic when there are several). Returns git's stderr on failure.
async function forward(gitDir: string, s: RepoSettings, updates: RefUpdate[], run: Runner): Promise<string | undefined> {
  const withFf = await Promise.all(updates.map(async (u) => {
    if (isCreation(u) || isDeletion(u)) return { ...u, ff: true };
    const r = await run(gitArgv(gitDir, undefined, ['merge-base', '--is-ancestor', u.old, u.new]), { probe: true });
    return { ...u, ff: r.exitCode === 0 };
  }));
  const auth = authFor(s);
  // The quarantine marker would make a local upstream's receive-pack refuse to update refs; the
  // object-directory variables stay, they are how this push reads the not-yet-accepted objects.
  const env = { ...auth.env, GIT_QUARANTINE_PATH: undefined };
  const push = (atomic: boolean) => run(gitArgv(gitDir, auth, pushArgs(s.upstream, withFf, atomic)), { probe: true, env, timeoutMs: s.pushTimeoutMs });
  let r = await push(withFf.length > 1);
  // Servers without the atomic capability say so only in text; retry plainly in that case.
  if (r.failed && withFf.length > 1 && /does not support --atomic/.test(r.stderr)) r = await push(false);
  if (!r.failed) return undefined;
  return r.timedOut ? `timed out after ${Math.round(s.pushTimeoutMs / 1000)} s\n${r.stderr}` : r.stderr || `git push exited ${r.exitCode}`;
}

// Runs the hook for one push; returns the exit code (0 accepts every ref, anything else rejects all).
export async function preReceive(gitDir: string, stdin: string, s: RepoSettings, deps: HookDeps): Promise<number> {
  const now = deps.now ?? (() => new Date());
  const updates = parseUpdates(stdin);
  const scans: RefScan[] = [];
  let budget = s.maxScanBytes;
  for (const u of updates) {
    if (isDeletion(u)) {
      scans.push({ update: u, hits: [], commits: [], binaryFiles: 0 });
      continue;
    }
    const scan = await scanUpdate(gitDir, u, budget, s.maxScanBytes, deps);
    budget = Math.max(0, budget - scan.bytes);
    scans.push(scan);
  }
  const decide = (scan: RefScan, verdict: PushDecision['verdict'], reason?: PushDecision['reason']): void => {
    deps.record({
      event: 'push', time: now().toISOString(), repo: s.name, ref: scan.update.ref, old: scan.update.old, new: scan.update.new,
      verdict, ...(reason ? { reason } : {}),
      findings: scan.hits.length, rules: [...new Set(scan.hits.map((h) => h.finding.ruleId))],
      scanned: scan.commits.length, commits: scan.commits.slice(0, MAX_LOGGED_COMMITS), binaryFiles: scan.binaryFiles,
    });
  };

  const bad = scans.filter((sc) => sc.hits.length > 0 || sc.problem);
  if (bad.length > 0) {
    const lines = bad.flatMap((sc) => [
      ...findingLines(sc.update.ref, sc.hits),
      ...(sc.problem ? [`git-gate: rejected ${sc.update.ref}: ${sc.problem}`] : []),
    ]);
    // A committed dump of credentials should not flood the agent's terminal; the count is enough.
    for (const line of lines.slice(0, MAX_REPORTED)) deps.err(line);
    if (lines.length > MAX_REPORTED) deps.err(`git-gate: ... and ${lines.length - MAX_REPORTED} more findings`);
    for (const sc of scans) {
      if (bad.includes(sc)) decide(sc, 'rejected', sc.problem ? 'unscannable' : 'secret');
      else {
        deps.err(`git-gate: rejected ${sc.update.ref}: not forwarded, another ref in this push was rejected`);
        decide(sc, 'rejected', 'batch');
      }
    }
    if (bad.some((sc) => sc.hits.length > 0)) deps.err(SECRET_HINT);
    return 1;
  }

  const failure = await forward(gitDir, s, updates, deps.run);
  if (failure !== undefined) {
    for (const line of failure.split('\n')) if (line.trim()) deps.err(`git-gate: upstream rejected: ${line.trimEnd()}`);
    for (const sc of scans) decide(sc, 'rejected', 'upstream');
    return 1;
  }
  for (const sc of scans) decide(sc, 'accepted');
  return 0;
}
