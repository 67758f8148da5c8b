// policy.yaml loading, errors with file:line:col, serialisation, hashing, merges and reload.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  addAllow, addRoute, loadPolicy, policyHash, PolicyError, reload, renderRouteHeaders,
  routeEnvNames, routeSecretValues, serializePolicy, DEFAULT_LIMITS, MODEL_API_PATHS,
} from '../../lib/policy/index.js';
import { UserError } from '../../lib/errors.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/policy/${name}`, import.meta.url)), 'utf8');

function loadError(text: string): PolicyError {
  try {
    loadPolicy(text, 'p.yaml');
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  throw new Error('expected a PolicyError');
}

t.test('the example fixture loads with normalised hosts and defaults', async (t) => {
  const p = loadPolicy(fixture('example.yaml'), 'example.yaml');
  t.same(p.allow, ['registry.npmjs.org', '*.githubusercontent.com', 'api.anthropic.com', '93.184.216.34']);
  t.same(p.block, ['evil.example.com']);
  t.same(p.routes, [{ host: 'api.github.com', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }]);
  t.same(p.passthrough, ['api.anthropic.com']);
  t.equal(p.limits.maxBodyBytes, 5 * 1024 * 1024);
  t.equal(p.limits.maxUrlLength, DEFAULT_LIMITS.maxUrlLength);
  t.same(p.dlp, { headers: 'all', entropy: true });
});

t.test('host entries are normalised: case, trailing dot, IP spellings, IDN', async (t) => {
  const p = loadPolicy('version: 1\nallow: [Example.COM., "0x5db8d822", "[::1]", "bücher.example"]\n');
  t.same(p.allow, ['example.com', '93.184.216.34', '::1', 'xn--bcher-kva.example']);
});

t.test('errors name file:line:col and the key path', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown top-level key', 'version: 1\nallowed: [x.com]\n', /^p\.yaml:2:1: allowed: unknown key/],
    ['URL instead of host', 'version: 1\nallow:\n  - ok.com\n  - https://x.com/a\n', /^p\.yaml:4:5: allow\[1\]: "https:\/\/x\.com\/a" is a URL/],
    ['port in host', 'version: 1\nallow: ["x.com:443"]\n', /^p\.yaml:2:9: allow\[0\]: .*has a port/],
    ['wildcard in the middle', 'version: 1\nblock: ["a.*.com"]\n', /^p\.yaml:2:9: block\[0\]: .*leading/],
    ['not a list', 'version: 1\nallow: x.com\n', /^p\.yaml:2:8: allow: must be a list/],
    ['number host', 'version: 1\nallow: [42]\n', /^p\.yaml:2:9: allow\[0\]: must be a string/],
    ['missing version', 'allow: [x.com]\n', /^p\.yaml:1:1: missing "version: 1"/],
    ['wrong version', 'version: 2\n', /^p\.yaml:1:10: version: must be 1/],
    ['empty file', '', /^p\.yaml:1:1: policy file is empty/],
    ['yaml syntax', 'version: 1\nallow: [x.com\n', /^p\.yaml:\d+:\d+: /],
    ['duplicate key', 'version: 1\nallow: []\nallow: []\n', /^p\.yaml:3:1: .*[Uu]nique/],
    ['route empty value', 'version: 1\nroutes:\n  - host: api.x.com\n    headers:\n      Authorization: " "\n', /^p\.yaml:5:22: routes\[0\]\.headers\.Authorization: header value is empty/],
    ['route unclosed reference', 'version: 1\nroutes:\n  - host: api.x.com\n    headers:\n      Authorization: "Bearer ${TOK"\n', /^p\.yaml:5:22: routes\[0\]\.headers\.Authorization: unclosed \$\{ at character 8; write \$\$\{ for a literal \$\{/],
    ['route bad reference', 'version: 1\nroutes:\n  - host: a.com\n    headers: { X-Key: "${1BAD}" }\n', /routes\[0\]\.headers\.X-Key: \$\{1BAD\} is not an environment variable name/],
    ['route wildcard host', 'version: 1\nroutes:\n  - host: "*.x.com"\n    headers: { X-Key: K }\n', /^p\.yaml:3:11: routes\[0\]\.host: .*exact host/],
    ['route unknown key', 'version: 1\nroutes:\n  - host: a.com\n    header: { X-Key: K }\n', /^p\.yaml:4:5: routes\[0\]\.header: unknown key/],
    ['route reserved header', 'version: 1\nroutes:\n  - host: a.com\n    headers: { Host: K }\n', /routes\[0\]\.headers\.Host: .*managed by the gateway/],
    ['route missing headers', 'version: 1\nroutes:\n  - host: a.com\n', /^p\.yaml:3:5: routes\[0\]: missing "headers"/],
    ['duplicate route', 'version: 1\nroutes:\n  - { host: a.com, headers: { A: K } }\n  - { host: A.com, headers: { B: K } }\n', /^p\.yaml:4:5: routes\[1\]\.host: duplicate route/],
    ['route host blocked', 'version: 1\nblock: ["*.a.com"]\nroutes:\n  - { host: x.a.com, headers: { A: K } }\n', /routes\[0\]\.host: x\.a\.com is also blocked/],
    ['passthrough not allowed', 'version: 1\nallow: [a.com]\npassthrough: [b.com]\n', /^p\.yaml:3:15: passthrough\[0\]: b\.com is not allowed/],
    ['limits unknown key', 'version: 1\nlimits: { maxUrl: 10 }\n', /^p\.yaml:2:11: limits\.maxUrl: unknown key/],
    ['limits not integer', 'version: 1\nlimits: { maxUrlLength: 1.5 }\n', /limits\.maxUrlLength: must be an integer/],
    ['size unit', 'version: 1\nlimits: { maxBodyBytes: 10 parsecs }\n', /limits\.maxBodyBytes: must be a byte count/],
    ['dlp sensitive mode', 'version: 1\ndlp: { headers: sensitive }\n', /^p\.yaml:2:17: dlp\.headers: only "all"/],
    ['dlp entropy not bool', 'version: 1\ndlp: { entropy: maybe }\n', /dlp\.entropy: must be true or false/],
  ];
  for (const [name, text, re] of cases) {
    const e = loadError(text);
    t.match(e.message, re, name);
    t.ok(e instanceof UserError, `${name}: is a UserError`);
    t.notMatch(e.message, /\n/, `${name}: one line`);
  }
});

t.test('passthrough is accepted when a route or a covering wildcard allows it', async (t) => {
  t.doesNotThrow(() => loadPolicy('version: 1\nroutes: [{ host: a.com, headers: { A: K } }]\npassthrough: [a.com]\n'));
  t.doesNotThrow(() => loadPolicy('version: 1\nallow: ["*.x.com"]\npassthrough: ["*.api.x.com", y.x.com]\n'));
  t.doesNotThrow(() => loadPolicy('version: 1\nallow: ["*"]\npassthrough: [z.com]\n'));
  t.throws(() => loadPolicy('version: 1\nallow: [x.com]\npassthrough: ["*.x.com"]\n'), PolicyError);
});

t.test('sizes accept units', async (t) => {
  t.equal(loadPolicy('version: 1\nlimits: { maxBodyBytes: 512KiB }\n').limits.maxBodyBytes, 512 * 1024);
  t.equal(loadPolicy('version: 1\nlimits: { maxBodyBytes: 2048 }\n').limits.maxBodyBytes, 2048);
  t.throws(() => loadPolicy('version: 1\nlimits: { maxBodyBytes: 10 }\n'), /between 1KiB and 1GiB/);
});

t.test('serializePolicy round-trips through loadPolicy', async (t) => {
  const p = loadPolicy(fixture('example.yaml'));
  const text = serializePolicy(p);
  t.same(loadPolicy(text), p);
  t.equal(policyHash(loadPolicy(text)), policyHash(p));
  const minimal = loadPolicy('version: 1\n');
  t.same(loadPolicy(serializePolicy(minimal)), minimal);
});

t.test('policyHash is stable under reordering and changes with meaning', async (t) => {
  const a = loadPolicy('version: 1\nallow: [a.com, b.com]\n');
  const b = loadPolicy('version: 1\nallow: [b.com, A.com]\nlimits: { maxUrlLength: 2048 }\n');
  t.equal(policyHash(a), policyHash(b));
  t.match(policyHash(a), /^sha256:[0-9a-f]{64}$/);
  t.not(policyHash(a), policyHash(loadPolicy('version: 1\nallow: [a.com]\n')));
  t.not(policyHash(a), policyHash(loadPolicy('version: 1\nallow: [a.com, b.com]\ndlp: { entropy: false }\n')));
});

t.test('addAllow merges a proposal and refuses bad or blocked hosts', async (t) => {
  const p = loadPolicy('version: 1\nallow: [a.com]\nblock: ["*.evil.test"]\n');
  const q = addAllow(p, 'Pypi.org');
  t.same(q.allow, ['a.com', 'pypi.org']);
  t.same(p.allow, ['a.com'], 'input not mutated');
  t.equal(addAllow(q, 'pypi.org'), q, 'idempotent');
  t.throws(() => addAllow(p, 'x.evil.test'), /blocked by "\*\.evil\.test"/);
  t.throws(() => addAllow(p, 'http://x.com'), /is a URL/);
  t.throws(() => addAllow(p, '*'), /every host/);
  t.same(loadPolicy(serializePolicy(q)), q);
});

t.test('addRoute adds or extends a route and keeps it loadable', async (t) => {
  const p = loadPolicy('version: 1\nroutes: [{ host: api.github.com, headers: { Authorization: "Bearer ${OLD}" } }]\n');
  const q = addRoute(p, 'api.github.com', { authorization: 'Bearer ${GITHUB_TOKEN}', 'X-Extra': 'EXTRA' });
  t.same(q.routes, [{ host: 'api.github.com', headers: { authorization: 'Bearer ${GITHUB_TOKEN}', 'X-Extra': '${EXTRA}' } }], 'a typed bare name is stored as ${NAME}');
  const r = addRoute(q, 'gitlab.com', { 'PRIVATE-TOKEN': 'GITLAB_TOKEN' });
  t.equal(r.routes.length, 2);
  t.throws(() => addRoute(p, 'x.com', { A: 'literal value' }), /must name a host env var as \$\{NAME\}.*never hold the secret itself/, 'an approval must reference a credential');
  t.throws(() => addRoute(p, '*.x.com', { A: 'K' }), /exact host/);
  t.throws(() => addRoute(p, 'x.com', {}), /at least one header/);
});

t.test('reload keeps the old policy when the new text is invalid', async (t) => {
  const old = loadPolicy('version: 1\nallow: [a.com]\n');
  const bad = reload(old, 'version: 1\nallow: [https://b.com]\n', 'policy.yaml');
  t.equal(bad.policy, old);
  t.equal(bad.changed, false);
  t.match(bad.error?.message, /^policy\.yaml:2:9: allow\[0\]/);
  const truncated = reload(old, '', 'policy.yaml');
  t.equal(truncated.policy, old, 'an empty (truncated) file is rejected too');
  const good = reload(old, 'version: 1\nallow: [a.com, b.com]\n');
  t.same(good.policy.allow, ['a.com', 'b.com']);
  t.equal(good.changed, true);
  t.equal(good.error, undefined);
  t.equal(reload(old, 'version: 1\nallow: [a.com]\n').changed, false);
});

t.test('route templates: env names, rendering, secret values', async (t) => {
  const p = loadPolicy('version: 1\nroutes:\n  - host: a.com\n    headers: { Authorization: "Bearer ${TOK}", X-Key: KEY, X-Both: "${TOK}:${KEY}", X-Lit: "$${TOK}" }\n');
  const route = p.routes[0]!;
  t.same(routeEnvNames(route).sort(), ['KEY', 'TOK']);
  const env = { TOK: 'tok-value-123', KEY: 'key-value-456' };
  t.same(renderRouteHeaders(route, env), { Authorization: 'Bearer tok-value-123', 'X-Key': 'KEY', 'X-Both': 'tok-value-123:key-value-456', 'X-Lit': '${TOK}' },
    'a bare word is literal text and $${ a literal ${, as in the manifest');
  t.throws(() => renderRouteHeaders(route, { TOK: 'x' }), /needs env var KEY/);
  t.same(routeSecretValues(p, env).sort(), ['key-value-456', 'tok-value-123']);
  t.same(routeSecretValues(p, {}), []);
});

t.test('model: the model API route, its path list and the serverFetch opt-in', async (t) => {
  const base = 'version: 1\nroutes: [{ host: api.anthropic.com, headers: { x-api-key: ANTHROPIC_API_KEY } }]\n';
  const p = loadPolicy(`${base}model: { host: API.Anthropic.com. }\n`);
  t.same(p.model, { host: 'api.anthropic.com', paths: [...MODEL_API_PATHS], serverFetch: false }, 'defaults filled, host normalised');
  t.ok(p.model!.paths.includes('POST /v1/messages'));
  const custom = loadPolicy(`${base}model:\n  host: api.anthropic.com\n  paths: ["POST /v1/messages", "GET /v1/files/*", "* /api/x"]\n  serverFetch: true\n`);
  t.same(custom.model, { host: 'api.anthropic.com', paths: ['POST /v1/messages', 'GET /v1/files/*', '* /api/x'], serverFetch: true });
  t.equal(loadPolicy(base).model, undefined, 'no model section: no model route');

  const cases: Array<[string, string, RegExp]> = [
    ['not a route host', 'version: 1\nallow: [api.anthropic.com]\nmodel: { host: api.anthropic.com }\n', /^p\.yaml:3:8: model\.host: api\.anthropic\.com is not a route host/],
    ['no host', `${base}model: { serverFetch: true }\n`, /^p\.yaml:3:8: model: missing "host"$/],
    ['wildcard host', `${base}model: { host: "*.anthropic.com" }\n`, /model\.host: "\*\.anthropic\.com" must be one exact host name/],
    ['unknown key', `${base}model: { host: api.anthropic.com, fetch: true }\n`, /model\.fetch: unknown key \(expected one of: host, paths, serverFetch\)$/],
    ['bad path entry', `${base}model: { host: api.anthropic.com, paths: ["/v1/messages"] }\n`, /^p\.yaml:3:43: model\.paths\[0\]: must be "METHOD \/path"/],
    ['lower-case method', `${base}model: { host: api.anthropic.com, paths: ["post /v1/messages"] }\n`, /model\.paths\[0\]: must be/],
    ['serverFetch not a boolean', `${base}model: { host: api.anthropic.com, serverFetch: "yes" }\n`, /model\.serverFetch: must be true or false$/],
  ];
  for (const [what, text, want] of cases) t.match(loadError(text).message, want, what);
});

t.test('model: serialised (the built-in path list left implicit), hashed, round-tripped', async (t) => {
  const base = 'version: 1\nroutes: [{ host: api.anthropic.com, headers: { x-api-key: ANTHROPIC_API_KEY } }]\n';
  const p = loadPolicy(`${base}model: { host: api.anthropic.com }\n`);
  const text = serializePolicy(p);
  t.match(text, /^model:\n  host: api\.anthropic\.com\n  serverFetch: false\n/m);
  t.same(loadPolicy(text), p);
  const custom = loadPolicy(`${base}model: { host: api.anthropic.com, paths: ["POST /v1/messages"], serverFetch: true }\n`);
  t.same(loadPolicy(serializePolicy(custom)), custom);
  t.not(policyHash(p), policyHash(custom));
  t.not(policyHash(p), policyHash(loadPolicy(base)), 'the model section is part of the meaning');
  t.equal(policyHash(loadPolicy(base)), policyHash(loadPolicy(serializePolicy(loadPolicy(base)))));
});

t.test('dlp.ignore: finding fingerprints, checked for shape, round-tripped, part of the hash', async (t) => {
  const fpA = 'sha256:0123456789abcdef';
  const fpB = 'sha256:fedcba9876543210';
  const p = loadPolicy(`version: 1\nallow: [a.com]\ndlp:\n  ignore: ["${fpA}", "${fpB}", "${fpA}"]\n`);
  t.same(p.dlp.ignore, [fpA, fpB], 'duplicates dropped');
  t.same(loadPolicy(serializePolicy(p)), p, 'serializePolicy keeps it');
  t.equal(loadPolicy('version: 1\ndlp: { ignore: [] }\n').dlp.ignore, undefined, 'an empty list is no list');
  t.not(policyHash(p), policyHash(loadPolicy('version: 1\nallow: [a.com]\n')));
  t.equal(policyHash(p), policyHash(loadPolicy(`version: 1\nallow: [a.com]\ndlp: { ignore: ["${fpB}", "${fpA}"] }\n`)), 'order does not matter');
  t.same(addAllow(p, 'b.com').dlp.ignore, [fpA, fpB], 'a proposal merge leaves it alone');
  const cases: Array<[string, string, RegExp]> = [
    ['the secret instead of its fingerprint', 'version: 1\ndlp:\n  ignore: ["AKIA0123"]\n', /^p\.yaml:3:12: dlp\.ignore\[0\]: expected a finding fingerprint like sha256:/],
    ['a full sha256', `version: 1\ndlp: { ignore: ["${fpA}${fpA.slice(7)}"] }\n`, /^p\.yaml:2:17: dlp\.ignore\[0\]: expected a finding fingerprint/],
    ['upper-case hex', 'version: 1\ndlp: { ignore: ["sha256:0123456789ABCDEF"] }\n', /dlp\.ignore\[0\]: expected a finding fingerprint/],
    ['not a list', `version: 1\ndlp: { ignore: "${fpA}" }\n`, /^p\.yaml:2:16: dlp\.ignore: must be a list/],
  ];
  for (const [name, text, re] of cases) t.match(loadError(text).message, re, name);
});
