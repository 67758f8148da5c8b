// The image hop against a REAL engine and a REAL independent registry client: a tiny image is
// built, `docker save`d through dockerode into our endpoint, and skopeo (containers/image, the
// same Go registry stack family smolvm pulls with) inspects and copies it and checks digests.
import t from 'tap';
import type Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serveDockerImage, type ServedImage } from '../../lib/backends/smolvm/oci/index.js';
import { run, which } from '../../lib/run/index.js';
import { tarBuffer } from '../helpers/fake-smolvm.js';
import { engineGate } from '../helpers/e2e.js';

const gate = await engineGate();
const skopeo = await which('skopeo');
const skip = gate.skip || (!skopeo && 'skopeo is not installed (apt-get install skopeo); it is the independent client these tests pull with');
t.setTimeout(5 * 60_000);

const id = `e2e-oci-${randomBytes(3).toString('hex')}`;
const TAG = `bottle-e2e-oci:${id}`;
// skopeo must talk to 127.0.0.1 directly, whatever proxy the host environment sets.
const env = { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' };
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// FROM scratch + three COPY layers (the third repeats the first: identical diffs are linked in
// the legacy save format). No RUN, so no base image and seconds to build.
async function buildTiny(docker: Docker): Promise<string> {
  const context = tarBuffer([
    { path: 'Dockerfile', content: 'FROM scratch\nCOPY a /a\nCOPY b /b\nCOPY a /c/a\nCOPY a /a\n' },
    { path: 'a', content: 'alpha\n' },
    { path: 'b', content: Buffer.alloc(300_000, 'b') },
  ]);
  const stream = await docker.buildImage(Readable.from([context]), { t: TAG, labels: { 'dev.bottle.e2e': id }, rm: true, forcerm: true });
  const out = await new Promise<Array<{ error?: string }>>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, res: Array<{ error?: string }>) => (err ? reject(err) : resolve(res))));
  const failed = out.find((o) => o.error);
  if (failed) throw new Error(`build failed: ${failed.error}`);
  return (await docker.getImage(TAG).inspect()).Id;
}

await t.test('skopeo reads, copies and cannot write the served image', { skip }, async (t) => {
  const docker = gate.docker!;
  const imageId = await buildTiny(docker);
  t.teardown(() => docker.getImage(TAG).remove({ force: true }).catch(() => undefined));
  const work = await mkdtemp(join(tmpdir(), 'bottle-e2e-oci-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));

  const served: ServedImage = await serveDockerImage({ docker, image: imageId, name: 'bottle-agent', tag: 'k1', workDir: work });
  t.teardown(() => served.close());
  const { endpoint, image } = served;
  const manifest = JSON.parse(image.manifest.toString('utf8')) as { layers: Array<{ digest: string; size: number; mediaType: string }>; config: { digest: string } };
  t.equal(manifest.layers.length, 4, 'four COPY layers');
  t.equal(manifest.layers[0]!.digest, manifest.layers[3]!.digest, 'the repeated layer has the same digest');
  const cfg = JSON.parse(await readFile(image.config.file, 'utf8')) as { rootfs: { diff_ids: string[] } };
  t.same(manifest.layers.map((l) => l.digest), cfg.rootfs.diff_ids, 'layer digests = the config\'s diff_ids');
  t.equal(manifest.config.digest, imageId, 'config digest = the engine\'s image id');

  const ref = (tag: string, host = '127.0.0.1') => `docker://${host}:${endpoint.port}/bottle-agent:${tag}`;
  const sk = (args: string[]) => run([skopeo!, ...args], { probe: true, env, timeoutMs: 120_000 });

  const inspect = await sk(['inspect', '--tls-verify=false', ref('k1')]);
  t.equal(inspect.exitCode, 0, 'skopeo inspect succeeds');
  if (inspect.exitCode !== 0) t.comment(inspect.stderr);
  const info = JSON.parse(inspect.stdout || '{}') as { Digest?: string; Layers?: string[] };
  t.equal(info.Digest, image.manifestDigest, 'skopeo sees our manifest digest');
  t.same(info.Layers, manifest.layers.map((l) => l.digest), 'and our layer digests');
  t.comment(`skopeo inspect: digest ${info.Digest}, ${info.Layers?.length} layers`);

  const raw = await sk(['inspect', '--raw', '--tls-verify=false', ref('k1', 'localhost')]);
  t.equal(raw.exitCode, 0, 'the localhost:<port> form smolvm is given works too');
  t.equal(sha(raw.stdout), image.manifestDigest, '--raw returns the exact manifest bytes');

  const dest = join(work, 'copy');
  const copy = await sk(['--insecure-policy', 'copy', '--src-tls-verify=false', ref('k1'), `dir:${dest}`]);
  t.equal(copy.exitCode, 0, 'skopeo copy succeeds');
  if (copy.exitCode !== 0) t.comment(copy.stderr);
  const files = await readdir(dest);
  for (const l of manifest.layers) {
    const hex = l.digest.slice('sha256:'.length);
    t.ok(files.includes(hex), `layer ${hex.slice(0, 12)} copied`);
    const bytes = await readFile(join(dest, hex));
    t.equal(sha(bytes), l.digest, `layer ${hex.slice(0, 12)} bytes hash to its digest`);
    t.equal(bytes.length, l.size);
  }
  t.equal(sha(await readFile(join(dest, manifest.config.digest.slice(7)))), manifest.config.digest, 'config copied intact');
  t.comment(`skopeo copy: ${files.length} files (${files.join(', ').slice(0, 120)}…)`);

  const unknown = await sk(['inspect', '--tls-verify=false', ref('nope')]);
  t.not(unknown.exitCode, 0, 'an unknown tag fails');
  t.match(unknown.stderr, /manifest unknown/i);
  const notFound = await fetch(`http://127.0.0.1:${endpoint.port}/v2/bottle-agent/manifests/nope`);
  t.equal(notFound.status, 404);
  t.same(((await notFound.json()) as { errors: Array<{ code: string }> }).errors.map((e) => e.code), ['MANIFEST_UNKNOWN']);

  const before = endpoint.requests.length;
  const push = await sk(['--insecure-policy', 'copy', '--dest-tls-verify=false', `dir:${dest}`, ref('pushed')]);
  t.not(push.exitCode, 0, 'skopeo cannot push');
  const writes = endpoint.requests.slice(before).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  t.ok(writes.length > 0, 'skopeo tried a write');
  t.ok(writes.every((r) => r.status === 405), `every write got 405 (${writes.map((w) => `${w.method} ${w.path}`).join(', ')})`);
  t.equal((await sk(['inspect', '--tls-verify=false', ref('pushed')])).exitCode === 0, false, 'and nothing was stored');

  await served.close();
  t.same(await readdir(work), ['copy'], 'close() removed the staging dir');
});
