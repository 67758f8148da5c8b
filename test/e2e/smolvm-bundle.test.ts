// The smolvm backend's Docker half on a real engine: a full launch through the backend with the
// REAL sidecar bundle and the fake smolvm standing in for the VM. Checks the pinned-IP bridge,
// the three agent-facing ports answering on the bundle's IP from another container on that
// bridge, and the port census that makes `--allow-cidr <bundle-ip>/32` safe despite TSI not
// being port-granular: every non-loopback TCP listener in the bundle is 8888, 9418 or 9100.
import t from 'tap';
import type Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demux, execIn } from '../../lib/docker/api.js';
import { SmolvmClient } from '../../lib/backends/smolvm/cli.js';
import { SmolvmBackend, smolvmEngine } from '../../lib/backends/smolvm/index.js';
import { packCacheKey } from '../../lib/backends/smolvm/pack.js';
import type { Metadata } from '../../lib/state/index.js';
import { imagesGate } from '../helpers/e2e.js';
import { labelled } from '../helpers/sandbox.js';
import { fakeSmolvm } from '../helpers/fake-smolvm.js';
import { makeBottleDir, SECRET, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';

const AGENT_IMAGE = 'bottle-agent:latest';
const PROBE_LABEL = 'dev.bottle.e2e-probe';
t.setTimeout(10 * 60_000);

// A listening TCP socket from /proc/net/tcp{,6}: address (as text) and port.
export interface Listener { address: string; port: number; loopback: boolean }

// /proc/net/tcp* print addresses as 32-bit words in host order (little-endian here).
function word(hex: string): number[] {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

// Parses /proc/net/tcp and tcp6 text (both concatenated is fine): the LISTEN (0A) sockets.
export function listeners(procNetTcp: string): Listener[] {
  const out: Listener[] = [];
  for (const line of procNetTcp.split('\n')) {
    const m = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+[0-9A-Fa-f]+:[0-9A-Fa-f]{4}\s+([0-9A-Fa-f]{2})\s/.exec(line);
    if (!m || m[3]!.toUpperCase() !== '0A') continue;
    const hex = m[1]!;
    const bytes = hex.length === 8 ? word(hex) : [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
    let address: string;
    let loopback: boolean;
    if (bytes.length === 4) {
      address = bytes.join('.');
      loopback = bytes[0] === 127;
    } else {
      const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
      const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => ((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
      address = mapped ? `::ffff:${bytes.slice(12).join('.')}` : groups.join(':');
      loopback = mapped ? bytes[12] === 127 : bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1;
    }
    out.push({ address, port: parseInt(m[2]!, 16), loopback });
  }
  return out;
}

t.test('the /proc/net/tcp parser', async (t) => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0',
    '   1: 0B00007F:8A3F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
    '   2: 0200D50A:24CE 0100D50A:D1E2 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0',
    '   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0 0',
    '   1: 0000000000000000FFFF00000100007F:0051 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0 0',
    '   2: 00000000000000000000000000000000:0052 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0 0',
  ].join('\n');
  t.same(listeners(text), [
    { address: '0.0.0.0', port: 8888, loopback: false },
    { address: '127.0.0.11', port: 35391, loopback: true },
    { address: '0:0:0:0:0:0:0:1', port: 80, loopback: true },
    { address: '::ffff:127.0.0.1', port: 81, loopback: true },
    { address: '0:0:0:0:0:0:0:0', port: 82, loopback: false },
  ], 'an established socket (st 01) is not a listener');
});

const gate = await imagesGate();
const skip = gate.skip;

// Runs `script` in a throwaway agent-image container on `network`; returns exit code and output.
async function probe(docker: Docker, slug: string, network: string, script: string): Promise<{ code: number; out: string }> {
  const c = await docker.createContainer({
    Image: AGENT_IMAGE, User: 'node', Entrypoint: ['sh', '-c', script], Cmd: [],
    Labels: { [PROBE_LABEL]: slug }, HostConfig: { NetworkMode: network, CapDrop: ['ALL'] },
  });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    const logs = await c.logs({ stdout: true, stderr: true, follow: false });
    return { code: StatusCode, out: demux(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs))).all };
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

const git = (cwd: string, ...args: string[]): string => execFileSync('git', ['-c', 'safe.directory=*', ...args], { cwd, stdio: 'pipe' }).toString();

await t.test('smolvm backend, real bundle: pinned IP, three ports, port census, clean teardown', { skip }, async (t) => {
  const docker = gate.docker!;
  const slug = `e2e-smol-${randomBytes(3).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), 'bottle-e2e-smolvm-'));
  const paths = makeBottleDir(join(root, 'state'), slug);
  const ws = join(root, 'ws');
  mkdirSync(ws);
  git(ws, 'init', '-q', '-b', 'main');
  writeFileSync(join(ws, 'README.md'), 'hello\n');
  git(ws, 'add', '.');
  git(ws, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init');
  const upstream = join(root, 'upstream.git');
  git(root, 'clone', '-q', '--bare', ws, upstream);

  // The VM side is the fake; packing is covered elsewhere, so the cache already holds the image.
  const fake = await fakeSmolvm(t);
  await fake.script({ exec: [
    { args: ['id', '-u'], stdout: '0\n' }, { args: ['id', 'node'], stdout: 'uid=1000(node) gid=1000(node)\n' },
    { args: ['mkdir'] }, { args: ['tar'] }, { args: ['rm'] }, { args: ['sh', '-c'] }, { args: ['runuser'] },
  ] });
  const cacheDir = join(root, 'cache');
  mkdirSync(cacheDir);
  writeFileSync(join(cacheDir, `${packCacheKey((await docker.getImage(AGENT_IMAGE).inspect()).Id)}.smolmachine`), '{}');
  const backend = new SmolvmBackend(smolvmEngine(docker), new SmolvmClient({ env: fake.env }), { env: {}, cacheDir });
  const meta: Metadata = { schema: 1, slug, agent: 'tester', backend: 'smolvm', created: new Date().toISOString(), resources: {} };
  t.teardown(async () => {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${PROBE_LABEL}=${slug}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    await backend.teardown(meta, () => undefined).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  const ctx = sampleContext(paths, slug);
  const result = await backend.launch(samplePlan({ backend: 'smolvm', git: [{ name: 'origin', upstream }] }), ctx);
  t.comment(ctx.lines.join('\n'));
  const { bundleIp, subnet } = result.backendData as { bundleIp: string; subnet: string };
  const network = `bottle-${slug}-vm`;
  const bundleName = `bottle-${slug}-sidecars`;
  for (const d of ['gateway', 'git-gate', 'supervise']) t.ok(ctx.lines.some((l) => l.startsWith(`${d} ready (`)), `${d} ready`);
  t.equal((await backend.inspect([meta])).get(slug), 'running');

  await t.test('the bridge has the chosen subnet; the bundle sits at .2; the VM may reach only that', async (t) => {
    const net = await docker.getNetwork(network).inspect();
    t.equal(net.IPAM?.Config?.[0]?.Subnet, subnet);
    t.equal(net.Internal, false, 'the bundle needs egress');
    t.match(net.Labels, { 'dev.bottle.slug': slug, 'dev.bottle.backend': 'smolvm' });
    const b = await docker.getContainer(bundleName).inspect();
    t.same(Object.keys(b.NetworkSettings.Networks), [network]);
    t.equal(b.NetworkSettings.Networks[network]!.IPAddress, bundleIp);
    t.match(bundleIp, /\.2$/);
    t.same(b.HostConfig.PortBindings ?? {}, {}, 'nothing published on the host');
    const vm = (await fake.machines())[`bottle-${slug}`]!;
    t.same(vm.allowCidrs, [`${bundleIp}/32`]);
    t.equal(vm.env.HTTPS_PROXY, `http://${bundleIp}:8888`);
    t.notMatch(JSON.stringify(await fake.calls()), SECRET, 'no route secret in any smolvm argv');
  });

  await t.test('the three agent-facing ports answer on the bundle IP from another container on the bridge', async (t) => {
    const r = await probe(docker, slug, network, [
      `echo gateway=$(curl -s -o /dev/null -m 10 -w '%{http_code}' http://${bundleIp}:8888/)`,
      `echo supervise=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{}' http://${bundleIp}:9100/mcp)`,
      `nc -z -w 10 ${bundleIp} 9418 && echo git-gate=open`,
    ].join('; '));
    t.equal(r.code, 0, r.out);
    t.match(r.out, /gateway=[1-5]\d\d/, 'the gateway answers HTTP');
    t.match(r.out, /supervise=[1-5]\d\d/, 'supervise answers HTTP');
    t.match(r.out, /git-gate=open/, 'git daemon accepts connections');
  });

  await t.test('port census: the non-loopback TCP listeners are exactly 8888, 9418, 9100', async (t) => {
    const bundle = docker.getContainer(bundleName);
    const tcp = await execIn(bundle, ['cat', '/proc/net/tcp', '/proc/net/tcp6'], { user: '' });
    t.equal(tcp.exitCode, 0, tcp.stderr);
    const all = listeners(tcp.stdout);
    t.comment(all.map((l) => `${l.address}:${l.port}`).join(' '));
    const exposed = [...new Set(all.filter((l) => !l.loopback).map((l) => l.port))].sort((a, b) => a - b);
    t.same(exposed, [8888, 9100, 9418]);
    const unix = await execIn(bundle, ['cat', '/proc/net/unix'], { user: '' });
    t.match(unix.stdout, /\/tmp\/bottle-gateway\.sock/, 'the gateway control channel is a unix socket');
  });

  const lines: string[] = [];
  await backend.teardown(meta, (l) => lines.push(l));
  t.comment(lines.join('\n'));
  t.same(await labelled(docker, slug), [], 'no labelled container or network left');
  t.same(await fake.machines(), {}, 'the VM is gone');
  t.equal((await backend.inspect([meta])).get(slug), 'missing');
  await backend.teardown(meta, () => undefined);
});
