// `bottle proposals decide` with a scripted terminal (commands/decide.ts): the screen, keys
// typed before the key line are dropped, a route approved with the header the summary showed,
// the failures the operator must read (unset variable, already decided), and later.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ARM_MS, decideProposal, decideScreen, keyLine, pushScreen, type KeyTerminal } from '../../commands/decide.js';
import type { Ctx } from '../../lib/cli.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { assessRisk, findProposal, noopControl, pushLines, readDecision, reject, writeProposal } from '../../lib/proposals/index.js';
import { run } from '../../lib/run/index.js';
import { createBottle } from '../../lib/state/index.js';
import { fakeBackends } from '../helpers/fake-backend.js';
import { writePushProposal } from '../helpers/push-proposal.js';

const POLICY = 'version: 1\nallow: [registry.npmjs.org]\n';

// Keys arrive in order; those queued before drain() count as typed ahead and are dropped.
function scripted(early: string[], keys: string[]) {
  const queue = [...early];
  let written = '';
  const drains: number[] = [];
  const term: KeyTerminal = {
    next: async () => queue.shift() ?? null,
    drain: async (ms) => { drains.push(ms); queue.length = 0; queue.push(...keys); },
    write: (text) => { written += text; },
    close: () => undefined,
  };
  return { term, screen: () => written, drains };
}

async function setup(t: { teardown(fn: () => unknown): void }, env: NodeJS.ProcessEnv = {}) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-decide-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, POLICY);
  let out = '';
  const ctx: Ctx = {
    env: { BOTTLE_STATE_DIR: root, XDG_CONFIG_HOME: join(root, 'config'), ...env }, cwd: root, run,
    out: (s) => { out += `${s}\n`; }, err: () => undefined, isTTY: true, backends: fakeBackends,
  };
  const propose = async (kind: 'allowlist' | 'route', host: string) => {
    const p = await writeProposal(b.paths.superviseQueue, { kind, host, reason: 'for the build' }, { policyFile: file });
    return findProposal(root, p.id);
  };
  const hold = async () => findProposal(root, (await writePushProposal(b.paths.superviseQueue)).id);
  return { ctx, file, paths: b.paths, propose, hold, out: () => out };
}

t.test('the screen and the key line', async (t) => {
  const s = await setup(t);
  const found = await s.propose('allowlist', '*.example.org');
  const lines = decideScreen(found, assessRisk({ kind: 'allowlist', host: '*.example.org', policy: loadPolicy(POLICY) }), { stale: true, othersPending: 2 });
  t.match(lines[0], new RegExp(`^${found.slug} asks: allowlist \\*\\.example\\.org$`));
  t.equal(lines[1], 'reason: for the build');
  t.match(lines[2], /^\(stale\)/);
  t.ok(lines.includes('risk: MEDIUM'));
  t.equal(lines.at(-1), '2 more pending: see the dashboard or `bottle proposals`');
  t.equal(keyLine(true), 'a approve (refused)   t approve for a time (refused)   r reject with a note   l later');
  t.equal(keyLine(false, false), 'a approve   r reject with a note   l later', 'a route has no time-boxed grant');
  // The bundle writes the queue: a tampered host must not reach the terminal raw.
  const host = 'a\x1b]0;pwned\x07.example.org';
  const tampered = { ...found, proposal: { ...found.proposal, payload: { host } } };
  const shown = decideScreen(tampered, assessRisk({ kind: 'allowlist', host, policy: null }), { stale: false, othersPending: 0 }).join('\n');
  t.notMatch(shown, /[\x00-\x08\x0b-\x1f]/, 'no control characters');
  t.match(shown, /a\?\]0;pwned\?\.example\.org/);
});

t.test('keys typed before the key line are dropped; a approves a route with the header shown', async (t) => {
  const s = await setup(t, { GITHUB_TOKEN: 'ghp_0123456789abcdef' });
  const found = await s.propose('route', 'api.github.com');
  const k = scripted(['a'], ['x', 'a']);
  t.equal(await decideProposal(s.ctx, found, k.term), 0);
  t.same(k.drains, [ARM_MS]);
  t.match(k.screen(), /credentials\s+Authorization <- \$GITHUB_TOKEN[\s\S]*\n\na approve/);
  t.equal((await readDecision(s.paths.superviseDecisions, found.proposal.id))?.decision, 'approved');
  t.same(loadPolicy(readFileSync(s.file, 'utf8')).routes, [{ host: 'api.github.com', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }]);
  t.match(s.out(), new RegExp(`approved ${found.proposal.id} \\(${found.slug}\\): \\+ route api\\.github\\.com`));
});

t.test('a failed approval is shown until a key is pressed, and leaves the proposal pending', async (t) => {
  const s = await setup(t);
  const found = await s.propose('route', 'api.github.com');
  const k = scripted([], ['a', 'x']);
  t.equal(await decideProposal(s.ctx, found, k.term), 1);
  t.match(k.screen(), /host env not set: GITHUB_TOKEN; export it before starting tmux[\s\S]*press any key to close/);
  t.equal(await readDecision(s.paths.superviseDecisions, found.proposal.id), null);
});

t.test('already decided: says so; Esc leaves a pending one for later; r with Esc goes back', async (t) => {
  const s = await setup(t);
  const done = await s.propose('allowlist', 'docs.example.org');
  await reject(done.paths, done.proposal.id, noopControl);
  const k1 = scripted([], ['x']);
  t.equal(await decideProposal(s.ctx, done, k1.term), 1);
  t.match(k1.screen(), /was already rejected/);
  const later = await s.propose('allowlist', 'api.example.org');
  const k2 = scripted([], ['r', 'n', 'o', '\x1b', '\x1b']);
  t.equal(await decideProposal(s.ctx, later, k2.term), 0);
  t.match(k2.screen(), /note to the agent[^\n]*no\n[\s\S]*l later\n$/, 'back to the key line');
  t.match(s.out(), /later: .* stays pending/);
  t.equal(await readDecision(s.paths.superviseDecisions, later.proposal.id), null);
});

t.test('t then 2 approves for 1h: the allow entry carries its expiry; t then Esc goes back', async (t) => {
  const s = await setup(t);
  const found = await s.propose('allowlist', 'docs.example.org');
  const before = Date.now();
  const k = scripted([], ['t', '\x1b', 't', '2']);
  t.equal(await decideProposal(s.ctx, found, k.term), 0);
  t.match(k.screen(), /approve docs\.example\.org for: 1 10m   2 1h   3 until stop[^\n]*\na approve   t approve for a time/, 'Esc shows the keys again');
  const p = loadPolicy(readFileSync(s.file, 'utf8'));
  t.ok(p.allow.includes('docs.example.org'));
  const until = Date.parse(p.allowUntil!['docs.example.org']!);
  t.ok(until >= before + 3600_000 && until <= Date.now() + 3600_000, 'one hour from now');
  t.match(s.out(), /\+ allow docs\.example\.org \(until 20/);
});

t.test('t then 3 approves until the bottle stops', async (t) => {
  const s = await setup(t);
  const found = await s.propose('allowlist', 'docs.example.org');
  t.equal(await decideProposal(s.ctx, found, scripted([], ['t', '3']).term), 0);
  t.same(loadPolicy(readFileSync(s.file, 'utf8')).allowUntil, { 'docs.example.org': 'stop' });
  t.match(readFileSync(s.file, 'utf8'), /\{ host: docs\.example\.org, until: stop \}/, 'the flow list keeps its style');
});

t.test('a held push: its screen (the push lines, where the diff is), and the key line without t', async (t) => {
  const s = await setup(t);
  const found = await s.hold();
  const p = found.proposal;
  const now = Date.parse(p.created);
  t.same(pushScreen(found, { othersPending: 0 }, now), [
    `${found.slug} pushes to origin and waits for your review`,
    '',
    ...pushLines(p.payload.push!, now),
    '',
    `full diff: Enter on it in the dashboard, or bottle proposals show ${p.id}`,
  ]);
  t.same(pushScreen(found, { othersPending: 3 }, now).slice(-2), ['', '3 more pending: see the dashboard or `bottle proposals`']);
  const tampered = { ...found, proposal: { ...p, payload: { ...p.payload, host: 'or\x1b[2Jigin' } } };
  t.equal(pushScreen(tampered, { othersPending: 0 }, now)[0], `${found.slug} pushes to or?[2Jigin and waits for your review`, 'the remote name is sanitised too');

  const k = scripted([], ['l']);
  t.equal(await decideProposal(s.ctx, found, k.term), 0);
  t.match(k.screen(), new RegExp(`^${found.slug} pushes to origin and waits for your review\n\npush to origin `));
  t.match(k.screen(), /full diff: Enter on it in the dashboard[^\n]*\n\na approve {3}r reject with a note {3}l later\n$/, 'no time grant for a push');
  t.notMatch(k.screen(), /risk:/);
});

t.test('a held push: a approves (the decision git-gate waits on); the policy is untouched', async (t) => {
  const s = await setup(t);
  const found = await s.hold();
  t.equal(await decideProposal(s.ctx, found, scripted(['a'], ['a']).term), 0);
  t.match(await readDecision(s.paths.superviseDecisions, found.proposal.id), { id: found.proposal.id, decision: 'approved' });
  t.equal(s.out(), `approved ${found.proposal.id} (${found.slug}): git-gate forwards the push to origin\n`);
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
});

t.test('a held push: r and a note rejects with the note; t is no key here (no time grants for pushes)', async (t) => {
  const s = await setup(t);
  const found = await s.hold();
  const k = scripted([], ['t', 'r', 'split', ' it', '\r']);
  t.equal(await decideProposal(s.ctx, found, k.term), 0);
  t.notMatch(k.screen(), /approve origin for:|cannot approve/, 't offered no grant choices');
  t.match(await readDecision(s.paths.superviseDecisions, found.proposal.id), { decision: 'rejected', note: 'split it' });
  t.equal(s.out(), `rejected ${found.proposal.id} (${found.slug}): push origin (with a note)\n`);

  const later = await s.hold();
  const k2 = scripted([], ['t', 't', 'l']);
  t.equal(await decideProposal(s.ctx, later, k2.term), 0, 't does not crash, approve or reject');
  t.equal(await readDecision(s.paths.superviseDecisions, later.proposal.id), null, 'still pending');
  t.match(s.out(), new RegExp(`later: ${later.proposal.id} stays pending\n$`));
});
