// A remote Docker engine (issue 17: not supported until the bundle stops bind-mounting this
// machine's files): doctor says so with the fix, and start refuses in one line before it
// creates anything. Local endpoints (a unix socket, a tcp endpoint whose engine is this host)
// pass without a word.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { remoteEngineName, remoteEngineText } from '../../lib/docker/engine.js';
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
  t.match(remoteEngineText('tcp://10.0.0.5:2376', 'buildbox'), /^the Docker engine at tcp:\/\/10\.0\.0\.5:2376 runs on another machine \(buildbox\); .*unset DOCKER_HOST/);
});

t.test('start on a remote engine: one line, nothing created', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-remote-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const slug = 'tester-remote';
  const paths = makeBottleDir(root, slug);
  const engine = new FakeEngine({ name: 'buildbox' });
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  const ctx = sampleContext(paths, slug, { env: { DOCKER_HOST: 'tcp://10.0.0.5:2375', ANTHROPIC_API_KEY: 'sk-ant-x-123456789', E2E_TOKEN: 'e2e-route-secret-123' } });
  await t.rejects(backend.launch(samplePlan(), ctx), new UserError(remoteEngineText('tcp://10.0.0.5:2375', 'buildbox')));
  t.same(engine.created, [], 'no network or container was created');

  const local = new FakeEngine({ name: hostname() });
  const ok = new DockerBackend(local, { bundleUser: '1000:1000', env: {} });
  const r = await ok.launch(samplePlan(), sampleContext(paths, slug, { env: { ...ctx.env } }));
  t.ok((r.resources.containers ?? []).length > 0, 'a tcp endpoint whose engine is this host starts');
});

t.test('doctor: a remote engine is a missing requirement with the fix', async (t) => {
  const checks = await runChecks({ out: () => {}, err: () => {}, env: { PATH: process.env.PATH, HOME: '/nonexistent' }, cwd: process.cwd() } as never, {
    nodeVersion: process.versions.node,
    probeEngine: async () => ({ ok: true, host: 'tcp://10.0.0.5:2375', version: '27.0', apiVersion: '1.46', os: 'linux', remote: 'buildbox' }),
  });
  const engine = checks.find((c) => c.name === 'docker-engine')!;
  t.match(engine, { status: 'missing', required: true, detail: /tcp:\/\/10\.0\.0\.5:2375 is a remote engine \(on buildbox\): not supported yet/, fix: /unset DOCKER_HOST/ });
});
