// The keyboard contract: main keys, picker (filter, j/k, Esc clears then closes), preflight y/N,
// confirmations, the route header form; and the blessed key normalisation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../lib/paths.js';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import { handleKey } from '../../panes/keys.js';
import { helpLines, modalModel } from '../../panes/model.js';
import { clampCursor, filterAgents, parseHeaderForm, pickerItems, suggestEnvVar, type Modal } from '../../panes/modal.js';
import { normaliseKey, tagged } from '../../panes/screen.js';
import { initialState, withBottles, withProposals, type AppState } from '../../panes/state.js';
import type { KeyPress } from '../../panes/view.js';

const b = (slug: string): BottleStatus => ({ slug, agent: slug.split('-')[0]!, backend: 'fake', state: 'running', engine: 'running', created: '', pendingProposals: 0 });
const route: ProposalRow = { id: '20260301T110000000Z-000000000001', slug: 'a-aaaaaa', kind: 'route', host: 'api.github.com', reason: 'r', created: '', status: 'pending', stale: false };
const allow: ProposalRow = { ...route, id: '20260301T110000000Z-000000000002', kind: 'allowlist', host: 'example.com' };

const k = (name: string): KeyPress => (name.length === 1 ? { name, ch: name } : { name });

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

const base = (): AppState => withProposals(withBottles(initialState(), [b('a-aaaaaa'), b('b-bbbbbb')]).state, [route, allow], 0).state;
const picker = (agents = ['implementer', 'reviewer', 'jk-tool']): AppState => ({ ...base(), modal: { kind: 'picker', agents, filter: '', cursor: 0 } });

t.test('filterAgents: substring, case-insensitive, manifest order', async (t) => {
  t.same(filterAgents(['Implementer', 'reviewer', 'docs'], 'E'), ['Implementer', 'reviewer']);
  t.same(filterAgents(['a', 'b'], '  '), ['a', 'b']);
  t.same(pickerItems(['a', 'b'], '', [b('a-aaaaaa'), b('a-cccccc')]), [{ name: 'a', running: 2 }, { name: 'b', running: 0 }]);
  t.equal(clampCursor(5, 2), 1);
  t.equal(clampCursor(-1, 2), 0);
  t.equal(clampCursor(3, 0), 0);
});

t.test('main keys: move, Tab, Enter attaches, q quits, n opens the picker', async (t) => {
  t.same(press(base(), 'j').state.cursors.agents.key, 'b-bbbbbb');
  t.same(press(base(), 'down', 'up').state.cursors.agents.key, 'a-aaaaaa');
  t.equal(press(base(), 'tab').state.focus, 'proposals');
  t.same(press(base(), 'j', 'enter').effects, [{ type: 'attach', slug: 'b-bbbbbb' }]);
  t.same(press(base(), 'q').effects, [{ type: 'quit' }]);
  t.same(press(base(), 'C-c').effects, [{ type: 'quit' }]);
  t.same(press(base(), 'n').effects, [{ type: 'picker' }]);
  t.equal(press(base(), '?').state.modal?.kind, 'help');
  t.equal(press(base(), '?', 'x').state.modal, undefined, 'any key closes help');
  t.equal(press({ ...base(), unseen: 4 }, 'j').state.unseen, 0, 'a key acknowledges the counter');
});

t.test('picker: type to filter, j/k only while the filter is empty, Esc clears then closes', async (t) => {
  let r = press(picker(), 'j');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).cursor, 1, 'j moves');
  r = press(picker(), 'r', 'e', 'v');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).filter, 'rev');
  r = press(picker(), 'j', 'k', 'j', 'k');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).filter, '', 'j/k moved');
  r = press(picker(), 't', 'j', 'k');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).filter, 'tjk', 'once filtering, j and k are text (agent names contain them)');
  r = press(picker(), 'e', 'down', 'enter');
  t.same(r.effects, [{ type: 'preflight', agent: 'reviewer' }]);
  t.equal(r.state.modal, undefined, 'the picker closes on Enter');
  r = press(picker(), 'z', 'z', 'backspace');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).filter, 'z');
  t.same(press(picker(), 'z', 'z', 'enter').effects, [], 'nothing matches: Enter does nothing');
  r = press(picker(), 'x', 'escape');
  t.equal(r.state.modal?.kind, 'picker', 'first Esc clears the filter');
  t.equal((r.state.modal as Extract<Modal, { kind: 'picker' }>).filter, '');
  t.equal(press(picker(), 'x', 'escape', 'escape').state.modal, undefined, 'second Esc closes');
  t.same(press(picker(), 'enter').effects, [{ type: 'preflight', agent: 'implementer' }]);
});

t.test('preflight: y launches, N/Enter/Esc cancel, blocked plans refuse y', async (t) => {
  const pre: AppState = { ...base(), modal: { kind: 'preflight', agent: 'reviewer', lines: ['agent reviewer'] } };
  t.same(press(pre, 'y').effects, [{ type: 'launch', agent: 'reviewer' }]);
  t.equal(press(pre, 'y').state.modal, undefined, 'the modal closes at once');
  for (const key of ['N', 'n', 'enter', 'escape']) {
    const r = press(pre, key);
    t.same([r.effects, r.state.modal], [[], undefined], `${key} cancels`);
  }
  t.equal(press(pre, 'j').state.modal?.kind, 'preflight', 'other keys are ignored');
  const blocked: AppState = { ...base(), modal: { kind: 'preflight', agent: 'x', lines: [], blocked: 'env missing' } };
  t.same(press(blocked, 'y').effects, []);
});

t.test('x asks, then stops; a/r act on the proposal under the cursor', async (t) => {
  let r = press(base(), 'x');
  t.equal(r.state.modal?.kind, 'confirm');
  t.same(press(r.state, 'y').effects, [{ type: 'stop', slug: 'a-aaaaaa' }]);
  t.same(press(r.state, 'n').effects, []);
  r = press(base(), 'a');
  t.same(r.effects, [], 'a in the agents pane does nothing...');
  t.match(r.state.status?.text, /Tab to the proposals pane/, '...but says why');
  r = press(base(), 'tab', 'j', 'a');
  t.same(r.effects, [{ type: 'plan-approve', id: allow.id, slug: 'a-aaaaaa' }], 'allowlist: straight to the diff');
  r = press(base(), 'tab', 'r');
  t.equal(r.state.modal?.kind, 'confirm');
  t.same(press(r.state, 'enter').effects, [{ type: 'reject', id: route.id, slug: 'a-aaaaaa' }]);
});

t.test('Enter on a proposal shows it; on a held push r asks what rejecting means and a goes straight to the approve question', async (t) => {
  const push: ProposalRow = { ...route, id: '20260301T105900000Z-000000000003', kind: 'push', host: 'origin', reason: 'push main: 1 commit, 1 file +1 -1; secret scan clean' };
  const s = withProposals(withBottles(initialState(), [b('a-aaaaaa')]).state, [push, allow], 0).state;
  t.same(press(s, 'tab', 'enter').effects, [{ type: 'show-proposal', id: push.id, slug: 'a-aaaaaa' }], 'Enter: show, not attach');
  t.same(press(s, 'tab', 'j', 'enter').effects, [{ type: 'show-proposal', id: allow.id, slug: 'a-aaaaaa' }], 'any kind');
  t.same(press(withBottles(initialState(), [b('a-aaaaaa')]).state, 'tab', 'enter').effects, [], 'no proposal: nothing');
  let r = press(s, 'tab', 'r');
  const m = r.state.modal as Extract<Modal, { kind: 'confirm' }>;
  t.equal(m.title, 'Reject the push to origin?');
  t.same(m.lines, [`from a-aaaaaa: ${push.reason}`, '', "nothing is forwarded; the agent's git push fails with your note"]);
  r = press(r.state, ...'too big', 'enter');
  t.same(r.effects, [{ type: 'reject', id: push.id, slug: 'a-aaaaaa', note: 'too big' }]);
  r = press(s, 'tab', 'a');
  t.same(r.effects, [{ type: 'plan-approve', id: push.id, slug: 'a-aaaaaa' }], 'no header form for a push');
  t.equal(r.state.modal, undefined);
});

t.test('route approval: the header form, validated, then the diff', async (t) => {
  let r = press(base(), 'tab', 'a');
  const form = r.state.modal as Extract<Modal, { kind: 'header-form' }>;
  t.equal(form.kind, 'header-form');
  t.equal(form.name, 'Authorization');
  t.equal(form.value, 'Bearer ${GITHUB_TOKEN}', 'suggested from the host');
  t.same(press(r.state, 'enter').effects, [{ type: 'plan-approve', id: route.id, slug: 'a-aaaaaa', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }]);
  r = press(r.state, 'C-u', ...'ghp_x1Y2', 'enter');
  t.same(r.effects, [], 'a literal token is refused');
  t.match((r.state.modal as Extract<Modal, { kind: 'header-form' }>).error, /never hold the secret itself/);
  r = press(r.state, 'C-u', 'T', 'O', 'K', 'tab', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'backspace', 'X', 'enter');
  t.same(r.effects, [{ type: 'plan-approve', id: route.id, slug: 'a-aaaaaa', headers: { X: '${TOK}' } }], 'Tab switches fields; a bare env name is short for ${NAME}');
  t.equal(press(press(base(), 'tab', 'a').state, 'escape').state.modal, undefined);
});

t.test('the allowlist approve box: y approves for good, 1/2/3 for 10m, 1h or until stop; a route box has no times', async (t) => {
  const effect = { type: 'approve' as const, id: allow.id, slug: 'a-aaaaaa' };
  const box = (grants: boolean): AppState => ({ ...base(), modal: { kind: 'confirm', title: 'Approve allowlist x?', lines: [], effect, ...(grants ? { grants } : {}) } });
  t.same(press(box(true), 'y').effects, [effect]);
  t.same(press(box(true), '1').effects, [{ ...effect, for: '10m' }]);
  t.same(press(box(true), '2').effects, [{ ...effect, for: '1h' }]);
  t.same(press(box(true), '3').effects, [{ ...effect, for: 'until-stop' }]);
  t.equal(press(box(true), '3').state.modal, undefined, 'the box closes');
  t.same(press(box(false), '2').effects, [], 'no grants: the keys do nothing');
  t.equal(modalModel(box(true), box(true).modal!, { width: 80, agentsRows: 10, proposalsRows: 10, modalWidth: 80, modalRows: 20 }, { now: 0, inTmux: true }).footer, 'y approve  1 for 10m  2 for 1h  3 for until stop  N/Esc no');
});

t.test('parseHeaderForm and suggestEnvVar', async (t) => {
  t.same(parseHeaderForm('Authorization', 'Bearer ${GH}'), { ok: true, headers: { Authorization: 'Bearer ${GH}' } });
  t.equal(parseHeaderForm('Bad Name', 'X').ok, false);
  t.equal(parseHeaderForm('X', '').ok, false);
  t.equal(parseHeaderForm('X', 'ghp_abc123 literal').ok, false);
  t.equal(suggestEnvVar('api.github.com'), 'GITHUB_TOKEN');
  t.equal(suggestEnvVar('registry.npm-js.org:443'), 'NPM_JS_TOKEN');
});

t.test('normaliseKey: blessed quirks', async (t) => {
  t.equal(normaliseKey('\r', { name: 'return' }), undefined, 'the duplicate return before enter is dropped');
  t.same(normaliseKey('\r', { name: 'enter' }), { name: 'enter' });
  t.same(normaliseKey('G', { name: 'g', shift: true }), { name: 'G', ch: 'G' });
  t.same(normaliseKey('?', { name: undefined }), { name: '?', ch: '?' });
  t.same(normaliseKey('\t', { name: 'tab', shift: true }), { name: 'S-tab' });
  t.same(normaliseKey('\x03', { name: 'c', ctrl: true }), { name: 'C-c' });
  t.same(normaliseKey(undefined, { name: 'down' }), { name: 'down' });
  t.equal(tagged({ text: 'a{b}', fg: 'green', bold: true }), '{bold}{green-fg}a{open}b{close}{/green-fg}{/bold}', 'text is escaped');
});

t.test('issue 14: Enter on a stopped or down bottle asks to resume; x there is a hint; D asks what rm loses', async (t) => {
  const s = withBottles(initialState(), [b('a-aaaaaa'), { ...b('s-ssssss'), state: 'stopped' }, { ...b('d-dddddd'), state: 'down', engine: 'exited' }]).state;
  t.same(press(s, 'enter').effects, [{ type: 'attach', slug: 'a-aaaaaa' }], 'a running one attaches');
  t.same(press(s, 'j', 'enter').effects, [{ type: 'plan-resume', slug: 's-ssssss' }], 'stopped: the resume question (actions.ts) first');
  t.same(press(s, 'j', 'j', 'enter').effects, [{ type: 'plan-resume', slug: 'd-dddddd' }], 'down: likewise');
  let r = press(s, 'j', 'x');
  t.same([r.effects, r.state.modal], [[], undefined]);
  t.match(r.state.status?.text, /s-ssssss is stopped; Enter resumes it, D removes it for good/);
  t.same(press(s, 'j', 'D').effects, [{ type: 'plan-remove', slug: 's-ssssss' }]);
  t.same(press(s, 'D').effects, [{ type: 'plan-remove', slug: 'a-aaaaaa' }], 'D on a running bottle asks too');
  r = press(s, 'tab', 'D');
  t.same(r.effects, []);
  t.match(r.state.status?.text, /D removes the agent under the cursor in the agents pane/);
  const busy = withBottles(initialState(), [{ ...b('a-aaaaaa'), state: 'resuming' }]).state;
  r = press(busy, 'D');
  t.same(r.effects, [], 'not while a child works on it');
  t.match(r.state.status?.text, /a-aaaaaa is resuming; wait for it/);
  const confirm: AppState = { ...s, modal: { kind: 'confirm', title: 'Resume s-ssssss?', lines: [], effect: { type: 'resume', slug: 's-ssssss' } } };
  t.same(press(confirm, 'y').effects, [{ type: 'resume', slug: 's-ssssss' }]);
  for (const key of ['n', 'escape', 'enter']) t.same(press(confirm, key).effects, [], `${key} does not resume`);
});

t.test('x asks with what the stop keeps and how to bring it back', async (t) => {
  const r = press(base(), 'x');
  const m = r.state.modal as Extract<Modal, { kind: 'confirm' }>;
  t.equal(m.title, 'Stop a-aaaaaa?');
  t.match(m.lines.join('\n'), /Its work is saved: claude sessions, unpushed commits, uncommitted changes\.[\s\S]*Enter on it here \(or bottle resume a-aaaaaa\) brings it back/);
});

t.test('the picker counts live bottles only', async (t) => {
  t.same(pickerItems(['a'], '', [b('a-aaaaaa'), { ...b('a-cccccc'), state: 'stopped' }, { ...b('a-dddddd'), state: 'down' }]), [{ name: 'a', running: 1 }]);
});

t.test('x on a bottle that is already stopping only says so', async (t) => {
  const s = withBottles(initialState(), [{ ...b('a-aaaaaa'), state: 'stopping' }]).state;
  const r = press(s, 'x');
  t.equal(r.state.modal, undefined);
  t.match(r.state.status?.text, /already stopping/);
});

t.test('README\'s cockpit key table and the help modal name the same keys', async (t) => {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const cockpit = readme.slice(readme.indexOf('## The cockpit'), readme.indexOf('Notifications:', readme.indexOf('## The cockpit')));
  const documented = new Set(cockpit.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
  const help = new Set(helpLines(true).filter((l) => /^\S/.test(l) && / {2,}/.test(l)).flatMap((l) => l.split(/ {2,}/)[0]!.split(/[\s/,]+/)).filter((k) => k !== '' && k !== 'arrows'));
  t.same([...documented].sort(), [...help].sort());
  t.ok(help.has('D'), 'D (remove) is in both');
  t.match(helpLines(true).join('\n'), /on a stopped or down \(dimmed\) agent: resume it/);
});
