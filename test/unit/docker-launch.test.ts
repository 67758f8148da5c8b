// launch over a fake engine: order of calls, secrets only in the bundle's create body, and
// the unwind — a failure at any engine call, or an abort, removes exactly what was created,
// in reverse order.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkImages, LaunchAbortedError } from '../../lib/backends/bundle/launch.js';
import { engineState } from '../../lib/backends/bundle/manage.js';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { UserError } from '../../lib/errors.js';
import type { Metadata } from '../../lib/state/index.js';
import { API_KEY, makeBottleDir, SECRET, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { FakeEngine, type FakeOptions, printEvents } from '../fixtures/docker/fake-engine.js';

const slug = 'tester-abcdef';
const root = mkdtempSync(join(tmpdir(), 'bottle-docker-launch-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const paths = makeBottleDir(root, slug);
const plan = samplePlan({ git: [{ name: 'origin', upstream: 'https://example.test/app.git' }] });

function launch(opts: FakeOptions = {}, ctxOver = {}) {
  const engine = new FakeEngine(opts);
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  const ctx = sampleContext(paths, slug, ctxOver);
  return { engine, ctx, result: backend.launch(plan, ctx) };
}

const HELPER = 'container bottle-tester-abcdef-route';

t.test('a launch: calls in order, resources recorded', async (t) => {
  const { engine, ctx, result } = launch();
  const r = await result;
  t.same(r.resources, {
    containers: ['bottle-tester-abcdef-sidecars', 'bottle-tester-abcdef-agent'],
    networks: ['bottle-tester-abcdef-int', 'bottle-tester-abcdef-ext'],
  });
  t.same(engine.created, [
    'network bottle-tester-abcdef-int', 'network bottle-tester-abcdef-ext',
    'container bottle-tester-abcdef-sidecars', 'container bottle-tester-abcdef-agent', HELPER,
  ]);
  t.same(engine.removed, [HELPER], 'only the route helper is gone again');
  const order = (target: string) => engine.calls.filter((c) => c.target === target && c.op !== 'inspectImage').map((c) => c.op);
  t.same(order('bottle-tester-abcdef-sidecars'), ['createContainer', 'putArchive', 'start'], 'the bundle: created, seeded, started');
  t.same(order('bottle-tester-abcdef-agent'), ['createContainer', 'getArchive', 'start', 'putArchive', 'exec'],
    'the agent: created; its passwd read while it starts; its files in one upload; then the CA command');
  t.same(order('bottle-tester-abcdef-route'), ['createContainer', 'start', 'wait', 'removeContainer']);
  t.same(order('bottle-tester-abcdef-ext'), ['createNetwork', 'connect'], 'the egress network joins the running bundle');
  t.same(engine.calls.filter((c) => c.op === 'exec').map((c) => (c.body as { Cmd: string[] }).Cmd[3]), ['trust-ca'], 'one command: the CA into the trust store (no `id`)');
  t.ok(ctx.lines.includes('starting sidecars'));
  t.ok(ctx.lines.some((l) => /^gateway ready \(\d+\.\ds\)$/.test(l)));
  t.ok(ctx.lines.some((l) => /^bottle tester-abcdef is up/.test(l)));
});

t.test('route secrets appear only in the bundle create body, never in logs or other calls', async (t) => {
  const { engine, ctx, result } = launch();
  await result;
  const bundleCreate = engine.calls.find((c) => c.op === 'createContainer' && c.target.endsWith('-sidecars'))!;
  const env = (bundleCreate.body as { Env: string[] }).Env;
  t.ok(env.includes(`E2E_TOKEN=${SECRET}`));
  t.ok(env.includes(`ANTHROPIC_API_KEY=${API_KEY}`));
  const others = JSON.stringify(engine.calls.filter((c) => c !== bundleCreate)) + JSON.stringify(engine.archives.map((a) => a.data.toString('latin1')));
  t.notMatch(others, SECRET);
  t.notMatch(others, API_KEY);
  t.notMatch(ctx.lines.join('\n'), SECRET);
});

t.test('a missing route variable is a UserError before any engine call', async (t) => {
  const { engine, result } = launch({}, { env: { ANTHROPIC_API_KEY: API_KEY } });
  const err = await result.catch((e: unknown) => e);
  t.type(err, UserError);
  t.match((err as Error).message, /route api\.example\.test needs host environment variable E2E_TOKEN/);
  t.same(engine.calls, []);
});

t.test('a missing image is a UserError before any container is created; the network made meanwhile is removed', async (t) => {
  const { engine, result } = launch({ images: ['bottle-agent:latest'] });
  await t.rejects(result, { name: 'UserError', message: /image bottle-sidecars:latest is not in the Docker engine; run `bottle images build`/ });
  t.same(engine.created, ['network bottle-tester-abcdef-int'], 'the egress network is made only after the checks');
  t.same([...engine.containers.keys(), ...engine.networks.keys()], []);
});

// Issue 17: a remote engine pays a round trip per call made after another; these pin the chain.
// (The latency is long so that local work between calls, on a loaded machine, never looks like one.)
t.test('a launch on an engine a round trip away: 7 calls one after another, no more', async (t) => {
  const { engine } = await (async () => {
    const l = launch({ latencyMs: 150 });
    await l.result;
    return l;
  })();
  // images ∥ internal network → containers ∥ egress network → seed ∥ agent passwd ∥ agent
  // start ∥ route helper created → bundle start ∥ agent files ∥ helper start → log follow ∥
  // connect ∥ helper wait ∥ trust-ca exec created (it needs the CA file) → exec started ∥
  // helper removed → exec inspected.
  t.equal(engine.rounds, 7);
  const reads = engine.calls.filter((c) => c.op === 'getArchive').map((c) => (c.body as { path: string }).path);
  t.same(reads, ['/etc/passwd'], 'the agent user is read by archive (no `id` exec)');
  const uploads = engine.archives.filter((a) => a.container.endsWith('-agent'));
  t.equal(uploads.length, 1, 'every provisioned file in one upload');
  t.equal(uploads[0]!.path, '/');
});

// The egress network is joined by the running bundle only: neither container waits for it.
t.test('the egress network is made beside the containers; the unwind removes the containers, then the networks', async (t) => {
  const slowEgress = (opts: FakeOptions = {}) => {
    const engine = new FakeEngine(opts);
    const createNetwork = engine.createNetwork.bind(engine);
    engine.createNetwork = async (o) => {
      if (o.Name.endsWith('-ext')) await new Promise((r) => setTimeout(r, 100));
      return createNetwork(o);
    };
    const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
    return { engine, result: backend.launch(plan, sampleContext(paths, slug)) };
  };
  const ok = slowEgress();
  await ok.result;
  t.same(ok.engine.created.filter((c) => c !== HELPER), [
    'network bottle-tester-abcdef-int', 'container bottle-tester-abcdef-sidecars', 'container bottle-tester-abcdef-agent', 'network bottle-tester-abcdef-ext',
  ], 'both containers created before the egress network is there');
  const calls = ok.engine.calls.map((c) => `${c.op} ${c.target}`);
  t.ok(calls.indexOf('connect bottle-tester-abcdef-ext') > calls.indexOf('createNetwork bottle-tester-abcdef-ext'), 'the bundle joins it once made');
  // A failure while the egress network is still being made: it is waited for, then removed
  // after the containers (the bundle may be connected to it).
  const failed = slowEgress({ failOn: 'exec bottle-tester-abcdef-agent' });
  await t.rejects(failed.result, /injected failure/);
  t.same([...failed.engine.containers.keys(), ...failed.engine.networks.keys()], [], 'nothing left');
  t.same(failed.engine.removed.filter((c) => c !== HELPER), [
    'container bottle-tester-abcdef-agent', 'container bottle-tester-abcdef-sidecars', 'network bottle-tester-abcdef-ext', 'network bottle-tester-abcdef-int',
  ]);
});

t.test('with the bundle user to ask for (no bundleUser given), GET /info runs beside the images and networks', async (t) => {
  const engine = new FakeEngine({ latencyMs: 150 });
  const backend = new DockerBackend(engine, { env: {} });
  await backend.launch(plan, sampleContext(paths, slug));
  t.equal(engine.calls.filter((c) => c.op === 'info').length, 1);
  t.equal(engine.rounds, 7);
});

t.test('a missing image of the manifest\'s own is not sent to `bottle images build`, which cannot make it', async (t) => {
  const engine = new FakeEngine({ images: ['bottle-agent:latest', 'bottle-sidecars:latest'] });
  await checkImages(engine, ['bottle-agent:latest', 'bottle-sidecars:latest']);
  await t.rejects(checkImages(engine, ['ghcr.io/me/agent:1', 'bottle-sidecars:latest']), {
    name: 'UserError',
    message: 'image ghcr.io/me/agent:1 is not in the Docker engine; build or pull it into this engine first (docker pull ghcr.io/me/agent:1), or drop image: from the manifest to use bottle-agent:latest',
  });
});

t.test('a leftover of the same slug is a UserError naming cleanup, and is not removed', async (t) => {
  const engine = new FakeEngine();
  await engine.createNetwork({ Name: 'bottle-tester-abcdef-int' });
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  await t.rejects(backend.launch(plan, sampleContext(paths, slug)), /network bottle-tester-abcdef-int already exists .*bottle cleanup/);
  t.ok(engine.networks.has('bottle-tester-abcdef-int'), 'someone else\'s object stays');
});

t.test('failure injected at every engine call: exactly what was created is removed, in reverse', async (t) => {
  const { engine: reference, result } = launch();
  await result;
  const mutating = new Set(['createNetwork', 'createContainer', 'connect', 'start', 'exec', 'putArchive', 'wait']);
  const points = reference.calls.map((c, i) => [i, c] as const).filter(([, c]) => mutating.has(c.op));
  t.ok(points.length > 10, `${points.length} failure points`);
  for (const [index, call] of points) {
    let n = -1;
    const { engine, result } = launch({ failOn: () => ++n === index });
    await t.rejects(result, `fails at #${index} ${call.op} ${call.target}`);
    t.same([...engine.containers.keys(), ...engine.networks.keys()], [], `nothing left after a failure at ${call.op} ${call.target}`);
    const created = engine.created.filter((c) => c !== HELPER);
    t.same(engine.removed.filter((c) => c !== HELPER), [...created].reverse(), `reverse order after ${call.op} ${call.target}`);
  }
});

t.test('abort at any progress line: LaunchAbortedError, nothing left', async (t) => {
  const { ctx: ref, result } = launch();
  await result;
  const marks = ref.lines.filter((l) => !l.startsWith('bottle '));
  for (const mark of marks) {
    const ac = new AbortController();
    const lines: string[] = [];
    const { engine, result } = launch({}, {
      signal: ac.signal,
      log: (l: string) => {
        lines.push(l);
        if (l === mark) ac.abort();
      },
    });
    const err = await result.catch((e: unknown) => e);
    t.ok(err instanceof LaunchAbortedError && err.exitCode === 130, `aborted at "${mark}"`);
    t.same([...engine.containers.keys(), ...engine.networks.keys()], [], `nothing left after abort at "${mark}"`);
    t.ok(lines.includes('interrupted: removing what was created') || engine.created.length === 0);
  }
});

t.test('a crash-looping daemon cuts the readiness wait short, with the bundle log', async (t) => {
  const eventsFile = join(paths.dir, 'events', 'events.jsonl');
  mkdirSync(join(paths.dir, 'events'), { recursive: true });
  writeFileSync(eventsFile, '{"type":"daemon-exited","daemon":"gateway","time":"x"}\n'.repeat(5), 'utf8');
  const started = Date.now();
  let engineRef: FakeEngine | undefined;
  const { engine, result } = launch({
    bundleReady: false,
    onCall: (c) => {
      if (c.op === 'start' && c.target.endsWith('-sidecars')) {
        setTimeout(() => printEvents(engineRef!.containers.get(c.target)!, '{"type":"daemon-exited","daemon":"gateway","time":"x"}\n'.repeat(3)), 50);
      }
    },
  }, { });
  engineRef = engine;
  const err = (await result.catch((e: unknown) => e)) as Error;
  t.match(err.message, /the sidecars did not get ready: gateway exited 3 times while starting/);
  t.match(err.message, /log \(tail\) ---\nfake log line/);
  t.ok(Date.now() - started < 5000, 'well before the 30 s bound (the history seeded into the events file is no part of the log)');
  t.same([...engine.containers.keys(), ...engine.networks.keys()], []);
});

t.test('teardown: agent, bundle, then networks; by name and by label; idempotent', async (t) => {
  const engine = new FakeEngine();
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  await backend.launch(plan, sampleContext(paths, slug));
  // A stray labelled container the metadata never recorded (a half-recorded launch).
  await engine.createContainer({ name: 'bottle-tester-abcdef-route', Labels: { 'dev.bottle.slug': slug } });
  const meta: Metadata = { schema: 1, slug, agent: 'tester', backend: 'docker', created: new Date(0).toISOString(), resources: {} };
  t.equal((await backend.inspect([meta])).get(slug), 'running');
  const lines: string[] = [];
  await backend.teardown(meta, (l) => lines.push(l));
  t.same(engine.removed.slice(-5), [
    'container bottle-tester-abcdef-agent', 'container bottle-tester-abcdef-route', 'container bottle-tester-abcdef-sidecars',
    'network bottle-tester-abcdef-ext', 'network bottle-tester-abcdef-int',
  ]);
  t.same([...engine.containers.keys(), ...engine.networks.keys()], []);
  t.equal((await backend.inspect([meta])).get(slug), 'missing');
  await backend.teardown(meta, () => undefined);
  t.same(await backend.listResources(), []);
});

t.test('control: SIGHUP to the bundle; secrets through exec Env only', async (t) => {
  const engine = new FakeEngine();
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  await backend.launch(plan, sampleContext(paths, slug));
  const meta: Metadata = { schema: 1, slug, agent: 'tester', backend: 'docker', created: new Date(0).toISOString(), resources: {} };
  const control = backend.control(meta, paths);
  await control.reload(slug);
  t.match(engine.calls.at(-1), { op: 'kill', target: 'bottle-tester-abcdef-sidecars', body: { signal: 'HUP' } });
  await control.provideSecrets(slug, ['GH_TOKEN'], { GH_TOKEN: 'ghp_value' });
  const exec = engine.calls.at(-1)!;
  t.match(exec, { op: 'exec', target: 'bottle-tester-abcdef-sidecars' });
  const body = exec.body as { Cmd: string[]; Env: string[] };
  t.same(body.Env, ['GH_TOKEN=ghp_value']); // gitleaks:allow (test dummy)
  t.same(body.Cmd.slice(-3), ['sidecar', 'gateway-secrets', 'GH_TOKEN']);
  t.notMatch(JSON.stringify(body.Cmd), 'ghp_value');
  await t.rejects(control.provideSecrets(slug, ['NOPE'], {}), /NOPE not set/);
  await backend.teardown(meta, () => undefined);
  await t.rejects(control.reload(slug), /does not exist/);
});

t.test('engine state from labelled containers', async (t) => {
  const c = (service: string, State: string) => ({ State, Labels: { 'com.docker.compose.service': service } });
  t.equal(engineState([c('agent', 'running'), c('sidecars', 'running')]), 'running');
  t.equal(engineState([c('agent', 'exited'), c('sidecars', 'running')]), 'partial');
  t.equal(engineState([c('sidecars', 'running')]), 'partial');
  t.equal(engineState([c('agent', 'exited'), c('sidecars', 'exited')]), 'exited');
  t.equal(engineState([]), 'missing', 'no containers: the bottle is gone (networks left behind are for cleanup), not "exited"');
});

t.test('attachArgv: docker exec -it as node in /workspace', async (t) => {
  const backend = new DockerBackend(new FakeEngine(), { env: { TERM: 'tmux-256color' } });
  const meta: Metadata = { schema: 1, slug, agent: 'tester', backend: 'docker', created: new Date(0).toISOString(), resources: {} };
  t.same(backend.attachArgv(meta, { args: ['--session-id', 'u-1', '--append-system-prompt-file', '/home/node/.bottle/prompt.md'] }), [
    'docker', 'exec', '-it', '-u', 'node', '-w', '/workspace', '-e', 'TERM=tmux-256color', 'bottle-tester-abcdef-agent',
    'claude', '--session-id', 'u-1', '--append-system-prompt-file', '/home/node/.bottle/prompt.md',
  ]);
});

t.test('an agent image without the agent user fails the launch by name, nothing left', async (t) => {
  const { engine, result } = launch({ imageFiles: { '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n' } });
  await t.rejects(result, /provisioning step .*failed: the agent image has no user node \(not in its \/etc\/passwd\); build it with `bottle images build`/);
  t.same([...engine.containers.keys(), ...engine.networks.keys()], []);
});
