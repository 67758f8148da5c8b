// Push review (a manifest git remote with `review`): after a clean scan the pre-receive hook
// holds the push as a proposal of kind `push` in the supervise queue, with its full diff beside
// it (`<id>.diff`), and waits, bounded, for the operator's decision file. Only an approval
// forwards; a rejection, the hold running out or the agent hanging up forwards nothing.
import { readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mintProposalId, writeFileAtomic, writeJsonAtomic } from '../../lib/proposals/files.js';
import {
  PUSH_DIFF_MAX, PUSH_MAX_COMMITS, PUSH_MAX_REFS, type Decision, type Proposal, type PushReview, REASON_MAX,
} from '../../lib/proposals/types.js';
import { DecisionWatcher } from '../../lib/proposals/watch.js';
import { formatHold, UNSAFE_TEXT } from '../../lib/format.js';
import type { CappedReader } from './capped.js';
import { gitArgv, isCreation, isDeletion, type RefUpdate } from './git.js';

const LOG_MAX = 1024 * 1024;

// Where held pushes go and where their decisions come from (the supervise queue and decisions dirs).
export interface ReviewDirs {
  queueDir: string;
  decisionsDir: string;
}

// The commits one push brings that the gate does not have (on any ref), newest first.
function newCommitsArgs(updates: RefUpdate[], format: string, extra: string[] = []): string[] {
  const tips = updates.filter((u) => !isDeletion(u)).flatMap((u) => [u.new, ...(isCreation(u) ? [] : [`^${u.old}`])]);
  return ['log', `--format=${format}`, '--no-color', '--no-ext-diff', '--no-textconv', ...extra, ...tips, '--not', '--all', '--'];
}

// `git log --numstat` with one NUL-led header per commit: commits and the summed stat.
export function parseNumstat(out: string): { commits: PushReview['commits']; commitCount: number; stat: PushReview['stat'] } {
  const commits: PushReview['commits'] = [];
  const files = new Set<string>();
  let insertions = 0;
  let deletions = 0;
  let count = 0;
  for (const block of out.split('\0').slice(1)) {
    const [sha = '', author = '', subject = '', ...rest] = block.split('\x1f');
    if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(sha)) continue;
    count++;
    if (commits.length < PUSH_MAX_COMMITS) commits.push({ sha, author: plain(author, 300), subject: plain(subject, 300) });
    for (const line of rest.join('\x1f').split('\n')) {
      const m = /^(\d+|-)\t(\d+|-)\t(.+)$/.exec(line);
      if (!m) continue;
      files.add(m[3]!);
      if (m[1] !== '-') insertions += Number(m[1]);
      if (m[2] !== '-') deletions += Number(m[2]);
    }
  }
  return { commits, commitCount: count, stat: { files: files.size, insertions, deletions } };
}

const CONTROL = new RegExp(UNSAFE_TEXT.source, 'g');

// One line of agent-written text (author, subject) as the operator's screen may show it.
function plain(text: string, max: number): string {
  const line = text.replace(/[\r\n\t]+/g, ' ').replace(CONTROL, '').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

// The proposal's reason line: what the operator reads in the queue before opening the diff.
export function pushSummary(p: Pick<PushReview, 'refs' | 'commitCount' | 'stat'>): string {
  const refs = p.refs.map((r) => `${r.ref.replace(/^refs\/heads\//, '')}${isDeletion(r) ? ' (delete)' : ''}`);
  const shown = refs.length > 3 ? `${refs.slice(0, 3).join(', ')} and ${refs.length - 3} more` : refs.join(', ');
  const commits = `${p.commitCount} commit${p.commitCount === 1 ? '' : 's'}`;
  const stat = `${p.stat.files} file${p.stat.files === 1 ? '' : 's'} +${p.stat.insertions} -${p.stat.deletions}`;
  return plain(`push ${shown}: ${commits}, ${stat}; secret scan clean`, REASON_MAX);
}

// What the agent's terminal shows while the push waits.
export const waitingLine = (id: string, holdMs: number): string =>
  `git-gate: waiting for operator review (proposal ${id}; up to ${formatHold(holdMs)}); nothing is forwarded until the operator approves`;


export interface HoldDeps {
  readCapped: CappedReader;
  err: (line: string) => void;
  now: () => Date;
  /** Started when the wait starts: `gone` settles when the pushing client has hung up. */
  hangup?: () => HangupWatch;
  /** Decision poll period (tests shorten it). */
  pollMs?: number;
  /** Told about the held push once its proposal and diff are in the queue. */
  announce?: (p: { id: string; kind: string }) => void;
}

export interface HangupWatch {
  gone: Promise<null>;
  stop(): void;
}

export interface HoldOutcome {
  id: string;
  verdict: 'approved' | 'rejected' | 'timeout' | 'hangup';
  note?: string;
}

// Writes the proposal (and its diff), waits for the decision, and removes the queue files when
// nobody decided (a push that is gone must not wait in the operator's queue).
export async function holdForReview(gitDir: string, repo: { name: string; upstream: string; holdMs: number }, updates: RefUpdate[],
  scan: { commits: number; objects: number }, dirs: ReviewDirs, deps: HoldDeps): Promise<HoldOutcome> {
  const now = deps.now();
  const id = mintProposalId(now);
  const numstat = await deps.readCapped(gitArgv(gitDir, undefined, newCommitsArgs(updates, '%x00%H%x1f%an <%ae>%x1f%s%x1f', ['--numstat'])), { maxBytes: LOG_MAX });
  const diff = await deps.readCapped(gitArgv(gitDir, undefined, newCommitsArgs(updates, 'commit %H%nAuthor: %an <%ae>%nDate:   %aI%n%n%w(0,4,4)%B', ['-p', '--stat', '-M'])), { maxBytes: PUSH_DIFF_MAX });
  const push: PushReview = {
    repo: repo.name,
    upstream: repo.upstream,
    refs: updates.slice(0, PUSH_MAX_REFS).map((u) => ({ ref: u.ref, old: u.old, new: u.new })),
    ...parseNumstat(numstat.stdout),
    scan: { findings: 0, ...scan },
    diffBytes: Buffer.byteLength(diff.stdout),
    truncated: diff.truncated,
    holdUntil: new Date(now.getTime() + repo.holdMs).toISOString(),
  };
  const proposal: Proposal = {
    id, kind: 'push', payload: { host: repo.name, push }, reason: pushSummary({ ...push, refs: updates }),
    created: now.toISOString(), policyHash: null,
  };
  const files = [join(dirs.queueDir, `${id}.diff`), join(dirs.queueDir, `${id}.json`)];
  // The diff first: once the proposal is listed, its diff is there to read.
  await writeFileAtomic(dirs.queueDir, `${id}.diff`, diff.truncated ? `${diff.stdout}\n[diff cut at ${PUSH_DIFF_MAX} bytes]\n` : diff.stdout);
  await writeJsonAtomic(dirs.queueDir, `${id}.json`, proposal);
  deps.announce?.(proposal);
  deps.err(waitingLine(id, repo.holdMs));
  const watcher = new DecisionWatcher(dirs.decisionsDir, { pollMs: deps.pollMs ?? 500 });
  const client = deps.hangup?.();
  let decision: Decision | null | 'hangup';
  try {
    decision = await Promise.race([watcher.wait(id, repo.holdMs), ...(client ? [client.gone.then(() => 'hangup' as const)] : [])]);
  } finally {
    watcher.close();
    client?.stop();
  }
  if (decision === 'hangup' || decision === null) {
    // A decision may have landed just now; it is moot, but the files go either way.
    for (const f of files) await rm(f, { force: true });
    return { id, verdict: decision === 'hangup' ? 'hangup' : 'timeout' };
  }
  return { id, verdict: decision.decision, ...(decision.note ? { note: decision.note } : {}) };
}

// The TCP state (hex, `01` ESTABLISHED) of the socket a process has as stdin, from Linux /proc;
// undefined when it is not a TCP socket listed there (gone, or unreadable).
export function stdinTcpState(pid: number, read = (f: string) => readFileSync(f, 'utf8'), link = readlinkSync): string | undefined {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(link(`/proc/${pid}/fd/0`))?.[1];
    if (!inode) return undefined;
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of read(table).split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[9] === inode) return cols[3];
      }
    }
  } catch { /* unreadable: unknown */ }
  return undefined;
}

// Whether the pushing client has hung up while its push is held: receive-pack (this hook's
// parent) is gone, or its connection, established when the hold began, no longer is (the peer
// closed it; a closed socket soon leaves the table). Without /proc only the first is known, and
// the hold's bound ends the wait.
export function hangupCheck(receivePack: number, state = stdinTcpState, ppid = () => process.ppid): () => boolean {
  const tracked = state(receivePack) === '01';
  return () => ppid() !== receivePack || (tracked && state(receivePack) !== '01');
}
