import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { loadManifest, parseManifest } from '../../lib/manifest/index.js';
import { checkPlanPaths, preparePlan, renderPlan, type BottlePlan } from '../../lib/plan/index.js';
import { projectRoot } from '../../lib/paths.js';

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
    },
    supervise: false,
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
  t.ok(watcher.egress.passthrough.includes('api.anthropic.com'), 'the default Anthropic route is not DLP-scanned (conversations false-positive)');
});

t.test('a manifest route for api.anthropic.com replaces the default one', async (t) => {
  const r = parseManifest('version: 1\nagents:\n  a:\n    egress:\n      routes:\n        - host: api.anthropic.com\n          headers: { Authorization: "Bearer ${MY_KEY}" }\n', 'b.yaml');
  const plan = preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a');
  t.same(plan.egress.routes, [{ host: 'api.anthropic.com', headers: [{ name: 'Authorization', template: 'Bearer ${MY_KEY}', vars: ['MY_KEY'] }] }]);
});

t.test('unknown agents and backends are one-line UserErrors', async (t) => {
  t.throws(() => preparePlan(full, 'buildr'), new UserError('unknown agent buildr (did you mean builder?); full.yaml has: builder, watcher'));
  t.throws(() => preparePlan(full, 'nothing-like'), new UserError('unknown agent nothing-like; full.yaml has: builder, watcher'));
  t.throws(() => preparePlan(full, 'toString'), /unknown agent toString/, 'object prototype names are not agents');
  t.throws(() => preparePlan(full, 'builder', { backend: 'podman' }), new UserError('unknown backend podman; use docker or smolvm'));
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
  mkdirSync(join(home, 'ws'));
  const plan = preparePlan(full, 'builder', { workspace: join(home, 'ws') }, { HOME: home });
  t.throws(() => checkPlanPaths(plan, full), new UserError(`full.yaml:11:29: agents.builder.skills[1]: skill folder has no SKILL.md: ${home}/shared-skills/style`));
  writeFileSync(join(home, 'shared-skills', 'style', 'SKILL.md'), '---\nname: style\n---\n');
  t.doesNotThrow(() => checkPlanPaths(plan, full));
  const badWs = preparePlan(full, 'builder', { workspace: join(home, 'nope') }, { HOME: home });
  t.throws(() => checkPlanPaths(badWs), new UserError(`--workspace: workspace not found: ${join(home, 'nope')}`));
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
  t.match(text, /^supervise   off$/m);
  t.match(text, /^warning: host env not set: TRACE_ID, TRACE_PREFIX /m);
  for (const secret of ['ghp_secretvalue', 'sk-ant-secret', 'debug', '1.50', 'Bearer']) t.notMatch(text, secret, `no ${secret}`);
});

t.test('renderPlan: empty sections and a known slug', async (t) => {
  const plan: BottlePlan = {
    agent: 'a', slug: 'a-7f3k', backend: 'smolvm', image: 'img', envNames: [], skills: [], git: [],
    egress: { allow: [], block: [], routes: [{ host: 'h.com', headers: [{ name: 'X-Fixed', template: 'literal', vars: [] }] }], passthrough: [] },
    supervise: true, missingVars: [], manifestPath: '/m/bottle.yaml',
  };
  t.equal(renderPlan(plan), [
    'agent       a',
    'slug        a-7f3k',
    'backend     smolvm',
    'image       img',
    'manifest    /m/bottle.yaml',
    'workspace   (none)',
    'prompt      (none)',
    'env         (none)',
    'skills      (none)',
    'git         (none)',
    'allow       (none)',
    'routes      h.com  X-Fixed ← (fixed value)',
    'passthrough (none)',
    'supervise   on (agent can propose policy changes)',
  ].join('\n'));
});
