// Push review on loopback: a real git daemon (git-gate) in front of a local bare upstream with
// reviewHoldMs, the host side deciding through lib/proposals (approve/reject, as the CLI does).
// A held push forwards nothing until approved; a rejection carries the operator's note to the
// pushing client; a hold that runs out, or a client that hangs up, refuses the push and leaves
// nothing in the operator's queue; a push with a secret is never held at all.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { approve, noopControl, readQueue, reject } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { hangupCheck, parseNumstat, pushSummary, stdinTcpState } from '../../sidecars/git-gate/review.js';
import { SECRETS, bareUpstreams, commit, gitProbe, gitWorld, loopbackGate, rev } from '../fixtures/git-gate/world.js';

const { root, env } = gitWorld(t, 'bottle-git-review-');
const paths = bottlePaths(join(root, 'state'), 'rev-abcdef');
for (const d of [paths.superviseQueue, paths.superviseDecisions, paths.policy]) mkdirSync(d, { recursive: true });
const { up } = await bareUpstreams(env, root, ['held', 'brief']);

const { clone, decisionFor } = await loopbackGate(t, { root, env }, {
  upstreams: [
    { name: 'held', upstream: up('held'), kind: 'file', reviewHoldMs: 60_000 },
    { name: 'brief', upstream: up('brief'), kind: 'file', reviewHoldMs: 1500 },
  ],
  review: { queueDir: paths.superviseQueue, decisionsDir: paths.superviseDecisions },
  env: { ...env, BOTTLE_GIT_GATE_REVIEW_KEEPALIVE_MS: '300' },
});

// The next proposal git-gate queues for a push, once it is there.
const seen = new Set<string>();
async function queued(timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { proposals, errors } = await readQueue(paths.superviseQueue);
    if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
    const p = proposals.find((x) => x.kind === 'push' && !seen.has(x.id));
    if (p) {
      seen.add(p.id);
      return p;
    }
    if (Date.now() > deadline) throw new Error('no push proposal was queued');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const queueFiles = (): string[] => readdirSync(paths.superviseQueue).filter((f) => !f.startsWith('.'));

t.test('approve: the push waits, nothing reaches upstream until the operator approves, then it lands', async (t) => {
  const work = await clone('held');
  const before = await rev(env, up('held'), 'refs/heads/main');
  await commit(env, work, { 'src/a.ts': 'export const a = 1;\n', 'src/b.ts': 'export const b = 2;\nexport const c = 3;\n' }, 'add a and b');
  const sha = (await commit(env, work, { 'src/a.ts': 'export const a = 42;\n' }, 'change a'));
  const push = gitProbe(env, work, 'push', 'origin', 'HEAD:main');
  const p = await queued();
  t.match(p.payload.push, {
    repo: 'held', upstream: up('held'), refs: [{ ref: 'refs/heads/main', old: before, new: sha }],
    commitCount: 2, stat: { files: 2, insertions: 4, deletions: 1 }, scan: { findings: 0, commits: 2 }, truncated: false,
  }, 'the proposal says what would leave');
  t.same(p.payload.push!.commits.map((c) => c.subject), ['change a', 'add a and b'], 'newest commit first');
  t.match(p.reason, /^push main: 2 commits, 2 files \+4 -1; secret scan clean$/);
  const diff = readFileSync(join(paths.superviseQueue, `${p.id}.diff`), 'utf8');
  t.match(diff, /\+export const a = 42;/, 'the diff file holds the change with context');
  t.match(diff, /change a/, 'and the commit messages');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(await rev(env, up('held'), 'refs/heads/main'), before, 'while held, upstream is unchanged');

  const r = await approve(paths, p.id, {}, noopControl, env);
  t.match(r, { changed: false, live: true, decision: { decision: 'approved' } });
  const done = await push;
  t.equal(done.exitCode, 0, done.stderr);
  t.match(done.stderr, new RegExp(`git-gate: waiting for operator review \\(proposal ${p.id}; up to 1 min\\)`), 'the agent was told it waits');
  t.match(done.stderr, /git-gate: approved by the operator/);
  t.equal(await rev(env, up('held'), 'refs/heads/main'), sha, 'approved: the push arrived');
  t.match(await decisionFor(sha), { verdict: 'accepted', review: p.id });
});

t.test('reject: the push fails with the operator note; upstream unchanged', async (t) => {
  const work = await clone('held');
  const before = await rev(env, up('held'), 'refs/heads/main');
  const sha = await commit(env, work, { 'notes.md': 'rewrite everything\n' }, 'rewrite');
  const push = gitProbe(env, work, 'push', 'origin', 'HEAD:refs/heads/feature');
  const p = await queued();
  t.match(p.payload.push!.refs, [{ ref: 'refs/heads/feature', new: sha }]);
  await reject(paths, p.id, noopControl, 'split this into two commits\nand open a PR instead');
  const done = await push;
  t.not(done.exitCode, 0, 'the push fails');
  t.match(done.stderr, `git-gate: rejected by the operator (proposal ${p.id}): split this into two commits and open a PR instead`, 'with the note, one line');
  t.equal(await rev(env, up('held'), 'refs/heads/feature'), undefined, 'nothing was forwarded');
  t.equal(await rev(env, up('held'), 'refs/heads/main'), before);
  t.match(await decisionFor(sha), { verdict: 'rejected', reason: 'review', review: p.id });
});

t.test('nobody decides: the hold runs out, the push is refused and the queue is left clean', async (t) => {
  const work = await clone('brief');
  const sha = await commit(env, work, { 'x.txt': 'x\n' }, 'x');
  const files = queueFiles().length;
  const done = await gitProbe(env, work, 'push', 'origin', 'HEAD:main');
  t.not(done.exitCode, 0);
  t.match(done.stderr, /git-gate: rejected: no operator decision within 2 s \(proposal \S+\); nothing was forwarded; push again to ask again/);
  t.not(await rev(env, up('brief'), 'refs/heads/main'), sha);
  t.equal(queueFiles().length, files, 'its proposal and diff are gone from the queue');
  t.match(await decisionFor(sha), { verdict: 'rejected', reason: 'review-timeout' });
});

t.test('the agent hangs up while held: the gate stops waiting and removes the proposal', async (t) => {
  const work = await clone('held');
  const sha = await commit(env, work, { 'y.txt': 'y\n' }, 'y');
  const files = queueFiles().length;
  const child = spawn('git', ['push', 'origin', 'HEAD:refs/heads/hangup'], { cwd: work, env, stdio: 'ignore', detached: true });
  const p = await queued();
  process.kill(-child.pid!, 'SIGKILL');
  const deadline = Date.now() + 20_000;
  while (existsSync(join(paths.superviseQueue, `${p.id}.json`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.notOk(existsSync(join(paths.superviseQueue, `${p.id}.json`)), 'the proposal left the queue');
  t.equal(queueFiles().length, files, 'and its diff with it');
  t.match(await decisionFor(sha), { verdict: 'rejected', reason: 'hangup', review: p.id });
  t.equal(await rev(env, up('held'), 'refs/heads/hangup'), undefined, 'nothing was forwarded');
});

t.test('a push carrying a secret is refused by the scan and never reaches the operator', async (t) => {
  const work = await clone('held');
  const files = queueFiles();
  await commit(env, work, { 'deploy.env': `AWS_KEY=${SECRETS.aws}\n` }, 'leak');
  const done = await gitProbe(env, work, 'push', 'origin', 'HEAD:refs/heads/leak');
  t.not(done.exitCode, 0);
  t.match(done.stderr, /git-gate: rejected refs\/heads\/leak: .* aws-access-key-id/);
  t.notMatch(done.stderr, /waiting for operator review/);
  t.same(queueFiles(), files, 'no proposal was made');
});

t.test('pure: numstat parsing and the summary line', async (t) => {
  const sha1 = 'a'.repeat(40);
  const sha2 = 'b'.repeat(40);
  const parsed = parseNumstat(`\0${sha1}\x1fAda <a@x>\x1fsecond\x1f\n\n3\t1\tsrc/x.ts\n-\t-\timg.png\n\0${sha2}\x1fBob <b@x>\x1ffirst\u202e\x1b[31m\x1f\n\n2\t0\tsrc/x.ts\n`);
  t.same(parsed.stat, { files: 2, insertions: 5, deletions: 1 }, 'files counted once, binary adds nothing');
  t.equal(parsed.commitCount, 2);
  t.equal(parsed.commits[1]!.subject, 'first[31m', 'control and bidi characters are dropped from what the operator reads');
  t.equal(pushSummary({ refs: [{ ref: 'refs/heads/main', old: sha1, new: sha2 }, { ref: 'refs/tags/v1', old: '0'.repeat(40), new: sha2 }, { ref: 'refs/heads/old', old: sha1, new: '0'.repeat(40) }], commitCount: 1, stat: { files: 1, insertions: 2, deletions: 0 } }),
    'push main, refs/tags/v1, old (delete): 1 commit, 1 file +2 -0; secret scan clean');
});

t.test('pure: how a hang-up is seen', async (t) => {
  const table = (state: string) => `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A771 0100007F:B170 ${state} 00000000:00000000 02:000AFB70 00000000     0        0 7298530 3 0 20 4 24 14 -1
`;
  const link = () => 'socket:[7298530]';
  t.equal(stdinTcpState(1, () => table('01'), link as never), '01', 'the socket found by inode');
  t.equal(stdinTcpState(1, () => table('08'), link as never), '08');
  t.equal(stdinTcpState(1, () => table('01'), (() => 'pipe:[1]') as never), undefined, 'not a socket: unknown');
  let state: string | undefined = '01';
  let parent = 42;
  const gone = hangupCheck(42, () => state, () => parent);
  t.notOk(gone(), 'established: still there');
  state = '08';
  t.ok(gone(), 'CLOSE_WAIT: the client closed');
  state = undefined;
  t.ok(gone(), 'left the table: gone');
  const untracked = hangupCheck(42, () => undefined, () => parent);
  t.notOk(untracked(), 'never seen as TCP: only the parent is watched');
  parent = 1;
  t.ok(untracked(), 'receive-pack gone: the client is gone');
});
