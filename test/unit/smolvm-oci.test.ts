// The image hop without an engine: the streaming tar reader, docker-save → OCI conversion for
// both archive layouts, and the read-only endpoint's routes, headers and errors.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractTar, loadDockerSave, serveDockerImage, serveImage } from '../../lib/backends/smolvm/oci/index.js';
import { dockerSaveTar, FakeImageEngine, tarBuffer, type FakeImage } from '../helpers/fake-smolvm.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const chunked = (b: Buffer, n = 333): Readable =>
  Readable.from((function* () { for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n); })());

async function tmp(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-oci-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('extractTar: files hashed while written, dirs and links recorded, long names', async (t) => {
  const dir = await tmp(t);
  const long = `${'d'.repeat(60)}/${'f'.repeat(70)}.txt`;
  const big = Buffer.alloc(100_000, 7);
  const members = await extractTar(chunked(tarBuffer([
    { path: 'a/', type: 'dir' },
    { path: 'a/x', content: 'hello' },
    { path: 'a/empty', content: '' },
    { path: 'big', content: big },
    { path: long, content: 'long' },
    { path: 'b/link', type: 'symlink', target: '../a/x' },
    { path: 'hard', type: 'hardlink', target: 'a/x' },
  ])), dir);
  t.match(members.get('a/x'), { type: 'file', size: 5, sha256: sha('hello').slice(7) });
  t.equal(await readFile(join(dir, 'a/x'), 'utf8'), 'hello');
  t.match(members.get('a/empty'), { type: 'file', size: 0 });
  t.match(members.get('big'), { type: 'file', size: 100_000 });
  t.same(await readFile(join(dir, 'big')), big);
  t.match(members.get(long), { type: 'file', size: 4 }, 'pax path record');
  t.same(members.get('a'), { type: 'dir', path: 'a' });
  t.same(members.get('b/link'), { type: 'symlink', path: 'b/link', target: '../a/x' });
  t.same(members.get('hard'), { type: 'hardlink', path: 'hard', target: 'a/x' });
  t.same((await readdir(dir)).sort(), ['a', 'big', 'd'.repeat(60)], 'links are not created on disk');
});

// Regression: stopping at the end marker left the engine's `docker save` response unread (the
// record padding after it), and its open socket kept the process alive for minutes.
t.test('extractTar reads the source to its end, past the end marker and padding', async (t) => {
  const dir = await tmp(t);
  const src = chunked(Buffer.concat([tarBuffer([{ path: 'x', content: 'x' }]), Buffer.alloc(10_240)]), 512);
  await extractTar(src, dir);
  t.ok(src.readableEnded, 'source fully consumed');
});

t.test('extractTar refuses unsafe paths, bad checksums and truncated streams', async (t) => {
  const dir = await tmp(t);
  await t.rejects(extractTar(chunked(tarBuffer([{ path: '../evil', content: 'x' }])), dir), /unsafe member path/);
  await t.rejects(extractTar(chunked(tarBuffer([{ path: '/etc/evil', content: 'x' }])), dir), /unsafe member path/);
  const bad = tarBuffer([{ path: 'x', content: 'x' }]);
  bad[0] = 'y'.charCodeAt(0);
  await t.rejects(extractTar(chunked(bad), dir), /bad header checksum/);
  await t.rejects(extractTar(chunked(Buffer.from('{"not":"a tar"}'.padEnd(600, ' '))), dir), /bad header checksum/);
  const full = tarBuffer([{ path: 'x', content: Buffer.alloc(5000, 1) }]);
  await t.rejects(extractTar(chunked(full.subarray(0, 2000)), dir), /stream ended/);
});

for (const layout of ['legacy', 'oci'] as const) {
  t.test(`loadDockerSave (${layout} layout): OCI manifest, config and layer blobs by digest`, async (t) => {
    const dir = await tmp(t);
    const img: FakeImage = { id: 'sha256:1', layout, layers: [{ 'etc/a': 'A' }, { 'x': 'x\n' }, { 'etc/a': 'A' }] };
    const { tar, diffIds, configDigest } = dockerSaveTar('bottle-agent:latest', img);
    const image = await loadDockerSave(await extractTar(chunked(tar), dir));
    const manifest = JSON.parse(image.manifest.toString('utf8'));
    t.equal(manifest.schemaVersion, 2);
    t.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    t.same(manifest.config.digest, configDigest);
    t.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    t.same(manifest.layers.map((l: { digest: string }) => l.digest), diffIds, 'uncompressed layer digests = diff_ids');
    t.same(manifest.layers.map((l: { mediaType: string }) => l.mediaType), Array(3).fill('application/vnd.oci.image.layer.v1.tar'));
    t.equal(diffIds[0], diffIds[2], 'a repeated layer');
    t.equal(image.blobs.size, 3, 'blobs are deduplicated (config + 2 distinct layers)');
    t.equal(image.manifestDigest, sha(image.manifest));
    for (const b of image.blobs.values()) {
      const bytes = await readFile(b.file);
      t.equal(sha(bytes), b.digest, `${b.digest.slice(0, 19)} bytes match`);
      t.equal(bytes.length, b.size);
    }
    t.same(image.repoTags, ['bottle-agent:latest']);
  });
}

t.test('loadDockerSave rejects inconsistent archives', async (t) => {
  const dir = await tmp(t);
  const members = async (entries: Parameters<typeof tarBuffer>[0]) => extractTar(chunked(tarBuffer(entries)), await mkdtemp(join(dir, 'x')));
  await t.rejects(loadDockerSave(await members([{ path: 'x', content: '' }])), /manifest\.json is missing/);
  await t.rejects(loadDockerSave(await members([{ path: 'manifest.json', content: '[]' }])), /no image entry/);
  const cfg = JSON.stringify({ rootfs: { diff_ids: ['sha256:00'] } });
  await t.rejects(loadDockerSave(await members([
    { path: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar'] }]) },
    { path: 'c.json', content: cfg },
    { path: 'l/layer.tar', content: tarBuffer([{ path: 'f', content: 'f' }]) },
  ])), /layer 0 \(l\/layer\.tar\) has digest sha256:[0-9a-f]{64}, config says sha256:00/);
  await t.rejects(loadDockerSave(await members([
    { path: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar', 'm/layer.tar'] }]) },
    { path: 'c.json', content: cfg },
  ])), /1 diff_ids for 2 layers/);
  await t.rejects(loadDockerSave(await members([
    { path: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar'] }]) },
    { path: 'c.json', content: cfg },
    { path: 'l/layer.tar', type: 'symlink', target: '../../etc/passwd' },
  ])), /links outside the archive/);
});

t.test('gzip layers keep their compression and media type', async (t) => {
  const dir = await tmp(t);
  const { gzipSync } = await import('node:zlib');
  const raw = tarBuffer([{ path: 'f', content: 'f' }]);
  const gz = gzipSync(raw);
  const cfg = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(raw)] } });
  const image = await loadDockerSave(await extractTar(chunked(tarBuffer([
    { path: 'manifest.json', content: JSON.stringify([{ Config: 'blobs/sha256/c', Layers: ['blobs/sha256/l'] }]) },
    { path: 'blobs/sha256/c', content: cfg },
    { path: 'blobs/sha256/l', content: gz },
  ])), dir));
  t.same(image.layers.map((l) => [l.mediaType, l.digest]), [['application/vnd.oci.image.layer.v1.tar+gzip', sha(gz)]]);
});

t.test('serveImage: read-only registry routes on 127.0.0.1', async (t) => {
  const dir = await tmp(t);
  const { tar } = dockerSaveTar('x', { id: 'sha256:1', layers: [{ f: 'content' }] });
  const image = await loadDockerSave(await extractTar(chunked(tar), dir));
  const ep = await serveImage(image, { name: 'bottle-agent', tags: ['k1'] });
  t.teardown(() => ep.close());
  t.equal(ep.host, '127.0.0.1');
  t.equal(ep.ref(), `localhost:${ep.port}/bottle-agent:k1`);
  t.equal(ep.ref(image.manifestDigest, '127.0.0.1'), `127.0.0.1:${ep.port}/bottle-agent@${image.manifestDigest}`);
  const base = `http://127.0.0.1:${ep.port}`;
  const req = (path: string, method = 'GET') => fetch(`${base}${path}`, { method });

  const v2 = await req('/v2/');
  t.equal(v2.status, 200);
  t.equal(v2.headers.get('docker-distribution-api-version'), 'registry/2.0');

  for (const ref of ['k1', image.manifestDigest]) {
    const m = await req(`/v2/bottle-agent/manifests/${ref}`);
    t.equal(m.status, 200, `manifest by ${ref.slice(0, 10)}`);
    t.equal(m.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    t.equal(m.headers.get('docker-content-digest'), image.manifestDigest);
    const body = Buffer.from(await m.arrayBuffer());
    t.equal(Number(m.headers.get('content-length')), body.length);
    t.equal(sha(body), image.manifestDigest);
  }
  const head = await req('/v2/bottle-agent/manifests/k1', 'HEAD');
  t.equal(head.status, 200);
  t.equal(Number(head.headers.get('content-length')), image.manifest.length);
  t.equal(head.headers.get('docker-content-digest'), image.manifestDigest);

  const layer = image.layers[0]!;
  const blob = await req(`/v2/bottle-agent/blobs/${layer.digest}`);
  t.equal(blob.status, 200);
  t.equal(blob.headers.get('docker-content-digest'), layer.digest);
  t.equal(sha(Buffer.from(await blob.arrayBuffer())), layer.digest);
  const blobHead = await req(`/v2/bottle-agent/blobs/${image.config.digest}`, 'HEAD');
  t.equal(Number(blobHead.headers.get('content-length')), image.config.size);

  const tags = await (await req('/v2/bottle-agent/tags/list')).json();
  t.same(tags, { name: 'bottle-agent', tags: ['k1'] });

  const errors = async (r: Response) => ((await r.json()) as { errors: Array<{ code: string }> }).errors.map((e) => e.code);
  const noTag = await req('/v2/bottle-agent/manifests/other');
  t.equal(noTag.status, 404);
  t.same(await errors(noTag), ['MANIFEST_UNKNOWN']);
  const noBlob = await req(`/v2/bottle-agent/blobs/sha256:${'0'.repeat(64)}`);
  t.equal(noBlob.status, 404);
  t.same(await errors(noBlob), ['BLOB_UNKNOWN']);
  const noRepo = await req('/v2/other/manifests/k1');
  t.same([noRepo.status, await errors(noRepo)], [404, ['NAME_UNKNOWN']]);

  for (const [method, path] of [['POST', '/v2/bottle-agent/blobs/uploads/'], ['PUT', '/v2/bottle-agent/manifests/k1'],
    ['DELETE', `/v2/bottle-agent/blobs/${layer.digest}`], ['PATCH', '/v2/bottle-agent/blobs/uploads/x']]) {
    const r = await req(path!, method);
    t.equal(r.status, 405, `${method} is refused`);
    t.equal(r.headers.get('allow'), 'GET, HEAD');
    t.same(await errors(r), ['UNSUPPORTED']);
  }
  t.match(ep.requests[0], { method: 'GET', path: '/v2/', status: 200 });
  await ep.close();
  await t.rejects(req('/v2/'), 'closed means closed');
});

t.test('serveDockerImage: saves from the engine, serves, and close() removes the staging dir', async (t) => {
  const dir = await tmp(t);
  const engine = new FakeImageEngine();
  engine.images.set('img:1', { id: 'sha256:abcd', layers: [{ f: 'x' }] });
  const served = await serveDockerImage({ docker: engine, image: 'sha256:abcd', name: 'n', tag: 't', workDir: dir });
  t.same(engine.saves, ['sha256:abcd']);
  t.equal((await readdir(dir)).length, 1, 'one staging dir while serving');
  t.equal((await fetch(`http://127.0.0.1:${served.endpoint.port}/v2/n/manifests/t`)).status, 200);
  await served.close();
  t.same(await readdir(dir), [], 'staging dir removed');

  engine.images.set('broken', { id: 'sha256:ef', layers: [] });
  const orig = engine.getImage.bind(engine);
  engine.getImage = (ref) => ({ ...orig(ref), get: async () => chunked(Buffer.from('garbage'.repeat(100))) });
  await t.rejects(serveDockerImage({ docker: engine, image: 'broken', name: 'n', tag: 't', workDir: dir }), /bad header checksum/);
  t.same(await readdir(dir), [], 'a failed load leaves nothing behind');
});
