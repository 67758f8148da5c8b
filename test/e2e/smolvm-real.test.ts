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
