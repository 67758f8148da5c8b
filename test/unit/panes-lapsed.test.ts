// A grant that lapsed while the agent still used it, on the dashboard side: the events-file
// reader (one per grant, whichever gateway replica wrote it), and the reducer's decision to ring
// once per bottle and grant (not at startup, not for a resumed bottle's old lapses).
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventMarks, EventMarks, type BottleStatus, type LapsedInUse } from '../../lib/lifecycle/index.js';
import { initialState, lapsedText, mergeNotices, noticeText, selectedAgent, withBottles, type AppState } from '../../panes/state.js';

const UNTIL = '2026-03-01T12:00:00.000Z';
const ev = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'grant-lapsed-in-use', time: '2026-03-01T12:00:01.000Z', origin: 'gateway', host: 'api.example.com', pattern: 'api.example.com', until: UNTIL, ...over });
const b = (slug: string, over: Partial<BottleStatus> = {}): BottleStatus =>
  ({ slug, agent: slug.split('-')[0]!, backend: 'fake', state: 'running', engine: 'running', created: '2026-03-01T11:00:00Z', pendingProposals: 0, ...over });
const lapse = (over: Partial<LapsedInUse> = {}): LapsedInUse => ({ host: 'api.example.com', pattern: 'api.example.com', until: UNTIL, time: '2026-03-01T12:00:01.000Z', ...over });

t.test('eventMarks: lapsed grants in use, one per grant; the waiting marker as before', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-lapsed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, [
    JSON.stringify({ type: 'daemon-ready', time: '2026-03-01T11:00:00.000Z', daemon: 'gateway', pid: 7, startMs: 300 }),
    ev(),
    JSON.stringify({ type: 'agent-waiting', time: '2026-03-01T12:00:02.000Z', origin: 'agent', hook: 'Notification' }),
    ev({ time: '2026-03-01T12:00:03.000Z' }), // the other replica
    ev({ host: 'www.cdn.example.org', pattern: '*.cdn.example.org' }),
    ev({ until: '2026-03-01T13:00:00.000Z' }), // renewed, lapsed again
    ev({ host: 42 }), // malformed: skipped
    '{"type":"grant-lapsed-in-use", "host": "torn',
  ].join('\n'));
  t.same(eventMarks(file), {
    waitingSince: '2026-03-01T12:00:02.000Z',
    lapsedInUse: [
      lapse(),
      lapse({ host: 'www.cdn.example.org', pattern: '*.cdn.example.org' }),
      lapse({ until: '2026-03-01T13:00:00.000Z' }),
    ],
  });
  t.same(eventMarks(join(dir, 'missing')), { lapsedInUse: [] });
  symlinkSync(file, join(dir, 'link'));
  t.same(eventMarks(join(dir, 'link')), { lapsedInUse: [] }, 'a symlink in the shared dir is not followed');
});

t.test('EventMarks: read on as the file grows; a mark is never pushed out by usage lines; a replaced file starts over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-marks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'events.jsonl');
  const usage = `${JSON.stringify({ type: 'usage', time: '2026-03-01T12:00:05.000Z', origin: 'gateway', model: 'claude-sonnet-4-5', input: 1, output: 1, cacheRead: 0, cacheWrite: 0, requestId: 'req_x', path: '/v1/messages', status: 200 })}\n`;
  writeFileSync(file, `${ev()}\n${JSON.stringify({ type: 'agent-waiting', time: '2026-03-01T12:00:02.000Z' })}\n`);
  const marks = new EventMarks(file);
  t.same(marks.update(), { waitingSince: '2026-03-01T12:00:02.000Z', lapsedInUse: [lapse()] });
  appendFileSync(file, usage.repeat(2000)); // ~400 KB after the marks: the old 64 KiB tail lost them
  t.same(marks.update(), { waitingSince: '2026-03-01T12:00:02.000Z', lapsedInUse: [lapse()] }, 'still marked');
  t.same(eventMarks(file), { waitingSince: '2026-03-01T12:00:02.000Z', lapsedInUse: [lapse()] }, 'a one-shot read (bottle ls) too');
  appendFileSync(file, `${JSON.stringify({ type: 'agent-idle', time: '2026-03-01T12:00:09.000Z' })}\n{"type":"agent-wai`);
  t.same(marks.update(), { lapsedInUse: [lapse()] }, 'the idle event clears waiting; a torn line waits');
  appendFileSync(file, `ting","time":"2026-03-01T12:00:10.000Z"}\n`);
  t.same(marks.update(), { waitingSince: '2026-03-01T12:00:10.000Z', lapsedInUse: [lapse()] }, 'and counts once whole');
  rmSync(file);
  writeFileSync(file, `${JSON.stringify({ type: 'agent-idle', time: '2026-03-01T13:00:00.000Z' })}\n`);
  t.same(marks.update(), { lapsedInUse: [] }, 'a new file (a resumed bottle\'s) is read from its start');
});

t.test('withBottles: a lapsed grant in use rings once, with the bottle and host; not at startup', async (t) => {
  const start = withBottles(initialState(), [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('b-bbbbbb')]);
  t.equal(start.notice, undefined, 'present at startup: quiet');
  const same = withBottles(start.state, [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('b-bbbbbb')]);
  t.equal(same.notice, undefined);

  const hit = lapse({ host: 'x.cdn.example.org', pattern: '*.cdn.example.org' });
  const rings = withBottles(same.state, [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('b-bbbbbb', { lapsedInUse: [hit] })]);
  t.same(rings.notice, { proposals: [], waiting: [], lapsed: [{ slug: 'b-bbbbbb', host: 'x.cdn.example.org', pattern: '*.cdn.example.org', until: UNTIL }] });
  t.equal(noticeText(rings.notice!), 'bottle: grant lapsed for b-bbbbbb: x.cdn.example.org (grant *.cdn.example.org) is blocked again (agent still using it)');
  t.match(rings.state.status, { text: /^grant lapsed for b-bbbbbb: x\.cdn\.example\.org/, level: 'info' }, 'the status line says it too');
  t.equal(selectedAgent(rings.state)?.slug, 'b-bbbbbb', 'cursor on that bottle');
  t.equal(rings.state.unseen, 1);

  const again = withBottles(rings.state, [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('b-bbbbbb', { lapsedInUse: [hit, { ...hit, host: 'y.cdn.example.org' }] })]);
  t.equal(again.notice, undefined, 'the same grant again (more requests, the other replica): no second bell');
  const renewed = withBottles(again.state, [b('a-aaaaaa', { lapsedInUse: [lapse(), lapse({ until: '2026-03-01T13:00:00.000Z' })] }), b('b-bbbbbb')]);
  t.same(renewed.notice?.lapsed?.map((l) => [l.slug, l.until]), [['a-aaaaaa', '2026-03-01T13:00:00.000Z']], 'renewed and lapsed again: news again');
  const otherBottle = withBottles(renewed.state, [b('a-aaaaaa'), b('b-bbbbbb', { lapsedInUse: [lapse()] })]);
  t.equal(otherBottle.notice?.lapsed?.[0]?.slug, 'b-bbbbbb', 'per bottle: the same grant of another bottle is its own');
});

t.test('a bottle whose events were not read before (resumed, new) does not ring for old lapses', async (t) => {
  let s: AppState = withBottles(initialState(), [b('a-aaaaaa', { state: 'stopped' })]).state;
  const resumed = withBottles(s, [b('a-aaaaaa', { lapsedInUse: [lapse()] })]);
  t.equal(resumed.notice, undefined, 'resumed: what lapsed before the stop is not news');
  s = resumed.state;
  const appeared = withBottles(s, [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('c-cccccc', { lapsedInUse: [lapse()] })]);
  t.equal(appeared.notice, undefined, 'a bottle listed for the first time');
  const later = withBottles(appeared.state, [b('a-aaaaaa', { lapsedInUse: [lapse()] }), b('c-cccccc', { lapsedInUse: [lapse(), lapse({ pattern: 'b.example.com', host: 'b.example.com' })] })]);
  t.equal(later.notice?.lapsed?.length, 1, 'its next lapse rings');
});

t.test('waiting and lapsed in one batch: one notice, one text; merged notices keep both', async (t) => {
  const s = withBottles(initialState(), [b('a-aaaaaa'), b('b-bbbbbb')]).state;
  const r = withBottles(s, [b('a-aaaaaa', { waitingSince: 't1' }), b('b-bbbbbb', { lapsedInUse: [lapse()] })]);
  t.same(r.notice?.waiting, ['a-aaaaaa']);
  t.equal(r.state.unseen, 2);
  t.equal(noticeText(r.notice!), 'bottle: a-aaaaaa is waiting for input; grant lapsed for b-bbbbbb: api.example.com is blocked again (agent still using it)');
  const two = [{ slug: 'a-aaaaaa', host: 'a.example.com', pattern: 'a.example.com', until: UNTIL }, { slug: 'b-bbbbbb', host: 'b.example.com', pattern: 'b.example.com', until: UNTIL }];
  const m = mergeNotices({ proposals: [], waiting: [], lapsed: [two[0]!] }, { proposals: [], waiting: ['c-cccccc'], lapsed: [two[1]!] });
  t.same(m, { proposals: [], waiting: ['c-cccccc'], lapsed: two });
  t.equal(lapsedText(two), '2 lapsed grants still in use (a-aaaaaa, b-bbbbbb): blocked again');
  t.same(mergeNotices({ proposals: [], waiting: ['x'] }, { proposals: [], waiting: [] }), { proposals: [], waiting: ['x'] }, 'no lapsed key when none');
});
