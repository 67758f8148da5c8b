// A read-only OCI distribution endpoint serving ONE image on 127.0.0.1: `smolvm pack create`
// pulls only from registries, so a locally built image is handed over through this. Pull-only
// by construction (every write method is 405), loopback-only, blobs streamed from disk.
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { MANIFEST_MEDIA_TYPE, type OciImage } from './image.js';

// A running endpoint; `ref` is what a client pulls.
export interface OciEndpoint {
  host: '127.0.0.1';
  port: number;
  /** `<registryHost>:<port>/<name>:<tag>`; default host `localhost` (clients treat it as plain http). */
  ref(tag?: string, registryHost?: string): string;
  /** What was asked, in order (method, path, status): for logs and tests. */
  requests: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Repository name, e.g. `bottle-agent` (may contain `/`). */
  name: string;
  /** Tags resolving to the image (a digest reference always works). */
  tags: readonly string[];
}

type Code = 'NAME_UNKNOWN' | 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'UNSUPPORTED' | 'UNKNOWN';

function sendError(res: ServerResponse, status: number, code: Code, message: string, head: boolean): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] }));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(head ? undefined : body);
}

// Starts serving `image`; the caller must close() it (and owns the blob files' lifetime).
export async function serveImage(image: OciImage, opts: ServeOptions): Promise<OciEndpoint> {
  const requests: OciEndpoint['requests'] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.on('finish', () => requests.push({ method, path, status: res.statusCode }));
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      return sendError(res, 405, 'UNSUPPORTED', `this registry is read-only (${method} refused)`, false);
    }
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      return void res.end(head ? undefined : '{}');
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/.exec(path);
    if (!m) return sendError(res, 404, 'NAME_UNKNOWN', `no route for ${path}`, head);
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    if (name !== opts.name) return sendError(res, 404, 'NAME_UNKNOWN', `repository ${name} is not known to this registry`, head);

    if (kind === 'tags') {
      if (ref !== 'list') return sendError(res, 404, 'NAME_UNKNOWN', `no route for ${path}`, head);
      const body = Buffer.from(JSON.stringify({ name, tags: [...opts.tags] }));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      return void res.end(head ? undefined : body);
    }
    if (kind === 'manifests') {
      if (ref !== image.manifestDigest && !opts.tags.includes(ref)) {
        return sendError(res, 404, 'MANIFEST_UNKNOWN', `manifest ${ref} is not known to this registry`, head);
      }
      res.writeHead(200, {
        'Content-Type': MANIFEST_MEDIA_TYPE,
        'Content-Length': image.manifest.length,
        'Docker-Content-Digest': image.manifestDigest,
        ETag: `"${image.manifestDigest}"`,
      });
      return void res.end(head ? undefined : image.manifest);
    }
    const blob = image.blobs.get(ref);
    if (!blob) return sendError(res, 404, 'BLOB_UNKNOWN', `blob ${ref} is not known to this registry`, head);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': blob.size,
      'Docker-Content-Digest': blob.digest,
      ETag: `"${blob.digest}"`,
    });
    if (head) return void res.end();
    // pipeline closes the file when the client goes away, and cuts the response short when the
    // file fails mid-way (the only way left to signal an error once headers are sent).
    pipeline(createReadStream(blob.file), res, () => undefined);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) sendError(res, 500, 'UNKNOWN', 'internal error', false);
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    requests,
    ref: (tag = opts.tags[0] ?? image.manifestDigest, registryHost = 'localhost') =>
      `${registryHost}:${port}/${opts.name}${tag.startsWith('sha256:') ? '@' : ':'}${tag}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
