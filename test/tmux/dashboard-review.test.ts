// A push held for review in the real dashboard (issue 15 item 6): it is listed in the proposals
// pane as kind push; Enter shows it in the right pane through the pager (commits, then the full
// diff); `a` asks to forward it (the push lines, no policy change) and `y` writes the approval
// git-gate waits for.
import t from 'tap';
import { readDecision } from '../../lib/proposals/index.js';
import { mintProposalId, writeFileAtomic, writeJsonAtomic } from '../../lib/proposals/files.js';
import type { Proposal } from '../../lib/proposals/types.js';
import { bottlePaths } from '../../lib/state/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// What git-gate's review.ts writes: the proposal and, beside it, the diff.
async function heldPush(queueDir: string): Promise<Proposal> {
  const now = new Date();
  const sha = 'c'.repeat(40);
  const proposal: Proposal = {
    id: mintProposalId(now), kind: 'push', reason: 'push feature: 1 commit, 1 file +1 -0; secret scan clean',
    created: now.toISOString(), policyHash: null,
    payload: {
      host: 'origin',
      push: {
        repo: 'origin', upstream: 'git@example.com:acme/app.git', refs: [{ ref: 'refs/heads/feature', old: '0'.repeat(40), new: sha }],
        commits: [{ sha, author: 'Agent <agent@example.com>', subject: 'add the reviewed line' }], commitCount: 1,
        stat: { files: 1, insertions: 1, deletions: 0 }, scan: { findings: 0, commits: 1, objects: 3 },
        diffBytes: 0, truncated: false, holdUntil: new Date(now.getTime() + 600_000).toISOString(),
      },
    },
  };
  await writeFileAtomic(queueDir, `${proposal.id}.diff`, `commit ${sha}\n\n    add the reviewed line\n\ndiff --git a/notes.md b/notes.md\n+the line under review\n`);
  await writeJsonAtomic(queueDir, `${proposal.id}.json`, proposal);
  return proposal;
}

t.test('a held push: listed, Enter pages its diff on the right, a then y approves it', { skip }, async (t) => {
  // Held before the dashboard starts: it is in the first load, which notices nothing, so the focus
  // stays on the agents pane and Tab moves it to the proposals pane, deterministically.
  let slug = '';
  let p: Proposal | undefined;
  const h = await startDashboard(t, {
    args: ['--no-popup'],
    before: async (x) => {
      slug = await x.startFake('implementer');
      p = await heldPush(bottlePaths(x.stateDir, slug).superviseQueue);
    },
  });
  const paths = bottlePaths(h.stateDir, slug);
  await h.waitFor(/push\s+origin/);
  await h.keys('Tab', 'Enter');
  const right = await (async () => {
    for (let i = 0; i < 100; i++) {
      const id = await h.rightPane();
      if (id) return id;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no right pane');
  })();
  const screen = await h.waitFor(/\+the line under review/, right);
  t.match(screen, /push to origin \(git@example\.com:acme\/app\.git\)/, 'the push lines come first');
  t.match(screen, /add the reviewed line \(Agent <agent@example\.com>\)/);
  await h.srv.sendKeys(['q'], { target: right });
  await h.srv.sendKeys(['Escape'], { target: h.dash });
  await h.srv.client.exec(['select-pane', '-t', h.dash]);
  await h.keys('a');
  await h.waitFor(/Forward the push to origin\?/);
  t.equal(await readDecision(paths.superviseDecisions, p!.id), null, 'nothing decided before y');
  await h.keys('y');
  await h.waitFor(/push from implementer-\w+ approved: forwarding to origin/);
  t.match(await readDecision(paths.superviseDecisions, p!.id), { decision: 'approved' }, 'the decision git-gate waits for');
});
