// packAgentImage with the fake smolvm (which really pulls from the endpoint while it is up) and
// a stub engine: pack once per image id, cache hit does no work, failures leave nothing behind.
import t, { type Test } from 'tap';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmolvmClient, SmolvmError } from '../../lib/backends/smolvm/cli.js';
import { packAgentImage, packCacheKey, smolmachineCacheDir } from '../../lib/backends/smolvm/pack.js';
import { FakeImageEngine, fakeSmolvm } from '../helpers/fake-smolvm.js';

const ID1 = `sha256:${'1a2b3c4d5e6f7081'}${'9'.repeat(48)}`;
const ID2 = `sha256:${'ffee000011112222'}${'3'.repeat(48)}`;

async function setup(t: Test) {
  const cacheDir = join(await mkdtemp(join(tmpdir(), 'bottle-pack-')), 'smolmachines');
  t.teardown(() => rm(join(cacheDir, '..'), { recursive: true, force: true }));
  const fake = await fakeSmolvm(t);
  const engine = new FakeImageEngine();
  engine.images.set('bottle-agent:latest', { id: ID1, layers: [{ 'etc/os-release': 'fake' }, { 'x': 'x\n' }] });
  const lines: string[] = [];
  return { cacheDir, fake, engine, lines, log: (l: string) => void lines.push(l) };
}

t.test('first call packs through the endpoint; the same id is cached; a new id packs again', async (t) => {
  const { cacheDir, fake, engine, lines, log } = await setup(t);
  const smolvm = new SmolvmClient({ env: fake.env });
  const opts = { image: 'bottle-agent:latest', docker: engine, smolvm, cacheDir, log };

  const path = await packAgentImage(opts);
  t.equal(path, join(cacheDir, '1a2b3c4d5e6f7081.smolmachine'));
  const calls = await fake.calls();
  t.equal(calls.length, 1);
  const [argv] = calls;
  t.match(argv, ['pack', 'create', '-I', /^localhost:\d+\/bottle-agent:1a2b3c4d5e6f7081$/, '-o', String]);
  t.match(argv![5], /\/smolmachines\/\.1a2b3c4d5e6f7081\.\d+-[0-9a-f]{8}$/, 'packs to a private staging name');
  const packed = JSON.parse(await readFile(path, 'utf8')) as { image: string; manifest: { layers: unknown[] }; blobs: string[] };
  t.equal(packed.image, argv![3], 'the fake pulled the manifest while the endpoint was up');
  t.equal(packed.manifest.layers.length, 2);
  t.equal(packed.blobs.length, 3, 'config + both layers pulled and digest-verified');
  t.same(engine.saves, [ID1], 'exported by id, not by a tag that could move');
  const port = Number(/localhost:(\d+)\//.exec(argv![3]!)![1]);
  await t.rejects(fetch(`http://127.0.0.1:${port}/v2/`), 'endpoint stopped after packing');
  t.same(await readdir(cacheDir), ['1a2b3c4d5e6f7081.smolmachine'], 'no staging left');
  t.match(lines.join('\n'), /exporting bottle-agent:latest \(1a2b3c4d5e6f7081\)[\s\S]*serving 2 layers[\s\S]*packed bottle-agent:latest →/);

  lines.length = 0;
  t.equal(await packAgentImage(opts), path);
  t.equal((await fake.calls()).length, 1, 'cache hit: no smolvm call');
  t.same(engine.saves, [ID1], 'cache hit: no export');
  t.match(lines, [/is cached: /]);

  engine.images.set('bottle-agent:latest', { id: ID2, layers: [{ 'x': 'rebuilt\n' }] });
  const path2 = await packAgentImage(opts);
  t.equal(path2, join(cacheDir, 'ffee000011112222.smolmachine'));
  t.equal((await fake.calls()).length, 2, 'a rebuilt image (new id) packs again');
  t.same((await readdir(cacheDir)).sort(), ['1a2b3c4d5e6f7081.smolmachine', 'ffee000011112222.smolmachine']);
});

t.test('a failing pack stops the endpoint and leaves no file the cache would trust', async (t) => {
  const { cacheDir, fake, engine, log } = await setup(t);
  const smolvm = new SmolvmClient({ env: { ...fake.env, FAKE_SMOLVM_FAIL: 'pack create' } });
  await t.rejects(packAgentImage({ image: 'bottle-agent:latest', docker: engine, smolvm, cacheDir, log }), SmolvmError);
  const [argv] = await fake.calls();
  const port = Number(/localhost:(\d+)\//.exec(argv![3]!)![1]);
  await t.rejects(fetch(`http://127.0.0.1:${port}/v2/`), 'endpoint stopped on failure too');
  t.same(await readdir(cacheDir), [], 'neither staging nor a .smolmachine');
});

t.test('a pack that exits 0 without writing the file is an error', async (t) => {
  const { cacheDir, engine } = await setup(t);
  const smolvm = { packCreate: async (o: { output: string }) => `${o.output}.smolmachine` };
  await t.rejects(packAgentImage({ image: 'bottle-agent:latest', docker: engine, smolvm, cacheDir }), /exited 0 but wrote no .*\.smolmachine; check the smolvm version/);
  t.same(await readdir(cacheDir), []);
});

t.test('a missing image is the engine\'s error, before any work', async (t) => {
  const { cacheDir, fake, engine } = await setup(t);
  await t.rejects(packAgentImage({ image: 'nope:1', docker: engine, smolvm: new SmolvmClient({ env: fake.env }), cacheDir }), /no such image/);
  t.same(await fake.calls(), []);
});

t.test('cache dir and key', async (t) => {
  t.equal(smolmachineCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }), '/x/cache/bottle/smolmachines');
  t.equal(smolmachineCacheDir({ HOME: '/home/u' }), '/home/u/.cache/bottle/smolmachines');
  t.equal(packCacheKey(ID1), '1a2b3c4d5e6f7081');
  t.equal(packCacheKey('1a2b3c4d5e6f70819999'), '1a2b3c4d5e6f7081', 'bare hex too');
  t.throws(() => packCacheKey('sha256:short'), /unexpected image id/);
  t.throws(() => packCacheKey('../../etc/passwd'), /unexpected image id/, 'the key becomes a file name');
});
