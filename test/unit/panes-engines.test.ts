// One cockpit for several engines (issue 17): with more than one engine in the manifest, `n`
// (and the `prefix b n` popup) asks which one the new bottle runs on, the cursor on the
// manifest's pick for the agent; the plan then shows that engine and the start runs there.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { loadManifest, type LoadedManifest } from '../../lib/manifest/index.js';
import { engineChoices } from '../../lib/plan/index.js';
import { runEffect } from '../../panes/actions.js';
import type { ActionContext } from '../../panes/context.js';
import { handleKey } from '../../panes/keys.js';
import { engineItems } from '../../panes/modal.js';
import { modalModel } from '../../panes/model.js';
import { parseRequest } from '../../panes/ipc.js';
import { remoteAction } from '../../panes/remote.js';
import { initialState, type AppState } from '../../panes/state.js';
import { fakeBackends } from '../helpers/fake-backend.js';

const MANIFEST = `version: 1
engines:
  buildbox:
    host: tcp://10.0.0.5:2376
  laptop:
    context: laptop
defaults: { engine: buildbox }
agents:
  reviewer: { engine: local }
  implementer: { egress: { allow: [example.test] } }
`;

const SINGLE = `version: 1
agents:
  implementer:
    egress: { allow: [registry.npmjs.org] }
`;

function setup(t: Test, text = MANIFEST, argv: string[] = ['false']) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-panes-engines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bottle.yaml'), text);
  const env: NodeJS.ProcessEnv = { BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config'), ANTHROPIC_API_KEY: 'sk-test' };
  const loaded: LoadedManifest = loadManifest({ flag: join(dir, 'bottle.yaml'), cwd: dir, env });
  let state: AppState = initialState();
  const ctx = {
    store: { get: () => state, update: (fn: (s: AppState) => AppState) => { state = fn(state); } },
    deps: lifecycleDeps(env, { backends: fakeBackends }), cwd: dir, bottleArgv: argv, reload: () => undefined, quit: () => undefined,
    manifest: () => loaded, view: {} as ActionContext['view'],
  } satisfies ActionContext;
  return { ctx, dir, state: () => state, set: (s: AppState) => { state = s; } };
}

const press = (s: AppState, name: string) => handleKey(s, { name });

t.test('engineChoices: every engine in manifest order, local last; the default is the agent\'s, else defaults.engine', async (t) => {
  const { ctx } = setup(t);
  const m = ctx.manifest().manifest;
  t.same(engineChoices(m, 'implementer'), [
    { name: 'buildbox', where: 'tcp://10.0.0.5:2376', isDefault: true },
    { name: 'laptop', where: 'context laptop', isDefault: false },
    { name: 'local', where: 'the engine this shell selects', isDefault: false },
  ]);
  t.same(engineChoices(m, 'reviewer').filter((e) => e.isDefault).map((e) => e.name), ['local'], 'the agent\'s engine: wins over defaults');
  const one = setup(t, SINGLE);
  t.same(engineChoices(one.ctx.manifest().manifest, 'implementer'), [{ name: 'local', where: 'the engine this shell selects', isDefault: true }]);
});

t.test('n → agent → engine → plan on it → y starts there with --engine', async (t) => {
  const rec = mkdtempSync(join(tmpdir(), 'bottle-argv-'));
  t.teardown(() => rmSync(rec, { recursive: true, force: true }));
  const argvFile = join(rec, 'argv');
  // The "bottle" child records its argv and fails (a failed start ends the flow without an attach).
  const s = setup(t, MANIFEST, ['sh', '-c', `printf '%s\\n' "$@" > '${argvFile}'; exit 1`, 'sh']);
  await runEffect(s.ctx, { type: 'preflight', agent: 'implementer' });
  const asked = s.state().modal;
  t.match(asked, { kind: 'engine', agent: 'implementer', cursor: 0 }, 'several engines: asked first, cursor on the default');
  if (asked?.kind !== 'engine') return;
  t.same(asked.engines.map((e) => e.name), ['buildbox', 'laptop', 'local']);

  // j twice: local; k back: laptop; j: local again; Enter asks for the plan there.
  let st = press(press(press(s.state(), 'j').state, 'j').state, 'k').state;
  t.match(st.modal, { kind: 'engine', cursor: 1 });
  st = press(press(st, 'j').state, 'j').state;
  t.match(st.modal, { kind: 'engine', cursor: 2 }, 'the cursor stops at the last');
  const picked = press(st, 'enter');
  t.same(picked.effects, [{ type: 'preflight', agent: 'implementer', engine: 'local' }]);
  t.equal(picked.state.modal, undefined);
  t.same(press({ ...s.state(), modal: asked }, 'escape').state.modal, undefined, 'Esc closes');

  // The plan on the chosen engine (buildbox here): its engine line names it.
  s.set({ ...s.state(), modal: undefined });
  await runEffect(s.ctx, { type: 'preflight', agent: 'implementer', engine: 'buildbox' });
  const pre = s.state().modal;
  t.match(pre, { kind: 'preflight', agent: 'implementer', engine: 'buildbox' });
  t.ok(pre?.kind === 'preflight' && pre.lines.some((l) => /engine\s+buildbox \(tcp:\/\/10\.0\.0\.5:2376\)/.test(l)), 'the plan shows the engine');
  t.same(press(s.state(), 'y').effects, [{ type: 'launch', agent: 'implementer', engine: 'buildbox' }], 'y carries the engine on');

  // The child is detached and unref'd (a dashboard quitting never takes it down): hold the loop.
  const hold = setInterval(() => undefined, 1000);
  await runEffect(s.ctx, { type: 'launch', agent: 'implementer', engine: 'buildbox' });
  clearInterval(hold);
  const argv = readFileSync(argvFile, 'utf8').trim().split('\n');
  t.same(argv.slice(argv.indexOf('--engine'), argv.indexOf('--engine') + 2), ['--engine', 'buildbox'], 'the start child runs with --engine');
  t.match(s.state().status, { level: 'error', text: /start of implementer-\w+ failed/ }, 'its failure is said');
});

t.test('one engine in the manifest: nothing asked, the plan comes at once and start has no --engine', async (t) => {
  const s = setup(t, SINGLE);
  await runEffect(s.ctx, { type: 'preflight', agent: 'implementer' });
  t.match(s.state().modal, { kind: 'preflight', agent: 'implementer' });
  t.notOk(s.state().modal?.kind === 'preflight' && 'engine' in s.state().modal!, 'no engine chosen');
  t.same(press(s.state(), 'y').effects, [{ type: 'launch', agent: 'implementer' }]);
});

t.test('the engine modal: where each is, the default, and how many live bottles run there', async (t) => {
  const { ctx } = setup(t);
  const engines = engineChoices(ctx.manifest().manifest, 'implementer');
  const b = (slug: string, over: Partial<BottleStatus> = {}): BottleStatus => ({ slug, agent: 'implementer', backend: 'docker', state: 'running', engine: 'running', created: '', pendingProposals: 0, ...over });
  const bottles = [b('a', { on: 'buildbox' }), b('b', { on: 'buildbox' }), b('c'), b('d', { on: 'buildbox', state: 'stopped' })];
  t.same(engineItems(engines, bottles), [
    'buildbox  tcp://10.0.0.5:2376  (default)  2 running',
    'laptop    context laptop',
    'local     the engine this shell selects  1 running',
  ]);
  const state: AppState = { ...initialState(), bottles, modal: { kind: 'engine', agent: 'implementer', engines, cursor: 1 } };
  const m = modalModel(state, state.modal!, { width: 80, agentsRows: 10, proposalsRows: 10, modalWidth: 60, modalRows: 20 }, { now: 0, inTmux: true });
  t.equal(m.title, 'Start implementer on');
  t.match(m.lines.find((l) => l.inverse)?.text, /^laptop/, 'the cursor row is highlighted');
  t.match(m.footer, /Enter pick/);
});

t.test('the popup asks the dashboard: plan without an engine returns the choices; with one, the plan there', async (t) => {
  const { ctx } = setup(t);
  t.same(parseRequest('{"action":"plan","agent":"implementer","engine":"laptop"}'), { action: 'plan', agent: 'implementer', engine: 'laptop' });
  t.same(parseRequest('{"action":"plan","agent":"implementer","engine":7}'), { action: 'plan', agent: 'implementer' }, 'a non-string engine is dropped');
  const ask = await remoteAction(ctx, undefined, { action: 'plan', agent: 'implementer' });
  t.match(ask, { ok: true, engines: [{ name: 'buildbox', isDefault: true }, { name: 'laptop' }, { name: 'local' }] });
  t.notOk(ask.ok && ask.lines, 'no plan yet');
  const plan = await remoteAction(ctx, undefined, { action: 'plan', agent: 'implementer', engine: 'local' });
  t.ok(plan.ok && plan.lines?.some((l) => /engine\s+local/.test(l)), 'the plan on the chosen engine');
  t.match(await remoteAction(ctx, undefined, { action: 'plan', agent: 'implementer', engine: 'nope' }), { ok: false, error: /--engine nope: unknown engine; known: buildbox, laptop, local/ }, 'an unknown engine is refused in one line');
});
