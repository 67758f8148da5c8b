// Turns an extracted `docker save` archive into what a registry serves: one OCI image manifest,
// its config blob and its layer blobs, each addressed by the sha256 of its bytes. Handles both
// archive layouts: legacy (`<id>.json`, `<id>/layer.tar`, duplicate layers as symlinks) and the
// OCI-layout one of Docker 25+ (`blobs/sha256/<hex>`); both carry a docker `manifest.json`.
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { TarMember } from './tar.js';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
// docker save layers are usually uncompressed tars, served as they are; a containerd-backed
// engine may hand over the original compressed blobs, which keep their compression.
export const LAYER_MEDIA_TYPES = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

// A blob on disk, by digest.
export interface OciBlob { digest: string; size: number; mediaType: string; file: string }

// One image, ready to serve.
export interface OciImage {
  manifest: Buffer;
  manifestDigest: string;
  config: OciBlob;
  layers: OciBlob[];
  /** Every blob by digest (config and layers, deduplicated). */
  blobs: Map<string, OciBlob>;
  /** RepoTags from the archive (may be empty when saved by id). */
  repoTags: string[];
}

interface SaveManifestEntry { Config?: unknown; Layers?: unknown; RepoTags?: unknown }

// Follows symlinks and hardlinks (legacy archives link identical layers) to the file member.
function resolveFile(members: Map<string, TarMember>, path: string): Extract<TarMember, { type: 'file' }> {
  let p = path;
  for (let hops = 0; hops < 16; hops++) {
    const m = members.get(p);
    if (!m) throw new Error(`docker save archive: ${path} is missing${p !== path ? ` (via link to ${p})` : ''}`);
    if (m.type === 'file') return m;
    if (m.type === 'dir') throw new Error(`docker save archive: ${path} is a directory`);
    p = m.type === 'hardlink' ? posix.normalize(m.target) : posix.normalize(posix.join(posix.dirname(p), m.target));
    if (p.startsWith('..') || p.startsWith('/')) throw new Error(`docker save archive: ${path} links outside the archive`);
  }
  throw new Error(`docker save archive: ${path} is a link loop`);
}

async function compression(file: string): Promise<keyof typeof LAYER_MEDIA_TYPES> {
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    const b = buffer.subarray(0, bytesRead);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

// Builds the image from extracted members (see extractTar); the first manifest.json entry wins.
export async function loadDockerSave(members: Map<string, TarMember>): Promise<OciImage> {
  const list = JSON.parse(await readFile(resolveFile(members, 'manifest.json').file, 'utf8')) as unknown;
  const entry = (Array.isArray(list) ? list[0] : undefined) as SaveManifestEntry | undefined;
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
    throw new Error('docker save archive: manifest.json has no image entry with Config and Layers');
  }
  const cfgMember = resolveFile(members, entry.Config);
  const config: OciBlob = { digest: `sha256:${cfgMember.sha256}`, size: cfgMember.size, mediaType: CONFIG_MEDIA_TYPE, file: cfgMember.file };
  const cfg = JSON.parse(await readFile(cfgMember.file, 'utf8')) as { rootfs?: { diff_ids?: unknown } };
  const diffIds = Array.isArray(cfg.rootfs?.diff_ids) ? (cfg.rootfs.diff_ids as unknown[]) : [];
  if (diffIds.length !== entry.Layers.length) {
    throw new Error(`docker save archive: config lists ${diffIds.length} diff_ids for ${entry.Layers.length} layers`);
  }
  const layers: OciBlob[] = [];
  for (const [i, path] of entry.Layers.entries()) {
    if (typeof path !== 'string') throw new Error(`docker save archive: layer ${i} is not a path`);
    const m = resolveFile(members, path);
    const kind = await compression(m.file);
    const digest = `sha256:${m.sha256}`;
    // An uncompressed layer IS its diff: its digest must equal the config's diff_id.
    if (kind === 'none' && diffIds[i] !== digest) {
      throw new Error(`docker save archive: layer ${i} (${path}) has digest ${digest}, config says ${String(diffIds[i])}`);
    }
    layers.push({ digest, size: m.size, mediaType: LAYER_MEDIA_TYPES[kind], file: m.file });
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const blobs = new Map<string, OciBlob>([[config.digest, config], ...layers.map((l) => [l.digest, l] as const)]);
  const repoTags = Array.isArray(entry.RepoTags) ? entry.RepoTags.filter((x): x is string => typeof x === 'string') : [];
  return { manifest, manifestDigest, config, layers, blobs, repoTags };
}
