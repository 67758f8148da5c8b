// One template language: a route header written in the manifest means exactly what the gateway
// injects. Regression: the policy loader used to read a bare word (`X-Env: production`) as an
// env var name and refuse `$${`, so bottle start accepted a manifest whose route then 502'd.
import t from 'tap';
import { stringify } from 'yaml';
import { UserError } from '../../lib/errors.js';
import { policyTextFromPlan } from '../../lib/lifecycle/policy.js';
import { parseManifest, resolveRouteHeaders } from '../../lib/manifest/index.js';
import { preparePlan } from '../../lib/plan/index.js';
import { loadPolicy, renderRouteHeaders } from '../../lib/policy/index.js';

const HOST = 'api.route.test';

// The meaning of a template, written independently of lib/template.ts: `$${` is a literal `${`,
// `${NAME}` is env[NAME] (unset or empty = missing), anything else is itself.
function meaning(template: string, env: Record<string, string>): { value: string } | { missing: true } | { invalid: true } {
  if (template.trim() === '') return { invalid: true };
  let out = '';
  let missing = false;
  for (let i = 0; i < template.length;) {
    if (template.startsWith('$${', i)) { out += '${'; i += 3; continue; }
    if (template.startsWith('${', i)) {
      const end = template.indexOf('}', i);
      const name = end < 0 ? '' : template.slice(i + 2, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { invalid: true };
      if (env[name]) out += env[name]; else missing = true;
      i = end + 1;
      continue;
    }
    out += template[i];
    i += 1;
  }
  return missing ? { missing: true } : { value: out };
}

// What `bottle start` and then the gateway do with one manifest route header.
function pipeline(template: string, env: Record<string, string>): { value: string } | { missing: true } | { invalid: true } {
  const text = stringify({ version: 1, agents: { a: { egress: { routes: [{ host: HOST, headers: { 'X-Probe': template } }] } } } });
  const parsed = parseManifest(text, 'bottle.yaml');
  const policyRefuses = (() => {
    try { loadPolicy(stringify({ version: 1, routes: [{ host: HOST, headers: { 'X-Probe': template } }] }), 'policy.yaml'); return false; } catch { return true; }
  })();
  if (!parsed.manifest !== policyRefuses) throw new Error(`manifest ${parsed.manifest ? 'accepts' : 'refuses'} ${JSON.stringify(template)} but the policy loader ${policyRefuses ? 'refuses' : 'accepts'} it`);
  if (!parsed.manifest) return { invalid: true };
  const plan = preparePlan({ path: '/m/bottle.yaml', manifest: parsed.manifest }, 'a', {}, env);
  const route = plan.egress.routes.find((r) => r.host === HOST)!;
  let launched: string;
  try {
    launched = resolveRouteHeaders(route, env)['X-Probe']!;
  } catch (e) {
    if (e instanceof UserError && /needs host environment/.test(e.message)) return { missing: true };
    throw e;
  }
  // The policy file the gateway loads, rendered the way the gateway renders it.
  const policy = loadPolicy(policyTextFromPlan(plan), 'policy.yaml');
  const injected = renderRouteHeaders(policy.routes.find((r) => r.host === HOST)!, env)['X-Probe']!;
  if (injected !== launched) throw new Error(`launch resolved ${JSON.stringify(launched)} but the gateway injects ${JSON.stringify(injected)}`);
  return { value: injected };
}

// A small deterministic generator (no dependency): xorshift32.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}
const PIECES = ['production', 'GITHUB_TOKEN', ' ', 'Bearer ', '$', '{', '}', '$${', '${', '${TOKEN}', '${B_2}', '$$', 'x', ':', '${1BAD}', '%'];

t.test('examples that used to 502 or be refused mean the same on both sides', async (t) => {
  const env = { TOKEN: 'tok-1', B_2: 'b2' };
  t.same(pipeline('production', env), { value: 'production' }, 'a bare word is a literal, not an env var name');
  t.same(pipeline('GITHUB_TOKEN', env), { value: 'GITHUB_TOKEN' }, 'even when it looks like a variable name');
  t.same(pipeline('$${NOT_A_VAR} and ${TOKEN}', env), { value: '${NOT_A_VAR} and tok-1' }, '$${ is a literal ${');
  t.same(pipeline('Bearer ${TOKEN}', {}), { missing: true });
  t.same(pipeline('cost $5', env), { value: 'cost $5' });
});

t.test('property: for random templates and environments, manifest meaning = gateway injection', async (t) => {
  const next = rng(0xb0771e);
  let checked = 0;
  for (let n = 0; n < 2000; n++) {
    const len = 1 + Math.floor(next() * 6);
    let template = '';
    for (let i = 0; i < len; i++) template += PIECES[Math.floor(next() * PIECES.length)];
    const env: Record<string, string> = {};
    if (next() < 0.7) env.TOKEN = 'tok-$${x}';
    if (next() < 0.5) env.B_2 = next() < 0.2 ? '' : 'b2';
    const want = meaning(template, env);
    const got = pipeline(template, env);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.fail(`template ${JSON.stringify(template)} env ${JSON.stringify(env)}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      return;
    }
    checked++;
  }
  t.equal(checked, 2000);
});
