// DataSource: the dashboard's per-bottle proposal read (the hot path behind the bell) agrees with
// listProposals, and the bottle list carries the waiting marker and the cached engine view.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { listProposals, writeDecision, writeProposal } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';
import { DataSource } from '../../panes/data.js';
import { fakeBackends } from '../helpers/fake-backend.js';

t.test('per-bottle rows equal listProposals rows; decided ones drop out; stale is kept', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-data-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const a = await createBottle(root, 'implementer', { backend: 'fake', state: 'running' });
  const b = await createBottle(root, 'reviewer', { backend: 'fake', state: 'running' });
  const policy = policyFilePath(a.paths);
  writeFileSync(policy, 'allow: []\n');
  const p1 = await writeProposal(a.paths.superviseQueue, { kind: 'allowlist', host: 'one.example.com', reason: 'r1' }, { policyFile: policy });
  const p2 = await writeProposal(a.paths.superviseQueue, { kind: 'route', host: 'api.example.com', reason: 'r2' }, { policyFile: policy });
  await writeProposal(b.paths.superviseQueue, { kind: 'allowlist', host: 'other.example.com', reason: 'r3' });
  writeFileSync(policy, 'allow: [x.example.com]\n'); // p1 and p2 are now stale
  await writeDecision(a.paths.superviseDecisions, { id: p1.id, decision: 'rejected', decided: new Date().toISOString() });
  const data = new DataSource(lifecycleDeps({ BOTTLE_STATE_DIR: root }, { backends: fakeBackends }));
  const mine = await data.proposals(a.slug);
  t.same(mine, (await listProposals(root, { slug: a.slug })).rows);
  t.same(mine.map((r) => [r.id, r.stale]), [[p2.id, true]]);
  t.same(await data.proposals('gone-aaaaaa'), [], 'a bottle that vanished has none');
  t.equal((await data.proposals()).length, 2, 'all bottles');

  appendFileSync(join(b.paths.events, 'events.jsonl'), '{"type":"agent-waiting","time":"2026-03-01T12:00:00Z"}\n');
  const bottles = await data.bottles();
  t.same(bottles.map((x) => [x.agent, x.engine, x.waitingSince ?? null]), [['implementer', 'unknown', null], ['reviewer', 'unknown', '2026-03-01T12:00:00Z']]);
  t.equal(await data.refreshEngine(), true, 'the engine view changed');
  t.same((await data.bottles()).map((x) => x.engine), ['missing', 'missing'], 'fake engine: no running record');
  t.equal(await data.refreshEngine(), false, 'unchanged');
});
