// The Docker engine probe behind `bottle doctor`: endpoint resolution and a never-throwing probe.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerodeOptions, probeEngine, resolveDockerEndpoint } from '../../lib/docker/engine.js';
import { engineTls } from '../helpers/engine-tls.js';
import { fakeDockerEngine } from '../helpers/fakebin.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-dockercfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('endpoint: DOCKER_HOST wins, then DOCKER_CONTEXT / currentContext, then the local socket', async (t) => {
  const cfg = await tempDir(t);
  const id = createHash('sha256').update('remote').digest('hex');
  await mkdir(join(cfg, 'contexts', 'meta', id), { recursive: true });
  await writeFile(join(cfg, 'contexts', 'meta', id, 'meta.json'),
    JSON.stringify({ Name: 'remote', Endpoints: { docker: { Host: 'tcp://10.0.0.5:2375', SkipTLSVerify: false } } }));

  t.match(resolveDockerEndpoint({ DOCKER_HOST: 'unix:///x.sock', DOCKER_CONTEXT: 'remote', DOCKER_CONFIG: cfg }),
    { host: 'unix:///x.sock', source: 'DOCKER_HOST' });
  t.match(resolveDockerEndpoint({ DOCKER_CONTEXT: 'remote', DOCKER_CONFIG: cfg, HOME: cfg }),
    { host: 'tcp://10.0.0.5:2375', source: 'context', context: 'remote' });
  await writeFile(join(cfg, 'config.json'), JSON.stringify({ currentContext: 'remote' }));
  t.match(resolveDockerEndpoint({ DOCKER_CONFIG: cfg, HOME: cfg }), { host: 'tcp://10.0.0.5:2375', context: 'remote' });
  t.match(resolveDockerEndpoint({ DOCKER_CONTEXT: 'default', DOCKER_CONFIG: cfg, HOME: cfg }), { source: 'default' });
  t.match(resolveDockerEndpoint({ DOCKER_CONTEXT: 'unknown', DOCKER_CONFIG: cfg, HOME: cfg }), { source: 'default' });

  const home = await tempDir(t);
  t.same(resolveDockerEndpoint({ HOME: home }), { host: 'unix:///var/run/docker.sock', source: 'default' });
  await mkdir(join(home, '.docker', 'run'), { recursive: true });
  await writeFile(join(home, '.docker', 'run', 'docker.sock'), '');
  t.equal(resolveDockerEndpoint({ HOME: home }).host, `unix://${home}/.docker/run/docker.sock`, 'Docker Desktop socket');
});

t.test('dockerode options per endpoint kind', async (t) => {
  t.match(dockerodeOptions({ host: 'unix:///run/d.sock', source: 'DOCKER_HOST' }), { socketPath: '/run/d.sock', host: undefined });
  t.match(dockerodeOptions({ host: 'tcp://h:2375', source: 'DOCKER_HOST' }), { protocol: 'http', host: 'h', port: '2375', socketPath: undefined });
  t.match(dockerodeOptions({ host: 'tcp://h:2376', source: 'DOCKER_HOST' }), { protocol: 'https', port: '2376' });
  t.match(dockerodeOptions({ host: 'h:1234', source: 'DOCKER_HOST', tlsVerify: true }), { protocol: 'https', host: 'h', port: '1234' });
  // ssh: plain HTTP through an agent that dials over ssh (test/unit/engine-ssh.test.ts).
  t.match(dockerodeOptions({ host: 'ssh://me@box', source: 'DOCKER_HOST' }, { SSH_AUTH_SOCK: '/a.sock', HOME: '/nonexistent' }),
    { protocol: 'http', host: 'box', port: 22, socketPath: undefined });
  t.throws(() => dockerodeOptions({ host: 'tcp://[bad', source: 'DOCKER_HOST' }), /is not a URL/);
});

t.test('probe: a reachable engine reports its version', async (t) => {
  const engine = await fakeDockerEngine(t);
  const p = await probeEngine({ env: { DOCKER_HOST: engine.host } });
  t.same(p, { ok: true, host: engine.host, version: '27.3.1', apiVersion: '1.47', os: 'linux', arch: 'amd64' });
  t.same(engine.requests.map((r) => [r.method, r.url]), [['GET', '/version']]);
});

t.test('probe: over tcp too', async (t) => {
  const server = createServer((_req, res) => res.end(JSON.stringify({ Version: '26.1.0', ApiVersion: '1.45', Os: 'linux' })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  const p = await probeEngine({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
  t.match(p, { ok: true, version: '26.1.0', apiVersion: '1.45' });
});

t.test('probe: the env parameter, not process.env, picks the engine', async (t) => {
  const engine = await fakeDockerEngine(t);
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
  t.teardown(() => { if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved; });
  t.match(await probeEngine({ env: { DOCKER_HOST: engine.host } }), { ok: true });
});

t.test('probe: failures are results, never throws', async (t) => {
  const dir = await tempDir(t);
  const missing = await probeEngine({ env: { DOCKER_HOST: `unix://${join(dir, 'none.sock')}` } });
  t.match(missing, { ok: false, host: `unix://${join(dir, 'none.sock')}`, error: /no socket at .*none\.sock.*dockerd/ });

  const notEngine = await fakeDockerEngine(t, { status: 404 });
  t.match(await probeEngine({ env: { DOCKER_HOST: notEngine.host } }), { ok: false, error: /HTTP 404/ });

  const weird = await fakeDockerEngine(t, { version: { hello: 'world' } });
  t.match(await probeEngine({ env: { DOCKER_HOST: weird.host } }), { ok: false, error: /not like a Docker engine/ });

  t.match(await probeEngine({ env: { DOCKER_HOST: 'tcp://[bad' } }), { ok: false, error: /is not a URL/ });
  const refused = await probeEngine({ env: { DOCKER_HOST: 'tcp://127.0.0.1:1' } });
  t.match(refused, { ok: false, error: /refused/ });
  t.notOk('disagrees' in refused, 'an engine that is not there is not a transport disagreement');
});

t.test('probe: an engine that never answers times out', async (t) => {
  const engine = await fakeDockerEngine(t, { hang: true });
  const started = Date.now();
  const p = await probeEngine({ env: { DOCKER_HOST: engine.host }, timeoutMs: 300 });
  const took = Date.now() - started;
  t.match(p, { ok: false, error: 'no answer within 300 ms' });
  t.ok(took >= 250 && took < 3000, `took ${took} ms`);
});

// Issue 17: a tcp engine with --tlsverify. The stand-in demands a client certificate signed by
// its CA, as dockerd does; the TLS material comes from the e2e engine's own helper.
t.test('probe: a --tlsverify engine over DOCKER_CERT_PATH; a missing client certificate or CA is one clear reason', async (t) => {
  const tls = engineTls('127.0.0.1', 'bottle-tls-unit-');
  t.teardown(() => rm(tls.clientDir, { recursive: true, force: true }));
  const server = createHttpsServer({ ...tls.server, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end(JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', Os: 'linux' })));
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  const host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.match(await probeEngine({ env: { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.clientDir } }), { ok: true, version: '20.10.24' });

  const caOnly = await tempDir(t);
  await writeFile(join(caOnly, 'ca.pem'), tls.client.ca);
  const env = { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: caOnly };
  // The CLI's env is process.env: docker-modem used to read it too and throw a bare ENOENT for
  // the missing cert.pem, which was then worded as "no socket at the given path".
  const saved = { ...process.env };
  Object.assign(process.env, env);
  t.teardown(() => { for (const k of Object.keys(env)) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; } });
  t.match(await probeEngine({ env }), { ok: false, disagrees: 'tls', error: /^TLS: the engine refused this client's certificate \(.+\); DOCKER_CERT_PATH needs the cert\.pem and key\.pem/ });

  t.match(await probeEngine({ env: { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1' } }), { ok: false, disagrees: 'tls', error: /^TLS: the engine's certificate is not trusted \(.+\); put its CA in DOCKER_CERT_PATH\/ca\.pem/ });
});
