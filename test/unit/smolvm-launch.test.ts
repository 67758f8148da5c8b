// smolvm launch over the fake engine + the fake smolvm on PATH: the ordered operations, the
// VM's confinement (one /32, IP-literal wiring), secrets nowhere near the VM, and provisioning
// parameterised with the bundle's IP. Failure/abort unwinding: smolvm-launch-failures.test.ts.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TRUST_CA_ARGV } from '../../lib/backends/bundle/provision.js';
import { extractTar } from '../../lib/backends/bundle/tar.js';
import { SecretInArgvError } from '../../lib/backends/smolvm/cli.js';
import { chooseSubnet } from '../../lib/backends/smolvm/subnet.js';
import { UserError } from '../../lib/errors.js';
import { ASK_PROMPT } from '../../lib/plan/index.js';
import { API_KEY, makeBottleDir, SECRET, sampleAgent, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { leftovers, mutating, rig, type Rig } from './smolvm-launch-fixture.js';

const slug = 'tester-abcdef';
const root = mkdtempSync(join(tmpdir(), 'bottle-smolvm-launch-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const paths = makeBottleDir(root, slug);
const plan = samplePlan({ backend: 'smolvm', git: [{ name: 'origin', upstream: 'https://example.test/app.git' }] });
const { bundleIp, subnet } = chooseSubnet(slug, []);
const VM = `bottle-${slug}`;

// Random parts of one run (cache dir, endpoint port, staging name) made stable.
const stable = (r: Rig, ops: string[]): string[] => ops.map((o) => o
  .replaceAll(r.cacheDir, 'CACHE')
  .replace(/localhost:\d+\//, 'localhost:PORT/')
  .replace(/CACHE\/\.[0-9a-f]{16}\.\d+-[0-9a-f]+/, 'CACHE/STAGING'));

t.test('a launch: engine calls and smolvm argv in one ordered list; resources and backendData', async (t) => {
  const r = await rig(t);
  const ctx = sampleContext(paths, slug);
  const result = await r.backend.launch(plan, ctx);
  const exec = `smolvm machine exec --name ${VM}`;
  let n = 0;
  const unpack = (dir: string): string[] => [
    `smolvm machine cp HOST/${++n}.tar ${VM}:/tmp/bottle-provision-X/${n}.tar`,
    `${exec} -- tar -x --numeric-owner -f /tmp/bottle-provision-X/${n}.tar -C ${dir}`,
  ];
  t.same(stable(r, mutating(r.ops)), [
    `createNetwork ${VM}-vm`,
    `createContainer ${VM}-sidecars`,
    `start ${VM}-sidecars`,
    'smolvm pack create -I localhost:PORT/bottle-agent:ab12ab12ab12ab12 -o CACHE/STAGING',
    `smolvm machine create ${VM} --from CACHE/ab12ab12ab12ab12.smolmachine --allow-cidr ${bundleIp}/32 -e LOG_LEVEL=debug ` +
      `-e HTTP_PROXY=http://${bundleIp}:8888 -e HTTPS_PROXY=http://${bundleIp}:8888 -e http_proxy=http://${bundleIp}:8888 -e https_proxy=http://${bundleIp}:8888 ` +
      `-e NO_PROXY=${bundleIp},localhost,127.0.0.1 -e no_proxy=${bundleIp},localhost,127.0.0.1 ` +
      '-e NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/bottle-ca.crt -e ANTHROPIC_API_KEY=sk-ant-bottle-placeholder-not-a-key -w /workspace', // gitleaks:allow (test dummy)
    `smolvm machine start --name ${VM}`,
    `${exec} -- id -u`,
    `${exec} -- id node`,
    `${exec} -- mkdir -m 700 /tmp/bottle-provision-X`,
    ...unpack('/usr/local/share/ca-certificates'), // every file in one batch: the CA,
    ...unpack('/home/node'), // gitconfig, claude settings and state (supervise MCP), prompt
    `${exec} -- ${TRUST_CA_ARGV.join(' ')}`,
    `${exec} -- rm -rf /tmp/bottle-provision-X`,
  ]);
  t.same(result.resources, { containers: [`${VM}-sidecars`], networks: [`${VM}-vm`], machine: VM });
  t.match(result.backendData, { bundleIp, subnet, vm: VM, smolmachine: join(r.cacheDir, 'ab12ab12ab12ab12.smolmachine') });
  t.same(await leftovers(r), [`container ${VM}-sidecars`, `network ${VM}-vm`, `machine ${VM}`]);
  t.equal((await r.fake.machines())[VM]?.state, 'running');
  for (const line of ['starting sidecars', 'gateway ready', 'creating VM', 'starting VM', 'provision: bundle CA', `bottle ${slug} is up`]) {
    t.ok(ctx.lines.some((l) => l.startsWith(line)), `progress: ${line}`);
  }
});

t.test('the bridge and the bundle: pinned subnet and IP, labels, not internal', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const net = r.engine.networks.get(`${VM}-vm`)!;
  t.match(net, { Driver: 'bridge', Internal: false, IPAM: { Config: [{ Subnet: subnet, Gateway: bundleIp.replace(/\.2$/, '.1') }] } });
  t.match(net.Labels, { 'dev.bottle.slug': slug, 'com.docker.compose.project': VM, 'com.docker.compose.network': 'vm', 'dev.bottle.backend': 'smolvm' });
  const bundle = r.engine.containers.get(`${VM}-sidecars`)!.create;
  t.match(bundle.Labels, { 'dev.bottle.slug': slug, 'com.docker.compose.service': 'sidecars', 'dev.bottle.backend': 'smolvm' });
  t.equal(bundle.HostConfig?.NetworkMode, `${VM}-vm`);
  t.same(bundle.NetworkingConfig, { EndpointsConfig: { [`${VM}-vm`]: { IPAMConfig: { IPv4Address: bundleIp } } } });
  t.same(bundle.HostConfig?.CapDrop, ['ALL']);
  const env = bundle.Env ?? [];
  t.ok(env.includes('BOTTLE_GATEWAY_LISTEN=0.0.0.0:8888') && env.includes('BOTTLE_GIT_GATE_LISTEN=0.0.0.0') && env.includes('BOTTLE_SUPERVISE_LISTEN=0.0.0.0:9100'),
    'the three agent-facing daemons listen on the bridge; nothing else listens on TCP (see the e2e port census)');
});

t.test('the VM reaches exactly the bundle; no route secret in any smolvm argv', async (t) => {
  const r = await rig(t);
  const ctx = sampleContext(paths, slug);
  await r.backend.launch(plan, ctx);
  const calls = await r.fake.calls();
  const create = calls.find((c) => c[0] === 'machine' && c[1] === 'create')!;
  t.same(create.filter((a, i) => create[i - 1] === '--allow-cidr'), [`${bundleIp}/32`], 'exactly one --allow-cidr, the bundle /32');
  t.equal(create.filter((a) => a === '--allow-cidr').length, 1);
  const vm = (await r.fake.machines())[VM]!;
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) t.equal(vm.env[k], `http://${bundleIp}:8888`, `${k} is an IP literal`);
  t.equal(vm.env.NO_PROXY, `${bundleIp},localhost,127.0.0.1`);
  t.equal(vm.env.ANTHROPIC_API_KEY, 'sk-ant-bottle-placeholder-not-a-key'); // gitleaks:allow (test dummy)
  const argv = JSON.stringify(calls);
  t.notMatch(argv, SECRET, 'the planted route secret is in no smolvm argv');
  t.notMatch(argv, API_KEY, 'the real API key is in no smolvm argv');
  t.notMatch(ctx.lines.join('\n'), SECRET);
  const bundleEnv = r.engine.containers.get(`${VM}-sidecars`)!.create.Env!;
  t.ok(bundleEnv.includes(`E2E_TOKEN=${SECRET}`) && bundleEnv.includes(`ANTHROPIC_API_KEY=${API_KEY}`), 'the secrets live in the bundle');
  const files = JSON.stringify((await r.fake.machines())[VM]!.files);
  t.notMatch(Buffer.from(files).toString(), SECRET);
});

t.test('a manifest env value carrying a route secret is refused before smolvm sees it; nothing left', async (t) => {
  const r = await rig(t);
  const agent = sampleAgent({ env: Object.assign(Object.create(null) as Record<string, string>, { LEAK: `x${SECRET}x` }) });
  const ctx = sampleContext(paths, slug, { agent });
  const err = await r.backend.launch(plan, ctx).catch((e: unknown) => e);
  t.type(err, SecretInArgvError);
  t.notMatch(JSON.stringify(await r.fake.calls()), SECRET);
  t.same(await leftovers(r), []);
  t.ok(ctx.lines.includes(`removed container ${VM}-sidecars`) && ctx.lines.includes(`removed network ${VM}-vm`));
});

t.test('a missing route variable is a UserError before any engine or smolvm call', async (t) => {
  const r = await rig(t);
  const err = await r.backend.launch(plan, sampleContext(paths, slug, { env: { ANTHROPIC_API_KEY: API_KEY } })).catch((e: unknown) => e);
  t.type(err, UserError);
  t.same(r.ops, []);
});

// Every archive the fake VM received, unpacked into one host dir.
async function received(r: Rig): Promise<string> {
  const dir = mkdtempSync(join(root, 'vm-files-'));
  for (const [path, b64] of Object.entries((await r.fake.machines())[VM]!.files)) {
    if (path.endsWith('.tar')) await extractTar(Readable.from([Buffer.from(b64, 'base64')]), dir);
  }
  return dir;
}

t.test('provisioning: the Docker step list, with the bundle IP where Docker has aliases', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const dir = await received(r);
  const gitconfig = readFileSync(join(dir, '.gitconfig'), 'utf8');
  t.match(gitconfig, `[url "git://${bundleIp}:9418/origin.git"]\n\tinsteadOf = https://example.test/app.git`);
  t.notMatch(gitconfig, 'git-gate');
  const settings = JSON.parse(readFileSync(join(dir, '.claude', 'settings.json'), 'utf8')) as { hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>> };
  t.match(settings.hooks.Stop![0]!.hooks[0]!.command, ` http://${bundleIp}:9100/hooks/claude `);
  t.match(settings.hooks.Notification![0]!.hooks[0]!.command, ` http://${bundleIp}:9100/hooks/claude `);
  t.equal(readFileSync(join(dir, '.bottle', 'prompt.md'), 'utf8'), `You are a test agent.\n\n${ASK_PROMPT}\n`);
  t.equal(readFileSync(join(dir, 'bottle-ca.crt'), 'utf8'), readFileSync(join(paths.dir, 'ca', 'ca.crt'), 'utf8'), 'the CA certificate');
  t.notOk(JSON.stringify(await r.fake.machines()).includes('PRIVATE KEY'), 'never the CA key');
});

t.test('provisioning stops at a failing step, naming it', async (t) => {
  const r = await rig(t, { script: { exec: [{ args: ['id', '-u'], stdout: '0\n' }, { args: ['id', 'node'], stdout: 'uid=1000(node) gid=1000(node)\n' }, { args: ['mkdir'] }, { args: ['tar'] }, { args: ['rm'] },
    { args: ['sh', '-c'], exitCode: 2, stderr: 'read-only file system\n' }] } });
  await t.rejects(r.backend.launch(plan, sampleContext(paths, slug)), /provisioning step trust-ca failed: appending the CA to \/etc\/ssl\/certs\/ca-certificates\.crt exited 2: read-only file system/);
  t.same(await leftovers(r), []);
});

t.test('exec not running as root is a clear error (the assumption provisioning rests on)', async (t) => {
  const r = await rig(t, { script: { exec: [{ args: ['id', '-u'], stdout: '1000\n' }] } });
  await t.rejects(r.backend.launch(plan, sampleContext(paths, slug)), /smolvm machine exec in bottle-tester-abcdef does not run as root \(uid 1000\)/);
  t.same(await leftovers(r), []);
});

t.test('the subnet avoids networks the engine already has', async (t) => {
  const r = await rig(t);
  await r.engine.createNetwork({ Name: 'someone-else', IPAM: { Config: [{ Subnet: subnet }] } });
  const result = await r.backend.launch(plan, sampleContext(paths, slug));
  const chosen = result.backendData!.subnet as string;
  t.not(chosen, subnet);
  t.same(chooseSubnet(slug, [subnet]).subnet, chosen);
  t.ok(r.engine.networks.has('someone-else'), 'and leaves it alone');
});

t.test('the packed image is cached: a second launch does not pack', async (t) => {
  const r = await rig(t);
  const meta = { schema: 1 as const, slug, agent: 'tester', backend: 'smolvm' as const, created: '', resources: {} };
  await r.backend.launch(plan, sampleContext(paths, slug));
  await r.backend.teardown(meta, () => undefined);
  const before = r.ops.length;
  const ctx = sampleContext(paths, slug);
  await r.backend.launch(plan, ctx);
  t.notOk(r.ops.slice(before).some((o) => o.startsWith('smolvm pack')), 'no pack create');
  t.ok(ctx.lines.some((l) => /is cached/.test(l)));
  t.same(r.engine.images.saves, [`sha256:${'ab12'.repeat(16)}`], 'exported once');
});
