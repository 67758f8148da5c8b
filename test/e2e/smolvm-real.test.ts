// The smolvm wrapper and the image hop against the REAL smolvm: gated on the binary (skips
// visibly when absent, which is the usual case; the fake in test/fixtures/bin/smolvm pins the
// contract for every other test) and, for the VM round trip, on a Docker engine and an image.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmolvmClient } from '../../lib/backends/smolvm/cli.js';
import { packAgentImage } from '../../lib/backends/smolvm/pack.js';
import { which } from '../../lib/run/index.js';
import { engineGate } from '../helpers/e2e.js';

const smolvmBin = await which('smolvm');
const noSmolvm = !smolvmBin && 'smolvm is not installed (not on PATH); the fake smolvm covers its contract, real runs need smolvm v0.8+';
t.setTimeout(30 * 60_000);

await t.test('real smolvm: machine ls --json parses', { skip: noSmolvm }, async (t) => {
  const smolvm = new SmolvmClient();
  const list = await smolvm.list();
  t.ok(Array.isArray(list));
  for (const m of list) t.not(m.state, 'unknown', `machine ${m.name}: state ${m.rawState ?? m.state} is one the parser knows`);
});

const IMAGE = process.env.BOTTLE_SMOLVM_TEST_IMAGE ?? 'bottle-agent:latest';
// Only asked when smolvm is there: without it the engine is irrelevant to this file.
const gate = smolvmBin ? await engineGate() : undefined;
const hasImage = await gate?.docker?.getImage(IMAGE).inspect().then(() => true, () => false);
const noRoundTrip = noSmolvm || gate?.skip || (!hasImage && `${IMAGE} is not built (bottle images build), or set BOTTLE_SMOLVM_TEST_IMAGE`);

await t.test(`real smolvm: pack ${IMAGE} via the endpoint, boot it, exec, tear down`, { skip: noRoundTrip }, async (t) => {
  const docker = gate!.docker!;
  const cacheDir = await mkdtemp(join(tmpdir(), 'bottle-smolvm-real-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const smolvm = new SmolvmClient();
  const lines: string[] = [];
  const path = await packAgentImage({ image: IMAGE, docker, smolvm, cacheDir, log: (l) => void lines.push(l) });
  t.comment(lines.join('\n'));
  t.ok((await stat(path)).size > 0, `packed ${path}`);

  const name = `bottle-e2e-${randomBytes(3).toString('hex')}`;
  t.teardown(async () => {
    await smolvm.stop(name).catch(() => undefined);
    await smolvm.delete(name).catch(() => undefined);
  });
  await smolvm.create({ name, source: { from: path } });
  await smolvm.start(name);
  t.equal((await smolvm.list()).find((m) => m.name === name)?.state, 'running');
  const hello = await smolvm.exec({ name, command: ['echo', 'hello-from-vm'], timeoutS: 60 });
  t.same([hello.exitCode, hello.stdout.trim()], [0, 'hello-from-vm']);
  const fail = await smolvm.exec({ name, command: ['sh', '-c', 'exit 7'], timeoutS: 60 });
  t.equal(fail.exitCode, 7, 'the in-VM exit code comes back');
  await smolvm.stop(name);
  await smolvm.delete(name);
  t.notOk((await smolvm.list()).some((m) => m.name === name), 'gone from machine ls');
});

// The whole backend on real smolvm: also checks the assumptions the fake cannot (exec runs as
// root, runuser gives node, the VM's env reaches exec'd processes, TSI confines the VM).
const hasSidecars = await gate?.docker?.getImage('bottle-sidecars:latest').inspect().then(() => true, () => false);
const noBackend = noRoundTrip || (!hasSidecars && 'bottle-sidecars:latest is not built (bottle images build)');

await t.test('real smolvm: backend launch → exec as node through the bundle → teardown', { skip: noBackend }, async (t) => {
  const { SmolvmBackend, smolvmEngine } = await import('../../lib/backends/smolvm/index.js');
  const { makeBottleDir, sampleContext, samplePlan } = await import('../fixtures/docker/bottle.js');
  const docker = gate!.docker!;
  const root = await mkdtemp(join(tmpdir(), 'bottle-smolvm-backend-real-'));
  const slug = `e2e-vm-${randomBytes(3).toString('hex')}`;
  const backend = new SmolvmBackend(smolvmEngine(docker), new SmolvmClient(), { env: {}, cacheDir: join(root, 'cache') });
  const meta = { schema: 1 as const, slug, agent: 'tester', backend: 'smolvm' as const, created: new Date().toISOString(), resources: {} };
  t.teardown(async () => {
    await backend.teardown(meta, () => undefined).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });
  const ctx = sampleContext(makeBottleDir(join(root, 'state'), slug), slug);
  const result = await backend.launch(samplePlan({ backend: 'smolvm', image: IMAGE }), ctx);
  t.comment(ctx.lines.join('\n'));
  const ip = (result.backendData as { bundleIp: string }).bundleIp;
  const sh = (cmd: string) => backend.exec(meta, ['sh', '-c', cmd]);
  t.match((await sh('id -un; echo $HOME; echo $HTTPS_PROXY')).stdout, new RegExp(`^node\\n/home/node\\nhttp://${ip.replace(/\./g, '\\.')}:8888`));
  t.match((await sh(`curl -s -o /dev/null -m 10 -w '%{http_code}' http://${ip}:9100/mcp`)).stdout, /^[1-5]\d\d$/, 'supervise reachable on the bundle IP');
  t.not((await sh('curl -s -m 5 --noproxy "*" http://127.0.0.1:9 || exit 9')).exitCode, 0, 'host loopback is not reachable');
  t.not((await sh(`nc -z -w 5 ${ip} 22 || exit 9`)).exitCode, 0, 'no other port on the bundle IP answers');
  await backend.teardown(meta, () => undefined);
  t.equal((await backend.inspect([meta])).get(slug), 'missing');
});
