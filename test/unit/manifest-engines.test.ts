// Named Docker engines in the manifest (issue 17): `engines:` entries (a URL or a docker
// context), `defaults.engine` and an agent's `engine:` (local is the shell's own), each error one
// positioned line; the plan carries the chosen engine, start --engine overrides it, the launch
// runs with the env pointed there; images build/push and doctor take the manifest's names.
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, formatIssue, type Manifest } from '../../lib/manifest/index.js';
import { engineEnv, manifestEngine, preparePlan, renderPlan } from '../../lib/plan/index.js';
import { UserError } from '../../lib/errors.js';
import { lifecycleDeps, startBottle } from '../../lib/lifecycle/index.js';
import { pushTarget, pushTargetEnv } from '../../commands/images.js';
import { runChecks } from '../../commands/doctor.js';
import type { EngineProbe, ProbeEngineOptions } from '../../lib/docker/engine.js';
import { fakeBackends } from '../helpers/fake-backend.js';
import { bottleInProcess } from '../helpers/cli.js';

const MANIFEST = `version: 1
engines:
  buildbox:
    host: tcp://10.0.0.5:2376
    tls_verify: true
    cert_path: ./certs
  laptop:
    context: laptop
defaults:
  engine: buildbox
agents:
  implementer:
    egress: { allow: [registry.npmjs.org] }
  reviewer:
    engine: local
  tester:
    engine: laptop
`;

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-engines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function parsed(text: string): Manifest {
  const r = parseManifest(text, 'bottle.yaml');
  if (!r.manifest) throw new Error(r.issues.map(formatIssue).join('\n'));
  return r.manifest;
}

function errors(text: string): string[] {
  return parseManifest(text, 'bottle.yaml').issues.map(formatIssue);
}

// A docker config dir with one context (`name` → host), as `docker context create` writes it.
function dockerConfig(dir: string, name: string, host: string): string {
  const cfg = join(dir, 'docker-config');
  const id = createHash('sha256').update(name).digest('hex');
  mkdirSync(join(cfg, 'contexts', 'meta', id), { recursive: true });
  writeFileSync(join(cfg, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: name, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
  return cfg;
}

t.test('engines:, defaults.engine and an agent engine parse', async (t) => {
  const m = parsed(MANIFEST);
  t.same(m.engines, { buildbox: { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: './certs' }, laptop: { context: 'laptop' } });
  t.equal(m.defaults.engine, 'buildbox');
  t.equal(m.agents.reviewer!.engine, 'local', 'local needs no entry');
  t.equal(m.agents.tester!.engine, 'laptop');
  t.equal(m.agents.implementer!.engine, undefined);
  const plain = parsed('version: 1\nagents: { a: {} }\n');
  t.notOk('engines' in plain, 'no engines: no key');
  t.notOk('engine' in plain.defaults);
});

t.test('every engines: mistake is one line at its position, saying what to do', async (t) => {
  const head = 'version: 1\nagents: { a: {} }\n';
  t.same(errors(`${head}engines:\n  local: { host: tcp://h:2375 }\n`),
    ['bottle.yaml:4:3: engines.local: local is reserved (the engine this shell selects: DOCKER_HOST, the docker context or the local socket); give this engine another name']);
  t.same(errors(`${head}engines:\n  Build_Box: { host: tcp://h:2375 }\n`),
    ['bottle.yaml:4:3: engines.Build_Box: expected an engine name: a lowercase letter, then lowercase letters, digits or -']);
  t.same(errors(`${head}engines:\n  box: { tls_verify: true }\n`),
    ['bottle.yaml:4:8: engines.box: expected host: URL (tcp://host:2376, ssh://user@host) or context: NAME (a docker context)']);
  t.same(errors(`${head}engines:\n  box: { host: tcp://h:2375, context: box }\n`),
    ['bottle.yaml:4:39: engines.box.context: host and context exclude each other; keep one']);
  t.same(errors(`${head}engines:\n  box: { context: box, cert_path: /c }\n`),
    ['bottle.yaml:4:24: engines.box.cert_path: cert_path goes with host: only (a docker context brings its own TLS settings); remove it']);
  t.same(errors(`${head}engines:\n  box: { host: buildbox:2375 }\n`),
    ['bottle.yaml:4:16: engines.box.host: expected an engine URL (tcp://host:2376, ssh://user@host, unix:///path), got "buildbox:2375"']);
  t.same(errors(`${head}engines:\n  box: { host: tcp://h:2376, tls_verify: yes }\n`),
    ['bottle.yaml:4:42: engines.box.tls_verify: expected true or false, got a string']);
  t.same(errors(`${head}engines:\n  box: { host: tcp://h:2376, tls: true }\n`),
    ['bottle.yaml:4:30: engines.box.tls: unknown key; expected one of: host, context, tls_verify, cert_path']);
  t.same(errors(`${head}engines:\n  box: { host: "ssh://me@box", tls_verify: true }\n`),
    ['bottle.yaml:4:32: engines.box.tls_verify: tls_verify applies to a tcp:// host only (ssh:// and sockets use no TLS); remove it']);
  t.same(errors(`${head}engines: [tcp://h:2375]\n`), ['bottle.yaml:3:10: engines: expected a mapping, got a list']);
});

t.test('engine: must name an entry of engines: or local', async (t) => {
  t.same(errors('version: 1\ndefaults: { engine: nowhere }\nagents: { a: {} }\n'),
    ['bottle.yaml:2:21: defaults.engine: unknown engine nowhere; the manifest defines no engines:; use one of those or local (the engine this shell selects), or add nowhere under engines:']);
  t.same(errors('version: 1\nengines: { box: { context: box } }\nagents:\n  a:\n    engine: boks\n'),
    ['bottle.yaml:5:13: agents.a.engine: unknown engine boks; engines: defines box; use one of those or local (the engine this shell selects), or add boks under engines:']);
  t.same(errors('version: 1\nagents:\n  a:\n    engine: 7\n'), ['bottle.yaml:4:13: agents.a.engine: expected an engine name, got a number (7)']);
  t.same(errors('version: 1\nengines: { box: { context: box } }\ndefaults: { engine: box }\nagents:\n  a: { engine: local }\n'), [], 'defined and local are fine');
});

t.test('the plan carries the engine: --engine over the agent over defaults, local the shell\'s own', async (t) => {
  const dir = scratch(t);
  const loaded = { path: join(dir, 'bottle.yaml'), manifest: parsed(MANIFEST) };
  const cfg = dockerConfig(dir, 'laptop', 'ssh://me@laptop');
  const env = { HOME: dir, DOCKER_CONFIG: cfg, DOCKER_HOST: 'unix:///run/shell.sock' };
  t.same(preparePlan(loaded, 'implementer', {}, env).engine,
    { name: 'buildbox', host: 'tcp://10.0.0.5:2376', tlsDir: join(dir, 'certs'), tlsVerify: true }, 'defaults.engine; cert_path resolved against the manifest\'s dir');
  t.same(preparePlan(loaded, 'reviewer', {}, env).engine, { name: 'local', host: 'unix:///run/shell.sock' }, 'the agent\'s local: the shell\'s engine');
  t.same(preparePlan(loaded, 'tester', {}, env).engine, { name: 'laptop', host: 'ssh://me@laptop', context: 'laptop' },
    'a context entry resolves through the docker config, whatever DOCKER_HOST says');
  t.same(preparePlan(loaded, 'tester', { engine: 'buildbox' }, env).engine?.name, 'buildbox', '--engine overrides the agent');
  t.same(preparePlan(loaded, 'implementer', { engine: 'local' }, env).engine, { name: 'local', host: 'unix:///run/shell.sock' }, '--engine local too');
  t.throws(() => preparePlan(loaded, 'implementer', { engine: 'nowhere' }, env), new UserError('--engine nowhere: unknown engine; known: buildbox, laptop, local'));
  t.throws(() => preparePlan(loaded, 'tester', {}, { HOME: dir, DOCKER_CONFIG: join(dir, 'empty') }),
    new UserError('engines.laptop.context: there is no docker context laptop (docker context ls lists them); create it with docker context create, or fix the name'));
  const noEngines = { path: join(dir, 'bottle.yaml'), manifest: parsed('version: 1\nagents: { a: {} }\n') };
  t.throws(() => preparePlan(noEngines, 'a', { engine: 'buildbox' }, env), new UserError('--engine buildbox: unknown engine; known: local'));

  const text = renderPlan(preparePlan(loaded, 'implementer', {}, env));
  t.match(text, /^engine      buildbox \(tcp:\/\/10\.0\.0\.5:2376\)$/m, 'the preflight names the engine and its host');
  t.match(renderPlan(preparePlan(loaded, 'tester', {}, env)), /^engine      laptop \(ssh:\/\/me@laptop, context laptop\)$/m);
});

t.test('the launch runs with the host env pointed at the plan\'s engine', async (t) => {
  const dir = scratch(t);
  const loaded = { path: join(dir, 'bottle.yaml'), manifest: parsed(MANIFEST) };
  const env = { BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '1', HOME: dir, DOCKER_CONTEXT: 'somewhere-else', ROUTE: 'kept' };
  const seen: NodeJS.ProcessEnv[] = [];
  const backends = {
    ...fakeBackends,
    load: async (name: Parameters<typeof fakeBackends.load>[0], e: NodeJS.ProcessEnv) => {
      seen.push(e);
      const b = await fakeBackends.load(name, e);
      const launch = b.launch.bind(b);
      b.launch = async (plan, ctx) => { seen.push(ctx.env); return launch(plan, ctx); };
      return b;
    },
  };
  const deps = lifecycleDeps(env, { backends });
  const plan = preparePlan(loaded, 'implementer', {}, env);
  await startBottle(deps, plan, loaded.manifest.agents.implementer!, { log: () => undefined, signal: new AbortController().signal });
  t.equal(seen.length, 2, 'the backend was loaded and launched');
  for (const e of seen) {
    t.match(e, { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(dir, 'certs'), ROUTE: 'kept' });
    t.notOk('DOCKER_CONTEXT' in e, 'the shell\'s context is dropped');
  }
  t.equal(engineEnv(env, preparePlan(loaded, 'reviewer', {}, env).engine), env, 'local: the env as it is');
});

t.test('start --dry-run and its --json show the engine; an unknown --engine is one line', async (t) => {
  const dir = scratch(t);
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd);
  // Unreachable on purpose: the dry run's image check fails fast and says "not checked".
  writeFileSync(join(cwd, 'bottle.yaml'), 'version: 1\nengines:\n  buildbox: { host: "tcp://127.0.0.1:1" }\ndefaults: { engine: buildbox }\nagents:\n  a: {}\n');
  const env = { PATH: process.env.PATH, HOME: dir, BOTTLE_STATE_DIR: join(dir, 'state'), DOCKER_HOST: `unix://${join(dir, 'none.sock')}` };
  const [text, json, local, unknown] = await Promise.all([
    bottleInProcess(['start', 'a', '--dry-run'], { cwd, env }),
    bottleInProcess(['start', 'a', '--dry-run', '--json'], { cwd, env }),
    bottleInProcess(['start', 'a', '--dry-run', '--json', '--engine', 'local'], { cwd, env }),
    bottleInProcess(['start', 'a', '--dry-run', '--engine', 'nowhere'], { cwd, env }),
  ]);
  t.equal(text.exitCode, 0, text.stderr);
  t.match(text.stdout, /^engine      buildbox \(tcp:\/\/127\.0\.0\.1:1\)$/m);
  t.equal(json.exitCode, 0, json.stderr);
  t.same(JSON.parse(json.stdout).engine, { name: 'buildbox', host: 'tcp://127.0.0.1:1' });
  t.match(JSON.parse(json.stdout).images, { checked: false }, 'the images are asked of that engine');
  t.same(JSON.parse(local.stdout).engine, { name: 'local', host: `unix://${join(dir, 'none.sock')}` }, '--engine local: the shell\'s engine');
  t.equal(unknown.exitCode, 1);
  t.equal(unknown.stderr.trim().split('\n').at(-1), 'bottle: --engine nowhere: unknown engine; known: buildbox, local');
});

t.test('images push --to and images build --engine take a manifest engine name', async (t) => {
  const dir = scratch(t);
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'bottle.yaml'), `version: 1\nengines:\n  buildbox: { host: "unix://${join(dir, 'buildbox.sock')}" }\nagents:\n  a: {}\n`);
  const env = { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(dir, 'here.sock')}`, DOCKER_CERT_PATH: '/certs' };
  t.match(pushTargetEnv({ cwd, env }, 'buildbox', undefined), { DOCKER_HOST: `unix://${join(dir, 'buildbox.sock')}` }, 'a manifest engine');
  t.notOk('DOCKER_CERT_PATH' in pushTargetEnv({ cwd, env }, 'buildbox', undefined), 'with its own TLS settings (none)');
  t.same(pushTargetEnv({ cwd, env }, 'laptop', undefined), { PATH: process.env.PATH, HOME: dir, DOCKER_CONTEXT: 'laptop' }, 'not in the manifest: a docker context');
  t.match(pushTargetEnv({ cwd, env }, 'tcp://h:2376', undefined), { DOCKER_HOST: 'tcp://h:2376', DOCKER_CERT_PATH: '/certs' }, 'a URL as before');

  const [build, unknown] = await Promise.all([
    bottleInProcess(['images', 'build', '--engine', 'buildbox'], { cwd, env }),
    bottleInProcess(['images', 'build', '--engine', 'nowhere'], { cwd, env }),
  ]);
  t.equal(build.exitCode, 1);
  t.match(build.stderr, new RegExp(`^bottle: no Docker engine at unix://${join(dir, 'buildbox.sock')}: .*; start it, or fix engines\\.buildbox in the manifest$`, 'm'),
    'the build asks that engine, not the shell\'s');
  t.equal(unknown.exitCode, 1);
  t.equal(unknown.stderr.trim(), 'bottle: --engine nowhere: unknown engine; known: buildbox, local');
  // images push takes --engine too (as build and start name an engine), or --to; one engine.
  t.equal(pushTarget({ engine: 'buildbox' }), 'buildbox');
  t.equal(pushTarget({ to: 'buildbox', engine: 'buildbox' }), 'buildbox');
  t.throws(() => pushTarget({ to: 'a', engine: 'b' }), new UserError('--to a and --engine b name two engines; give one'));
  const none = await bottleInProcess(['images', 'push'], { cwd, env });
  t.equal(none.exitCode, 1);
  t.match(none.stderr.trim(), /^bottle: which engine\? give --to ENGINE \(a URL such as ssh:\/\/me@buildbox, .*\)$/, 'neither: one line');
  const [viaEngine, viaTo] = await Promise.all([
    bottleInProcess(['images', 'push', '--engine', 'buildbox'], { cwd, env }),
    bottleInProcess(['images', 'push', '--to', 'buildbox'], { cwd, env }),
  ]);
  t.equal(viaEngine.exitCode, 1, 'no engine runs here');
  t.same([viaEngine.exitCode, viaEngine.stderr], [viaTo.exitCode, viaTo.stderr], '--engine does what --to does');
  const manifestOf = manifestEngine({ path: join(cwd, 'bottle.yaml'), manifest: parsed(`version: 1\nengines:\n  box: { host: "tcp://h:2376", cert_path: ~/c }\nagents: { a: {} }\n`) }, 'box', env);
  t.same(manifestOf, { name: 'box', host: 'tcp://h:2376', tlsDir: join(dir, 'c') }, 'cert_path: ~ is HOME');
});

t.test('doctor: one row per manifest engine, required when an agent runs there', async (t) => {
  const dir = scratch(t);
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'bottle.yaml'), 'version: 1\nengines:\n  buildbox: { host: "tcp://10.0.0.5:2376" }\n  spare: { host: "tcp://10.0.0.6:2375" }\nagents:\n  a: { engine: buildbox }\n  b: {}\n');
  const asked: string[] = [];
  const probeEngine = async (o: ProbeEngineOptions): Promise<EngineProbe> => {
    const host = o.env.DOCKER_HOST ?? '(none)';
    asked.push(host);
    return host === 'tcp://10.0.0.6:2375' ? { ok: false, host, error: 'connection refused' } : { ok: true, host, version: '27.0', apiVersion: '1.46', os: 'linux' };
  };
  const env = { PATH: process.env.PATH, HOME: dir, BOTTLE_STATE_DIR: join(dir, 'state'), DOCKER_HOST: 'unix:///run/shell.sock' };
  const checks = await runChecks({ out: () => {}, err: () => {}, run: async () => { throw new Error('no tools here'); }, env, cwd } as never, { nodeVersion: process.versions.node, probeEngine });
  const names = checks.map((c) => c.name);
  t.same(names.slice(names.indexOf('docker-engine'), names.indexOf('docker-engine') + 3), ['docker-engine', 'docker-engine:buildbox', 'docker-engine:spare'], 'after the shell\'s own');
  t.match(checks.find((c) => c.name === 'docker-engine:buildbox'), { status: 'ok', required: true, detail: /at tcp:\/\/10\.0\.0\.5:2376/ });
  t.match(checks.find((c) => c.name === 'docker-engine:spare'), { status: 'warn', required: false, detail: 'tcp://10.0.0.6:2375: connection refused (no agent uses it)', fix: /engines\.spare in bottle\.yaml/ });
  t.ok(['unix:///run/shell.sock', 'tcp://10.0.0.5:2376', 'tcp://10.0.0.6:2375'].every((h) => asked.includes(h)), 'each engine probed with its own env');

  writeFileSync(join(cwd, 'bottle.yaml'), 'version: 1\nengines:\n  spare: { host: "tcp://10.0.0.6:2375" }\ndefaults: { engine: spare }\nagents:\n  a: {}\n');
  const again = await runChecks({ out: () => {}, err: () => {}, run: async () => { throw new Error('no tools here'); }, env, cwd } as never, { nodeVersion: process.versions.node, probeEngine });
  t.match(again.find((c) => c.name === 'docker-engine:spare'), { status: 'missing', required: true, detail: 'tcp://10.0.0.6:2375: connection refused' }, 'defaults.engine makes it required');
});
