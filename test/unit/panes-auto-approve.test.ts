// The dashboard and pre-approval (issue 15): a proposal an auto_approve rule covers is approved by
// the dashboard's own read of the queue, stays in the proposals pane marked auto with its rule,
// rings as "auto-approved …" and is not counted as pending; a/r on it explain instead of failing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { writeLaunchSpec } from '../../lib/lifecycle/resume.js';
import type { BottlePlan } from '../../lib/plan/index.js';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { writeProposal, type ProposalRow } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';
import { DataSource } from '../../panes/data.js';
import { handleKey } from '../../panes/keys.js';
import { proposalRow } from '../../panes/rows.js';
import { initialState, noticeText, pendingBySlug, withAutoApprovals, withProposals } from '../../panes/state.js';
import { fakeBackends } from '../helpers/fake-backend.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const row = (over: Partial<ProposalRow> = {}): ProposalRow => ({
  id: '20260301T110000001Z-000000000001', slug: 'a-aaaaaa', kind: 'allowlist', host: 'files.pypi.org', reason: 'pip install',
  created: '2026-03-01T11:59:00Z', status: 'approved', stale: false, auto: { rule: '*.pypi.org' }, ...over,
});

t.test('DataSource: the sweep approves what the rules cover, and the pane keeps it as auto', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-dash-auto-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const a = await createBottle(root, 'a', { backend: 'fake', state: 'running' });
  const plan = { agent: 'a', autoApprove: ['*.pypi.org'] } as BottlePlan;
  await writeLaunchSpec(root, a.slug, { plan, agent: { name: 'a', skills: [], env: {}, git: [], egress: { allow: [], block: [], routes: [], passthrough: [] }, supervise: true } });
  const policy = policyFilePath(a.paths);
  writeFileSync(policy, 'version: 1\nallow: []\n');
  const covered = await writeProposal(a.paths.superviseQueue, { kind: 'allowlist', host: 'files.pypi.org', reason: 'pip install' }, { policyFile: policy });
  const other = await writeProposal(a.paths.superviseQueue, { kind: 'allowlist', host: 'example.com', reason: 'docs' }, { policyFile: policy });
  const data = new DataSource(lifecycleDeps({ BOTTLE_STATE_DIR: root }, { backends: fakeBackends }));

  const swept = await data.autoApprove([a.slug]);
  t.same(swept.map((s) => [s.proposal.id, s.rule, s.error ?? null]), [[covered.id, '*.pypi.org', null]]);
  t.match(readFileSync(policy, 'utf8'), /files\.pypi\.org/);
  const rows = await data.proposals(a.slug);
  t.match(rows, [{ id: covered.id, status: 'approved', auto: { rule: '*.pypi.org' } }, { id: other.id, status: 'pending' }]);
  t.equal(rows.length, 2);
  t.same(await data.autoApprove(), [], 'nothing left to do');
});

t.test('pane, notice, counter and keys for an auto-approved row', async (t) => {
  const line = proposalRow(row(), { now: NOW, width: 120, fresh: false });
  t.match(line.text, /^a-aaaaaa\s+allowlist files\.pypi\.org\s+1m\s+auto\s+rule \*\.pypi\.org: pip install/);
  t.equal(line.fg, 'cyan', 'set apart from pending rows');
  t.equal(noticeText({ proposals: [row()], waiting: [] }), 'bottle: auto-approved allowlist files.pypi.org for a-aaaaaa (rule *.pypi.org)');
  t.equal(noticeText({ proposals: [row(), row({ auto: undefined, status: 'pending' })], waiting: [] }), 'bottle: 2 new proposals (1 auto-approved)');

  const start = withProposals(initialState(), [], NOW).state;
  const arrived = withProposals(start, [row(), row({ id: '20260301T110000002Z-000000000002', status: 'pending', auto: undefined })], NOW);
  t.equal(arrived.notice?.proposals.length, 2, 'an auto-approval rings like a proposal: never silent');
  t.same([...pendingBySlug(arrived.state)], [['a-aaaaaa', 1]], 'only the pending one counts as pending');

  const onAuto = { ...arrived.state, focus: 'proposals' as const, cursors: { ...arrived.state.cursors, proposals: { key: row().id, index: 0 } } };
  for (const name of ['a', 'r']) {
    const r = handleKey(onAuto, { name, full: name, ch: name } as Parameters<typeof handleKey>[1]);
    t.same(r.effects, [], `${name} does nothing to it`);
    t.match(r.state.status?.text, 'files.pypi.org was approved by auto_approve rule *.pypi.org; to take it back, bottle allowlist edit a-aaaaaa');
  }
  t.equal(withAutoApprovals(start, []), start, 'an empty sweep leaves the status alone');
});
