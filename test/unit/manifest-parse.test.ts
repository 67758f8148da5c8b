import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestError, formatIssue, parseManifest } from '../../lib/manifest/index.js';
import { projectRoot } from '../../lib/paths.js';

const fixtures = join(projectRoot(), 'test', 'fixtures', 'manifests');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');

// Formatted issues for a manifest text, as `bottle manifest check` prints them.
function errors(text: string, file = 'bottle.yaml'): string[] {
  return parseManifest(text, file).issues.map(formatIssue);
}

const head = 'version: 1\nagents:\n';

t.test('the shipped example validates', async (t) => {
  const r = parseManifest(readFileSync(join(projectRoot(), 'examples', 'bottle.yaml'), 'utf8'), 'examples/bottle.yaml');
  t.same(r.issues, []);
  t.same(Object.keys(r.manifest!.agents), ['implementer', 'reviewer']);
  const impl = r.manifest!.agents.implementer!;
  t.same(impl.egress.routes[0]!.headers[0]!.vars, ['GITHUB_TOKEN']);
  t.ok(impl.egress.allow.includes('registry.npmjs.org'));
  t.ok(impl.git.length > 0 && impl.skills.length > 0 && impl.prompt);
});

t.test('a minimal manifest gets every default', async (t) => {
  const r = parseManifest(fixture('minimal.yaml'), 'minimal.yaml');
  t.same(r.issues, []);
  t.same(r.manifest!.defaults, { backend: 'docker', image: 'bottle-agent:latest' });
  const solo = r.manifest!.agents.solo!;
  t.equal(solo.name, 'solo');
  t.equal(solo.supervise, true);
  t.equal(solo.prompt, undefined);
  t.equal(solo.workspace, undefined);
  t.same([solo.skills, solo.git, Object.keys(solo.env)], [[], [], []]);
  t.same(solo.egress, { allow: [], block: [], routes: [], passthrough: [] });
});

t.test('a manifest using every key', async (t) => {
  const r = parseManifest(fixture('full.yaml'), 'full.yaml');
  t.same(r.issues, []);
  const m = r.manifest!;
  t.same(m.defaults, { backend: 'smolvm', image: 'example/agent:1.2' });
  const b = m.agents.builder!;
  t.equal(b.prompt, 'Build things.\nCarefully.\n');
  t.same(b.skills, ['./skills/lint', '~/shared-skills/style']);
  t.same({ ...b.env }, { LOG_LEVEL: 'debug', RETRIES: '3', RATIO: '1.50', VERBOSE: 'true' }, 'scalars kept as source text');
  t.equal(b.workspace, './repo');
  t.same(b.git, [
    { name: 'origin', upstream: 'git@github.com:acme/app.git', identity: '~/.ssh/bottle_ed25519' },
    { name: 'mirror', upstream: 'https://git.example.com/acme/app.git' },
    { name: 'local', upstream: '/srv/git/app.git' },
  ]);
  t.same(b.egress.allow, ['registry.npmjs.org', '*.githubusercontent.com', '10.0.0.7', '::1'], 'hosts lowercased');
  t.same(b.egress.block, ['evil.example.com']);
  t.same(b.egress.passthrough, ['api.anthropic.com']);
  t.same(b.egress.routes, [{
    host: 'api.github.com',
    headers: [
      { name: 'Authorization', template: 'Bearer ${GITHUB_TOKEN}', vars: ['GITHUB_TOKEN'] },
      { name: 'X-Trace', template: '${TRACE_PREFIX}-${TRACE_ID} costs $5 and $${literal}', vars: ['TRACE_PREFIX', 'TRACE_ID'] },
    ],
  }]);
  t.same([b.supervise, b.backend, b.image], [false, 'docker', 'example/builder:latest']);
  t.same(m.agents.watcher!.egress.allow, ['*'], '"*" is allowed in allow (DLP-only mode)');
  t.same(r.positions.get('agents.builder.skills[0]'), { line: 11, col: 14 });
  t.same(r.positions.get('agents.builder.workspace'), { line: 17, col: 16 });
});

t.test('an unknown key is reported at the key, with a suggestion', async (t) => {
  t.same(errors(fixture('unknown-key.yaml')), ['bottle.yaml:7:5: agents.implementer.promt: unknown key; did you mean prompt?']);
  t.same(errors('version: 1\nagents: { a: {} }\nextra: 1\n'), ['bottle.yaml:3:1: extra: unknown key; expected one of: version, engines, defaults, agents']);
  t.same(errors('version: 1\ndefaults: { backend: docker, colour: red }\nagents: { a: {} }\n'),
    ['bottle.yaml:2:30: defaults.colour: unknown key; expected one of: backend, image, model, auth, budget, dlp, supervise, prices, engine']);
  t.same(errors(`${head}  a:\n    egress:\n      allowed: [x.com]\n`), ['bottle.yaml:5:7: agents.a.egress.allowed: unknown key; did you mean allow?']);
});

t.test('YAML syntax errors carry file:line:col and the first line of the message', async (t) => {
  t.same(errors(`${head}  a:\n    prompt: a: b\n`), ['bottle.yaml:4:13: Nested mappings are not allowed in compact mappings']);
  t.same(errors(`${head}  a:\n\tprompt: x\n`), ['bottle.yaml:4:1: Tabs are not allowed as indentation']);
  const [unterminated] = errors(`${head}  a:\n    prompt: "no end\n`);
  t.match(unterminated, /^bottle\.yaml:5:1: Missing closing "quote/, 'yaml reports an open quote where the input ends');
  t.notMatch(unterminated, /\n/, 'one line');
  t.same(errors(`${head}  a: {}\n  a: {}\n`), ['bottle.yaml:4:3: Map keys must be unique']);
  t.same(errors('version: 1\n---\nagents: {}\n'), ['bottle.yaml:2:1: a manifest is a single YAML document; remove the extra ---']);
});

t.test('wrong types name the key path and what was found', async (t) => {
  t.same(errors(`${head}  a:\n    skills: ./skills/x\n`), ['bottle.yaml:4:13: agents.a.skills: expected a list, got a string']);
  t.same(errors(`${head}  a:\n    supervise: maybe\n`), ['bottle.yaml:4:16: agents.a.supervise: expected true, false or a mapping (auto_approve: [hosts]), got a string']);
  t.same(errors(`${head}  a:\n    prompt: [a]\n`), ['bottle.yaml:4:13: agents.a.prompt: expected a prompt, got a list']);
  t.same(errors(`${head}  a:\n    prompt:\n`), ['bottle.yaml:4:5: agents.a.prompt: expected a prompt, got nothing'], 'empty value: at the key');
  t.same(errors(`${head}  a:\n    env: { N: ~ }\n`), ['bottle.yaml:4:12: agents.a.env.N: expected a string, number or boolean, got nothing'], 'null: at the key');
  t.same(errors(`${head}  a:\n    backend: podman\n`), ['bottle.yaml:4:14: agents.a.backend: expected one of: docker, smolvm']);
  t.same(errors('version: 1\nagents: [a]\n'), ['bottle.yaml:2:9: agents: expected a mapping, got a list']);
  t.same(errors(`${head}  a:\n    image: "my image"\n`), ['bottle.yaml:4:12: agents.a.image: an image reference has no spaces']);
});

t.test('version is required and must be 1', async (t) => {
  t.same(errors('agents: { a: {} }\n'), ['bottle.yaml:1:1: version: required; add version: 1 at the top']);
  t.same(errors('version: 2\nagents: { a: {} }\n'), ['bottle.yaml:1:10: version: unsupported version 2; this bottle understands version 1']);
  t.same(errors('version: "1"\nagents: { a: {} }\n'), ['bottle.yaml:1:10: version: expected 1']);
});

t.test('agents: required, non-empty, well named', async (t) => {
  t.same(errors('version: 1\n'), ['bottle.yaml:1:1: agents: required; name at least one agent under agents:']);
  t.same(errors('version: 1\nagents: {}\n'), ['bottle.yaml:2:9: agents: expected at least one agent']);
  t.same(errors(`${head}  Implementer: {}\n`),
    ['bottle.yaml:3:3: agents.Implementer: expected an agent name: a lowercase letter, then up to 30 lowercase letters, digits or -']);
  t.equal(errors(`${head}  a${'b'.repeat(31)}: {}\n`).length, 1, '32 characters is too long');
  t.same(errors(`${head}  a${'b'.repeat(30)}: {}\n`), [], '31 characters is fine');
  t.same(errors(''), ['bottle.yaml:1:1: the manifest is empty; expected a mapping with version: 1 and agents:']);
});

t.test('hosts: hostnames, *.domain, IPs; "*" only in allow', async (t) => {
  t.same(errors(`${head}  implementer:\n    egress:\n      routes:\n        - host: "*.github.com"\n          headers: { A: b }\n`),
    ['bottle.yaml:6:17: agents.implementer.egress.routes[0].host: expected a hostname']);
  t.same(errors(`${head}  a:\n    egress:\n      allow: [ok.com, not_a_host!, -bad.com, 999]\n`), [
    'bottle.yaml:5:23: agents.a.egress.allow[1]: expected a host pattern (a hostname, *.domain or an IP address, or "*")',
    'bottle.yaml:5:36: agents.a.egress.allow[2]: expected a host pattern (a hostname, *.domain or an IP address, or "*")',
    'bottle.yaml:5:46: agents.a.egress.allow[3]: expected a host pattern, got a number (999)',
  ]);
  t.same(errors(`${head}  a:\n    egress:\n      block: ["*"]\n      passthrough: ["*.x.org", 1.2.3.999]\n`), [
    'bottle.yaml:5:15: agents.a.egress.block[0]: "*" is only meaningful in egress.allow',
    'bottle.yaml:6:32: agents.a.egress.passthrough[1]: expected a host pattern (a hostname, *.domain or an IP address)',
  ]);
});

t.test('routes: header names, duplicates, templates', async (t) => {
  const route = (headers: string, host = 'api.x.com'): string =>
    `${head}  a:\n    egress:\n      routes:\n        - host: ${host}\n          headers:\n${headers}`;
  t.same(errors(route('            Bad Header: x\n')),
    ["bottle.yaml:8:13: agents.a.egress.routes[0].headers.Bad Header: expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"]);
  t.same(errors(route('            X-A: a\n            x-a: b\n')),
    ['bottle.yaml:9:13: agents.a.egress.routes[0].headers.x-a: duplicate header x-a (header names are case-insensitive)']);
  t.same(errors(route('            X-A: "${1BAD}"\n')), ['bottle.yaml:8:18: agents.a.egress.routes[0].headers.X-A: ${1BAD} is not an environment variable name']);
  t.same(errors(route('            X-A: "pre ${OPEN"\n')),
    ['bottle.yaml:8:18: agents.a.egress.routes[0].headers.X-A: unclosed ${ at character 5; write $${ for a literal ${']);
  t.same(errors(route('            X-A: "a\\r\\nInjected: b"\n')),
    ['bottle.yaml:8:18: agents.a.egress.routes[0].headers.X-A: header value contains a line break or NUL']);
  t.same(errors(route('            X-A: 5\n')), ['bottle.yaml:8:18: agents.a.egress.routes[0].headers.X-A: expected a header value, got a number (5)']);
  t.same(errors(`${head}  a:\n    egress:\n      routes:\n        - host: h.com\n`), ['bottle.yaml:6:11: agents.a.egress.routes[0].headers: required (the headers the gateway injects)']);
  t.same(errors(`${head}  a:\n    egress:\n      routes:\n        - { host: h.com, headers: {A: b} }\n        - { host: H.com, headers: {A: b} }\n`),
    ['bottle.yaml:7:19: agents.a.egress.routes[1].host: duplicate route for h.com (first at line 6)']);
  // A blocked route is the policy's rule, checked on the plan (plan.test.ts, egress-rules-cli.test.ts).
  t.same(errors(`${head}  a:\n    egress:\n      block: [h.com]\n      routes:\n        - { host: h.com, headers: {A: b} }\n`), []);
});

t.test('git: names, upstream forms, duplicates', async (t) => {
  const git = (items: string): string => `${head}  a:\n    git:\n${items}`;
  t.same(errors(git('      - { name: origin, upstream: "git@h.com:a/b.git" }\n      - { name: origin, upstream: "ssh://git@h.com:22/a/b.git" }\n')),
    ['bottle.yaml:6:17: agents.a.git[1].name: duplicate git remote name origin (first at line 5)']);
  t.same(errors(git('      - { name: "a b", upstream: /srv/x.git }\n')), ['bottle.yaml:5:17: agents.a.git[0].name: expected a remote name (letters, digits, ., _ and -)']);
  t.same(errors(git('      - { name: "..", upstream: /srv/x.git }\n')).length, 1, '.. is not a name');
  t.same(errors(git('      - { name: o, upstream: "http://h.com/a.git" }\n')),
    ['bottle.yaml:5:30: agents.a.git[0].upstream: unsupported scheme http://; use ssh://, https://, git:// or file://']);
  t.same(errors(git('      - { name: o, upstream: "https://me:hunter2@h.com/a.git" }\n')),
    ['bottle.yaml:5:30: agents.a.git[0].upstream: credentials in the URL; use identity (ssh) or an egress route instead']);
  t.same(errors(git('      - { name: o, upstream: relative/path }\n')),
    ['bottle.yaml:5:30: agents.a.git[0].upstream: expected a git URL (git@host:path, ssh://, https://, git://, file://) or an absolute path']);
  t.same(errors(git('      - { name: o }\n')), ['bottle.yaml:5:9: agents.a.git[0].upstream: required (the repository git-gate pushes to)']);
  for (const ok of ['git://h.com/a.git', 'file:///srv/a.git', 'https://h.com/a/b', 'deploy@h.example.com:team/repo.git']) {
    t.same(errors(git(`      - { name: o, upstream: "${ok}" }\n`)), [], ok);
  }
});

t.test('git review: true (10 min), a duration from 10s to 24h, or false; anything else is one issue naming what to write', async (t) => {
  const git = (review: string): string => `${head}  a:\n    git:\n      - name: o\n        upstream: /srv/x.git\n        review: ${review}\n`;
  const holdOf = (review: string) => parseManifest(git(review), 'bottle.yaml').manifest!.agents.a!.git[0]!.review;
  t.same(holdOf('true'), { holdMs: 600_000 }, 'true: the default hold');
  t.same(holdOf('30m'), { holdMs: 1_800_000 });
  t.same(holdOf('90s'), { holdMs: 90_000 });
  t.same(holdOf('2h'), { holdMs: 7_200_000 });
  t.same([holdOf('10s'), holdOf('24h')], [{ holdMs: 10_000 }, { holdMs: 86_400_000 }], 'the bounds are inclusive');
  t.equal(holdOf('false'), undefined, 'false: no review');
  t.same(parseManifest(git('false'), 'bottle.yaml').manifest!.agents.a!.git, [{ name: 'o', upstream: '/srv/x.git' }], 'and no review key at all');
  const what = 'expected true, false or how long a push may wait for you, from 10s to 24h (e.g. 30m)';
  for (const bad of ['5s', '25h', 'soon', '30M', '1d']) {
    t.same(errors(git(bad)), [`bottle.yaml:7:17: agents.a.git[0].review: ${what}, got "${bad}"`], bad);
  }
  t.same(errors(git('[30m]')), ['bottle.yaml:7:17: agents.a.git[0].review: expected true, false or a duration such as 30m, got a list']);
  t.same(errors(git('30')), ['bottle.yaml:7:17: agents.a.git[0].review: expected true, false or a duration such as 30m, got a number (30)'], 'a bare number has no unit');
});

t.test('env: names, reserved names, value kinds', async (t) => {
  t.same(errors(`${head}  a:\n    env:\n      9LIVES: x\n      HTTPS_PROXY: http://evil\n      ANTHROPIC_API_KEY: sk-live\n`), [
    'bottle.yaml:5:7: agents.a.env.9LIVES: expected an environment variable name (letters, digits and _, not starting with a digit)',
    'bottle.yaml:6:7: agents.a.env.HTTPS_PROXY: HTTPS_PROXY is set by bottle (bottle points the agent at its gateway)',
    'bottle.yaml:7:7: agents.a.env.ANTHROPIC_API_KEY: ANTHROPIC_API_KEY is set by bottle (the gateway injects your Claude credential; the agent only gets a placeholder)',
  ]);
  const r = parseManifest(`${head}  a:\n    env: { __proto__: x, toString: y }\n`, 'bottle.yaml');
  t.same(r.issues, [], 'regression: the reserved-name table once matched toString/__proto__ through Object.prototype');
  t.equal(r.manifest!.agents.a!.env.__proto__, 'x', 'env is a plain record, safe for any valid name');
});

t.test('skills: folder names must be distinct', async (t) => {
  t.same(errors(`${head}  a:\n    skills: [./one/review, ./two/review/]\n`),
    ['bottle.yaml:4:28: agents.a.skills[1]: two skills named review (first at line 4); they would overwrite each other']);
});

t.test('anchors and aliases are followed', async (t) => {
  const r = parseManifest(`${head}  a:\n    egress: &e\n      allow: [x.com]\n  b:\n    egress: *e\n`, 'bottle.yaml');
  t.same(r.issues, []);
  t.same(r.manifest!.agents.b!.egress.allow, ['x.com']);
});

t.test('every problem is collected; the error message carries the first', async (t) => {
  const issues = parseManifest(fixture('many-errors.yaml'), 'many-errors.yaml').issues;
  t.same(issues.map(formatIssue), [
    'many-errors.yaml:4:16: agents.implementer.supervise: expected true, false or a mapping (auto_approve: [hosts]), got a string',
    'many-errors.yaml:6:15: agents.implementer.egress.allow[0]: expected a host pattern (a hostname, *.domain or an IP address, or "*")',
    'many-errors.yaml:8:17: agents.implementer.egress.routes[0].host: expected a hostname',
  ]);
  const e = new ManifestError(issues);
  t.equal(e.message, 'many-errors.yaml:4:16: agents.implementer.supervise: expected true, false or a mapping (auto_approve: [hosts]), got a string (and 2 more; run bottle manifest check)');
  t.equal(new ManifestError(issues.slice(0, 1)).message, formatIssue(issues[0]!));
});

t.test('defaults.model.serverFetch: the opt-in to server-side URL fetching on the model route', async (t) => {
  const on = parseManifest('version: 1\ndefaults:\n  model: { serverFetch: true }\nagents: { a: {} }\n', 'bottle.yaml');
  t.same(on.issues, []);
  t.same(on.manifest!.defaults.model, { serverFetch: true });
  t.same(parseManifest('version: 1\ndefaults: { model: {} }\nagents: { a: {} }\n', 'b.yaml').manifest!.defaults.model, { serverFetch: false });
  t.equal(parseManifest(`${head}  a: {}\n`, 'b.yaml').manifest!.defaults.model, undefined, 'absent unless set');
  t.same(errors('version: 1\ndefaults:\n  model: { serverfetch: true }\nagents: { a: {} }\n'),
    ['bottle.yaml:3:12: defaults.model.serverfetch: unknown key; did you mean serverFetch?']);
  t.same(errors('version: 1\ndefaults:\n  model: { serverFetch: "yes" }\nagents: { a: {} }\n'),
    ['bottle.yaml:3:25: defaults.model.serverFetch: expected true or false, got a string']);
  t.same(errors('version: 1\ndefaults:\n  model: true\nagents: { a: {} }\n'),
    ['bottle.yaml:3:10: defaults.model: expected a mapping, got true']);
});

t.test('routes: an optional port (1-65535, default 443) for the headers', async (t) => {
  const route = (port: string): string => `${head}  a:\n    egress:\n      routes:\n        - host: api.x.com\n          port: ${port}\n          headers: { A: b }\n`;
  const routes = (text: string) => parseManifest(text, 'bottle.yaml').manifest!.agents.a!.egress.routes;
  t.same(routes(route('8443')), [{ host: 'api.x.com', port: 8443, headers: [{ name: 'A', template: 'b', vars: [] }] }]);
  t.same(routes(route('443')), routes(`${head}  a:\n    egress:\n      routes:\n        - { host: api.x.com, headers: { A: b } }\n`), '443 is the default, not a second spelling');
  t.equal(routes(route('443'))[0]!.port, undefined);
  t.same(errors(route('0')), ['bottle.yaml:7:17: agents.a.egress.routes[0].port: expected a port number from 1 to 65535, got 0']);
  t.same(errors(route('65536')), ['bottle.yaml:7:17: agents.a.egress.routes[0].port: expected a port number from 1 to 65535, got 65536']);
  t.same(errors(route('"8443"')), ['bottle.yaml:7:17: agents.a.egress.routes[0].port: expected a port number, got a string']);
  t.same(errors(route('84.5')), ['bottle.yaml:7:17: agents.a.egress.routes[0].port: expected a port number, got a number (84.5)']);
  t.same(errors(`${head}  a:\n    egress:\n      routes:\n        - { host: api.x.com, prot: 8443, headers: { A: b } }\n`),
    ['bottle.yaml:6:30: agents.a.egress.routes[0].prot: unknown key; did you mean port?']);
});

t.test('dlp.ignore: finding fingerprints in defaults and per agent, each checked for shape', async (t) => {
  const fp = 'sha256:0123456789abcdef';
  const m = parseManifest(`version: 1\ndefaults:\n  dlp: { ignore: ["${fp}"] }\nagents:\n  a:\n    dlp:\n      ignore: ["${fp}", "sha256:fedcba9876543210"]\n  b: {}\n`, 'bottle.yaml');
  t.same(m.issues, []);
  t.same(m.manifest!.defaults.dlp, { ignore: [fp] });
  t.same(m.manifest!.agents.a!.dlp, { ignore: [fp, 'sha256:fedcba9876543210'] });
  t.equal(m.manifest!.agents.b!.dlp, undefined, 'absent unless set');
  t.same(errors(`${head}  a:\n    dlp:\n      ignore:\n        - ghp_notAFingerprint\n`),
    ['bottle.yaml:6:11: agents.a.dlp.ignore[0]: expected a finding fingerprint like sha256:0123456789abcdef (16 hex digits, from bottle scan or a git gate rejection), not the value itself']);
  t.same(errors(`${head}  a:\n    dlp: { ignored: [] }\n`), ['bottle.yaml:4:12: agents.a.dlp.ignored: unknown key; did you mean ignore?']);
  t.same(errors(`version: 1\ndefaults:\n  dlp: { ignore: "${fp}" }\nagents: { a: {} }\n`),
    ['bottle.yaml:3:18: defaults.dlp.ignore: expected a list, got a string']);
});
