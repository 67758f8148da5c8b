// Issue 20's dashboard rough edges, pure tier: the 80-column layout, the key hint bar, status
// clipping, the plan dialog's scrolling, the example-manifest notice, q in the log view and the
// rejection note.
import t from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import { handleKey } from '../../panes/keys.js';
import { clipWords, footerText, viewModel } from '../../panes/model.js';
import { agentRow } from '../../panes/rows.js';
import { initialState, switchFocus, withBottles, withProposals, type AppState } from '../../panes/state.js';
import type { Dims, KeyPress } from '../../panes/view.js';

const k = (name: string): KeyPress => (name === 'space' ? { name, ch: ' ' } : name.length === 1 ? { name, ch: name } : { name });
function press(s: AppState, ...names: string[]) {
  let state = s;
  const effects = [];
  for (const n of names) {
    const r = handleKey(state, k(n));
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}
const bottle = (slug: string, agent: string): BottleStatus => ({ slug, agent, backend: 'fake', state: 'running', engine: 'running', created: '', pendingProposals: 0 });
const dims80: Dims = { width: 78, agentsRows: 8, proposalsRows: 8, modalWidth: 74, modalRows: 18 };

t.test('80 columns: two long slugs with a shared prefix stay distinguishable', async (t) => {
  const east = 'data-pipeline-maintainer-east-abcdef';
  const west = 'data-pipeline-maintainer-west-ghijkl';
  const row = (slug: string) => agentRow(bottle(slug, slug.slice(0, -7)), { now: 0, width: 78, pending: 0 }).text;
  const slugCell = (slug: string) => row(slug).trim().split(' ')[0];
  t.not(slugCell(east), slugCell(west), 'slug cells differ');
  t.match(slugCell(east), /…\S*east-abcdef$/, 'the distinct end is kept');
  t.ok(row(east).length <= 78);
});

t.test('the key hint bar fits the terminal and keeps "q quit" whole', async (t) => {
  for (const w of [80, 60, 40]) {
    const f = footerText(w);
    t.ok(f.length <= w, `${w}: ${f}`);
    t.match(f, /\? help  q quit$/);
  }
  t.match(footerText(200), /j\/k move .* Enter attach\/resume  x stop  D remove  a\/r approve\/reject/, 'all hints when there is room');
  t.match(footerText(80), /Enter attach\/resume  x stop  \? help/, 'at 80 columns: D remove and a/r drop before the rest');
});

t.test('status errors are cut at a word boundary with an ellipsis', async (t) => {
  const long = 'start of implementer-abcdef failed: cannot reach the docker daemon at unix:///var/run/docker.sock; is it running';
  const clipped = clipWords(long, 80);
  t.ok(clipped.length <= 80);
  t.match(clipped, /…$/);
  t.ok(long.startsWith(clipped.slice(0, -1)) && /[\s]/.test(long[clipped.length - 1]!), `ends at a word: ${clipped}`);
  const vm = viewModel({ ...initialState(), status: { text: long, level: 'error' } }, dims80, { now: 0, inTmux: true });
  t.equal(vm.status?.text, clipped);
});

t.test('the plan dialog scrolls with j/k and says what is hidden', async (t) => {
  const lines = Array.from({ length: 30 }, (_, i) => `plan line ${i + 1}`);
  let s: AppState = { ...initialState(), modal: { kind: 'preflight', agent: 'implementer', lines } };
  let vm = viewModel(s, dims80, { now: 0, inTmux: true });
  t.equal(vm.modal!.lines.length, 18, 'fits the box');
  t.match(vm.modal!.lines.at(-1)!.text, /13 more below \(j\/k or ↑\/↓ scroll\)/);
  s = press(s, 'j', 'j', 'down').state;
  vm = viewModel(s, dims80, { now: 0, inTmux: true });
  t.equal(vm.modal!.lines[0]!.text, 'plan line 4');
  t.match(vm.modal!.lines.at(-1)!.text, /3 above, 10 more below/);
  s = press(s, ...Array(40).fill('j')).state;
  vm = viewModel(s, dims80, { now: 0, inTmux: true });
  t.equal(vm.modal!.lines.at(-2)!.text, 'plan line 30', 'the last line is reachable');
  s = press(s, 'k').state;
  t.ok(s.modal?.kind === 'preflight', 'k keeps the dialog open');
  t.equal(press(s, 'y').effects[0]?.type, 'launch', 'y still starts');
});

t.test('the built-in example manifest is named in the agents pane', async (t) => {
  const vm = viewModel(initialState(), dims80, { now: 0, inTmux: true, exampleManifest: true });
  t.match(vm.agents.label, /example manifest/);
  t.notMatch(viewModel(initialState(), dims80, { now: 0, inTmux: true }).agents.label, /example/);
});

t.test('q closes the log view like Esc', async (t) => {
  const s: AppState = { ...initialState(), modal: { kind: 'log', title: 'Starting x', lines: ['a'] } };
  const r = press(s, 'q');
  t.equal(r.state.modal, undefined);
  t.same(r.effects, [], 'q in the log view does not quit the dashboard');
  t.match(viewModel(s, dims80, { now: 0, inTmux: false }).modal!.footer, /q close/);
});

t.test('r: an optional note typed in the confirmation goes with the rejection', async (t) => {
  const p: ProposalRow = { id: '20260301T110000000Z-000000000002', slug: 'a-aaaaaa', kind: 'allowlist', host: 'example.com', reason: 'r', created: '', status: 'pending', stale: false };
  const base = switchFocus(withProposals(withBottles(initialState(), [bottle('a-aaaaaa', 'a')]).state, [p], 0).state);
  const typed = press(base, 'r', 'u', 's', 'e', 'space', 'n', 'p', 'm', 'backspace', 'y');
  t.match(viewModel(typed.state, dims80, { now: 0, inTmux: true }).modal!.lines.at(-1)!.text, /note: use npy_/, 'y and n are note text');
  t.same(press(typed.state, 'enter').effects, [{ type: 'reject', id: p.id, slug: p.slug, note: 'use npy' }]);
  t.same(press(base, 'r', 'enter').effects, [{ type: 'reject', id: p.id, slug: p.slug }], 'no note: a plain rejection');
  t.same(press(base, 'r', 'x', 'escape').effects, [], 'Esc cancels');
});
