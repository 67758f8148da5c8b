// The pure Docker plan: names, labels, networks, mounts, env — and no secret value anywhere.
import t from 'tap';
import { PLACEHOLDER_API_KEY } from '../../lib/backends/bundle/names.js';
import { upstreamsJson } from '../../lib/backends/bundle/plan.js';
import { agentEnv, dockerPlan } from '../../lib/backends/docker/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { SECRET, sampleAgent, sampleEnv, samplePlan } from '../fixtures/docker/bottle.js';

const slug = 'tester-abcdef';
const paths = bottlePaths('/state', slug);
const opts = { bundleUser: '1000:1000' };
const envOf = (list: string[] | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const mountsOf = (dp: ReturnType<typeof dockerPlan>) =>
  Object.fromEntries((dp.bundle.create.HostConfig?.Mounts ?? []).map((m) => [m.Target, `${m.Source} ${m.ReadOnly ? 'ro' : 'rw'}`]));

t.test('names, labels and networks', async (t) => {
  const dp = dockerPlan(samplePlan(), slug, paths, sampleAgent(), opts);
  t.same(dp.networks.map((n) => [n.name, n.create.Internal]), [['bottle-tester-abcdef-int', true], ['bottle-tester-abcdef-ext', false]]);
  t.equal(dp.networks[0]!.create.Options?.['com.docker.network.bridge.inhibit_ipv4'], 'true', 'the host gets no address on the agent network');
  t.equal(dp.bundle.name, 'bottle-tester-abcdef-sidecars');
  t.equal(dp.agent.name, 'bottle-tester-abcdef-agent');
  for (const [c, service] of [[dp.bundle, 'sidecars'], [dp.agent, 'agent']] as const) {
    t.match(c.create.Labels, {
      'com.docker.compose.project': 'bottle-tester-abcdef',
      'com.docker.compose.service': service,
      'dev.bottle.slug': slug,
      'dev.bottle.agent': 'tester',
    });
  }
  for (const n of dp.networks) t.match(n.create.Labels, { 'com.docker.compose.project': 'bottle-tester-abcdef', 'dev.bottle.slug': slug, 'dev.bottle.agent': 'tester' });
});

t.test('topology: agent on int only, bundle on both with its aliases', async (t) => {
  const dp = dockerPlan(samplePlan(), slug, paths, sampleAgent(), opts);
  t.equal(dp.agent.create.HostConfig?.NetworkMode, 'bottle-tester-abcdef-int');
  t.same(dp.agent.connect, []);
  t.same(Object.keys(dp.agent.create.NetworkingConfig?.EndpointsConfig ?? {}), ['bottle-tester-abcdef-int']);
  t.equal(dp.bundle.create.HostConfig?.NetworkMode, 'bottle-tester-abcdef-int');
  t.same(dp.bundle.connect, ['bottle-tester-abcdef-ext']);
  t.same(dp.bundle.create.NetworkingConfig?.EndpointsConfig?.['bottle-tester-abcdef-int']?.Aliases, ['gateway', 'git-gate', 'supervise']);
  for (const c of [dp.agent, dp.bundle]) {
    t.same(c.create.HostConfig?.CapDrop, ['ALL']);
    t.same(c.create.HostConfig?.SecurityOpt, ['no-new-privileges']);
    t.same(c.create.HostConfig?.PortBindings, {}, 'no host port published');
    t.equal(c.create.HostConfig?.PublishAllPorts, false);
    t.notOk(c.create.HostConfig?.CapAdd, `${c.name} gets no capability`);
  }
  t.equal(dp.agent.create.User, 'node');
  t.same(dp.agent.create.Cmd, ['sleep', 'infinity']);
  t.equal(dp.bundle.create.User, '1000:1000');
  t.equal(dp.routeHelper.create.HostConfig?.NetworkMode, 'container:bottle-tester-abcdef-agent');
  t.same(dp.routeHelper.create.HostConfig?.CapAdd, ['NET_ADMIN'], 'NET_ADMIN only in the helper, never in the agent');
});

t.test('the bundle mounts no host path: everything it is given is in its seed', async (t) => {
  const plan = samplePlan({ git: [{ name: 'origin', upstream: 'git@github.com:acme/app.git', identity: '/keys/id_ed25519' }] });
  const dp = dockerPlan(plan, slug, paths, sampleAgent(), opts);
  t.notOk(dp.bundle.create.HostConfig?.Mounts, 'no mounts (a remote engine has none of these paths)');
  t.notOk(dp.bundle.create.HostConfig?.Binds);
  // What the bundle only reads belongs to the keeper (not the bundle's uid: it cannot change it).
  const who = (o?: string): string => o ?? 'keeper';
  t.same(Object.fromEntries(dp.seed.files.map((f) => [f.target, `${f.from ?? 'content'} ${f.mode.toString(8)} ${who(f.owner)}`])), {
    '/bottle/ca/ca.crt': '/state/tester-abcdef/ca/ca.crt 644 keeper',
    '/bottle/ca/ca.key': '/state/tester-abcdef/ca/ca.key 640 keeper',
    '/bottle/events/events.jsonl': '/state/tester-abcdef/events/events.jsonl 600 bundle',
    '/bottle/git-gate/upstreams.json': 'content 644 keeper',
    '/bottle/git-gate/identities/origin': '/keys/id_ed25519 600 bundle',
  });
  t.same(dp.seed.copyDirs.map((d) => `${d.from} -> ${d.to} ${d.mode.toString(8)} ${who(d.owner)}`), [
    '/state/tester-abcdef/policy -> /bottle/policy 640 keeper',
    '/state/tester-abcdef/supervise/queue -> /bottle/supervise/queue 644 bundle',
    '/state/tester-abcdef/supervise/decisions -> /bottle/supervise/decisions 640 keeper',
  ]);
  t.same(Object.fromEntries(dp.seed.dirs.map((d) => [d.path, `${d.mode.toString(8)} ${who(d.owner)}`])), {
    '/bottle': '755 keeper', '/bottle/policy': '750 keeper', '/bottle/ca': '750 keeper', '/bottle/events': '700 bundle',
    '/bottle/supervise': '755 keeper', '/bottle/supervise/queue': '755 bundle', '/bottle/supervise/decisions': '750 keeper',
    '/bottle/git-gate': '755 keeper', '/bottle/git-gate/repos': '700 bundle', '/bottle/git-gate/identities': '700 bundle',
  });
  t.notOk(dp.agent.create.HostConfig?.Mounts, 'the agent mounts nothing from the host');
  t.notOk(dp.agent.create.HostConfig?.Binds);
  t.same(JSON.parse(upstreamsJson(plan)), [{ name: 'origin', upstream: 'git@github.com:acme/app.git', identityFile: '/bottle/git-gate/identities/origin' }]);
  t.ok(dp.requiredPaths.some((r) => r.path === '/keys/id_ed25519'));
});

t.test('a local upstream is mounted at the same path, read-write', async (t) => {
  const dp = dockerPlan(samplePlan({ git: [{ name: 'origin', upstream: '/srv/git/app.git' }] }), slug, paths, sampleAgent(), opts);
  t.equal(mountsOf(dp)['/srv/git/app.git'], '/srv/git/app.git rw');
});

t.test('daemons follow the plan: no git → no git-gate, supervise off → no supervise', async (t) => {
  const full = dockerPlan(samplePlan({ git: [{ name: 'o', upstream: 'https://x.test/r.git' }] }), slug, paths, sampleAgent(), opts);
  t.same(full.daemons, ['gateway', 'git-gate', 'supervise']);
  t.equal(envOf(full.bundle.create.Env).BOTTLE_SIDECAR_DAEMONS, 'gateway,git-gate,supervise');
  const bare = dockerPlan(samplePlan({ supervise: false }), slug, paths, sampleAgent(), opts);
  t.same(bare.daemons, ['gateway']);
  const env = envOf(bare.bundle.create.Env);
  t.equal(env.BOTTLE_SIDECAR_DAEMONS, 'gateway');
  t.notOk(env.BOTTLE_GIT_GATE_UPSTREAMS);
  t.notOk(env.BOTTLE_SUPERVISE_QUEUE_DIR);
  t.same(bare.seed.dirs.map((d) => d.path).sort(), ['/bottle', '/bottle/ca', '/bottle/events', '/bottle/policy']);
  t.same(bare.seed.copyDirs.map((d) => d.to), ['/bottle/policy']);
  t.notOk(bare.provision.some((s) => s.name === 'mcp-supervise'));
});

t.test('push review with supervise off: git-gate still gets the queue and decisions, and says so in env', async (t) => {
  const git = [{ name: 'origin', upstream: 'https://x.test/r.git', review: { holdMs: 1_800_000 } }, { name: 'docs', upstream: 'https://x.test/d.git' }];
  const dp = dockerPlan(samplePlan({ supervise: false, git }), slug, paths, sampleAgent(), opts);
  t.same(dp.daemons, ['gateway', 'git-gate'], 'no supervise daemon: only its dirs');
  t.same(dp.seed.copyDirs.map((d) => d.to), ['/bottle/policy', '/bottle/supervise/queue', '/bottle/supervise/decisions'], 'git-gate holds pushes there, with the host copies');
  const env = envOf(dp.bundle.create.Env);
  t.match(env, {
    BOTTLE_SIDECAR_DAEMONS: 'gateway,git-gate',
    BOTTLE_GIT_GATE_REVIEW: '1',
    BOTTLE_SUPERVISE_QUEUE_DIR: '/bottle/supervise/queue',
    BOTTLE_SUPERVISE_DECISIONS_DIR: '/bottle/supervise/decisions',
  });
  t.same(JSON.parse(upstreamsJson(samplePlan({ git }))), [
    { name: 'origin', upstream: 'https://x.test/r.git', reviewHoldMs: 1_800_000 },
    { name: 'docs', upstream: 'https://x.test/d.git' },
  ], 'the hold per upstream; none on a remote without review');

  const plain = dockerPlan(samplePlan({ supervise: false, git: [git[1]!] }), slug, paths, sampleAgent(), opts);
  t.notOk(envOf(plain.bundle.create.Env).BOTTLE_GIT_GATE_REVIEW, 'no review: no flag');
  t.notOk(mountsOf(plain)['/bottle/supervise/queue'], 'and no queue without supervise');
  t.notOk(envOf(dockerPlan(samplePlan({ git: [git[1]!] }), slug, paths, sampleAgent(), opts).bundle.create.Env).BOTTLE_GIT_GATE_REVIEW, 'supervise on alone does not turn review on');
});

t.test('bundle env: daemon config the sidecars read', async (t) => {
  const dp = dockerPlan(samplePlan({ git: [{ name: 'o', upstream: 'https://x.test/r.git' }] }), slug, paths, sampleAgent(), opts);
  const env = envOf(dp.bundle.create.Env);
  t.match(env, {
    BOTTLE_POLICY_FILE: '/bottle/policy/policy.yaml',
    BOTTLE_EVENTS_FILE: '/bottle/events/events.jsonl',
    BOTTLE_SUPERVISE_LISTEN: '0.0.0.0:9100',
    BOTTLE_SUPERVISE_QUEUE_DIR: '/bottle/supervise/queue',
    BOTTLE_SUPERVISE_DECISIONS_DIR: '/bottle/supervise/decisions',
    BOTTLE_GIT_GATE_LISTEN: '0.0.0.0',
    BOTTLE_GIT_GATE_REPOS_DIR: '/bottle/git-gate/repos',
    BOTTLE_GIT_GATE_UPSTREAMS: '/bottle/git-gate/upstreams.json',
  });
  t.match(env, { BOTTLE_GATEWAY_LISTEN: '0.0.0.0:8888', BOTTLE_GATEWAY_POLICY_DIR: '/bottle/policy', BOTTLE_GATEWAY_CA_DIR: '/bottle/ca' });
  t.equal(env.BOTTLE_SIDECAR_COMMANDS, undefined, 'no daemon override unless asked for');
  t.equal(env.BOTTLE_GATEWAY_UPSTREAM_CA, undefined, 'no test upstream CA by default');
  t.equal(env.BOTTLE_GATEWAY_ALLOW_PRIVATE, undefined, 'no private-upstream allowance by default');
  const withTest = dockerPlan(samplePlan({}), slug, paths, sampleAgent(), { ...opts, testUpstream: { caFile: '/tmp/ca.pem', allowPrivate: ['allowed.test'], resolveOnly: ['test'] } });
  const testEnv = envOf(withTest.bundle.create.Env);
  t.match(testEnv, { BOTTLE_GATEWAY_UPSTREAM_CA: '/bottle/test/upstream-ca.pem', BOTTLE_GATEWAY_ALLOW_PRIVATE: 'allowed.test', BOTTLE_GATEWAY_RESOLVE_ONLY: 'test' });
  t.equal(env.BOTTLE_GATEWAY_RESOLVE_ONLY, undefined, 'no resolve lockdown by default');
  t.ok(withTest.seed.files.some((f) => f.from === '/tmp/ca.pem' && f.target === '/bottle/test/upstream-ca.pem'), 'test CA uploaded');
  t.same(dp.secretNames, ['ANTHROPIC_API_KEY', 'E2E_TOKEN'], 'names of the route variables, values come at launch');
});

t.test('agent env: proxies in both spellings, CA, placeholder key, manifest env', async (t) => {
  const agent = sampleAgent();
  agent.env.HTTPS_PROXY = 'http://evil.test:1'; // a manifest cannot reach here (reserved), but bottle's wiring wins anyway
  const env = envOf(agentEnv(agent));
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) t.equal(env[k], 'http://gateway:8888', k);
  for (const k of ['NO_PROXY', 'no_proxy']) t.equal(env[k], 'git-gate,supervise,localhost,127.0.0.1', k);
  t.equal(env.NODE_EXTRA_CA_CERTS, '/usr/local/share/ca-certificates/bottle-ca.crt');
  t.equal(env.ANTHROPIC_API_KEY, PLACEHOLDER_API_KEY);
  t.equal(env.LOG_LEVEL, 'debug');
});

t.test('no secret value anywhere in the plan', async (t) => {
  const env = sampleEnv();
  const plan = samplePlan({ git: [{ name: 'origin', upstream: 'git@github.com:acme/app.git', identity: '/keys/id' }], workspace: '/ws', skills: ['/skills/review'] });
  const text = JSON.stringify(dockerPlan(plan, slug, paths, sampleAgent(), opts));
  t.notMatch(text, SECRET);
  t.notMatch(text, env.ANTHROPIC_API_KEY!);
  t.match(text, 'E2E_TOKEN', 'names are fine');
});

t.test('pure: same inputs, same plan', async (t) => {
  const a = dockerPlan(samplePlan(), slug, paths, sampleAgent(), opts);
  const b = dockerPlan(samplePlan(), slug, paths, sampleAgent(), opts);
  t.same(a, b);
});
