// The dashboard's questions before a resume (Enter on a stopped/down bottle) and a removal (D),
// issue 14: what the modal says comes from the bottle's state (lib/lifecycle planResume,
// describeSaved, lostWith); what would stop a resume is one status line naming the fix.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { lifecycleDeps, startBottle, stopBottle } from '../../lib/lifecycle/index.js';
import { loadManifest } from '../../lib/manifest/index.js';
import { projectRoot } from '../../lib/paths.js';
import { preparePlan } from '../../lib/plan/index.js';
import { createBottle } from '../../lib/state/index.js';
import { runEffect } from '../../panes/actions.js';
import type { ActionContext } from '../../panes/context.js';
import type { Modal } from '../../panes/modal.js';
import { initialState, type AppState } from '../../panes/state.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { crashFake, fakeBackends } from '../helpers/fake-backend.js';

const loaded = loadManifest({ flag: join(projectRoot(), 'examples', 'bottle.yaml'), cwd: projectRoot(), env: {} });

function setup(t: Test, extra: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-panes-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '0', HOME: dir, PATH: process.env.PATH,
    XDG_CONFIG_HOME: join(dir, 'config'), ANTHROPIC_API_KEY: 'sk-test-dummy', GITHUB_TOKEN: 'ghp-test-dummy', ...extra,
  };
  const deps = lifecycleDeps(env, { backends: fakeBackends });
  let state: AppState = initialState();
  const ctx = {
    store: { get: () => state, update: (fn: (s: AppState) => AppState) => { state = fn(state); } },
    deps, cwd: dir, bottleArgv: fakeBottleArgv(), reload: () => undefined, quit: () => undefined,
    manifest: () => loaded, view: {} as ActionContext['view'],
  } satisfies ActionContext;
  const start = async (): Promise<string> =>
    (await startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, { log: () => undefined, signal: new AbortController().signal })).slug;
  return { env, deps, ctx, start, state: () => state };
}

const confirm = (m: Modal | undefined): Extract<Modal, { kind: 'confirm' }> => {
  if (m?.kind !== 'confirm') throw new Error(`expected a confirm modal, got ${JSON.stringify(m)}`);
  return m;
};

t.test('Enter on a stopped bottle: the question names its saved work; y resumes', async (t) => {
  const { deps, ctx, start, state } = setup(t);
  const slug = await start();
  await stopBottle(deps, slug, () => undefined);
  await runEffect(ctx, { type: 'plan-resume', slug });
  const m = confirm(state().modal);
  t.equal(m.title, `Resume ${slug}?`);
  t.match(m.lines[0], /^agent reviewer on fake, stopped \d+s ago$/);
  t.ok(m.lines.includes('Its saved work: 0 unpushed commits, 0 uncommitted files, 0 claude sessions.'), m.lines.join('\n'));
  t.same(m.effect, { type: 'resume', slug });
});

t.test('Enter on a down bottle: nothing saved yet; what is left is saved first', async (t) => {
  const { env, ctx, start, state } = setup(t);
  const slug = await start();
  crashFake(env, slug);
  await runEffect(ctx, { type: 'plan-resume', slug });
  const m = confirm(state().modal);
  t.equal(m.lines[0], 'agent reviewer on fake, down (engine: exited)');
  t.ok(m.lines.includes('Nothing was saved: it comes back with a fresh workspace.'));
  t.ok(m.lines.includes('What is left of its containers is saved first.'));
});

t.test('a resume that could not work is one status line with the fix, not a question', async (t) => {
  const { deps, ctx, start, state } = setup(t, { ANTHROPIC_API_KEY: '' });
  const slug = await start();
  await stopBottle(deps, slug, () => undefined);
  await runEffect(ctx, { type: 'plan-resume', slug });
  t.equal(state().modal, undefined);
  t.equal(state().status?.level, 'error');
  t.match(state().status?.text, new RegExp(`^cannot resume ${slug}: no value for ANTHROPIC_API_KEY in the dashboard's environment; name a source in .*credentials\\.yaml`));

  const old = await createBottle(deps.root, 'reviewer', { backend: 'fake', state: 'stopped' });
  await runEffect(ctx, { type: 'plan-resume', slug: old.slug });
  t.equal(state().modal, undefined);
  t.match(state().status?.text, new RegExp(`${old.slug} has no recorded definition .*\`bottle rm ${old.slug}\` removes it`), 'a bottle from before resume existed');
});

t.test('D: the question names exactly what rm loses', async (t) => {
  const { deps, ctx, start, state } = setup(t);
  const running = await start();
  await runEffect(ctx, { type: 'plan-remove', slug: running });
  let m = confirm(state().modal);
  t.equal(m.title, `Remove ${running} for good?`);
  t.ok(m.lines.includes('This loses the running agent and its workspace (unsaved).'), m.lines.join('\n'));
  t.same(m.effect, { type: 'remove', slug: running });

  await stopBottle(deps, running, () => undefined);
  await runEffect(ctx, { type: 'plan-remove', slug: running });
  m = confirm(state().modal);
  t.ok(m.lines.includes('This loses the saved 0 unpushed commits, 0 uncommitted files, 0 claude sessions.'));
  t.ok(m.lines.includes(`bottle export ${running} keeps the work first (transcripts, git bundle, patch).`));

  const empty = await createBottle(deps.root, 'reviewer', { backend: 'fake', state: 'stopped' });
  await runEffect(ctx, { type: 'plan-remove', slug: empty.slug });
  t.same(confirm(state().modal).lines, ['Nothing is lost: no containers and no saved work.']);
});

t.test('a resume that fails is one status line; the bottle is stopped again, its saved work untouched', async (t) => {
  const { env, deps, ctx, start, state } = setup(t);
  const slug = await start();
  await stopBottle(deps, slug, () => undefined);
  // Outside tmux (no right pane): the log view shows the bring-up and then the outcome.
  env.BOTTLE_FAKE_FAIL = 'launch';
  // The child is unref'd (q must not wait for it): the dashboard's screen keeps node alive, here a timer.
  const alive = setInterval(() => undefined, 1000);
  try {
    await runEffect(ctx, { type: 'resume', slug });
  } finally {
    clearInterval(alive);
  }
  t.equal(state().status?.level, 'error');
  t.equal(state().status?.text, `resume of ${slug} failed: fake launch failure (BOTTLE_FAKE_FAIL=launch)`, 'the child\'s reason, once');
  const m = state().modal;
  t.equal(m?.kind === 'log' && m.title, `Resuming ${slug}`);
  t.match(m?.kind === 'log' ? m.lines.join('\n') : '', /resume failed: fake launch failure/);
  const meta = JSON.parse(readFileSync(join(deps.root, slug, 'metadata.json'), 'utf8')) as { state: string };
  t.equal(meta.state, 'stopped');
  t.ok(existsSync(join(deps.root, slug, 'saved', 'summary.json')), 'the save is untouched');
});
