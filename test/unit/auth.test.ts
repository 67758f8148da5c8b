// Issue 16 items 1 and 4, the manifest and plan half: how claude authenticates (auth: api-key |
// oauth-token | auto), what the default model route injects and what the agent holds for each,
// and how a budget is read from the manifest and merged into the plan.
import t, { type Test } from 'tap';
import { agentEnv } from '../../lib/backends/docker/plan.js';
import { parseManifest } from '../../lib/manifest/index.js';
import {
  PLACEHOLDER_API_KEY, PLACEHOLDER_OAUTH_TOKEN, authMissingText, resolveAuth, type PlanAuth,
} from '../../lib/plan/auth.js';
import { preparePlan, renderPlan, type BottlePlan } from '../../lib/plan/index.js';

const CREDS_PATH = '/home/op/.config/bottle/credentials.yaml';

// A manifest's text → the plan of its agent `a` in `env` (parse issues fail the test).
function plan(t: Test, text: string, env: NodeJS.ProcessEnv = {}, sourced?: Set<string>): BottlePlan {
  const r = parseManifest(text, 'b.yaml');
  t.same(r.issues, [], 'the manifest parses');
  return preparePlan({ path: '/x/b.yaml', manifest: r.manifest! }, 'a', sourced ? { sourced } : {}, env);
}
const issues = (text: string) => parseManifest(text, 'b.yaml').issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`);
const modelRoute = (p: BottlePlan) => p.egress.routes.find((r) => r.host === 'api.anthropic.com');
const envMap = (lines: string[]) => Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

t.test('resolveAuth: an explicit mode is taken as written; auto prefers the API key, then the token, else none', async (t) => {
  const has = (...names: string[]) => (n: string) => names.includes(n);
  t.same(resolveAuth('api-key', has()), { mode: 'api-key', from: 'manifest' });
  t.same(resolveAuth('oauth-token', has('ANTHROPIC_API_KEY')), { mode: 'oauth-token', from: 'manifest' }, 'explicit wins over what the host has');
  t.same(resolveAuth('auto', has('ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN')), { mode: 'api-key', from: 'auto' }, 'both: the API key first');
  t.same(resolveAuth('auto', has('CLAUDE_CODE_OAUTH_TOKEN')), { mode: 'oauth-token', from: 'auto' });
  t.same(resolveAuth('auto', has()), { mode: 'api-key', from: 'auto', none: true });

  const auto = 'version: 1\nagents: { a: {} }\n';
  t.same(plan(t, auto, { CLAUDE_CODE_OAUTH_TOKEN: 'tok' }).auth, { mode: 'oauth-token', from: 'auto' }, 'from the env');
  t.same(plan(t, auto, { ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: 'tok' }).auth, { mode: 'oauth-token', from: 'auto' }, 'an empty key is no key');
  t.same(plan(t, auto, {}, new Set(['CLAUDE_CODE_OAUTH_TOKEN'])).auth, { mode: 'oauth-token', from: 'auto' }, 'a credentials.yaml source counts');
  t.same(plan(t, auto, { CLAUDE_CODE_OAUTH_TOKEN: 'tok' }, new Set(['ANTHROPIC_API_KEY'])).auth, { mode: 'api-key', from: 'auto' }, 'a sourced key still comes first');
  t.same(plan(t, auto, {}).auth, { mode: 'api-key', from: 'auto', none: true });
  t.same(plan(t, 'version: 1\ndefaults: { auth: oauth-token }\nagents: { a: { auth: api-key } }\n', {}).auth, { mode: 'api-key', from: 'manifest' }, 'the agent\'s auth over the defaults\'');
});

t.test('authMissingText: one line that says how to get a credential', async (t) => {
  const cases: Array<[PlanAuth, RegExp]> = [
    [{ mode: 'api-key', from: 'auto', none: true }, /^no Claude credential on this host: export ANTHROPIC_API_KEY .*`claude setup-token`.*CLAUDE_CODE_OAUTH_TOKEN/],
    [{ mode: 'oauth-token', from: 'manifest' }, /^auth: oauth-token needs CLAUDE_CODE_OAUTH_TOKEN: run `claude setup-token`/],
    [{ mode: 'api-key', from: 'manifest' }, /^auth: api-key needs ANTHROPIC_API_KEY: .*auth: oauth-token instead$/],
  ];
  for (const [auth, re] of cases) {
    const text = authMissingText(auth, CREDS_PATH);
    t.match(text, re, JSON.stringify(auth));
    t.notMatch(text, /\n/, 'one line');
    t.match(text, `or name a source in ${CREDS_PATH}`, 'names credentials.yaml');
  }
});

t.test('auth: oauth-token → the default model route injects a bearer token; the key is not asked for', async (t) => {
  const text = 'version: 1\ndefaults: { auth: oauth-token }\nagents: { a: {} }\n';
  const unset = plan(t, text, { ANTHROPIC_API_KEY: 'sk-present' });
  t.same(modelRoute(unset), { host: 'api.anthropic.com', headers: [{ name: 'Authorization', template: 'Bearer ${CLAUDE_CODE_OAUTH_TOKEN}', vars: ['CLAUDE_CODE_OAUTH_TOKEN'] }], default: true });
  t.same(unset.missingVars, ['CLAUDE_CODE_OAUTH_TOKEN'], 'the token is missing; the key present is irrelevant');
  t.same(plan(t, text, { CLAUDE_CODE_OAUTH_TOKEN: 'tok' }).missingVars, []);
  const key = plan(t, 'version: 1\nagents: { a: {} }\n', { ANTHROPIC_API_KEY: 'sk' });
  t.same(modelRoute(key)?.headers, [{ name: 'x-api-key', template: '${ANTHROPIC_API_KEY}', vars: ['ANTHROPIC_API_KEY'] }], 'api-key: x-api-key');

  const own = plan(t, [
    'version: 1', 'defaults: { auth: oauth-token }', 'agents:', '  a:', '    egress:', '      routes:',
    '        - host: api.anthropic.com', '          headers: { x-api-key: "${MY_KEY}" }', '',
  ].join('\n'), { MY_KEY: 'k' });
  t.same(own.egress.routes.filter((r) => r.host === 'api.anthropic.com'), [{ host: 'api.anthropic.com', headers: [{ name: 'x-api-key', template: '${MY_KEY}', vars: ['MY_KEY'] }] }],
    'a manifest route for the model host still wins: no default route added');
  t.same(own.missingVars, []);
});

t.test('the agent holds only the placeholder of its mode; manifest env cannot name a credential', async (t) => {
  const token = envMap(agentEnv({ env: { LOG_LEVEL: 'debug' } }, 'oauth-token'));
  t.equal(token.CLAUDE_CODE_OAUTH_TOKEN, PLACEHOLDER_OAUTH_TOKEN);
  t.notOk('ANTHROPIC_API_KEY' in token, 'no API key: claude would prefer it over the token');
  t.notOk('ANTHROPIC_AUTH_TOKEN' in token);
  t.equal(token.LOG_LEVEL, 'debug');
  const key = envMap(agentEnv({ env: {} }));
  t.equal(key.ANTHROPIC_API_KEY, PLACEHOLDER_API_KEY, 'api-key by default');
  t.notOk('CLAUDE_CODE_OAUTH_TOKEN' in key);
  const smuggled = envMap(agentEnv({ env: { ANTHROPIC_API_KEY: 'sk-real', ANTHROPIC_AUTH_TOKEN: 'real', CLAUDE_CODE_OAUTH_TOKEN: 'real' } }, 'oauth-token'));
  t.same([smuggled.ANTHROPIC_API_KEY, smuggled.ANTHROPIC_AUTH_TOKEN, smuggled.CLAUDE_CODE_OAUTH_TOKEN], [undefined, undefined, PLACEHOLDER_OAUTH_TOKEN],
    'a credential in the agent spec never reaches the agent');
  t.match(PLACEHOLDER_OAUTH_TOKEN, /^sk-ant-oat01-/, 'the shape claude expects');

  t.same(issues('version: 1\nagents:\n  a:\n    env:\n      ANTHROPIC_AUTH_TOKEN: x\n      CLAUDE_CODE_OAUTH_TOKEN: y\n'), [
    '5:7: agents.a.env.ANTHROPIC_AUTH_TOKEN: ANTHROPIC_AUTH_TOKEN is set by bottle (the gateway injects your Claude credential; the agent only gets a placeholder)',
    '6:7: agents.a.env.CLAUDE_CODE_OAUTH_TOKEN: CLAUDE_CODE_OAUTH_TOKEN is set by bottle (the gateway injects your Claude credential; the agent only gets a placeholder)',
  ]);
});

t.test('auth: an unknown value is one issue naming the choices', async (t) => {
  for (const where of ['defaults: { auth: bogus }\nagents: { a: {} }\n', 'agents: { a: { auth: bogus } }\n']) {
    const got = issues(`version: 1\n${where}`);
    t.equal(got.length, 1, where);
    t.match(got[0], /auth: expected one of: api-key, oauth-token, auto \(/, where);
  }
  t.equal(issues('version: 1\nagents: { a: { auth: [api-key] } }\n').length, 1, 'not a string: one issue');
});

t.test('budget: usd, tokens and warn_at are checked; the plan merges the agent\'s keys over the defaults\'', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['{ usd: -1 }', /budget\.usd: expected USD from 0 to 1000000$/],
    ['{ usd: 2000000 }', /budget\.usd: expected USD from 0/],
    ['{ usd: ten }', /budget\.usd: expected USD \(e\.g\. 10 or 2\.50\), got /],
    ['{ tokens: 1.5 }', /budget\.tokens: /],
    ['{ tokens: -5 }', /budget\.tokens: expected a number of tokens from 0/],
    ['{ warn_at: 0 }', /budget\.warn_at: expected a fraction above 0 and at most 1/],
    ['{ warn_at: 1.5 }', /budget\.warn_at: expected a fraction above 0 and at most 1/],
    ['{ dollars: 5 }', /budget\.dollars: unknown key/],
  ];
  for (const [b, re] of bad) {
    const got = issues(`version: 1\nagents: { a: { budget: ${b} } }\n`);
    t.equal(got.length, 1, b);
    t.match(got[0], re, b);
  }
  t.same(issues('version: 1\nagents: { a: { budget: { usd: 0, tokens: 0, warn_at: 1 } } }\n'), [], 'the bounds themselves are fine');

  t.same(plan(t, 'version: 1\ndefaults: { budget: { usd: 10 } }\nagents: { a: {} }\n').budget, { warnAt: 0.8, usd: 10 }, 'warn_at defaults to 0.8');
  t.same(plan(t, 'version: 1\ndefaults: { budget: { usd: 10, warn_at: 0.5 } }\nagents: { a: { budget: { tokens: 2000000 } } }\n').budget,
    { warnAt: 0.5, usd: 10, tokens: 2000000 }, 'key by key: the defaults\' usd and warn_at stay');
  t.same(plan(t, 'version: 1\ndefaults: { budget: { usd: 10, tokens: 5 } }\nagents: { a: { budget: { usd: 2.5, warn_at: 0.9 } } }\n').budget,
    { warnAt: 0.9, usd: 2.5, tokens: 5 }, 'the agent\'s usd over the defaults\'');
  const none = plan(t, 'version: 1\ndefaults: { budget: { warn_at: 0.5 } }\nagents: { a: {} }\n');
  t.notOk('budget' in none, 'only warn_at caps nothing: no plan.budget');
  t.notOk('budget' in plan(t, 'version: 1\nagents: { a: {} }\n'), 'no budget anywhere');
});

t.test('renderPlan shows the auth and the budget', async (t) => {
  const p = plan(t, 'version: 1\ndefaults: { auth: oauth-token, budget: { usd: 10, tokens: 2000000, warn_at: 0.75 } }\nagents: { a: {} }\n', { CLAUDE_CODE_OAUTH_TOKEN: 'tok' });
  const lines = renderPlan(p).split('\n');
  t.ok(lines.includes('auth        subscription OAuth token ($CLAUDE_CODE_OAUTH_TOKEN); the agent holds a placeholder'), 'the auth line');
  t.ok(lines.includes('budget      $10.00 or 2M tokens over the bottle\'s life (warns at 75%; model requests refused at the cap)'), 'the budget line');
  const auto = renderPlan(plan(t, 'version: 1\nagents: { a: {} }\n', { ANTHROPIC_API_KEY: 'sk' })).split('\n');
  t.ok(auto.includes('auth        API key ($ANTHROPIC_API_KEY), chosen by auto; the agent holds a placeholder'), 'auto says so');
  t.notOk(auto.some((l) => l.startsWith('budget')), 'no budget line without a cap');
});
