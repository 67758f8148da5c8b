// The image hop in one call: `docker save` an engine image into a staging dir, convert it, and
// serve it read-only on 127.0.0.1 until close() (which also deletes the staging dir).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDockerSave, type OciImage } from './image.js';
import { serveImage, type OciEndpoint } from './server.js';
import { extractTar } from './tar.js';

export { loadDockerSave, type OciImage, type OciBlob } from './image.js';
export { serveImage, type OciEndpoint } from './server.js';
export { extractTar, type TarMember } from './tar.js';

// The slice of dockerode the hop uses (structural: tests pass a stub engine).
export interface ImageEngine {
  getImage(name: string): {
    inspect(): Promise<{ Id: string }>;
    /** `docker save` as a tar stream. */
    get(): Promise<NodeJS.ReadableStream>;
  };
}

export interface ServeDockerImageOptions {
  docker: ImageEngine;
  /** Engine image to export: a name or, to pin exactly what was inspected, its id. */
  image: string;
  /** Repository and tag the endpoint answers to. */
  name: string;
  tag: string;
  /** Parent of the staging dir (default the OS tmpdir; layers can be gigabytes). */
  workDir?: string;
}

export interface ServedImage { endpoint: OciEndpoint; image: OciImage; close(): Promise<void> }

// Saves, converts and serves; on any failure nothing is left running or on disk.
export async function serveDockerImage(o: ServeDockerImageOptions): Promise<ServedImage> {
  const stage = await mkdtemp(join(o.workDir ?? tmpdir(), '.bottle-oci-'));
  const cleanup = (): Promise<void> => rm(stage, { recursive: true, force: true });
  let stream: NodeJS.ReadableStream | undefined;
  try {
    stream = await o.docker.getImage(o.image).get();
    const members = await extractTar(stream as AsyncIterable<Buffer>, stage);
    const image = await loadDockerSave(members);
    const endpoint = await serveImage(image, { name: o.name, tags: [o.tag] });
    return {
      endpoint,
      image,
      close: async () => {
        await endpoint.close();
        await cleanup();
      },
    };
  } catch (e) {
    (stream as { destroy?: () => void } | undefined)?.destroy?.(); // stop the engine's export
    await cleanup();
    throw e;
  }
}
