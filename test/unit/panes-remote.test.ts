// The dashboard's side of the keys pressed outside the cockpit (panes/remote.ts: the picker's
// agents and plan, start, the newest proposal's popup on a client, the agent waiting longest)
// and the bare-terminal modal the popups run (panes/term-modal.ts: the dashboard's own picker
// and plan dialog, keys parsed from raw input).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { loadManifest } from '../../lib/manifest/index.js';
import { projectRoot } from '../../lib/paths.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import type { Runner } from '../../lib/run/index.js';
import type { ActionContext } from '../../panes/context.js';
import { longestWaiting, remoteAction } from '../../panes/remote.js';
import { initialState, type AppState } from '../../panes/state.js';
import { parseKeys, renderModal, runTermModal, type ModalTerminal } from '../../panes/term-modal.js';
import { TmuxClient } from '../../tmux/client.js';
import { SEP } from '../../tmux/format.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { fakeBackends } from '../helpers/fake-backend.js';

const loaded = loadManifest({ flag: join(projectRoot(), 'examples', 'bottle.yaml'), cwd: projectRoot(), env: {} });

function setup(t: Test, extra: NodeJS.ProcessEnv = {}, init: Partial<AppState> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-panes-remote-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config'), ...extra };
  let state: AppState = { ...initialState(), ...init };
  const ctx = {
    store: { get: () => state, update: (fn: (s: AppState) => AppState) => { state = fn(state); } },
    deps: lifecycleDeps(env, { backends: fakeBackends }), cwd: dir, bottleArgv: fakeBottleArgv(), reload: () => undefined, quit: () => undefined,
    manifest: () => loaded, view: {} as ActionContext['view'],
  } satisfies ActionContext;
  return { ctx, state: () => state };
}

const bottle = (slug: string, waitingSince?: string): BottleStatus => ({
  slug, agent: 'implementer', backend: 'docker', state: 'running', engine: 'running', created: '', pendingProposals: 0, ...(waitingSince ? { waitingSince } : {}),
});

t.test('longestWaiting: the earliest marker; one without a time counts as now', async (t) => {
  t.equal(longestWaiting([bottle('a'), bottle('b')]), undefined);
  t.equal(longestWaiting([bottle('a', '2024-01-01T10:05:00Z'), bottle('b', '2024-01-01T10:00:00Z'), bottle('c')]), 'b');
  t.equal(longestWaiting([bottle('a', 'now'), bottle('b', '2024-01-01T10:00:00Z')]), 'b');
  t.equal(longestWaiting([bottle('a', 'now'), bottle('b', 'now')]), 'a', 'a tie: the first listed');
});

t.test('agents and plan: the manifest and the preflight the dashboard itself would show', async (t) => {
  const { ctx } = setup(t, {}, { bottles: [bottle('implementer-aaaaaa')] });
  t.same(await remoteAction(ctx, undefined, { action: 'agents' }), {
    ok: true, agents: Object.keys(loaded.manifest.agents), bottles: [{ slug: 'implementer-aaaaaa', agent: 'implementer', state: 'running' }],
  });
  // No ANTHROPIC_API_KEY / GITHUB_TOKEN in this dashboard's environment: blocked, with the fix.
  const plan = await remoteAction(ctx, undefined, { action: 'plan', agent: 'implementer' });
  t.match(plan, { ok: true, lines: Array, blocked: /^cannot start: no Claude credential on this host: .*claude setup-token.*credentials\.yaml/ });
  t.match(await remoteAction(ctx, undefined, { action: 'start-agent', agent: 'implementer' }), { ok: false, error: /^cannot start: no Claude credential/ }, 'a blocked plan does not start');
  // The Claude credential there, a route's missing: that one is named, with the fix.
  const half = setup(t, { ANTHROPIC_API_KEY: 'sk-test' });
  t.match(await remoteAction(half.ctx, undefined, { action: 'plan', agent: 'implementer' }), { ok: true, blocked: /^cannot start: no value for GITHUB_TOKEN .*credentials\.yaml/ });
  t.match(await remoteAction(ctx, undefined, { action: 'plan' }), { ok: false });

  const ok = setup(t, { ANTHROPIC_API_KEY: 'sk-test', GITHUB_TOKEN: 'ghp-test' });
  const p2 = await remoteAction(ok.ctx, undefined, { action: 'plan', agent: 'implementer' });
  t.ok(p2.ok && p2.lines!.length > 0 && p2.blocked === undefined, 'a plan that can start');

  const broken = setup(t);
  broken.ctx.manifest = () => { throw new Error('bottle.yaml: line 3: bad indentation\nmore'); };
  t.same(await remoteAction(broken.ctx, undefined, { action: 'agents' }), { ok: false, error: 'manifest: bottle.yaml: line 3: bad indentation' });
});

t.test('show-waiting: says so when nobody waits, or when there is no right pane', async (t) => {
  const none = setup(t, {}, { bottles: [bottle('a')] });
  t.same(await remoteAction(none.ctx, undefined, { action: 'show-waiting' }), { ok: false, error: 'no agent is waiting for input' });
  const outside = setup(t, {}, { bottles: [bottle('a', '2024-01-01T10:00:00Z')] });
  t.match(await remoteAction(outside.ctx, undefined, { action: 'show-waiting' }), { ok: false, error: /outside tmux/ });
});

t.test('popup-proposal: the newest pending (not auto-approved) proposal, decided in a popup on the asking client', async (t) => {
  const row = (id: string, auto?: boolean): ProposalRow => ({
    id, slug: 'implementer-aaaaaa', kind: 'allowlist', host: `${id}.example.org`, reason: 'r', created: '', status: auto ? 'approved' : 'pending', stale: false,
    ...(auto ? { auto: { rule: 'docs' } } : {}),
  });
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push(sub);
    const stdout = sub[0] === 'list-clients' ? ['1', '200', '50', '0', '/dev/pts/2', 'work'].join(SEP) : sub[0] === 'display-message' ? '3.3a' : '';
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', durationMs: 0, failed: false, timedOut: false };
  };
  const tmux = new TmuxClient({ run });
  const { ctx } = setup(t, {}, { proposals: [row('old'), row('new'), row('auto', true)] });
  t.same(await remoteAction(ctx, tmux, { action: 'popup-proposal', client: '/dev/pts/2' }), { ok: true });
  const popup = calls.find((c) => c[0] === 'run-shell')!.join(' ');
  t.match(popup, /display-popup -c \/dev\/pts\/2 -E -w 96 -h 20 -T/);
  t.match(popup, /proposals decide new/);
  t.match(await remoteAction(ctx, undefined, { action: 'popup-proposal', client: '/dev/pts/2' }), { ok: false }, 'no tmux: nothing to show it on');
  const empty = setup(t, {}, { proposals: [row('auto', true)] });
  t.same(await remoteAction(empty.ctx, tmux, { action: 'popup-proposal', client: '/dev/pts/2' }), { ok: false, error: 'no pending proposals' });
});

t.test('parseKeys: raw terminal input as the dashboard names keys', async (t) => {
  t.same(parseKeys('ab'), [{ name: 'a', ch: 'a' }, { name: 'b', ch: 'b' }]);
  t.same(parseKeys('\r\x1b[A\x1bOB\x1b\x7f\t\x1b[Z \x03\x0e'), [
    { name: 'enter' }, { name: 'up' }, { name: 'down' }, { name: 'escape' }, { name: 'backspace' }, { name: 'tab' }, { name: 'S-tab' },
    { name: 'space', ch: ' ' }, { name: 'C-c' }, { name: 'C-n' },
  ]);
  t.same(parseKeys('\x1b[15~é'), [{ name: 'é', ch: 'é' }], 'an unknown sequence is skipped whole; non-ASCII is text');
});

t.test('renderModal: title, body, hints; the cursor row inverse; the body scrolled to fit', async (t) => {
  const out = renderModal({ title: 'New agent', lines: [{ text: 'filter: _', fg: 'cyan' }, { text: 'a', inverse: true }, { text: 'b' }], footer: 'Enter pick' }, 40, 10);
  t.equal(out, '\x1b[H\x1b[2J\x1b[1mNew agent\x1b[0m\r\n\r\n\x1b[36mfilter: _\x1b[0m\r\n\x1b[7ma\x1b[0m\r\nb\r\n\r\n\x1b[90mEnter pick\x1b[0m');
  const tall = renderModal({ title: 'T', lines: Array.from({ length: 30 }, (_, i) => ({ text: `line ${i}` })), footer: 'f' }, 40, 10);
  t.match(tall, /line 4\r\n\x1b\[90m-- 25 more below \(j\/k or ↑\/↓ scroll\) --/);
  t.notMatch(tall, /line 5/);
});

// A scripted terminal: each next() returns the following chunk; null when they run out.
function scripted(chunks: string[]): ModalTerminal & { screens: string[] } {
  const screens: string[] = [];
  return { screens, next: async () => chunks.shift() ?? null, write: (s) => void screens.push(s), size: () => ({ columns: 80, rows: 24 }) };
}

t.test('runTermModal: the dashboard\'s picker keys; Enter asks for the plan; y launches; Esc closes', async (t) => {
  const picker: AppState = { ...initialState(), modal: { kind: 'picker', agents: ['implementer', 'reviewer'], filter: '', cursor: 0 } };
  const effects: string[] = [];
  const effect = async (e: { type: string; agent?: string }, s: AppState): Promise<AppState | undefined> => {
    effects.push(`${e.type}:${e.agent ?? ''}`);
    if (e.type === 'preflight') return { ...s, modal: { kind: 'preflight', agent: e.agent!, lines: ['plan line'] } };
    return undefined;
  };
  const term = scripted(['rev', '\r', 'y']);
  await runTermModal(term, picker, { effect });
  t.same(effects, ['preflight:reviewer', 'launch:reviewer']);
  t.match(term.screens[1], /filter: rev_/);
  t.match(term.screens.at(-1), /Start reviewer\?[\s\S]*plan line[\s\S]*y start/);

  const esc = scripted(['j', '\x1b']);
  const seen: string[] = [];
  await runTermModal(esc, picker, { title: 'Attach an agent', effect: async (e) => { seen.push(e.type); return undefined; } });
  t.same(seen, [], 'Esc with no filter closes without an effect');
  t.match(esc.screens[0], /^\x1b\[H\x1b\[2J\x1b\[1mAttach an agent/);
  t.match(esc.screens[1], /\x1b\[7mreviewer/, 'j moved the cursor');

  const ctrlC = scripted(['\x03', 'y']);
  await runTermModal(ctrlC, picker, { effect: async () => { throw new Error('no effect expected'); } });
  t.equal(ctrlC.screens.length, 1, 'Ctrl-C ends it');
});
