// A push held for review as git-gate's review.ts leaves it in the supervise queue: the proposal
// JSON (kind push) and its diff beside it, written with the same atomic writers. For host-side
// tests (approve/reject, `bottle proposals show`, the popup, the dashboard) that need no git.
import { mkdir } from 'node:fs/promises';
import { mintProposalId, writeFileAtomic, writeJsonAtomic } from '../../lib/proposals/files.js';
import type { Proposal, PushReview } from '../../lib/proposals/index.js';

export const PUSH_OLD = '1'.repeat(40);
export const PUSH_NEW = 'a'.repeat(40);
export const PUSH_DIFF = 'commit aaaaaaa\nAuthor: agent <agent@bottle>\n\n    change a\n\ndiff --git a/src/a.ts b/src/a.ts\n-export const a = 1;\n+export const a = 42;\n';

// A valid held push to `origin`, held for an hour from `now`.
export function samplePush(over: Partial<PushReview> = {}, now = new Date()): PushReview {
  return {
    repo: 'origin',
    upstream: 'git@github.com:acme/app.git',
    refs: [{ ref: 'refs/heads/main', old: PUSH_OLD, new: PUSH_NEW }],
    commits: [{ sha: PUSH_NEW, author: 'agent <agent@bottle>', subject: 'change a' }],
    commitCount: 1,
    stat: { files: 1, insertions: 1, deletions: 1 },
    scan: { findings: 0, commits: 1, objects: 3 },
    diffBytes: Buffer.byteLength(PUSH_DIFF),
    truncated: false,
    holdUntil: new Date(now.getTime() + 3600_000).toISOString(),
    ...over,
  };
}

// Queues a held push (the diff first, as git-gate does); `diff: null` leaves the diff out.
export async function writePushProposal(queueDir: string, o: { push?: Partial<PushReview>; diff?: string | null; now?: Date } = {}): Promise<Proposal> {
  const now = o.now ?? new Date();
  const push = samplePush(o.push, now);
  const proposal: Proposal = {
    id: mintProposalId(now), kind: 'push', payload: { host: push.repo, push },
    reason: 'push main: 1 commit, 1 file +1 -1; secret scan clean', created: now.toISOString(), policyHash: null,
  };
  await mkdir(queueDir, { recursive: true });
  if (o.diff !== null) await writeFileAtomic(queueDir, `${proposal.id}.diff`, o.diff ?? PUSH_DIFF);
  await writeJsonAtomic(queueDir, `${proposal.id}.json`, proposal);
  return proposal;
}
