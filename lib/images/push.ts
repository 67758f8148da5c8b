// `bottle images push`: copies images from this shell's engine to another one through the two
// engines' APIs (save here, load there, streamed: nothing on disk), for a remote engine that has
// no registry to pull from. An image the target already has (same id) is skipped; what is sent
// is checked by id on arrival.
import type Docker from 'dockerode';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { statusOf, engineMessage } from '../docker/api.js';
import { resolveDockerEndpoint } from '../docker/engine.js';
import { UserError } from '../errors.js';
import { formatSize } from './build.js';
import { readJsonLines, type EngineMessage } from './progress.js';

// The env that selects the engine `to` names: a URL (DOCKER_HOST, with this shell's TLS
// settings) or a Docker context name.
export function targetEnv(env: NodeJS.ProcessEnv, to: string): NodeJS.ProcessEnv {
  const { DOCKER_HOST: _h, DOCKER_CONTEXT: _c, ...rest } = env;
  if (to.includes('://')) return { ...rest, DOCKER_HOST: to };
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(to)) throw new UserError(`--to ${JSON.stringify(to)}: expected an engine URL (tcp://host:2376, ssh://user@host) or a docker context name`);
  const { DOCKER_CERT_PATH: _p, DOCKER_TLS_VERIFY: _v, ...plain } = rest;
  return { ...plain, DOCKER_CONTEXT: to };
}

// One image's outcome.
export interface PushedImage { name: string; id: string; pushed: boolean; bytes: number }
export interface PushReport { images: PushedImage[]; bytes: number; seconds: number }

interface ImageInfo { Id: string; Size?: number }

async function inspect(docker: Docker, name: string): Promise<ImageInfo | undefined> {
  try {
    return (await docker.getImage(name).inspect()) as ImageInfo;
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}

// How often a progress line is written while bytes flow.
const PROGRESS_MS = 2000;

// Copies `names` from `source` to `target`; `where` names both in messages.
export async function pushImages(
  source: Docker, target: Docker, names: string[], where: { source: string; target: string },
  log: (line: string) => void, now: () => number = Date.now,
): Promise<PushReport> {
  const started = now();
  const infos = await Promise.all(names.map(async (name) => {
    const here = await inspect(source, name).catch((e: unknown) => {
      throw new UserError(`cannot ask the engine at ${where.source} about ${name}: ${engineMessage(e)}`);
    });
    if (!here) throw new UserError(`image ${name} is not in the engine at ${where.source}; build it there first (bottle images build)`);
    const there = await inspect(target, name).catch((e: unknown) => {
      throw new UserError(`cannot reach the engine at ${where.target}: ${engineMessage(e)}`);
    });
    return { name, here, there };
  }));
  const images: PushedImage[] = [];
  const todo = infos.filter((i) => i.there?.Id !== i.here.Id);
  for (const i of infos) if (i.there?.Id === i.here.Id) {
    log(`${i.name}: already at ${where.target} (${i.here.Id.slice(7, 19)}), skipped`);
    images.push({ name: i.name, id: i.here.Id, pushed: false, bytes: 0 });
  }
  let bytes = 0;
  if (todo.length > 0) {
    const estimate = todo.reduce((n, i) => n + (i.here.Size ?? 0), 0);
    log(`pushing ${todo.map((i) => i.name).join(', ')} (about ${formatSize(estimate)}) from ${where.source} to ${where.target}`);
    const saved = (await (source as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> })
      .getImages({ names: todo.map((i) => i.name) })) as NodeJS.ReadableStream;
    let lastLog = now();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (now() - lastLog >= PROGRESS_MS) {
          lastLog = now();
          log(`  ${formatSize(bytes)} of about ${formatSize(estimate)} sent`);
        }
        done(null, chunk);
      },
    });
    const errors: string[] = [];
    const loading = (async () => {
      const out = (await target.loadImage(counter, { quiet: true })) as NodeJS.ReadableStream;
      await readJsonLines(out, (m: EngineMessage) => {
        if (m.error || m.errorDetail) errors.push((m.errorDetail?.message ?? m.error ?? '').trim());
      });
    })();
    await Promise.all([pipeline(saved, counter).catch((e: Error) => {
      throw new Error(`saving ${todo.map((i) => i.name).join(', ')} at ${where.source} failed: ${e.message}`);
    }), loading.catch((e: unknown) => {
      throw new UserError(`loading into the engine at ${where.target} failed: ${engineMessage(e)}`);
    })]);
    if (errors.length > 0) throw new UserError(`loading into the engine at ${where.target} failed: ${errors.join('; ')}`);
    for (const i of todo) {
      const arrived = await inspect(target, i.name);
      if (arrived?.Id !== i.here.Id) throw new Error(`${i.name} did not arrive at ${where.target} as ${i.here.Id.slice(7, 19)} (found ${arrived?.Id.slice(7, 19) ?? 'nothing'})`);
      images.push({ name: i.name, id: i.here.Id, pushed: true, bytes: 0 });
    }
    log(`pushed ${todo.length} image${todo.length > 1 ? 's' : ''}, ${formatSize(bytes)} in ${((now() - started) / 1000).toFixed(1)} s`);
  }
  return { images: names.map((n) => images.find((i) => i.name === n)!), bytes, seconds: (now() - started) / 1000 };
}

// The engine a shell's env selects, as shown in messages.
export function engineLabel(env: NodeJS.ProcessEnv): string {
  const ep = resolveDockerEndpoint(env);
  return ep.context ? `${ep.host} (context ${ep.context})` : ep.host;
}
