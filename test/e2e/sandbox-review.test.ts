// Push review on the real engine (issue 15 item 6): the origin remote has `review: 2m`, so
// git-gate holds the agent's clean push as a proposal of kind push. Approved with the real CLI,
// the agent's waiting `git push` succeeds and the upstream has the commit; rejected with a note,
// the push fails with that note and the upstream never sees it. One bottle for the file.
import t from 'tap';
import { gitIn, pendingProposal, sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(8 * 60_000);

interface PushRow { id: string; kind: string; host: string; reason: string; push: { refs: Array<{ ref: string; new: string }>; commitCount: number; commits: Array<{ subject: string }> } | null }

await t.test('push review', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, { agent: 'e2e-review', git: true, review: '2m' });
  t.teardown(() => sb.close());
  const upstreamHas = (ref: string): string | undefined => {
    try {
      return gitIn(sb.upstreamRepo!, 'rev-parse', '--verify', '--quiet', ref).trim();
    } catch {
      return undefined;
    }
  };
  const row = async (id: string): Promise<PushRow> => {
    const ls = await sb.cli(['proposals', 'ls', '--json']);
    return (JSON.parse(ls.stdout) as PushRow[]).find((r) => r.id === id)!;
  };

  await t.test('approved: the waiting push goes through and lands upstream', async (t) => {
    const push = sb.agent('git checkout -q -B reviewed main && echo "reviewed change" > reviewed.txt && git add reviewed.txt '
      + '&& git commit -qm "a change to review" && git push origin reviewed 2>&1; echo "exit=$?"; git rev-parse HEAD');
    const id = await pendingProposal(sb, 'origin', 120_000);
    const r = await row(id);
    t.match(r, { kind: 'push', host: 'origin', push: { refs: [{ ref: 'refs/heads/reviewed' }], commitCount: 1, commits: [{ subject: 'a change to review' }] } }, 'the operator sees what would leave');
    t.match(r.reason, /^push reviewed: 1 commit, 1 file \+1 -0; secret scan clean$/);
    const show = await sb.cli(['proposals', 'show', id, '--no-pager']);
    t.equal(show.exitCode, 0, show.stderr);
    t.match(show.stdout, /\+reviewed change/, 'bottle proposals show prints the diff');
    t.equal(upstreamHas('refs/heads/reviewed'), undefined, 'held: nothing upstream yet');
    const approve = await sb.cli(['proposals', 'approve', id, '--json']);
    t.equal(approve.exitCode, 0, approve.stderr);
    t.match(JSON.parse(approve.stdout), { id, kind: 'push', decision: 'approved', changed: false });
    const done = await push;
    t.match(done.stdout, new RegExp(`git-gate: waiting for operator review \\(proposal ${id}; up to 2 min\\)`), 'the agent was told it waits');
    t.match(done.stdout, /exit=0/, `the agent's git push succeeded: ${done.stdout}`);
    const head = done.stdout.trim().split('\n').pop();
    t.equal(upstreamHas('refs/heads/reviewed'), head, 'and the commit is upstream');
  });

  await t.test('rejected: the push fails with the operator note; upstream unchanged', async (t) => {
    const push = sb.agent('git checkout -q -B refused main && echo "not this" > refused.txt && git add refused.txt '
      + '&& git commit -qm "to be refused" && git push origin refused 2>&1; echo "exit=$?"');
    const id = await pendingProposal(sb, 'origin', 120_000);
    const reject = await sb.cli(['proposals', 'reject', id, '--note', 'squash it into the reviewed change first']);
    t.equal(reject.exitCode, 0, reject.stderr);
    const done = await push;
    t.match(done.stdout, `git-gate: rejected by the operator (proposal ${id}): squash it into the reviewed change first`, 'the note reaches the agent');
    t.notMatch(done.stdout, /exit=0/, 'the push failed');
    t.equal(upstreamHas('refs/heads/refused'), undefined, 'nothing was forwarded');
  });
});
