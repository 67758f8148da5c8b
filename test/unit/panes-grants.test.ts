// The dashboard's approve box for an allowlist proposal offers a time-boxed grant; choosing one
// approves through lib/proposals approve() with the expiry timed from the approval. A push held
// for review gets its own box (what would leave; y forwards it); Enter shows a proposal.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { listProposals, pushLines, readDecision, writeProposal } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';
import { runEffect } from '../../panes/actions.js';
import type { ActionContext } from '../../panes/context.js';
import type { RightDirector } from '../../panes/right.js';
import { initialState, type AppState } from '../../panes/state.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { fakeBackends } from '../helpers/fake-backend.js';
import { writePushProposal } from '../helpers/push-proposal.js';

const POLICY = 'version: 1\nallow: [registry.npmjs.org]\n';

async function setup(t: Test, over: Partial<ActionContext> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-panes-grants-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config') };
  const deps = lifecycleDeps(env, { backends: fakeBackends });
  const b = await createBottle(deps.root, 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, POLICY);
  let state: AppState = initialState();
  const ctx = {
    store: { get: () => state, update: (fn: (s: AppState) => AppState) => { state = fn(state); } },
    deps, cwd: dir, bottleArgv: fakeBottleArgv(), reload: () => undefined, quit: () => undefined,
    manifest: () => { throw new Error('not used'); }, view: {} as ActionContext['view'], ...over,
  } satisfies ActionContext;
  // The proposals pane as the watcher fills it.
  const load = async () => { const rows = (await listProposals(deps.root)).rows; state = { ...state, proposals: rows }; };
  return { ctx, b, file, load, state: () => state };
}

t.test('plan-approve of an allowlist proposal opens a box with grants; approve with for 10m writes until', async (t) => {
  const { ctx, b, file, state } = await setup(t);
  const p = await writeProposal(b.paths.superviseQueue, { kind: 'allowlist', host: 'docs.example.org', reason: 'docs' }, { policyFile: file });
  await runEffect(ctx, { type: 'plan-approve', id: p.id, slug: b.slug });
  t.match(state().modal, { kind: 'confirm', grants: true, effect: { type: 'approve', id: p.id, slug: b.slug } });
  const before = Date.now();
  await runEffect(ctx, { type: 'approve', id: p.id, slug: b.slug, for: '10m' });
  const until = Date.parse(loadPolicy(readFileSync(file, 'utf8')).allowUntil?.['docs.example.org'] ?? '');
  t.ok(until >= before + 600_000 && until <= Date.now() + 600_000, 'ten minutes from the approval');
  t.match(await readDecision(b.paths.superviseDecisions, p.id), { decision: 'approved' });
  t.match(state().status?.text, /approved allowlist docs\.example\.org .*\+ allow docs\.example\.org \(until 20/);
});

t.test('plan-approve of a held push asks to forward it, showing what would leave; y forwards it, the policy untouched', async (t) => {
  const { ctx, b, file, state } = await setup(t);
  const p = await writePushProposal(b.paths.superviseQueue);
  await runEffect(ctx, { type: 'plan-approve', id: p.id, slug: b.slug });
  const m = state().modal;
  if (m?.kind !== 'confirm') throw new Error(`expected a confirm modal, got ${JSON.stringify(m)}`);
  t.equal(m.title, 'Forward the push to origin?');
  const stable = (lines: readonly string[]) => lines.filter((l) => !l.startsWith('  hold'));
  t.same(stable(m.lines), stable([...pushLines(p.payload.push!), '', 'Enter on it in the proposals pane shows the full diff first.']));
  t.match(m.lines.find((l) => l.startsWith('  hold')), /refused unless approved within/);
  t.same(m.effect, { type: 'approve', id: p.id, slug: b.slug });
  t.notOk(m.grants, 'no time grants for a push');
  await runEffect(ctx, m.effect);
  t.same(state().status, { text: `push from ${b.slug} approved: forwarding to origin`, level: 'info' });
  t.match(await readDecision(b.paths.superviseDecisions, p.id), { decision: 'approved' });
  t.equal(readFileSync(file, 'utf8'), POLICY);
});

t.test('show-proposal: `bottle proposals show` in the right pane, focused and labelled; outside tmux in the foreground', async (t) => {
  const shown: Array<{ argv: readonly string[]; label: string; occupant: string }> = [];
  const right = { show: async (argv: readonly string[], label: string, occupant: string) => { shown.push({ argv, label, occupant }); } } as unknown as RightDirector;
  const { ctx, b, file, load, state } = await setup(t, { right });
  const push = await writePushProposal(b.paths.superviseQueue);
  const allow = await writeProposal(b.paths.superviseQueue, { kind: 'allowlist', host: 'docs.example.org', reason: 'docs' }, { policyFile: file });
  await load();
  await runEffect(ctx, { type: 'show-proposal', id: push.id, slug: b.slug });
  await runEffect(ctx, { type: 'show-proposal', id: allow.id, slug: b.slug });
  t.same(shown, [
    { argv: [...fakeBottleArgv(), 'proposals', 'show', push.id], label: `push to origin (${b.slug}) - q closes`, occupant: `proposal:${push.id}` },
    { argv: [...fakeBottleArgv(), 'proposals', 'show', allow.id], label: `proposal docs.example.org (${b.slug}) - q closes`, occupant: `proposal:${allow.id}` },
  ]);
  t.equal(state().occupant, `proposal:${allow.id}`);

  const ran: Array<readonly string[]> = [];
  const view = { runForeground: async (argv: readonly string[]) => { ran.push(argv); return 3; } } as unknown as ActionContext['view'];
  const outside = await setup(t, { view });
  await runEffect(outside.ctx, { type: 'show-proposal', id: push.id, slug: b.slug });
  t.same(ran, [[...fakeBottleArgv(), 'proposals', 'show', push.id]]);
  t.same(outside.state().status, { text: `bottle proposals show ${push.id} exited 3`, level: 'error' }, 'a failure is one status line');
});
