// The agent image as a `.smolmachine`: smolvm boots VMs from packed artifacts, and `pack create`
// pulls only from OCI registries, so the engine image is served by our read-only endpoint for
// the length of one pack. Packing is slow; the result is cached by image id, so an unchanged
// image never packs twice and a rebuilt one (new id) always does.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SmolvmClient } from './cli.js';
import { serveDockerImage, type ImageEngine } from './oci/index.js';

// Repository the endpoint serves the agent image as (the tag is the cache key).
export const PACK_REPOSITORY = 'bottle-agent';

// $XDG_CACHE_HOME/bottle/smolmachines (default ~/.cache/bottle/smolmachines).
export function smolmachineCacheDir(env: NodeJS.ProcessEnv): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'bottle', 'smolmachines');
}

// First 16 hex of the image id: the cache key (and the tag smolvm pulls).
export function packCacheKey(imageId: string): string {
  const hex = imageId.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{16,}$/.test(hex)) throw new Error(`unexpected image id ${JSON.stringify(imageId)}`);
  return hex.slice(0, 16);
}

export interface PackAgentImageOptions {
  /** Engine image name, e.g. `bottle-agent:latest`. */
  image: string;
  docker: ImageEngine;
  smolvm: Pick<SmolvmClient, 'packCreate'>;
  /** Default smolmachineCacheDir(env). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

// Returns the path of `<cacheDir>/<key>.smolmachine`, packing it first unless cached.
export async function packAgentImage(o: PackAgentImageOptions): Promise<string> {
  const log = o.log ?? (() => undefined);
  const cacheDir = o.cacheDir ?? smolmachineCacheDir(o.env ?? process.env);
  const { Id } = await o.docker.getImage(o.image).inspect();
  const key = packCacheKey(Id);
  const target = join(cacheDir, `${key}.smolmachine`);
  if (await isFile(target)) {
    log(`smolmachine for ${o.image} (${key}) is cached: ${target}`);
    return target;
  }
  await mkdir(cacheDir, { recursive: true });
  // smolvm writes into a private name that is renamed into place only once complete, so a
  // crashed or concurrent pack never leaves a half-written file the cache would trust.
  const staging = join(cacheDir, `.${key}.${process.pid}-${randomBytes(4).toString('hex')}`);
  log(`exporting ${o.image} (${key}) from the engine`);
  // Saved by id, not name: the bytes packed are exactly the image the key names.
  const served = await serveDockerImage({ docker: o.docker, image: Id, name: PACK_REPOSITORY, tag: key, workDir: cacheDir });
  try {
    const ref = served.endpoint.ref(key);
    const mb = (served.image.layers.reduce((n, l) => n + l.size, 0) / 1e6).toFixed(0);
    log(`serving ${served.image.layers.length} layers (${mb} MB) at ${ref}; smolvm pack create (this takes a while)`);
    const written = await o.smolvm.packCreate({ image: ref, output: staging });
    if (!(await isFile(written))) {
      throw new Error(`smolvm pack create exited 0 but wrote no ${written}; check the smolvm version (v0.8+ writes <output>.smolmachine)`);
    }
    await rename(written, target);
  } catch (e) {
    await rm(`${staging}.smolmachine`, { force: true });
    throw e;
  } finally {
    await served.close();
  }
  log(`packed ${o.image} → ${target}`);
  return target;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
