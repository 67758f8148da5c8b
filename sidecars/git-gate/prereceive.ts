// The pre-receive hook: scan exactly what the agent pushed, reject on any finding, otherwise
// forward the ref updates upstream and accept locally only if upstream accepted them.
import type { Runner } from '../../lib/run/index.js';
import { ignoring, type Scanner } from '../../lib/secrets/index.js';
import type { CappedReader, ObjectReader } from './capped.js';
import { MAX_LOGGED_COMMITS, type GateEvent, type PushDecision } from './decisions.js';
import {
  authFor, catFileArgs, gitArgv, isCreation, isDeletion, logArgs, peelCommitArgs, pushArgs, revListArgs, type RefUpdate,
} from './git.js';
import { scanObjects, type BlobContext } from './objects.js';
import { parsePatch, scanPatch, textBlobs, type Hit } from './patch.js';
import type { RepoSettings } from './settings.js';
import { holdForReview, type HangupWatch } from './review.js';
import { formatHold } from '../../lib/format.js';
import { scanText } from './views.js';
import { noteForAgent } from '../../lib/proposals/types.js';

export interface HookDeps {
  run: Runner;
  readCapped: CappedReader;
  readObjects: ObjectReader;
  scanner: Scanner;
  /** A line for the pushing client (the hook's stderr; git shows it as "remote: ..."). */
  err: (line: string) => void;
  record: (event: GateEvent) => void;
  now?: () => Date;
  /** Watches for the pushing client hanging up while a push is held (review.ts). */
  hangup?: () => HangupWatch;
  /** How often a held push looks for its decision besides fs.watch (tests shorten it). */
  reviewPollMs?: number;
  /** Told about a held push once it is in the review queue (the bundle's events file). */
  announce?: (p: { id: string; kind: string }) => void;
}

// What scanning one ref update found.
interface RefScan {
  update: RefUpdate;
  /** The ref as printed and logged: a ref name holding a secret is shown redacted. */
  label: string;
  hits: Hit[];
  commits: string[];
  binaryFiles: number;
  /** Objects read and scanned whole (everything new the diff did not show as text). */
  objects: number;
  /** Set when the push could not be scanned completely: the ref is rejected. */
  problem?: string;
}

export const REF_NAME_PATH = '<ref name>';
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
// The fingerprint is what the operator lists in the manifest's dlp.ignore for a known dummy.
export function findingLines(ref: string, hits: Hit[]): string[] {
  return hits.map((h) => `git-gate: rejected ${ref}: ${h.commit.slice(0, 7)} ${h.file}:${h.line}: ${h.finding.ruleId}: ${h.finding.redacted} (${h.finding.fingerprint})`);
}

export const SECRET_HINT = 'git-gate: hint: nothing was forwarded. Remove the secret from history (git commit --amend for the last commit, '
  + 'git rebase -i for older ones), then push again.';

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Number((bytes / 1024 / 1024).toFixed(1))} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

const tooMuch = (total: number): string =>
  `too much to scan (the push exceeds the gate's ${size(total)} scan budget); push fewer or smaller commits at a time`;

const lastLine = (stderr: string, fallback: string): string => stderr.trim().split('\n').pop() || fallback;

// The diff of the pushed commits: added lines are scanned with their commit, file and line.
// Returns the bytes read and the blobs the diff showed (as text: covered; binary: context only).
async function scanLog(gitDir: string, sc: RefScan, budget: number, total: number, deps: HookDeps,
  covered: Set<string>, context: Map<string, BlobContext>): Promise<number> {
  const u = sc.update;
  // A ref may point at a tree or blob (directly or through tags): no history, only objects.
  if ((await deps.run(gitArgv(gitDir, undefined, peelCommitArgs(u)), { probe: true })).exitCode !== 0) return 0;
  const log = await deps.readCapped(gitArgv(gitDir, undefined, logArgs(u)), { maxBytes: budget });
  if (log.truncated) {
    sc.problem = tooMuch(total);
    return log.bytes;
  }
  if (log.exitCode !== 0) {
    sc.problem = `could not list the pushed commits (${lastLine(log.stderr, `git log exited ${log.exitCode}`)})`;
    return log.bytes;
  }
  const commits = parsePatch(log.stdout);
  sc.hits.push(...scanPatch(commits, deps.scanner));
  sc.commits = commits.map((c) => c.sha);
  sc.binaryFiles = commits.reduce((n, c) => n + c.files.filter((f) => f.binary).length, 0);
  for (const id of textBlobs(commits)) covered.add(id);
  for (const c of commits) for (const f of c.files) if (f.blob && !context.has(f.blob)) context.set(f.blob, { commit: c.sha, path: f.path });
  return log.bytes;
}

// Scans one push: ref names, each ref's diff, then every new object the diffs did not cover,
// read by one `cat-file --batch` within what is left of the byte budget.
async function scanPush(gitDir: string, updates: RefUpdate[], s: RepoSettings, deps: HookDeps): Promise<RefScan[]> {
  const scans: RefScan[] = updates.map((u) => ({ update: u, label: u.ref, hits: [], commits: [], binaryFiles: 0, objects: 0 }));
  // Ref names reach upstream too (deletions included).
  for (const { line, finding } of scanText(deps.scanner, updates.map((u) => u.ref).join('\n'))) {
    const sc = scans[line - 1] ?? scans[0]!;
    sc.label = `${sc.update.ref.slice(0, Math.max(0, finding.column - 1))}${finding.redacted}…`;
    sc.hits.push({ commit: sc.update.new, file: REF_NAME_PATH, line: 1, finding });
  }
  let budget = s.maxScanBytes;
  const covered = new Set<string>();
  const context = new Map<string, BlobContext>();
  const owner = new Map<string, RefScan>(); // new object -> the first ref that brings it
  for (const sc of scans) {
    if (isDeletion(sc.update)) continue;
    budget = Math.max(0, budget - await scanLog(gitDir, sc, budget, s.maxScanBytes, deps, covered, context));
    if (sc.problem) continue;
    const list = await deps.run(gitArgv(gitDir, undefined, revListArgs(sc.update)), { probe: true });
    if (list.exitCode !== 0) {
      sc.problem = `could not list the pushed objects (${lastLine(list.stderr, `git rev-list exited ${list.exitCode}`)})`;
      continue;
    }
    for (const id of list.stdout.split('\n')) if (id && !owner.has(id)) owner.set(id, sc);
  }
  const wanted = [...owner.keys()].filter((id) => !covered.has(id));
  if (wanted.length === 0 || scans.some((sc) => sc.problem)) return scans;
  const read = await deps.readObjects(gitArgv(gitDir, undefined, catFileArgs()), wanted, { maxBytes: budget });
  const got = new Set(read.objects.map((o) => o.id));
  for (const id of wanted) {
    const sc = owner.get(id)!;
    if (got.has(id)) sc.objects++;
    else sc.problem ??= read.truncated ? tooMuch(s.maxScanBytes)
      : `could not read the pushed objects (${lastLine(read.stderr, read.missing.length ? `missing ${read.missing[0]}` : `git cat-file exited ${read.exitCode}`)})`;
  }
  if (scans.some((sc) => sc.problem)) return scans;
  let hits: Hit[];
  try {
    hits = scanObjects(read.objects, deps.scanner, context);
  } catch (e) {
    scans[0]!.problem = `could not read the pushed objects (${(e as Error).message})`;
    return scans;
  }
  for (const hit of hits) (owner.get(hit.commit) ?? scans[0]!).hits.push(hit);
  return scans;
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
export async function preReceive(gitDir: string, stdin: string, s: RepoSettings, hookDeps: HookDeps): Promise<number> {
  // The operator's known-harmless values (repo config, out of the agent's reach) in every scan.
  const deps = { ...hookDeps, scanner: ignoring(hookDeps.scanner, s.dlpIgnore) };
  const now = deps.now ?? (() => new Date());
  const updates = parseUpdates(stdin);
  const scans = await scanPush(gitDir, updates, s, deps);
  let review: string | undefined;
  const decide = (scan: RefScan, verdict: PushDecision['verdict'], reason?: PushDecision['reason']): void => {
    deps.record({
      event: 'push', time: now().toISOString(), repo: s.name, ref: scan.label, old: scan.update.old, new: scan.update.new,
      verdict, ...(reason ? { reason } : {}), ...(review ? { review } : {}),
      findings: scan.hits.length, rules: [...new Set(scan.hits.map((h) => h.finding.ruleId))],
      scanned: scan.commits.length, commits: scan.commits.slice(0, MAX_LOGGED_COMMITS), binaryFiles: scan.binaryFiles, objects: scan.objects,
    });
  };

  const bad = scans.filter((sc) => sc.hits.length > 0 || sc.problem);
  if (bad.length > 0) {
    const lines = bad.flatMap((sc) => [
      ...findingLines(sc.label, sc.hits),
      ...(sc.problem ? [`git-gate: rejected ${sc.label}: ${sc.problem}`] : []),
    ]);
    // A committed dump of credentials should not flood the agent's terminal; the count is enough.
    for (const line of lines.slice(0, MAX_REPORTED)) deps.err(line);
    if (lines.length > MAX_REPORTED) deps.err(`git-gate: ... and ${lines.length - MAX_REPORTED} more findings`);
    for (const sc of scans) {
      if (bad.includes(sc)) decide(sc, 'rejected', sc.problem ? 'unscannable' : 'secret');
      else {
        deps.err(`git-gate: rejected ${sc.label}: not forwarded, another ref in this push was rejected`);
        decide(sc, 'rejected', 'batch');
      }
    }
    if (bad.some((sc) => sc.hits.length > 0)) deps.err(SECRET_HINT);
    return 1;
  }

  if (s.reviewHoldMs) {
    const refused = (reason: PushDecision['reason'], lines: string[]): number => {
      for (const line of lines) deps.err(line);
      for (const sc of scans) decide(sc, 'rejected', reason);
      return 1;
    };
    if (!s.reviewQueueDir || !s.reviewDecisionsDir) {
      return refused('review', ['git-gate: rejected: this remote needs operator review, but the gate has no review queue; nothing was forwarded']);
    }
    const held = await holdForReview(gitDir, { name: s.name, upstream: s.upstream, holdMs: s.reviewHoldMs }, updates,
      { commits: scans.reduce((n, sc) => n + sc.commits.length, 0), objects: scans.reduce((n, sc) => n + sc.objects, 0) },
      { queueDir: s.reviewQueueDir, decisionsDir: s.reviewDecisionsDir },
      { readCapped: deps.readCapped, err: deps.err, now, ...(deps.hangup ? { hangup: deps.hangup } : {}), ...(deps.reviewPollMs ? { pollMs: deps.reviewPollMs } : {}), ...(deps.announce ? { announce: deps.announce } : {}) });
    review = held.id;
    if (held.verdict === 'rejected') {
      const note = noteForAgent(held.note);
      return refused('review', [`git-gate: rejected by the operator (proposal ${held.id})${note ? `: ${note}` : ''}`, 'git-gate: nothing was forwarded']);
    }
    if (held.verdict === 'timeout') {
      return refused('review-timeout', [`git-gate: rejected: no operator decision within ${formatHold(s.reviewHoldMs)} (proposal ${held.id}); nothing was forwarded; push again to ask again`]);
    }
    if (held.verdict === 'hangup') return refused('hangup', []);
    deps.err(`git-gate: approved by the operator (proposal ${held.id}); forwarding upstream`);
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
