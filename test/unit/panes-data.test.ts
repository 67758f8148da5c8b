// DataSource: the dashboard's per-bottle proposal read (the hot path behind the bell) agrees with
// listProposals, and the bottle list carries the waiting marker, the cached engine view and, for
// stopped and down bottles (issue 14), the state bottle ls shows and their saved work.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { listProposals, writeDecision, writeProposal } from '../../lib/proposals/index.js';
import { createBottle, updateMetadata } from '../../lib/state/index.js';
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

t.test('issue 14: stopped and down bottles are listed after the live ones with their state and saved work', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-data-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const engine = (dir: string, rec: object): void => writeFileSync(join(dir, 'fake-engine.json'), JSON.stringify({ controlCalls: [], ...rec }));
  const crashed = await createBottle(root, 'builder', { backend: 'fake', state: 'running' });
  engine(crashed.paths.dir, { running: false, exited: true });
  const stopped = await createBottle(root, 'reviewer', { backend: 'fake', state: 'running' });
  await updateMetadata(root, stopped.slug, { state: 'stopped', stoppedAt: '2026-03-01T12:00:00Z' });
  mkdirSync(stopped.paths.saved);
  const summary = { savedAt: '2026-03-01T12:00:00Z', commits: 2, changedFiles: 1, sessions: 1, lastSession: '11111111-1111-4111-8111-111111111111' };
  writeFileSync(join(stopped.paths.saved, 'summary.json'), JSON.stringify(summary));
  const live = await createBottle(root, 'docs', { backend: 'fake', state: 'running' });
  engine(live.paths.dir, { running: true });
  const data = new DataSource(lifecycleDeps({ BOTTLE_STATE_DIR: root }, { backends: fakeBackends }));
  const rows = (list: Awaited<ReturnType<DataSource['bottles']>>) => list.map((b) => [b.agent, b.state, b.saved?.commits ?? null, b.stoppedAt ?? null]);

  t.same(rows(await data.bottles()), [
    ['builder', 'running', null, null], ['docs', 'running', null, null], ['reviewer', 'stopped', 2, '2026-03-01T12:00:00Z'],
  ], 'before the engine is asked: recorded states (slug order), the stopped one last with its save');
  await data.refreshEngine();
  t.same(rows(await data.bottles()), [
    ['docs', 'running', null, null], ['builder', 'down', null, null], ['reviewer', 'stopped', 2, '2026-03-01T12:00:00Z'],
  ], 'the crashed one reads down (displayState) and moves after the live ones');

  // Resumed since the last refresh: the engine's old "missing" must not make it read down.
  await updateMetadata(root, stopped.slug, { state: 'running' });
  engine(stopped.paths.dir, { running: true });
  t.same((await data.bottles()).find((b) => b.slug === stopped.slug)?.state, 'running', 'regression: a resumed bottle read down until the next engine refresh');
  t.equal(await data.refreshEngine(), true, 'the refresh after the change reports it');
  t.same((await data.bottles()).map((b) => b.state), ['running', 'running', 'down']);
});

t.test('a live bottle carries its policy\'s time-boxed grants (the GRANT countdown); an unreadable policy gives none', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-data-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const a = await createBottle(root, 'implementer', { backend: 'fake', state: 'running' });
  const b = await createBottle(root, 'reviewer', { backend: 'fake', state: 'running' });
  writeFileSync(policyFilePath(a.paths), 'version: 1\nallow: [x.example.com, { host: y.example.com, until: "2030-01-01T00:00:00Z" }]\n');
  writeFileSync(policyFilePath(b.paths), 'not: [a policy\n');
  const data = new DataSource(lifecycleDeps({ BOTTLE_STATE_DIR: root }, { backends: fakeBackends }));
  const rows = await data.bottles();
  t.same(rows.find((r) => r.slug === a.slug)?.grants, { 'y.example.com': '2030-01-01T00:00:00.000Z' });
  t.equal(rows.find((r) => r.slug === b.slug)?.grants, undefined);
});
