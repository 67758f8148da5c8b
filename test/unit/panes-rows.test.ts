// The dashboard's pure renderers: rows, labels, layout, view model, asserted as strings.
import t from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import { FOOTER, viewModel, wrapText } from '../../panes/model.js';
import {
  agentHeader, agentRow, dashLabel, grantCell, hasEngines, hasGrants, fit, onCell, layout, proposalRow, proposalsLabel, scrollTop, stateText,
} from '../../panes/rows.js';
import { initialState, withBottles, withProposals } from '../../panes/state.js';
import type { Dims } from '../../panes/view.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

export function bottle(slug: string, over: Partial<BottleStatus> = {}): BottleStatus {
  return { slug, agent: slug.split('-')[0]!, backend: 'fake', state: 'running', engine: 'running', created: ago(180), pendingProposals: 0, ...over };
}

export function proposal(id: string, over: Partial<ProposalRow> = {}): ProposalRow {
  return { id, slug: 'implementer-aaaaaa', kind: 'allowlist', host: 'example.com', reason: 'need it', created: ago(42), status: 'pending', stale: false, ...over };
}

t.test('fit truncates with an ellipsis or pads', async (t) => {
  t.equal(fit('abc', 5), 'abc  ');
  t.equal(fit('abcdef', 4), 'abc…');
  t.equal(fit('abc', 0), '');
});

t.test('layout drops low-priority columns first and caps flex growth', async (t) => {
  const cols = [
    { key: 'a', title: 'A', flex: 10, max: 12, priority: 9 },
    { key: 'b', title: 'B', width: 5, priority: 1 },
    { key: 'c', title: 'C', flex: 5, priority: 8 },
  ];
  t.same([...layout(cols, 100)], [['a', 12], ['b', 5], ['c', 81]], 'a capped, c takes the rest');
  t.same([...layout(cols, 16)], [['a', 10], ['c', 5]], 'b dropped');
  t.same([...layout(cols.map((c) => ({ ...c, max: 10 })), 40)].map(([, w]) => w), [10, 5, 10], 'all capped: the rest stays blank');
});

t.test('agent row: columns, occupant star, waiting marker', async (t) => {
  const w = 100;
  const plainRow = agentRow(bottle('implementer-k3x7qa'), { now: NOW, width: w, pending: 0 });
  t.match(plainRow.text, /^  implementer-k3x7qa\s+implementer\s+fake\s+running\s+3m\s*$/);
  t.notOk(plainRow.bold);
  t.ok(plainRow.text.length <= w, 'never wider than the pane: never wraps');

  const occ = agentRow(bottle('implementer-k3x7qa'), { now: NOW, width: w, pending: 2, occupant: 'implementer-k3x7qa' });
  t.match(occ.text, /^\* implementer-k3x7qa .* 2 /);
  t.equal(occ.bold, true, 'occupant is bold');

  const waiting = agentRow(bottle('reviewer-abcdef', { waitingSince: ago(10) }), { now: NOW, width: w, pending: 0 });
  t.match(waiting.text, /waiting\s*$/);
  t.equal(waiting.fg, 'yellow');

  const dead = agentRow(bottle('reviewer-abcdef', { engine: 'missing' }), { now: NOW, width: w, pending: 0 });
  t.match(dead.text, /\sdown\s/, 'a running bottle whose containers are gone reads down (displayState)');
  t.equal(dead.fg, 'gray', 'down is dimmed, not an error');

  const broken = agentRow(bottle('reviewer-abcdef', { state: 'broken', broken: 'metadata.json: bad JSON' }), { now: NOW, width: w, pending: 0 });
  t.match(broken.text, /\sbroken\s/);
  t.equal(broken.fg, 'red');

  const narrow = agentRow(bottle('implementer-k3x7qa', { waitingSince: ago(1) }), { now: NOW, width: 45, pending: 1 });
  t.match(narrow.text, /implementer-k3x7qa/, 'slug kept whole when columns drop');
  t.match(narrow.text, /waiting/, 'waiting marker survives narrow panes');
  t.ok(narrow.text.length <= 45);
  t.match(agentHeader(w), /SLUG\s+AGENT\s+BACKEND\s+STATE\s+AGE\s+PROP/);
});

t.test('the ON column: where each bottle runs, only when one runs on another engine; an unreachable engine says so', async (t) => {
  const here = bottle('implementer-k3x7qa');
  const there = bottle('reviewer-abcdef', { on: 'buildbox' });
  const lost = bottle('tester-qqqqqq', { on: 'gpu', unreachable: 'connection refused (is dockerd running?)' });
  t.notOk(hasEngines([here]), 'all on this machine\'s engine: no column');
  t.ok(hasEngines([here, there]));
  t.ok(hasEngines([bottle('a-aaaaaa', { unreachable: 'no answer in 5 s' })]), 'this machine\'s own engine not answering shows too');
  t.match(agentHeader(100, false, false, false, true), /SLUG\s+AGENT\s+BACKEND\s+ON\s+STATE\s+AGE\s+PROP/);
  const row = (b: typeof here) => agentRow(b, { now: NOW, width: 100, pending: 0, engines: true }).text;
  t.match(row(here), /implementer\s+fake\s+local\s+running/);
  t.match(row(there), /reviewer\s+fake\s+buildbox\s+running/);
  t.match(row(lost), /tester\s+fake\s+gpu: unreachable\s+running/);
  t.equal(onCell(lost), 'gpu: unreachable');
  t.notMatch(agentRow(there, { now: NOW, width: 100, pending: 0 }).text, /buildbox/, 'without the flag: no column');
  const narrow = agentRow(lost, { now: NOW, width: 45, pending: 0, engines: true }).text;
  t.ok(narrow.length <= 45, 'never wraps');
});

t.test('the GRANT column: the soonest live grant counts down; it appears only when some bottle has one', async (t) => {
  const inMin = (m: number) => new Date(NOW + m * 60_000).toISOString();
  const timed = bottle('implementer-k3x7qa', { grants: { 'a.example.com': inMin(42), 'b.example.com': inMin(90), 'c.example.com': 'stop' } });
  const stopOnly = bottle('reviewer-abcdef', { grants: { 'c.example.com': 'stop' } });
  const lapsed = bottle('reviewer-ghijkl', { grants: { 'a.example.com': inMin(-1) } });
  t.ok(hasGrants([bottle('x-aaaaaa'), timed]));
  t.notOk(hasGrants([bottle('x-aaaaaa'), bottle('y-bbbbbb', { grants: {} })]));
  t.same([timed, stopOnly, lapsed, bottle('x-aaaaaa')].map((b) => grantCell(b, NOW)), ['42m', 'stop', '', '']);
  t.match(agentRow(timed, { now: NOW, width: 100, pending: 0, grants: true }).text, /running\s+3m\s+42m\s*$/);
  t.match(agentHeader(100, true), /PROP\s+GRANT$/);
  t.notMatch(agentHeader(100), /GRANT/, 'no grants anywhere: no column');
  const resting = bottle('implementer-k3x7qa', { state: 'stopped', engine: 'missing', grants: timed.grants! });
  t.notMatch(agentRow(resting, { now: NOW, width: 100, pending: 0, grants: true }).text, /42m/, 'a stopped bottle counts nothing down');
  t.ok(agentRow(timed, { now: NOW, width: 45, pending: 0, grants: true }).text.length <= 45, 'drops first when narrow');
});

t.test('issue 14: stopped and down bottles are dimmed with their state; the occupant star stays', async (t) => {
  const stopped = agentRow(bottle('implementer-k3x7qa', { state: 'stopped', engine: 'missing', stoppedAt: ago(60) }), { now: NOW, width: 100, pending: 0 });
  t.match(stopped.text, /^  implementer-k3x7qa\s+implementer\s+fake\s+stopped\s+3m\s*$/);
  t.equal(stopped.fg, 'gray', 'dimmed');
  const down = agentRow(bottle('implementer-k3x7qa', { state: 'down', engine: 'exited' }), { now: NOW, width: 100, pending: 0, occupant: 'implementer-k3x7qa' });
  t.match(down.text, /^\* implementer-k3x7qa\s+implementer\s+fake\s+down\s/);
  t.same([down.fg, down.bold], ['gray', true]);
  t.same(stateText(bottle('a-aaaaaa', { state: 'stopping', engine: 'exited' })), 'stopping', 'a stop in progress (or interrupted) stays stopping, as bottle ls says: bottle stop finishes it');
    t.same(stateText(bottle('a-aaaaaa', { state: 'running', engine: 'exited' })), 'down', 'a running bottle whose engine lost it: down');
  t.equal(stateText(bottle('a-aaaaaa', { state: 'running', engine: 'unknown' })), 'running', 'an engine not asked yet does not contradict');
  const s = withBottles(initialState(), [bottle('a-aaaaaa'), bottle('b-bbbbbb', { state: 'stopped', engine: 'missing' })]).state;
  const vm = viewModel(s, { width: 100, agentsRows: 10, proposalsRows: 10, modalWidth: 60, modalRows: 20 }, { now: NOW, inTmux: true });
  t.same(vm.agents.lines.map((l) => l.fg ?? null), [null, 'gray']);
  t.equal(vm.agents.label, 'Agents (2)', 'a stopped bottle is listed and counted');
});

t.test('proposal row: bottle, kind, host, age, stale, reason; fresh is green', async (t) => {
  const r = proposalRow(proposal('x', { stale: true, reason: 'build needs\u202e it' }), { now: NOW, width: 120, fresh: false });
  t.match(r.text, /^implementer-aaaaaa\s+allowlist example\.com\s+42s\s+stale build needs\? it/);
  t.notOk(r.fg);
  const fresh = proposalRow(proposal('x'), { now: NOW, width: 120, fresh: true });
  t.equal(fresh.fg, 'green');
  t.equal(fresh.bold, true);
});

t.test('labels: (new!) and the tmux border counter', async (t) => {
  t.equal(proposalsLabel(3, false), 'Proposals (3)');
  t.equal(proposalsLabel(3, true), 'Proposals (3) (new!)');
  t.equal(dashLabel(0), 'bottle');
  t.equal(dashLabel(2), 'bottle (2 new!)');
});

t.test('scrollTop keeps the cursor in the window', async (t) => {
  t.equal(scrollTop(0, 100, 10), 0);
  t.equal(scrollTop(9, 100, 10), 0);
  t.equal(scrollTop(10, 100, 10), 1);
  t.equal(scrollTop(99, 100, 10), 90);
  t.equal(scrollTop(3, 5, 10), 0);
});

t.test('viewModel: pending counts, fresh highlight, focus, modal text', async (t) => {
  const dims: Dims = { width: 100, agentsRows: 10, proposalsRows: 10, modalWidth: 60, modalRows: 20 };
  let s = withBottles(initialState(), [bottle('implementer-aaaaaa'), bottle('reviewer-bbbbbb')]).state;
  s = withProposals(s, [proposal('20260301T115900000Z-000000000001')], NOW).state;
  s = withProposals(s, [proposal('20260301T115900000Z-000000000001'), proposal('20260301T115959000Z-000000000002')], NOW).state;
  const vm = viewModel(s, dims, { now: NOW, inTmux: true });
  t.match(vm.agents.lines[0]!.text, /implementer-aaaaaa.* 2 /, 'PROP column counts pending proposals');
  t.equal(vm.proposals.label, 'Proposals (2) (new!)');
  t.notOk(vm.proposals.lines[0]!.fg, 'startup proposal is not green');
  t.equal(vm.proposals.lines[1]!.fg, 'green', 'the arrival is green');
  t.equal(vm.proposals.focused, true, 'the arrival took the focus');
  t.equal(vm.proposals.cursor, 1);
  t.equal(vm.footer, FOOTER);
  const later = viewModel(s, dims, { now: NOW + 11_000, inTmux: true });
  t.notOk(later.proposals.lines[1]!.fg, 'green for 10 s only');
  const picker = viewModel({ ...s, modal: { kind: 'picker', agents: ['implementer', 'reviewer', 'docs'], filter: 'e', cursor: 1 } }, dims, { now: NOW, inTmux: true });
  t.same(picker.modal!.lines.map((l) => l.text.trim()), ['filter: e_', '', 'implementer (1 running)', 'reviewer (1 running)']);
  t.equal(picker.modal!.lines[3]!.inverse, true, 'cursor row');
});

t.test('wrapText: modal lines wrap at spaces, keeping their indent', async (t) => {
  t.same(wrapText('short', 10), ['short']);
  t.same(wrapText('  + route api.example.com (Authorization: Bearer ${GITHUB_TOKEN})', 30), [
    '  + route api.example.com',
    '  (Authorization: Bearer',
    '  ${GITHUB_TOKEN})',
  ]);
  t.same(wrapText('abcdefghijkl', 5), ['abcde', 'fghij', 'kl'], 'no space: hard cut');
});
