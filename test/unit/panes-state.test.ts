// The dashboard's reducers: data arrival and the notification decisions, cursor and focus rules.
import t from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import {
  acknowledge, cursorIndex, cycleAgent, expireFresh, FRESH_MS, initialState, isResting, launched, liveFirst, mergeNotices, moveCursor, nextExpiry,
  noticeText, pointAt, selectedAgent, selectedProposal, switchFocus, withBottles, withoutBottle, withoutProposal, withProposals, type AppState,
} from '../../panes/state.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const b = (slug: string, over: Partial<BottleStatus> = {}): BottleStatus =>
  ({ slug, agent: slug.split('-')[0]!, backend: 'fake', state: 'running', engine: 'running', created: '2026-03-01T11:00:00Z', pendingProposals: 0, ...over });
const p = (n: number, slug = 'a-aaaaaa'): ProposalRow =>
  ({ id: `20260301T1100000${String(n).padStart(2, '0')}Z-00000000000${n % 10}`, slug, kind: 'allowlist', host: `h${n}.example.com`, reason: 'r', created: '2026-03-01T11:00:00Z', status: 'pending', stale: false });

function loaded(bottles: BottleStatus[], proposals: ProposalRow[]): AppState {
  return withProposals(withBottles(initialState(), bottles).state, proposals, NOW).state;
}

t.test('proposals present at startup do not notify; a later one does, once', async (t) => {
  const first = withProposals(initialState(), [p(1), p(2)], NOW);
  t.equal(first.notice, undefined, 'startup: no bell');
  t.equal(first.state.unseen, 0);
  t.equal(first.state.focus, 'agents', 'default focus stays on agents');

  const again = withProposals(first.state, [p(1), p(2)], NOW);
  t.equal(again.notice, undefined, 'identical listing: no bell');

  const arrival = withProposals(first.state, [p(1), p(2), p(3), p(4)], NOW);
  t.same(arrival.notice?.proposals.map((x) => x.id), [p(3).id, p(4).id], 'one notice for the batch');
  t.equal(arrival.state.focus, 'proposals', 'focus moves to the proposals pane');
  t.equal(selectedProposal(arrival.state)?.id, p(3).id, 'cursor on the earliest new one');
  t.equal(arrival.state.unseen, 2);
  t.equal(arrival.state.fresh.get(p(3).id), NOW + FRESH_MS);

  const repeat = withProposals(arrival.state, [p(1), p(2), p(3), p(4)], NOW + 1);
  t.equal(repeat.notice, undefined, 'the same proposals again: no second bell');
  const decidedThenBack = withProposals(withProposals(repeat.state, [p(1)], NOW).state, [p(1), p(3)], NOW);
  t.equal(decidedThenBack.notice, undefined, 'an id seen before never rings again');
});

t.test('per-bottle reload replaces only that bottle\'s rows', async (t) => {
  let s = withProposals(initialState(), [p(1, 'a-aaaaaa'), p(2, 'b-bbbbbb')], NOW).state;
  const r = withProposals(s, [p(3, 'b-bbbbbb')], NOW, 'b-bbbbbb');
  s = r.state;
  t.same(s.proposals.map((x) => x.id), [p(1).id, p(3).id]);
  t.same(r.notice?.proposals.map((x) => x.id), [p(3).id]);
});

t.test('waiting for input: notify on the transition only, not at startup', async (t) => {
  const start = withBottles(initialState(), [b('a-aaaaaa', { waitingSince: 't0' }), b('b-bbbbbb')]);
  t.equal(start.notice, undefined, 'already waiting at startup: quiet');
  const same = withBottles(start.state, [b('a-aaaaaa', { waitingSince: 't0' }), b('b-bbbbbb')]);
  t.equal(same.notice, undefined, 'repeated identical event: quiet');
  const starts = withBottles(same.state, [b('a-aaaaaa', { waitingSince: 't0' }), b('b-bbbbbb', { waitingSince: 't1' })]);
  t.same(starts.notice?.waiting, ['b-bbbbbb']);
  t.equal(selectedAgent(starts.state)?.slug, 'b-bbbbbb', 'cursor on the waiting agent');
  const idle = withBottles(starts.state, [b('a-aaaaaa'), b('b-bbbbbb')]);
  t.equal(idle.notice, undefined);
  const waitsAgain = withBottles(idle.state, [b('a-aaaaaa', { waitingSince: 't2' }), b('b-bbbbbb')]);
  t.same(waitsAgain.notice?.waiting, ['a-aaaaaa'], 'waiting again after going idle rings again');
});

t.test('cursor follows its row by identity, falls back to the same height', async (t) => {
  let s = loaded([b('a-aaaaaa'), b('b-bbbbbb'), b('c-cccccc')], []);
  s = moveCursor(s, 1);
  t.equal(selectedAgent(s)?.slug, 'b-bbbbbb');
  s = withBottles(s, [b('0-000000'), b('a-aaaaaa'), b('b-bbbbbb'), b('c-cccccc')]).state;
  t.equal(selectedAgent(s)?.slug, 'b-bbbbbb', 'a row inserted above: the cursor stays on b');
  s = withBottles(s, [b('0-000000'), b('a-aaaaaa'), b('c-cccccc')]).state;
  t.equal(selectedAgent(s)?.slug, 'c-cccccc', 'b gone: same height');
  s = moveCursor(s, 99);
  t.equal(cursorIndex(s, 'agents'), 2, 'clamped at the end');
  s = moveCursor(s, -99);
  t.equal(cursorIndex(s, 'agents'), 0);
  t.equal(cursorIndex(s, 'proposals'), -1, 'empty pane');
  t.equal(switchFocus(s).focus, 'proposals');
  t.equal(switchFocus(switchFocus(s)).focus, 'agents');
});

// Regression: a bottle started from the picker did not get the cursor when other bottles were
// listed: the launch pointed at a slug the list did not have yet (a no-op), and the reload that
// brought it kept the cursor on the previously selected row.
t.test('a launched bottle gets the agents cursor once the list has it', async (t) => {
  let s = moveCursor(loaded([b('a-aaaaaa'), b('c-cccccc')], []), 1);
  t.equal(selectedAgent(s)?.slug, 'c-cccccc');
  t.equal(pointAt(s, 'agents', 'b-bbbbbb'), s, 'pointAt an unlisted slug does nothing (the old launch)');
  s = launched(s, 'b-bbbbbb');
  t.equal(selectedAgent(s)?.slug, 'c-cccccc', 'not listed yet: the cursor has nowhere to go');
  s = withBottles(s, [b('a-aaaaaa'), b('c-cccccc')]).state;
  t.equal(selectedAgent(s)?.slug, 'c-cccccc', 'a reload that does not have it yet keeps waiting');
  s = withBottles(s, [b('a-aaaaaa'), b('b-bbbbbb', { state: 'claimed' }), b('c-cccccc')]).state;
  t.equal(selectedAgent(s)?.slug, 'b-bbbbbb', 'listed: the cursor is on the new row');
  t.equal(s.follow, undefined, 'followed once');
  s = withBottles(moveCursor(s, -1), [b('a-aaaaaa'), b('b-bbbbbb'), b('c-cccccc')]).state;
  t.equal(selectedAgent(s)?.slug, 'a-aaaaaa', 'later reloads leave the operator\'s cursor alone');
  t.equal(selectedAgent(launched(s, 'c-cccccc'))?.slug, 'c-cccccc', 'already listed: at once');
});

t.test('the occupant is forgotten when its bottle goes', async (t) => {
  let s: AppState = { ...loaded([b('a-aaaaaa'), b('b-bbbbbb')], [p(1, 'a-aaaaaa')]), occupant: 'a-aaaaaa' };
  s = withoutBottle(s, 'a-aaaaaa');
  t.equal(s.occupant, undefined);
  t.same(s.proposals, []);
  const s2 = withBottles({ ...s, occupant: 'b-bbbbbb' }, []).state;
  t.equal(s2.occupant, undefined);
});

t.test('fresh highlight expires; nextExpiry schedules one repaint', async (t) => {
  let s = withProposals(initialState(), [], NOW).state;
  s = withProposals(s, [p(1)], NOW).state;
  t.equal(nextExpiry(s), NOW + FRESH_MS);
  t.equal(expireFresh(s, NOW + 1).fresh.size, 1);
  s = expireFresh(s, NOW + FRESH_MS);
  t.equal(s.fresh.size, 0);
  t.equal(nextExpiry(s), undefined);
});

t.test('acknowledge clears the counter; notices merge into one', async (t) => {
  t.equal(acknowledge({ ...initialState(), unseen: 3 }).unseen, 0);
  const m = mergeNotices({ proposals: [p(1)], waiting: [] }, { proposals: [], waiting: ['x-xxxxxx'] });
  t.same(m, { proposals: [p(1)], waiting: ['x-xxxxxx'] });
  t.equal(mergeNotices(undefined, undefined), undefined);
  t.equal(noticeText(m!), 'bottle: new allowlist proposal from a-aaaaaa: h1.example.com; x-xxxxxx is waiting for input');
  t.equal(noticeText({ proposals: [p(1), p(2)], waiting: [] }), 'bottle: 2 new proposals');
});

t.test('cycleAgent: running agents only, wraps, skips the excluded one', async (t) => {
  const s = loaded([b('a-aaaaaa'), b('b-bbbbbb', { state: 'launching' }), b('c-cccccc'), b('d-dddddd')], []);
  t.equal(cycleAgent(s, 'a-aaaaaa', 1)?.slug, 'c-cccccc', 'launching ones are skipped');
  t.equal(cycleAgent(s, 'd-dddddd', 1)?.slug, 'a-aaaaaa', 'wraps');
  t.equal(cycleAgent(s, 'a-aaaaaa', -1)?.slug, 'd-dddddd');
  t.equal(cycleAgent(s, undefined, 1)?.slug, 'a-aaaaaa', 'nobody in the pane: ] starts at the first');
  t.equal(cycleAgent(s, undefined, -1)?.slug, 'd-dddddd', '[ at the last');
  t.equal(cycleAgent(s, 'c-cccccc', 1, 'c-cccccc')?.slug, 'd-dddddd', 'after a stop: the next one');
  const one = loaded([b('a-aaaaaa')], []);
  t.equal(cycleAgent(one, 'a-aaaaaa', 1, 'a-aaaaaa'), undefined, 'none left');
});

t.test('issue 14: stopped and down bottles are resting: listed after the live ones, never cycled to', async (t) => {
  const list = [b('a-aaaaaa', { state: 'stopped' }), b('b-bbbbbb'), b('c-cccccc', { state: 'down' }), b('d-dddddd', { state: 'launching' })];
  t.same(list.map(isResting), [true, false, true, false]);
  t.same(liveFirst(list).map((x) => x.slug), ['b-bbbbbb', 'd-dddddd', 'a-aaaaaa', 'c-cccccc'], 'live first, each in its order');
  const s = withBottles(initialState(), liveFirst(list)).state;
  t.equal(cycleAgent(s, 'b-bbbbbb', 1)?.slug, 'b-bbbbbb', 'only the running one takes the pane; stopped/down are skipped');
  t.equal(cycleAgent(s, 'b-bbbbbb', 1, 'b-bbbbbb'), undefined, 'after stopping the last running agent: none left');
});

t.test('withoutProposal: a decided proposal leaves the pane at once and the cursor stays on a row', async (t) => {
  const row = (id: string) => ({ id, slug: 'a-aaaaaa', kind: 'allowlist', host: `${id}.example`, status: 'pending', created: '2026-01-01T00:00:00Z', reason: '', stale: false }) as unknown as ProposalRow;
  let s = withProposals(initialState(), [row('p1'), row('p2')], Date.now()).state;
  s = pointAt(s, 'proposals', 'p2');
  s = withoutProposal(s, 'p2');
  t.same(s.proposals.map((p) => p.id), ['p1']);
  t.equal(selectedProposal(s)?.id, 'p1', 'the cursor moved to the row that is left');
  t.same(withoutProposal(s, 'p1').proposals, []);
});
