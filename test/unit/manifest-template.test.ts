import t from 'tap';
import { UserError } from '../../lib/errors.js';
import { parseManifest, parseTemplate, resolveRouteHeaders, templateVars } from '../../lib/manifest/index.js';

t.test('parseTemplate splits literals and variables', async (t) => {
  t.same(parseTemplate('Bearer ${GITHUB_TOKEN}'), { parts: [{ literal: 'Bearer ' }, { variable: 'GITHUB_TOKEN' }] });
  t.same(parseTemplate('$${NOT_A_VAR}'), { parts: [{ literal: '${NOT_A_VAR}' }] }, '$${ is an escaped ${');
  t.same(parseTemplate('cost $5, $ alone, $X'), { parts: [{ literal: 'cost $5, $ alone, $X' }] }, 'bare $ stays literal');
  t.same(parseTemplate('${A}${B}'), { parts: [{ variable: 'A' }, { variable: 'B' }] });
  t.same(parseTemplate(''), { parts: [] });
  t.match(parseTemplate('${}'), { error: /is not an environment variable name/ });
  t.match(parseTemplate('x ${A'), { error: /unclosed \$\{/ });
});

t.test('templateVars lists names once, in order of first use', async (t) => {
  t.same(templateVars('${B} ${A} ${B} $${C}'), ['B', 'A']);
});

t.test('route headers record variable names and keep the template', async (t) => {
  const r = parseManifest(
    'version: 1\nagents:\n  a:\n    egress:\n      routes:\n        - host: api.github.com\n          headers: { Authorization: "Bearer ${GITHUB_TOKEN}" }\n',
    'bottle.yaml',
  );
  t.same(r.manifest!.agents.a!.egress.routes, [
    { host: 'api.github.com', headers: [{ name: 'Authorization', template: 'Bearer ${GITHUB_TOKEN}', vars: ['GITHUB_TOKEN'] }] },
  ]);
});

const route = {
  host: 'api.example.com',
  headers: [
    { name: 'Authorization', template: 'Bearer ${TOKEN}' },
    { name: 'X-Pair', template: '${USER_ID}:${SECRET_B} $${kept} $5' },
  ],
};

t.test('resolveRouteHeaders substitutes from env', async (t) => {
  const headers = resolveRouteHeaders(route, { TOKEN: 'tok-1', USER_ID: 'u', SECRET_B: 'b' });
  t.same({ ...headers }, { Authorization: 'Bearer tok-1', 'X-Pair': 'u:b ${kept} $5' });
});

t.test('a missing variable names every missing name and prints no value', async (t) => {
  const env = { TOKEN: 'super-secret-value', SECRET_B: '' };
  let caught: unknown;
  try {
    resolveRouteHeaders(route, env);
  } catch (e) {
    caught = e;
  }
  t.type(caught, UserError);
  const message = (caught as Error).message;
  t.match(message, /api\.example\.com/);
  t.match(message, /USER_ID, SECRET_B/, 'unset and empty both count as missing');
  t.notMatch(message, /super-secret-value/);
  t.notMatch(message, /TOKEN/, 'set variables are not mentioned');
  t.throws(() => resolveRouteHeaders({ host: 'h', headers: [{ name: 'A', template: '${X}' }] }, {}), /variable X, not set; export it/);
});
