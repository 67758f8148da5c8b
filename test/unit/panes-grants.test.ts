// The dashboard's approve box for an allowlist proposal offers a time-boxed grant; choosing one
// approves through lib/proposals approve() with the expiry timed from the approval.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lifecycleDeps } from '../../lib/lifecycle/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { readDecision, writeProposal } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';
import { runEffect } from '../../panes/actions.js';
import type { ActionContext } from '../../panes/context.js';
import { initialState, type AppState } from '../../panes/state.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { fakeBackends } from '../helpers/fake-backend.js';

t.test('plan-approve of an allowlist proposal opens a box with grants; approve with for 10m writes until', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-panes-grants-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config') };
  const deps = lifecycleDeps(env, { backends: fakeBackends });
  const b = await createBottle(deps.root, 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, 'version: 1\nallow: [registry.npmjs.org]\n');
  const p = await writeProposal(b.paths.superviseQueue, { kind: 'allowlist', host: 'docs.example.org', reason: 'docs' }, { policyFile: file });
  let state: AppState = initialState();
  const ctx = {
    store: { get: () => state, update: (fn: (s: AppState) => AppState) => { state = fn(state); } },
    deps, cwd: dir, bottleArgv: fakeBottleArgv(), reload: () => undefined, quit: () => undefined,
    manifest: () => { throw new Error('not used'); }, view: {} as ActionContext['view'],
  } satisfies ActionContext;
  await runEffect(ctx, { type: 'plan-approve', id: p.id, slug: b.slug });
  t.match(state.modal, { kind: 'confirm', grants: true, effect: { type: 'approve', id: p.id, slug: b.slug } });
  const before = Date.now();
  await runEffect(ctx, { type: 'approve', id: p.id, slug: b.slug, for: '10m' });
  const until = Date.parse(loadPolicy(readFileSync(file, 'utf8')).allowUntil?.['docs.example.org'] ?? '');
  t.ok(until >= before + 600_000 && until <= Date.now() + 600_000, 'ten minutes from the approval');
  t.match(await readDecision(b.paths.superviseDecisions, p.id), { decision: 'approved' });
  t.match(state.status?.text, /approved allowlist docs\.example\.org .*\+ allow docs\.example\.org \(until 20/);
});
