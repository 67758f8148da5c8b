import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { loadManifest, parseManifest } from '../../lib/manifest/index.js';
import { agentPrompt, ASK_PROMPT, checkPlanPaths, preparePlan, renderPlan, type BottlePlan } from '../../lib/plan/index.js';
import { reviewPrompt } from '../../lib/plan/prompt.js';
import { projectRoot } from '../../lib/paths.js';
import { policyFromPlan, policyTextFromPlan } from '../../lib/lifecycle/policy.js';
import { loadPolicy, MODEL_API_PATHS } from '../../lib/policy/index.js';

const fixtures = join(projectRoot(), 'test', 'fixtures', 'manifests');
const full = loadManifest({ flag: 'full.yaml', cwd: fixtures, env: {} });
const example = loadManifest({ flag: join(projectRoot(), 'examples', 'bottle.yaml'), cwd: fixtures, env: {} });

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-plan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('preparePlan resolves an agent against the manifest and options', async (t) => {
  const plan = preparePlan(full, 'builder', {}, { HOME: '/home/op', GITHUB_TOKEN: 'x' });
  t.same(plan, {
    agent: 'builder',
    backend: 'docker',
    engine: { name: 'local', host: 'unix:///var/run/docker.sock' },
    image: 'example/builder:latest',
    envNames: ['LOG_LEVEL', 'RATIO', 'RETRIES', 'VERBOSE'],
    skills: [join(fixtures, 'skills', 'lint'), '/home/op/shared-skills/style'],
    git: [
      { name: 'origin', upstream: 'git@github.com:acme/app.git', identity: '/home/op/.ssh/bottle_ed25519' },
      { name: 'mirror', upstream: 'https://git.example.com/acme/app.git' },
      { name: 'local', upstream: '/srv/git/app.git' },
    ],
    egress: {
      allow: ['registry.npmjs.org', '*.githubusercontent.com', '10.0.0.7', '::1'],
      block: ['evil.example.com'],
      routes: [
        { host: 'api.github.com', headers: [
          { name: 'Authorization', template: 'Bearer ${GITHUB_TOKEN}', vars: ['GITHUB_TOKEN'] },
          { name: 'X-Trace', template: '${TRACE_PREFIX}-${TRACE_ID} costs $5 and $${literal}', vars: ['TRACE_PREFIX', 'TRACE_ID'] },
        ] },
        { host: 'api.anthropic.com', headers: [{ name: 'x-api-key', template: '${ANTHROPIC_API_KEY}', vars: ['ANTHROPIC_API_KEY'] }], default: true },
      ],
      passthrough: ['api.anthropic.com'],
      model: { host: 'api.anthropic.com', serverFetch: false },
    },
    supervise: false,
    auth: { mode: 'api-key', from: 'auto', none: true },
    missingVars: ['ANTHROPIC_API_KEY', 'TRACE_ID', 'TRACE_PREFIX'],
    manifestPath: join(fixtures, 'full.yaml'),
    prompt: 'Build things.\nCarefully.\n',
    workspace: join(fixtures, 'repo'),
    workspaceFrom: 'manifest',
  });
});

t.test('options override the manifest; defaults fill the gaps', async (t) => {
  const plan = preparePlan(full, 'builder', { backend: 'smolvm', workspace: 'src/app', cwd: '/work/op', slug: 'builder-x1' }, { HOME: '/h' });
  t.same([plan.backend, plan.workspace, plan.workspaceFrom, plan.slug], ['smolvm', '/work/op/src/app', 'option', 'builder-x1']);
  const watcher = preparePlan(full, 'watcher', {}, { ANTHROPIC_API_KEY: 'k' });
  t.same([watcher.backend, watcher.image, watcher.supervise, watcher.workspace, watcher.missingVars], ['smolvm', 'example/agent:1.2', true, undefined, []]);
  t.same(watcher.egress.routes.map((r) => r.host), ['api.anthropic.com'], 'every plan gets the Anthropic route');
  t.same(watcher.egress.passthrough, [], 'the Anthropic route is terminated, not passthrough');
  t.same(watcher.egress.model, { host: 'api.anthropic.com', serverFetch: false }, 'it is the model route (no pattern DLP, claude\'s API calls only)');
});

t.test('a manifest route for api.anthropic.com replaces the default one', async (t) => {
  const r = parseManifest('version: 1\nagents:\n  a:\n    egress:\n      routes:\n        - host: api.anthropic.com\n          headers: { Authorization: "Bearer ${MY_KEY}" }\n', 'b.yaml');
  const plan = preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a');
  t.same(plan.egress.routes, [{ host: 'api.anthropic.com', headers: [{ name: 'Authorization', template: 'Bearer ${MY_KEY}', vars: ['MY_KEY'] }] }]);
  t.same(plan.egress.model, { host: 'api.anthropic.com', serverFetch: false }, 'still the model route');
});

t.test('defaults.model.serverFetch reaches the plan and the preflight', async (t) => {
  const r = parseManifest('version: 1\ndefaults: { model: { serverFetch: true } }\nagents: { a: {} }\n', 'b.yaml');
  const plan = preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a');
  t.same(plan.egress.model, { host: 'api.anthropic.com', serverFetch: true });
  t.match(renderPlan(plan), /^model       api\.anthropic\.com \(claude's API calls only; server-side URL fetch allowed\)$/m);
});

t.test('unknown agents and backends are one-line UserErrors', async (t) => {
  t.throws(() => preparePlan(full, 'buildr'), new UserError('unknown agent buildr (did you mean builder?); full.yaml has: builder, watcher'));
  t.throws(() => preparePlan(full, 'nothing-like'), new UserError('unknown agent nothing-like; full.yaml has: builder, watcher'));
  t.throws(() => preparePlan(full, 'toString'), /unknown agent toString/, 'object prototype names are not agents');
  t.throws(() => preparePlan(full, 'builder', { backend: 'podman' }), new UserError('unknown backend podman; use docker or smolvm'));
  t.throws(() => preparePlan(full, 'builder', { backend: 'kubernetes' }), { message: /^the kubernetes backend exists only on paper \(docs\/kubernetes\.md\) .*; use docker or smolvm$/ });
  t.throws(() => preparePlan(full, 'builder', {}, {}), /cannot expand ~\/shared-skills\/style: HOME is not set/);
});

t.test('checkPlanPaths names every missing path at its manifest position', async (t) => {
  const home = scratch(t);
  const plan = preparePlan(full, 'builder', {}, { HOME: home });
  const err = t.throws(() => checkPlanPaths(plan, full)) as UserError;
  t.type(err, UserError);
  t.equal(err.message, [
    `full.yaml:11:29: agents.builder.skills[1]: skill folder not found: ${home}/shared-skills/style`,
    `full.yaml:17:16: agents.builder.workspace: workspace not found: ${join(fixtures, 'repo')}`,
    `full.yaml:21:19: agents.builder.git[0].identity: identity file not found: ${home}/.ssh/bottle_ed25519`,
  ].join('; '));
});

t.test('checkPlanPaths passes when everything exists; a skill needs SKILL.md', async (t) => {
  const home = scratch(t);
  mkdirSync(join(home, 'shared-skills', 'style'), { recursive: true });
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh', 'bottle_ed25519'), 'key');
  mkdirSync(join(home, 'ws', '.git'), { recursive: true });
  const plan = preparePlan(full, 'builder', { workspace: join(home, 'ws') }, { HOME: home });
  t.throws(() => checkPlanPaths(plan, full), new UserError(`full.yaml:11:29: agents.builder.skills[1]: skill folder has no SKILL.md: ${home}/shared-skills/style`));
  writeFileSync(join(home, 'shared-skills', 'style', 'SKILL.md'), '---\nname: style\n---\n');
  t.doesNotThrow(() => checkPlanPaths(plan, full));
  const badWs = preparePlan(full, 'builder', { workspace: join(home, 'nope') }, { HOME: home });
  t.throws(() => checkPlanPaths(badWs, full), new UserError(`--workspace: workspace not found: ${join(home, 'nope')}`));
});

t.test('checkPlanPaths applies the policy\'s egress rules at the manifest entry (lib/policy/conflicts.ts)', async (t) => {
  const check = (egress: string) => {
    const r = parseManifest(`version: 1\nagents:\n  a:\n    egress:\n${egress}`, 'b.yaml');
    const loaded = { path: '/x/b.yaml', display: 'b.yaml', positions: r.positions, manifest: r.manifest! };
    return () => checkPlanPaths(preparePlan(loaded, 'a'), loaded);
  };
  t.throws(check('      block: [h.com]\n      routes:\n        - { host: h.com, headers: { A: b } }\n'),
    new UserError('b.yaml:7:19: agents.a.egress.routes[0].host: h.com is also blocked by "h.com"; remove one of them'));
  t.throws(check('      allow: ["*.x.org"]\n      passthrough: [a.x.org, "*.y.org"]\n'),
    new UserError('b.yaml:6:30: agents.a.egress.passthrough[1]: *.y.org is not allowed; add it to allow (passthrough only turns TLS interception off for a host that is allowed or routed)'));
  t.doesNotThrow(check('      routes:\n        - { host: h.com, headers: { A: b } }\n      passthrough: [h.com, api.anthropic.com]\n'), 'a route host (the default model route too) may be passthrough');
});

t.test('the example plan passes its path checks', async (t) => {
  for (const agent of ['implementer', 'reviewer']) t.doesNotThrow(() => checkPlanPaths(preparePlan(example, agent, {}, { HOME: '/h' }), example));
});

t.test('renderPlan: a readable preflight block, env and credentials by name only', async (t) => {
  const text = renderPlan(preparePlan(full, 'builder', {}, { HOME: '/home/op', GITHUB_TOKEN: 'ghp_secretvalue', ANTHROPIC_API_KEY: 'sk-ant-secret' }));
  t.equal(text.split('\n')[0], 'agent       builder');
  t.match(text, /^slug        \(minted at launch\)$/m);
  t.match(text, /^backend     docker$/m);
  t.match(text, /^image       example\/builder:latest$/m);
  t.match(text, /^prompt      Build things\. \(\+1 more lines\)$/m);
  t.match(text, /^env         LOG_LEVEL\n            RATIO\n            RETRIES\n            VERBOSE$/m);
  t.match(text, /^skills      .*\/skills\/lint\n            \/home\/op\/shared-skills\/style$/m);
  t.match(text, /^git         origin → git@github\.com:acme\/app\.git \(identity \/home\/op\/\.ssh\/bottle_ed25519\)$/m);
  t.match(text, /^routes      api\.github\.com  Authorization ← \$GITHUB_TOKEN$/m);
  t.match(text, /^            api\.github\.com  X-Trace ← \$TRACE_PREFIX \$TRACE_ID$/m);
  t.match(text, /^            api\.anthropic\.com  x-api-key ← \$ANTHROPIC_API_KEY \(default\)$/m);
  t.match(text, /^block       evil\.example\.com$/m);
  t.match(text, /^passthrough api\.anthropic\.com$/m);
  t.match(text, /^model       api\.anthropic\.com \(claude's API calls only; server-side URL fetch refused\)$/m);
  t.match(text, /^supervise   off$/m);
  t.notMatch(text, /bottle's note/, 'no note on asking without supervise to ask');
  t.match(text, /^warning: host env not set: TRACE_ID, TRACE_PREFIX /m);
  for (const secret of ['ghp_secretvalue', 'sk-ant-secret', 'debug', '1.50', 'Bearer']) t.notMatch(text, secret, `no ${secret}`);
});

t.test('renderPlan: empty sections and a known slug', async (t) => {
  const plan: BottlePlan = {
    agent: 'a', slug: 'a-7f3k', backend: 'smolvm', image: 'img', envNames: [], skills: [], git: [],
    egress: { allow: [], block: [], routes: [{ host: 'h.com', headers: [{ name: 'X-Fixed', template: 'literal', vars: [] }] }], passthrough: [] },
    supervise: true, auth: { mode: 'api-key', from: 'manifest' }, missingVars: [], manifestPath: '/m/bottle.yaml',
  };
  t.equal(renderPlan(plan), [
    'agent       a',
    'slug        a-7f3k',
    'backend     smolvm',
    'image       img',
    'manifest    /m/bottle.yaml',
    'workspace   (none)',
    'prompt      (none)',
    '            + bottle\'s note: a 403 "blocked: ..." means ask with propose_allowlist_change',
    'env         (none)',
    'skills      (none)',
    'git         (none)',
    'allow       (none)',
    'routes      h.com  X-Fixed ← (fixed value)',
    'passthrough (none)',
    'auth        API key ($ANTHROPIC_API_KEY); the agent holds a placeholder',
    'supervise   on (agent can propose policy changes)',
  ].join('\n'));
});

t.test('the bottle policy marks the plan\'s model route (written by bottle, not guessed from the host)', async (t) => {
  const on = parseManifest('version: 1\ndefaults: { model: { serverFetch: true } }\nagents: { a: {} }\n', 'b.yaml');
  const policy = loadPolicy(policyTextFromPlan(preparePlan({ path: '/x/b.yaml', manifest: on.manifest! }, 'a')));
  t.same(policy.model, { host: 'api.anthropic.com', paths: [...MODEL_API_PATHS], serverFetch: true });
  t.same(policy.passthrough, [], 'the model route is terminated, not passthrough');
  const plain = preparePlan({ path: '/x/b.yaml', manifest: parseManifest('version: 1\nagents: { a: {} }\n', 'b.yaml').manifest! }, 'a');
  t.equal(policyFromPlan(plain).model!.serverFetch, false, 'server-side fetching is off by default');
  t.equal(policyFromPlan({ ...plain, egress: { ...plain.egress, model: undefined } }).model, undefined, 'a plan without a model route writes none');
});

t.test('a route port reaches the plan, the preflight (when not 443) and the bottle policy', async (t) => {
  const r = parseManifest(
    'version: 1\nagents:\n  a:\n    egress:\n      routes:\n        - { host: git.corp.test, port: 8443, headers: { Authorization: "Bearer ${CORP}" } }\n        - { host: api.github.com, port: 443, headers: { Authorization: "Bearer ${GH}" } }\n',
    'b.yaml',
  );
  const plan = preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a', {}, { CORP: 'x', GH: 'y' });
  t.same(plan.egress.routes.map((route) => [route.host, route.port]), [['git.corp.test', 8443], ['api.github.com', undefined], ['api.anthropic.com', undefined]]);
  t.match(renderPlan(plan), /^routes      git\.corp\.test:8443  Authorization ← \$CORP$/m);
  t.match(renderPlan(plan), /^            api\.github\.com  Authorization ← \$GH$/m, 'the default port is not shown');
  const policy = loadPolicy(policyTextFromPlan(plan));
  t.same(policy.routes.map((route) => [route.host, route.port]), [['git.corp.test', 8443], ['api.github.com', undefined], ['api.anthropic.com', undefined]]);
});

t.test('git review reaches the plan, the preflight (the hold as prose) and the agent prompt', async (t) => {
  const r = parseManifest([
    'version: 1', 'agents:', '  a:', '    supervise: false', '    git:',
    '      - { name: origin, upstream: /srv/app.git, review: true }',
    '      - { name: docs, upstream: /srv/docs.git, review: 90s }',
    '      - { name: mirror, upstream: /srv/mirror.git, review: 2h }',
    '      - { name: plain, upstream: /srv/plain.git, review: false }', '',
  ].join('\n'), 'b.yaml');
  t.same(r.issues, []);
  const plan = preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a');
  t.same(plan.git, [
    { name: 'origin', upstream: '/srv/app.git', review: { holdMs: 600_000 } },
    { name: 'docs', upstream: '/srv/docs.git', review: { holdMs: 90_000 } },
    { name: 'mirror', upstream: '/srv/mirror.git', review: { holdMs: 7_200_000 } },
    { name: 'plain', upstream: '/srv/plain.git' },
  ]);
  const text = renderPlan(plan);
  t.match(text, /^git         origin → \/srv\/app\.git \(pushes wait for your review, up to 10 min\)$/m);
  t.match(text, /^            docs → \/srv\/docs\.git \(pushes wait for your review, up to 90 s\)$/m);
  t.match(text, /^            mirror → \/srv\/mirror\.git \(pushes wait for your review, up to 2 h\)$/m);
  t.match(text, /^            plain → \/srv\/plain\.git$/m, 'no review: no note');

  t.equal(agentPrompt(plan), `${reviewPrompt(['origin', 'docs', 'mirror'])}\n`, 'supervise off, no prompt: the review note alone, naming the reviewed remotes');
  t.match(reviewPrompt(['origin']), /^A git push to origin waits for the operator's review .*"waiting for operator review".*fails with the operator's note/);
  t.equal(agentPrompt({ ...plan, prompt: 'Work.', supervise: true }), `Work.\n\n${ASK_PROMPT}\n\n${reviewPrompt(['origin', 'docs', 'mirror'])}\n`, 'after the manifest prompt and the asking note');
  const unreviewed = { ...plan, git: plan.git.filter((g) => !g.review) };
  t.equal(agentPrompt(unreviewed), undefined, 'no remote with review: nothing appended');
  t.equal(agentPrompt({ prompt: 'Work.', supervise: false }), 'Work.\n', 'a plan without git');
  t.notMatch(renderPlan(unreviewed), /review/);
});
