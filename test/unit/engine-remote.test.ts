// A remote Docker engine (issue 17): a bottle runs there like here, since nothing of this machine
// is mounted, except a git remote whose upstream is a local path: start refuses that in one line
// before it creates anything, and doctor says the engine is remote. Local endpoints (a unix
// socket, a tcp endpoint whose engine is this host) pass without a word.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { dockerCliFlags, engineRecord, envForEngine, parseEngineRecord, remoteEngineName, remoteEngineText, resolveDockerEndpoint } from '../../lib/docker/engine.js';
import { dockerAttachArgv } from '../../lib/backends/docker/index.js';
import { backendOf } from '../../lib/lifecycle/context.js';
import { engineLabel, inspectFleet, remoteHost } from '../../lib/lifecycle/status.js';
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
  const table = renderStatusTable([row, { ...row, slug: 's-2', dockerHost: 'tcp://10.0.0.5:2376', on: 'buildbox' }]);
  t.match(table, /^SLUG +AGENT +BACKEND +STATE +ENGINE +ON +AGE/);
  t.match(table, /s-1 .* local/);
  t.match(table, /s-2 +a +docker +running +running +buildbox/);
  const down = renderStatusTable([row, { ...row, slug: 's-2', on: 'buildbox', engine: 'unknown', unreachable: 'connection refused (is dockerd running?)' }]);
  t.match(down, /s-2 +a +docker +running +unreachable +buildbox .*engine unreachable: connection refused/, 'an engine that did not answer says so, and why');
});

t.test('engineLabel: the manifest engine name it was started with, else its remote DOCKER_HOST, else none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-label-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spec = join(dir, 'launch.json');
  const meta = { schema: 1, slug: 'a', agent: 'a', backend: 'docker', created: '', resources: {}, backendData: { engine: { host: 'tcp://10.0.0.5:2376' } } } as const;
  const write = (engine: unknown): void => writeFileSync(spec, JSON.stringify({ plan: { engine } }));
  write({ name: 'buildbox', host: 'tcp://10.0.0.5:2376' });
  t.equal(engineLabel(meta, spec), 'buildbox');
  write({ name: 'local', host: 'tcp://10.0.0.5:2376' });
  t.equal(engineLabel(meta, spec), 'tcp://10.0.0.5:2376', 'local is no name: the host it pointed at');
  write({ name: 'local', host: 'unix:///var/run/docker.sock' });
  t.equal(engineLabel({ ...meta, backendData: {} }, spec), undefined, 'this machine\'s default engine: none');
  t.equal(engineLabel(meta, join(dir, 'missing.json')), 'tcp://10.0.0.5:2376', 'no launch.json (an older bottle): the host');
});

t.test('inspectFleet: an engine that fails or hangs leaves its bottles unknown, with why, and holds up no other', async (t) => {
  const meta = (slug: string, host: string) => ({ schema: 1, slug, agent: 'a', backend: 'docker', created: '', resources: {}, backendData: { engine: { host } } }) as const;
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.6:2375'), { code: 'ECONNREFUSED', syscall: 'connect' });
  let hung: AbortSignal | undefined;
  const deps = {
    env: { HOME: '/nonexistent' },
    backends: {
      load: async (_n: string, env: NodeJS.ProcessEnv) => ({
        inspect: async (list: Array<{ slug: string }>, signal?: AbortSignal) => {
          if (env.DOCKER_HOST === 'tcp://10.0.0.6:2375') throw refused;
          if (env.DOCKER_HOST === 'tcp://10.0.0.7:2375') {
            hung = signal;
            return new Promise(() => undefined);
          }
          return new Map(list.map((m) => [m.slug, 'running']));
        },
      }),
    },
  } as never;
  const t0 = Date.now();
  const view = await inspectFleet(deps, [meta('ok', 'tcp://10.0.0.5:2375'), meta('refused', 'tcp://10.0.0.6:2375'), meta('hangs', 'tcp://10.0.0.7:2375')], 200);
  t.ok(Date.now() - t0 < 5000, 'bounded by the timeout, not by the hanging engine');
  t.equal(view.states.get('ok'), 'running');
  t.equal(view.states.get('refused'), 'unknown');
  t.equal(view.states.get('hangs'), 'unknown');
  t.same([...view.unreachable.keys()].sort(), ['hangs', 'refused']);
  t.equal(view.unreachable.get('refused'), 'connection refused (is dockerd running?)');
  t.equal(view.unreachable.get('hangs'), 'no answer in 0.2 s');
  t.equal(hung?.aborted, true, 'the silent engine\'s request is dropped (its socket would keep ls from exiting)');
});

t.test('images push --to: a URL or a context name selects the target; anything else is refused', async (t) => {
  const shell = { PATH: '/bin', DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1' };
  t.same(targetEnv(shell, 'tcp://buildbox:2376'), { PATH: '/bin', DOCKER_CERT_PATH: '/certs', DOCKER_TLS_VERIFY: '1', DOCKER_HOST: 'tcp://buildbox:2376' }, 'a URL keeps this shell\'s TLS settings');
  t.same(targetEnv(shell, 'buildbox'), { PATH: '/bin', DOCKER_CONTEXT: 'buildbox' }, 'a context brings its own');
  t.throws(() => targetEnv(shell, 'not a name'), new UserError('--to "not a name": expected an engine URL (tcp://host:2376, ssh://user@host) or a docker context name'));
});

t.test('cleanup sweeps every engine: this shell\'s, the ones bottles run on, the manifest\'s; one that does not answer is said', async (t) => {
  const { cleanup, sweepTargets } = await import('../../lib/lifecycle/cleanup.js');
  const { bottlePaths, createBottle, readMetadata, updateMetadata } = await import('../../lib/state/index.js');
  const { stateKey } = await import('../../lib/backends/bundle/names.js');
  const dir = mkdtempSync(join(tmpdir(), 'bottle-sweep-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'state');
  const key = stateKey(root);
  // A stopped bottle launched on buildbox (its record names the engine; launch.json its name).
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  await updateMetadata(root, b.slug, { state: 'stopped', backendData: { engine: { host: 'tcp://10.0.0.5:2375' } } });
  writeFileSync(bottlePaths(root, b.slug).launchSpec, JSON.stringify({ plan: { engine: { name: 'buildbox', host: 'tcp://10.0.0.5:2375' } } }));
  const removed: string[] = [];
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.6:2375'), { code: 'ECONNREFUSED', syscall: 'connect' });
  // Per engine (DOCKER_HOST), the labelled objects found there.
  const found: Record<string, string[]> = { local: ['container orphan-here'], 'tcp://10.0.0.5:2375': ['container orphan-there', `network ${b.slug}`] };
  const backends = {
    engines: ['docker', 'smolvm'] as const,
    load: async (name: string, env: NodeJS.ProcessEnv) => ({
      inspect: async (list: Array<{ slug: string }>) => new Map(list.map((m) => [m.slug, 'missing'])),
      listResources: async () => {
        if (env.DOCKER_HOST === 'tcp://10.0.0.6:2375') throw refused;
        if (name === 'smolvm') return [];
        return (found[env.DOCKER_HOST ?? 'local'] ?? []).map((s) => {
          const [kind, n] = s.split(' ') as ['container' | 'network', string];
          return { kind, name: n, slug: n.startsWith(b.slug) ? b.slug : n, stateKey: key };
        });
      },
      removeResource: async (r: { name: string }) => { removed.push(`${env.DOCKER_HOST ?? 'local'} ${r.name}`); },
    }),
  };
  const deps = { root, env: { HOME: dir }, backends } as never;
  const gpu = { name: 'gpu', env: { HOME: dir, DOCKER_HOST: 'tcp://10.0.0.6:2375' } };
  const again = { name: 'buildbox', env: { HOME: dir, DOCKER_HOST: 'tcp://10.0.0.5:2375' } };
  const targets = sweepTargets(deps, [await readMetadata(root, b.slug)], [gpu, again]);
  t.same(targets.map((x) => [x.engine ?? 'this shell', x.backends]), [['this shell', ['docker', 'smolvm']], ['buildbox', ['docker']], ['gpu', ['docker']]],
    'each engine once (the manifest naming buildbox again adds nothing); VMs only here');

  const logs: string[] = [];
  const items = await cleanup(deps, { log: (l) => logs.push(l), engines: [gpu] });
  t.same(items.map((i) => [i.engine ?? 'here', i.name, i.done]), [['here', 'container orphan-here', true], ['buildbox', 'container orphan-there', true]],
    'the orphan on the remote engine goes; the stopped bottle\'s own network stays (it is resumable)');
  t.same(removed.sort(), ['local orphan-here', 'tcp://10.0.0.5:2375 orphan-there']);
  t.same(logs, ['docker on gpu: not checked (connection refused (is dockerd running?))']);
});
