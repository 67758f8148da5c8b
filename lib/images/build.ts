// `bottle images build` without the CLI: pick the CA and the base, compile dist/ if stale,
// assemble each context, skip an image whose inputs are unchanged, else build it with the
// engine API and report progress through `log`.
import type Docker from 'dockerode';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { Runner } from '../run/index.js';
import { chooseBase, engineBaseProbes, imageId, type BaseChoice } from './base.js';
import { bootstrapBase } from './bootstrap.js';
import {
  assembleContext, hashContext, IMAGE_KINDS, IMAGES, LABEL_BASE, LABEL_IMAGE, LABEL_SOURCE,
  projectContextEntries, SOURCE_DIRS, type ImageKind,
} from './context.js';
import { clearDistStamp, distStaleness, markDistBuilt } from './dist.js';
import { describeCa, proxyBuildArgs, readNpmConfig, registryBuildArg, selectCaFile, type CaChoice } from './host.js';
import { BuildProgress, buildFailureMessage, readJsonLines } from './progress.js';

// What the operator asked for (the verb's flags).
export interface BuildOptions {
  only?: ImageKind;
  caFile?: string;
  base?: string;
  noCache?: boolean;
  /** false: never pull the official base from a registry (--no-pull). */
  pull?: boolean;
}

// The outside world, injected: engine, runner, env, checkout root, output.
export interface BuildDeps {
  docker: Docker;
  run: Runner;
  env: Record<string, string | undefined>;
  cwd: string;
  root: string;
  tty: boolean;
  log: (line: string) => void;
  now?: () => number;
}

// One image's outcome (the `--json` row, plus whether it was skipped).
export interface BuiltImage { name: string; kind: ImageKind; id: string; base: string; seconds: number; skipped: boolean; sizeBytes?: number }

// Everything the verb prints at the end.
export interface BuildReport { images: BuiltImage[]; base: BaseChoice; ca: CaChoice; seconds: number }

// Builds the requested images in order (agent, then sidecars).
export async function buildImages(opts: BuildOptions, deps: BuildDeps): Promise<BuildReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const kinds = opts.only ? [opts.only] : [...IMAGE_KINDS];

  const npm = await readNpmConfig(deps.run, deps.cwd);
  const ca = selectCaFile({ flag: opts.caFile, env: deps.env, npm, cwd: deps.cwd });
  deps.log(describeCa(ca));
  const registry = registryBuildArg(npm.registry);
  deps.log(`npm registry: ${registry.value || "npm's default"}${registry.note ? ` (${registry.note})` : ''}`);

  const previous = opts.noCache ? undefined : await currentBase(deps.docker, kinds);
  const base = await chooseBase(opts.base, engineBaseProbes(deps.docker, () => bootstrapBase(deps)), {
    pull: opts.pull !== false, onNote: deps.log, ...(previous ? { previous } : {}),
  });
  const baseId = (await imageId(deps.docker, base.image)) ?? 'not-local';

  if (kinds.includes('sidecars')) await ensureDist(deps);

  const caPem = ca.path ? readFileSync(ca.path, 'utf8') : '';
  const buildargs = { BASE: base.image, NPM_CONFIG_REGISTRY: registry.value, ...proxyBuildArgs(deps.env) };
  const images: BuiltImage[] = [];
  for (const kind of kinds) {
    images.push(await buildOne(kind, { caPem, buildargs, base: base.image, baseId, noCache: Boolean(opts.noCache) }, deps));
  }
  return { images, base, ca, seconds: (now() - started) / 1000 };
}

interface OneBuild { caPem: string; buildargs: Record<string, string>; base: string; baseId: string; noCache: boolean }

async function buildOne(kind: ImageKind, b: OneBuild, deps: BuildDeps): Promise<BuiltImage> {
  const now = deps.now ?? Date.now;
  const started = now();
  const { tag } = IMAGES[kind];
  const dir = mkdtempSync(join(tmpdir(), `bottle-${kind}-context-`));
  try {
    const src = assembleContext(deps.root, projectContextEntries(kind, deps.root), b.caPem, dir);
    // The registry and proxies change where bytes come from, not what is built.
    const hash = hashContext(dir, { BASE: b.base, baseId: b.baseId });
    const existing = await inspect(deps.docker, tag);
    if (existing && existing.source === hash && !b.noCache) {
      deps.log(`[${kind}] ${tag} is up to date (source ${hash.slice(0, 12)}), skipping the build; --no-cache rebuilds it`);
      return { name: tag, kind, id: existing.id, base: b.base, seconds: (now() - started) / 1000, skipped: true, sizeBytes: existing.size };
    }
    deps.log(`[${kind}] building ${tag} from ${b.base} (context: ${src.join(' ')}; source ${hash.slice(0, 12)})`);
    const stream = (await deps.docker.buildImage({ context: dir, src }, {
      t: tag,
      dockerfile: 'Dockerfile',
      buildargs: b.buildargs,
      labels: { [LABEL_IMAGE]: kind, [LABEL_SOURCE]: hash, [LABEL_BASE]: b.base },
      nocache: b.noCache,
      rm: true,
      forcerm: true,
      pull: false,
    }).catch((e: Error) => {
      // Refused before any step ran (bad Dockerfile, engine out of space): still the user's to fix.
      throw new UserError(`building the ${kind} image (${tag}): the engine refused the build: ${e.message.split('\n')[0]}`);
    })) as NodeJS.ReadableStream;
    const progress = new BuildProgress(kind, deps.log, deps.tty);
    await readJsonLines(stream, (m) => progress.push(m));
    progress.end();
    if (progress.failure) throw new UserError(buildFailureMessage(kind, tag, progress));
    const built = await inspect(deps.docker, tag);
    if (!built || built.source !== hash) throw new UserError(buildFailureMessage(kind, tag, progress));
    if (existing && existing.id !== built.id) await removeReplaced(deps, kind, existing.id);
    const seconds = (now() - started) / 1000;
    deps.log(`[${kind}] built ${tag} ${built.id.slice(7, 19)} (${formatSize(built.size)}) in ${seconds.toFixed(0)} s`);
    return { name: tag, kind, id: built.id, base: b.base, seconds, skipped: false, sizeBytes: built.size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The image the new build replaced is now untagged; remove it unless a container or another
// tag still uses it (the engine refuses, and that refusal is fine).
async function removeReplaced(deps: BuildDeps, kind: ImageKind, id: string): Promise<void> {
  try {
    await deps.docker.getImage(id).remove();
    deps.log(`[${kind}] removed the replaced image ${id.slice(7, 19)}`);
  } catch {
    /* still in use: leave it */
  }
}

// The base every requested image was built on (their LABEL_BASE), when they all exist and agree.
async function currentBase(docker: Docker, kinds: ImageKind[]): Promise<string | undefined> {
  const bases = await Promise.all(kinds.map(async (kind) => (await inspect(docker, IMAGES[kind].tag))?.base));
  return bases.every((b) => b !== undefined && b === bases[0]) ? bases[0] : undefined;
}

async function inspect(docker: Docker, tag: string): Promise<{ id: string; source?: string; base?: string; size: number } | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    const labels = info.Config?.Labels ?? {};
    return { id: info.Id, source: labels[LABEL_SOURCE], base: labels[LABEL_BASE], size: info.Size };
  } catch {
    return undefined;
  }
}

// "312 MB" (engine sizes are bytes, decimal units like `docker images`).
export function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

function logOutput(deps: BuildDeps, prefix: string, ...texts: string[]): void {
  for (const text of texts) for (const line of text.split('\n')) if (line.trim()) deps.log(`[${prefix}] ${line}`);
}

// Compiles dist/ when it is missing or older than the sources (the sidecars image ships it).
async function ensureDist(deps: BuildDeps): Promise<void> {
  const why = distStaleness(deps.root, SOURCE_DIRS);
  if (!why) return;
  deps.log(`${why}: running npm run build (output follows when it finishes)`);
  clearDistStamp(deps.root);
  const started = Date.now();
  const r = await deps.run(['npm', 'run', 'build'], { probe: true, cwd: deps.root, env: deps.env, timeoutMs: 10 * 60_000 });
  logOutput(deps, 'npm run build', r.stdout, r.stderr);
  if (r.failed) {
    throw new UserError(`npm run build failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}); the sidecars image needs a compiled dist/: fix the TypeScript errors above and rerun`);
  }
  markDistBuilt(deps.root, started);
}
