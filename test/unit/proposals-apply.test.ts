// Approving and rejecting proposals: policy merge, atomic replace, stale marking, decisions,
// the order of bundle control calls, the lock, and the errors the operator sees.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { UserError } from '../../lib/errors.js';
import { loadPolicy } from '../../lib/policy/index.js';
import {
  approve, findProposal, listProposals, noopControl, planApproval, readDecision, reject,
  writeProposal, type BundleControl,
} from '../../lib/proposals/index.js';
import { createBottle, type BottlePaths } from '../../lib/state/index.js';
import { writePushProposal } from '../helpers/push-proposal.js';

const POLICY = `# operator's policy
version: 1
allow:
  - registry.npmjs.org # npm for the build
block: [evil.example.com]
`;

async function setup(t: { teardown(fn: () => unknown): void }, policy = POLICY) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-apply-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, policy);
  const propose = (kind: 'allowlist' | 'route', host: string, reason = 'needed for the task') =>
    writeProposal(b.paths.superviseQueue, { kind, host, reason }, { policyFile: file });
  return { root, slug: b.slug, paths: b.paths, file, metadata: b.metadata, propose };
}

// Records calls and what was on disk at each one, to pin write → provideSecrets → reload → decision.
function recordingControl(paths: BottlePaths, file: string, id: () => string) {
  const events: Array<{ call: string; policy: string; decided: boolean; names?: string[]; value?: string }> = [];
  const decided = () => existsSync(join(paths.superviseDecisions, `${id()}.json`));
  const control: BundleControl = {
    name: 'fake',
    live: true,
    reload: async () => { events.push({ call: 'reload', policy: readFileSync(file, 'utf8'), decided: decided() }); },
    provideSecrets: async (_slug, names, env) => {
      events.push({ call: 'provideSecrets', policy: readFileSync(file, 'utf8'), decided: decided(), names, value: env[names[0]!] });
    },
  };
  return { control, events };
}

t.test('allowlist approval merges into the policy (comments kept) and records the decision', async (t) => {
  const s = await setup(t);
  const p = await s.propose('allowlist', 'Example.com');
  const { control, events } = recordingControl(s.paths, s.file, () => p.id);
  const now = new Date('2026-03-01T12:00:00.000Z');
  const r = await approve(s.paths, p.id, { note: 'ok for docs', now }, control, {});
  t.same(r.summary, ['+ allow example.com']);
  t.equal(r.changed, true);
  t.equal(r.stale, false);
  t.equal(r.live, true);
  const text = readFileSync(s.file, 'utf8');
  t.match(text, /# npm for the build/, 'operator comments survive');
  t.same(loadPolicy(text).allow, ['registry.npmjs.org', 'example.com']);
  t.same(await readDecision(s.paths.superviseDecisions, p.id), { id: p.id, decision: 'approved', decided: now.toISOString(), stale: false, note: 'ok for docs' });
  t.same(events.map((e) => e.call), ['reload'], 'no secrets for an allowlist approval');
});

t.test('route approval: write → provideSecrets → reload → decision, with the operator-chosen header', async (t) => {
  const s = await setup(t);
  const p = await s.propose('route', 'api.github.com');
  const { control, events } = recordingControl(s.paths, s.file, () => p.id);
  const env = { GITHUB_TOKEN: 'ghp_fake_value' };
  const r = await approve(s.paths, p.id, { headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }, control, env);
  t.same(events.map((e) => e.call), ['provideSecrets', 'reload']);
  for (const e of events) {
    t.match(e.policy, /api\.github\.com/, `${e.call}: the new policy is already on disk`);
    t.equal(e.decided, false, `${e.call}: the decision is not written yet`);
  }
  t.same(events[0]!.names, ['GITHUB_TOKEN']);
  t.equal(events[0]!.value, 'ghp_fake_value', 'the value reaches the control through env');
  t.ok(existsSync(join(s.paths.superviseDecisions, `${p.id}.json`)), 'decision written last');
  t.same(loadPolicy(readFileSync(s.file, 'utf8')).routes, [{ host: 'api.github.com', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }]);
  t.notMatch(readFileSync(s.file, 'utf8'), /ghp_fake_value/, 'the policy holds the name, never the value');
  t.same(r.secrets, ['GITHUB_TOKEN']);
  t.same(r.summary, ['+ route api.github.com (Authorization: Bearer ${GITHUB_TOKEN})']);
});

t.test('a route whose env var is unset is refused: named, no value printed, nothing written', async (t) => {
  const s = await setup(t);
  const p = await s.propose('route', 'api.github.com');
  const { control, events } = recordingControl(s.paths, s.file, () => p.id);
  const env = { OTHER_TOKEN: 'value-that-must-not-leak' };
  const err = await approve(s.paths, p.id, { headers: { Authorization: 'Bearer ${GITHUB_TOKEN}', 'X-Other': 'OTHER_TOKEN' } }, control, env).catch((e: Error) => e);
  t.type(err, UserError);
  t.match(String((err as Error).message), /GITHUB_TOKEN/);
  t.notMatch(String((err as Error).message), /OTHER_TOKEN|value-that-must-not-leak/, 'only the missing name');
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy untouched');
  t.equal(await readDecision(s.paths.superviseDecisions, p.id), null, 'no decision');
  t.same(events, [], 'the bundle was not touched');
});

t.test('route approval without headers, or headers on an allowlist proposal, is a UserError with the fix', async (t) => {
  const s = await setup(t);
  const route = await s.propose('route', 'api.github.com');
  await t.rejects(approve(s.paths, route.id, {}, noopControl, {}), /--header 'Authorization=Bearer \$\{GITHUB_TOKEN\}'/);
  const allow = await s.propose('allowlist', 'example.com');
  await t.rejects(approve(s.paths, allow.id, { headers: { A: 'B_C' } }, noopControl, {}), /route proposals only/);
  const blocked = await s.propose('allowlist', 'evil.example.com');
  await t.rejects(approve(s.paths, blocked.id, {}, noopControl, {}), /cannot approve .*blocked by "evil\.example\.com"/);
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
});

t.test('stale: a proposal made before the policy changed is applied to the current policy and marked', async (t) => {
  const s = await setup(t);
  const p = await s.propose('allowlist', 'example.com');
  // The change concerns the proposed host (a route for it); an unrelated one would not count.
  writeFileSync(s.file, `${POLICY}routes: [{ host: example.com, headers: { X-Key: "\${KEY}" } }]\n`);
  const r = await approve(s.paths, p.id, {}, noopControl, {});
  t.equal(r.stale, true);
  t.equal(r.live, false);
  t.equal((await readDecision(s.paths.superviseDecisions, p.id))?.stale, true);
  const policy = loadPolicy(readFileSync(s.file, 'utf8'));
  t.same(policy.routes.map((x) => x.host), ['example.com'], 'the later change is kept');
  t.same(policy.allow, ['registry.npmjs.org', 'example.com']);
});

t.test('reject writes a decision only; a second decision is refused either way', async (t) => {
  const s = await setup(t);
  const a = await s.propose('allowlist', 'a.example.org');
  const b = await s.propose('allowlist', 'b.example.org');
  const d = await reject(s.paths, a.id, noopControl, 'use the mirror', new Date('2026-03-01T00:00:00.000Z'));
  t.same(d, { id: a.id, decision: 'rejected', decided: '2026-03-01T00:00:00.000Z', stale: false, note: 'use the mirror' });
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy untouched');
  await t.rejects(approve(s.paths, a.id, {}, noopControl, {}), /already rejected at 2026-03-01T00:00:00.000Z \(use the mirror\)/);
  await approve(s.paths, b.id, {}, noopControl, {});
  await t.rejects(approve(s.paths, b.id, {}, noopControl, {}), /already approved at /);
  await t.rejects(reject(s.paths, b.id, noopControl), /already approved at /);
});

t.test('unknown ids: a clear error that says how to list pending ones', async (t) => {
  const s = await setup(t);
  await t.rejects(approve(s.paths, '20260101T000000000Z-000000000000', {}, noopControl, {}), /no proposal .* `bottle proposals --all`/);
  await t.rejects(reject(s.paths, '../escape', noopControl), /not a proposal id/);
  await t.rejects(findProposal(s.root, 'abcdef'), /no proposal matches "abcdef"; run `bottle proposals`/);
});

t.test('the policy file is replaced by a rename inside the policy dir; no temp files remain', async (t) => {
  const s = await setup(t);
  const before = statSync(s.file).ino;
  const p = await s.propose('allowlist', 'example.com');
  await approve(s.paths, p.id, {}, noopControl, {});
  t.not(statSync(s.file).ino, before, 'new inode: the bind-mounted dir sees the new file');
  t.same(readdirSync(s.paths.policy), ['policy.yaml']);
  t.notOk(existsSync(join(s.paths.dir, 'policy.lock')), 'lock released');
});

t.test('approving a host that is already allowed changes nothing on disk but still decides', async (t) => {
  const s = await setup(t);
  const ino = statSync(s.file).ino;
  const p = await s.propose('allowlist', 'registry.npmjs.org');
  const r = await approve(s.paths, p.id, {}, noopControl, {});
  t.equal(r.changed, false);
  t.same(r.summary, []);
  t.equal(statSync(s.file).ino, ino, 'not rewritten: other proposals do not go stale');
  t.equal((await readDecision(s.paths.superviseDecisions, p.id))?.decision, 'approved');
});

t.test('concurrent approvals of different proposals both land (policy lock)', async (t) => {
  const s = await setup(t);
  const ps = await Promise.all(['a', 'b', 'c', 'd'].map((h) => s.propose('allowlist', `${h}.example.org`)));
  await Promise.all(ps.map((p) => approve(s.paths, p.id, {}, noopControl, {})));
  t.same(loadPolicy(readFileSync(s.file, 'utf8')).allow.sort(), ['a.example.org', 'b.example.org', 'c.example.org', 'd.example.org', 'registry.npmjs.org']);
  for (const p of ps) t.equal((await readDecision(s.paths.superviseDecisions, p.id))?.decision, 'approved');
});

t.test('a bundle that fails to reload leaves the proposal pending; approving again retries', async (t) => {
  const s = await setup(t);
  const p = await s.propose('allowlist', 'example.com');
  let fail = true;
  const flaky: BundleControl = { name: 'flaky', live: true, provideSecrets: async () => undefined, reload: async () => { if (fail) throw new Error('engine unreachable'); } };
  await t.rejects(approve(s.paths, p.id, {}, flaky, {}), /policy file .* was updated, but .* bundle was not \(engine unreachable\).*approve .* again/);
  t.equal(await readDecision(s.paths.superviseDecisions, p.id), null);
  fail = false;
  const r = await approve(s.paths, p.id, {}, flaky, {});
  t.equal(r.decision.decision, 'approved');
});

t.test('planApproval is pure: same input, same text; missing policy file is a UserError', async (t) => {
  const s = await setup(t);
  const p = await s.propose('allowlist', 'example.com');
  const snap = { file: s.file, text: POLICY, policy: loadPolicy(POLICY) };
  const a = planApproval(p, snap, undefined, {});
  t.same(a, planApproval(p, snap, undefined, {}));
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
  rmSync(s.file);
  await t.rejects(approve(s.paths, p.id, {}, noopControl, {}), /policy\.yaml does not exist/);
});

t.test('findProposal: full id, unique prefix of the id or of its hex part, ambiguity', async (t) => {
  const s = await setup(t);
  const a = await s.propose('allowlist', 'a.example.org');
  const b = await s.propose('allowlist', 'b.example.org');
  t.equal((await findProposal(s.root, a.id)).proposal.id, a.id);
  t.equal((await findProposal(s.root, a.id.toLowerCase())).slug, s.slug);
  t.equal((await findProposal(s.root, b.id.split('-')[1]!.slice(0, 8))).proposal.id, b.id);
  await t.rejects(findProposal(s.root, a.id.slice(0, 8)), /2 proposals match .*give more of the id/);
  await t.rejects(findProposal(s.root, 'ab'), /too short/);
});

t.test('listProposals: pending by default, --all adds decided, stale flag, slug filter, bad files reported', async (t) => {
  const s = await setup(t);
  const a = await s.propose('allowlist', 'a.example.org');
  const b = await s.propose('allowlist', 'b.example.org');
  await approve(s.paths, a.id, {}, noopControl, {});
  let l = await listProposals(s.root);
  t.same(l.rows.map((r) => [r.id, r.status, r.stale]), [[b.id, 'pending', false]], 'b is not stale: allowing a.example.org is not about b');
  writeFileSync(s.file, 'version: 1\nallow: [registry.npmjs.org, a.example.org]\nblock: ["*.b.example.org"]\n');
  l = await listProposals(s.root);
  t.same(l.rows.map((r) => [r.id, r.status, r.stale]), [[b.id, 'pending', true]], 'b is stale: the policy moved on where it concerns b');
  l = await listProposals(s.root, { all: true, slug: s.slug });
  // Two proposals minted in the same millisecond order by their random part: compare as a set.
  t.same(l.rows.map((r) => [r.host, r.status]).sort(), [['a.example.org', 'approved'], ['b.example.org', 'pending']]);
  writeFileSync(join(s.paths.superviseQueue, '20260101T000000000Z-000000000000.json'), '{not json');
  l = await listProposals(s.root);
  t.equal(l.rows.length, 1);
  t.match(l.problems[0], /not JSON/);
  await t.rejects(listProposals(s.root, { slug: 'nope-aaaaaa' }), /no bottle nope-aaaaaa/);
});

// Records every call a bundle control gets: a held push's approval must make none.
function callRecorder() {
  const calls: string[] = [];
  const control: BundleControl = {
    name: 'recorder', live: true,
    reload: async () => { calls.push('reload'); },
    provideSecrets: async () => { calls.push('provideSecrets'); },
  };
  return { control, calls };
}

t.test('approving a held push writes the decision only: policy untouched, bundle not called', async (t) => {
  const s = await setup(t);
  const p = await writePushProposal(s.paths.superviseQueue);
  const ino = statSync(s.file).ino;
  const { control, calls } = callRecorder();
  const now = new Date();
  const r = await approve(s.paths, p.id, { note: 'ship it', now }, control, {});
  t.match(r, { slug: s.slug, stale: false, changed: false, live: true, secrets: [], summary: ['forward the push to origin'] });
  t.equal(r.proposal.kind, 'push');
  t.same(await readDecision(s.paths.superviseDecisions, p.id), { id: p.id, decision: 'approved', decided: now.toISOString(), note: 'ship it' }, 'git-gate waits on this file');
  t.same(calls, [], 'no reload, no secrets: a push changes no policy');
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy text untouched');
  t.equal(statSync(s.file).ino, ino, 'and not rewritten');
  await t.rejects(approve(s.paths, p.id, {}, control, {}), /already approved at /, 'decided once');
});

t.test('a held push refuses --header and --for with one line, and an approval after its hold ran out', async (t) => {
  const s = await setup(t);
  const p = await writePushProposal(s.paths.superviseQueue);
  const { control, calls } = callRecorder();
  const oneLine = async (opts: Parameters<typeof approve>[2], message: string) => {
    const err = await approve(s.paths, p.id, opts, control, {}).catch((e: Error) => e);
    t.type(err, UserError);
    t.equal((err as Error).message, message);
  };
  await oneLine({ headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }, `proposal ${p.id} is a push held for review; --header applies to route proposals only`);
  await oneLine({ until: 'stop' }, `proposal ${p.id} is a push held for review; --for applies to allowlist proposals only`);
  const holdUntil = p.payload.push!.holdUntil;
  const ran = `push ${p.id} was held until ${holdUntil}; git-gate has refused it since, and the agent must push again`;
  await oneLine({ now: new Date(Date.parse(holdUntil)) }, ran);
  await oneLine({ now: new Date(Date.parse(holdUntil) + 1) }, ran);
  t.equal(await readDecision(s.paths.superviseDecisions, p.id), null, 'still undecided');
  t.same(calls, []);
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
  const r = await approve(s.paths, p.id, { headers: {}, now: new Date(Date.parse(holdUntil) - 1) }, control, {});
  t.equal(r.decision.decision, 'approved', 'empty headers are no headers; a millisecond before the end is in time');
});

t.test('rejecting a held push: a decision with the note, nothing else', async (t) => {
  const s = await setup(t);
  const p = await writePushProposal(s.paths.superviseQueue);
  const d = await reject(s.paths, p.id, noopControl, 'split it into two commits', new Date('2026-03-01T00:00:00.000Z'));
  t.same(d, { id: p.id, decision: 'rejected', decided: '2026-03-01T00:00:00.000Z', stale: false, note: 'split it into two commits' });
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
  await t.rejects(approve(s.paths, p.id, {}, noopControl, {}), /already rejected at .*\(split it into two commits\)/);
});

t.test('listProposals: a held push carries its push, and never goes stale', async (t) => {
  const s = await setup(t);
  const p = await writePushProposal(s.paths.superviseQueue);
  writeFileSync(s.file, 'version: 1\nallow: ["*"]\n');
  const l = await listProposals(s.root);
  t.same(l.problems, []);
  t.equal(l.rows.length, 1);
  t.match(l.rows[0], { id: p.id, slug: s.slug, kind: 'push', host: 'origin', status: 'pending', stale: false });
  t.same(l.rows[0]!.push, p.payload.push, 'what it would send, for ls --json and the dashboard');
  const allow = await s.propose('allowlist', 'example.com');
  const rows = (await listProposals(s.root)).rows;
  t.notOk(rows.find((r) => r.id === allow.id)!.push, 'other kinds carry none');
});
