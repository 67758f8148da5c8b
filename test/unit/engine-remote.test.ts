// A remote Docker engine (issue 17): a bottle runs there like here, since nothing of this machine
// is mounted, except a git remote whose upstream is a local path: start refuses that in one line
// before it creates anything, and doctor says the engine is remote. Local endpoints (a unix
// socket, a tcp endpoint whose engine is this host) pass without a word.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { dockerCliFlags, engineRecord, envForEngine, parseEngineRecord, remoteEngineName, remoteEngineText, resolveDockerEndpoint } from '../../lib/docker/engine.js';
import { dockerAttachArgv } from '../../lib/backends/docker/index.js';
import { backendOf } from '../../lib/lifecycle/context.js';
import { remoteHost } from '../../lib/lifecycle/status.js';
import { renderStatusTable } from '../../commands/lifecycle-verbs.js';
import { targetEnv } from '../../lib/images/push.js';
import { UserError } from '../../lib/errors.js';
import { runChecks } from '../../commands/doctor.js';
import { makeBottleDir, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { FakeEngine } from '../fixtures/docker/fake-engine.js';

t.test('remoteEngineName: unix sockets are local, tcp/ssh engines are judged by their host name', async (t) => {
  let asked = 0;
  const info = (Name?: string) => async () => { asked++; return Name === undefined ? {} : { Name }; };
  t.equal(await remoteEngineName({ host: 'unix:///var/run/docker.sock' }, info('elsewhere')), undefined);
  t.equal(asked, 0, 'a socket is not asked');
  t.equal(await remoteEngineName({ host: 'tcp://127.0.0.1:2375' }, info('here'), 'here'), undefined, 'the engine on this host');
  t.equal(await remoteEngineName({ host: 'tcp://10.0.0.5:2376' }, info('buildbox'), 'here'), 'buildbox');
  t.equal(await remoteEngineName({ host: 'ssh://me@buildbox' }, info('buildbox'), 'here'), 'buildbox');
  t.equal(await remoteEngineName({ host: 'tcp://10.0.0.5:2376' }, info(), 'here'), undefined, 'no name: not judged remote');
  t.match(remoteEngineText('tcp://10.0.0.5:2376', 'buildbox', [{ remote: 'origin', path: '/srv/app.git' }, { remote: 'docs', path: '/srv/docs.git' }]),
    /^git remote origin's upstream \/srv\/app\.git \(and 1 more\) is a path on this machine, which the Docker engine at tcp:\/\/10\.0\.0\.5:2376 \(on buildbox\) cannot reach: give the remote a URL .*unset DOCKER_HOST/);
});

t.test('start on a remote engine: a local-path git upstream is refused in one line, nothing created; other plans start', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-remote-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const slug = 'tester-remote';
  const paths = makeBottleDir(root, slug);
  const upstream = join(root, 'app.git');
  mkdirSync(upstream);
  const engine = new FakeEngine({ name: 'buildbox' });
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  const ctx = sampleContext(paths, slug, { env: { DOCKER_HOST: 'tcp://10.0.0.5:2375', ANTHROPIC_API_KEY: 'sk-ant-x-123456789', E2E_TOKEN: 'e2e-route-secret-123' } });
  await t.rejects(backend.launch(samplePlan({ git: [{ name: 'origin', upstream }] }), ctx),
    new UserError(remoteEngineText('tcp://10.0.0.5:2375', 'buildbox', [{ remote: 'origin', path: upstream }])));
  t.same(engine.created, [], 'no network or container was created');

  const r = await backend.launch(samplePlan({ git: [{ name: 'origin', upstream: 'git@github.com:acme/app.git' }] }), ctx);
  t.ok((r.resources.containers ?? []).length > 0, 'a plan with no local path starts on the remote engine');
  const bundle = engine.containers.get(`bottle-${slug}-sidecars`)!;
  t.notOk(bundle.create.HostConfig?.Mounts, 'and mounts nothing');
});

t.test('doctor: a remote engine passes, and says it is remote and what needs a local one', async (t) => {
  const checks = await runChecks({ out: () => {}, err: () => {}, env: { PATH: process.env.PATH, HOME: '/nonexistent' }, cwd: process.cwd() } as never, {
    nodeVersion: process.versions.node,
    probeEngine: async () => ({ ok: true, host: 'tcp://10.0.0.5:2375', version: '27.0', apiVersion: '1.46', os: 'linux', remote: 'buildbox' }),
  });
  const engine = checks.find((c) => c.name === 'docker-engine')!;
  t.match(engine, { status: 'ok', required: true, detail: /at tcp:\/\/10\.0\.0\.5:2375, a remote engine on buildbox \(git upstreams given as local paths need an engine on this machine\)/ });
});

t.test('a bottle remembers its engine: envForEngine, the docker CLI flags, and the backend a lifecycle verb loads', async (t) => {
  const rec = engineRecord(resolveDockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1' }));
  t.same(rec, { host: 'tcp://10.0.0.5:2376', tlsDir: '/certs', tlsVerify: true });
  t.same(parseEngineRecord(JSON.parse(JSON.stringify(rec))), rec, 'survives metadata.json');
  t.equal(parseEngineRecord({ host: 7 }), undefined, 'malformed: none');
  const shell = { PATH: '/bin', HOME: '/nonexistent', DOCKER_CONTEXT: 'laptop', ROUTE_TOKEN: 'x' };
  t.same(envForEngine(shell, rec), { PATH: '/bin', HOME: '/nonexistent', ROUTE_TOKEN: 'x', DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1' },
    'the recorded engine wins over the shell\'s context; everything else is kept');
  const same = { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1' };
  t.equal(envForEngine(same, rec), same, 'already there: unchanged');
  t.equal(envForEngine(shell, undefined), shell, 'no record (a bottle from before): the shell\'s engine');

  t.same(dockerCliFlags(resolveDockerEndpoint({ HOME: '/nonexistent' })), [], 'the default socket: no flags (argv as before)');
  t.same(dockerCliFlags(resolveDockerEndpoint(envForEngine({ HOME: '/nonexistent' }, rec))),
    ['-H', 'tcp://10.0.0.5:2376', '--tlsverify', '--tlscacert', '/certs/ca.pem', '--tlscert', '/certs/cert.pem', '--tlskey', '/certs/key.pem']);
  t.same(dockerAttachArgv('s-1', { args: [] }, { DOCKER_HOST: 'ssh://me@buildbox', HOME: '/nonexistent' }).slice(0, 4), ['docker', '-H', 'ssh://me@buildbox', 'exec'],
    'attach names the engine: a tmux pane may have another DOCKER_HOST');

  const loaded: NodeJS.ProcessEnv[] = [];
  const deps = { env: { HOME: '/nonexistent' }, backends: { load: async (_name: string, env: NodeJS.ProcessEnv) => { loaded.push(env); return {} as never; } } } as never;
  const meta = { schema: 1, slug: 'a', agent: 'a', backend: 'docker', created: '', resources: {}, backendData: { engine: rec } } as const;
  await backendOf(deps, meta);
  t.equal(loaded[0]!.DOCKER_HOST, 'tcp://10.0.0.5:2376', 'stop, attach, proposals... reach it from a shell without DOCKER_HOST');
  t.equal(remoteHost(meta), 'tcp://10.0.0.5:2376');
  t.equal(remoteHost({ ...meta, backendData: {} }), undefined);
});

t.test('bottle ls shows ON only when a bottle runs on another engine', async (t) => {
  const row = { slug: 's-1', agent: 'a', backend: 'docker', state: 'running', engine: 'running' as const, created: '', pendingProposals: 0 };
  t.notMatch(renderStatusTable([row]), /\bON\b/);
  const table = renderStatusTable([row, { ...row, slug: 's-2', dockerHost: 'tcp://10.0.0.5:2376' }]);
  t.match(table, /^SLUG +AGENT +BACKEND +STATE +ENGINE +ON +AGE/);
  t.match(table, /s-1 .* local/);
  t.match(table, /s-2 .* tcp:\/\/10\.0\.0\.5:2376/);
});

t.test('images push --to: a URL or a context name selects the target; anything else is refused', async (t) => {
  const shell = { PATH: '/bin', DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1' };
  t.same(targetEnv(shell, 'tcp://buildbox:2376'), { PATH: '/bin', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1', DOCKER_HOST: 'tcp://buildbox:2376' }, 'a URL keeps this shell\'s TLS settings');
  t.same(targetEnv(shell, 'buildbox'), { PATH: '/bin', DOCKER_CONTEXT: 'buildbox' }, 'a context brings its own');
  t.throws(() => targetEnv(shell, 'not a name'), new UserError('--to "not a name": expected an engine URL (tcp://host:2376, ssh://user@host) or a docker context name'));
});
