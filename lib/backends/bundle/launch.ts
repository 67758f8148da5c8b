// What every backend's launch does the same way: settle the secrets, the bundle user and the
// bundle's plan options before anything exists; check host paths and images; prepare the host
// dirs the bundle writes; create and start engine objects with readable errors; and, when a
// launch fails or is interrupted, unwind what it made in reverse before rethrowing.
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { type DockerEngine, engineMessage, statusOf } from '../../docker/api.js';
import { UserError } from '../../errors.js';
import { DEFAULT_IMAGE, resolveRouteHeaders } from '../../manifest/index.js';
import { routeVarNames, type BottlePlan } from '../../plan/index.js';
import type { LaunchContext } from '../types.js';
import { bundleIds, keeperIds } from './archive.js';
import { seedArchive } from './channel.js';
import { DEFAULT_SIDECARS_IMAGE } from './names.js';
import type { BundlePlan, ContainerSpec, TestUpstream } from './plan.js';
import { shortSecretProblem } from '../../template.js';

// Thrown when ctx.signal aborted the launch (after the unwind); exit code as for SIGINT.
export class LaunchAbortedError extends UserError {
  override name = 'LaunchAbortedError';
  constructor(slug: string) {
    super(`bring-up of ${slug} interrupted; everything it created was removed`, 130);
  }
}

// What a launch needs besides plan and context; everything but the engine has a default.
export interface BundleLaunchDeps {
  engine: DockerEngine;
  sidecarsImage?: string;
  /** uid:gid for the bundle; default: see defaultBundleUser. */
  bundleUser?: string;
  /** Bound on the bundle's ports answering (default 30 s). */
  readyTimeoutMs?: number;
  /** Daemon argv overrides for the bundle (ops/test escape hatch, see BundlePlanOptions). */
  daemonCommands?: Record<string, string[]>;
  /** Fake-internet CA + private-address allowances, for the e2e suite only. */
  testUpstream?: TestUpstream;
  now?: () => number;
}

// `NAME=value` for every route variable, from the host env; a missing one is a UserError
// raised before anything exists. The values go only into the bundle's create request.
export function routeSecretEnv(plan: Pick<BottlePlan, 'egress'>, env: NodeJS.ProcessEnv): string[] {
  for (const route of plan.egress.routes) resolveRouteHeaders(route, env);
  const names = routeVarNames(plan.egress.routes);
  const short = shortSecretProblem(names, env);
  if (short) throw new UserError(short);
  return names.map((n) => `${n}=${env[n]}`);
}

// The bundle runs as the host user that owns the state dir (ca.key is 0600) and the identity
// files, so nothing on the host is chowned or loosened. Rootless Docker maps that user to
// container root, and Windows has no uid: the image's own user then.
export async function defaultBundleUser(engine: DockerEngine): Promise<string> {
  if (typeof process.getuid !== 'function' || typeof process.getgid !== 'function') return hostBundleUser();
  return bundleUserOf(await engine.info().catch(() => ({ SecurityOptions: [] as string[] })));
}

// The bundle user unless the engine is rootless (no engine call).
export function hostBundleUser(): string {
  if (typeof process.getuid !== 'function' || typeof process.getgid !== 'function') return '10001:10001';
  return `${process.getuid()}:${process.getgid()}`;
}

// The bundle user an engine's info asks for.
export function bundleUserOf(info: { SecurityOptions?: string[] | null }): string {
  if ((info.SecurityOptions ?? []).some((o) => o.includes('name=rootless'))) return '0:0';
  return hostBundleUser();
}

// Host files the bundle or provisioning needs, checked before anything is created.
export function checkRequiredPaths(bp: Pick<BundlePlan, 'requiredPaths'>): void {
  for (const r of bp.requiredPaths) {
    let st;
    try {
      st = statSync(r.path);
    } catch {
      throw new UserError(`${r.what} ${r.path} does not exist; ${r.path.endsWith('.git') ? 'point workspace at a git checkout' : 'fix the path or recreate the bottle'}`);
    }
    if (r.kind === 'dir' ? !st.isDirectory() : !st.isFile()) {
      const hint = r.path.endsWith('.git') ? ' (git worktrees and submodules are not supported: use the main checkout)' : '';
      throw new UserError(`${r.what} ${r.path} is not a ${r.kind === 'dir' ? 'directory' : 'regular file'}${hint}`);
    }
  }
}

// A missing image is a user error naming the fix, raised before anything is created.
// The images are inspected side by side; the first missing one (in order) is reported.
export async function checkImages(engine: Pick<DockerEngine, 'getImage'>, images: string[]): Promise<void> {
  const results = await Promise.allSettled(images.map((image) => engine.getImage(image).inspect()));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const image = images[i]!;
    if (statusOf(r.reason) === 404) {
      // Only bottle's own images are what `bottle images build` makes; a manifest's own image is not.
      const fix = image === DEFAULT_IMAGE || image === DEFAULT_SIDECARS_IMAGE
        ? 'run `bottle images build`'
        : `build or pull it into this engine first (docker pull ${image}), or drop image: from the manifest to use ${DEFAULT_IMAGE}`;
      throw new UserError(`image ${image} is not in the Docker engine; ${fix}`);
    }
    throw new Error(`inspecting image ${image}: ${engineMessage(r.reason)}`, { cause: r.reason });
  });
}

// The engine's words (20.10, then 27+) for "every default address range is in use".
const POOLS_EXHAUSTED = /non-overlapping IPv4 address pool|predefined address pools have been fully subnetted/i;
const POOLS_FIX = 'the Docker engine has no free address range left (each bottle takes two networks; stock dockerd has ranges for about 30): '
  + 'stop bottles you no longer need (`bottle ls`, `bottle stop NAME`), run `bottle cleanup` for leftovers and `docker network prune` for other unused networks, '
  + 'or give dockerd more ranges (default-address-pools in /etc/docker/daemon.json, e.g. {"base": "10.200.0.0/16", "size": 24}, a range your networks do not use)';

// An engine call that creates something: conflicts (a leftover of the same slug) and an engine
// out of address ranges are user errors.
export async function create(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (statusOf(e) === 409) throw new UserError(`${what} already exists (left over from an earlier run?); run \`bottle cleanup\``);
    if (POOLS_EXHAUSTED.test(engineMessage(e))) throw new UserError(`creating ${what}: ${POOLS_FIX}`);
    throw new Error(`creating ${what}: ${engineMessage(e)}`, { cause: e });
  }
}

// Starts a created container; a failure names it.
export async function start(engine: Pick<DockerEngine, 'getContainer'>, name: string): Promise<void> {
  await engine.getContainer(name).start().catch((e: unknown) => {
    throw new Error(`starting ${name}: ${engineMessage(e)}`, { cause: e });
  });
}

// The bundle's create body with the route secrets in its Env: the only place their values go.
export function withSecretEnv(bundle: ContainerSpec, secretEnv: string[]): ContainerSpec['create'] {
  return { ...bundle.create, Env: [...(bundle.create.Env ?? []), ...secretEnv] };
}

// The host dirs the bottle's mirror of the bundle lives in (lib/backends/bundle/channel.ts).
export async function prepareHost(bp: Pick<BundlePlan, 'hostDirs'>): Promise<void> {
  for (const d of bp.hostDirs) await mkdir(d, { recursive: true, mode: 0o700 });
}

// Gives the created (not yet started) bundle its seed: config, CA, policy, the host copies.
// `archive`: the seed already packed (seedArchiveFor), e.g. while the bundle was created.
export async function seedCreatedBundle(engine: Pick<DockerEngine, 'getContainer'>, bp: Pick<BundlePlan, 'bundle' | 'seed'>, bundleUser: string, archive?: Promise<Buffer>): Promise<void> {
  try {
    await engine.getContainer(bp.bundle.name).putArchive(await (archive ?? seedArchiveFor(bp, bundleUser)), { path: '/' });
  } catch (e) {
    throw new Error(`seeding ${bp.bundle.name}: ${engineMessage(e)}`, { cause: e });
  }
}

// The seed as one archive, owned by the bundle user and the keeper (reads the host files now).
export function seedArchiveFor(bp: Pick<BundlePlan, 'seed'>, bundleUser: string): Promise<Buffer> {
  const bundle = bundleIds(bundleUser);
  return seedArchive(bp.seed, { bundle, keeper: keeperIds(bundle) });
}

// What every backend's launch settles before it creates anything: the clock, the abort check,
// the route secrets from the host env (a missing one fails here), the bundle user and the
// bundle's plan options.
export async function launchPreamble(plan: BottlePlan, ctx: LaunchContext, deps: PreambleDeps) {
  const settled = launchSettings(plan, ctx, deps);
  const bundleUser = deps.bundleUser ?? (await defaultBundleUser(deps.engine));
  return { ...settled, bundleUser, bundle: bundleOptions(deps, bundleUser) };
}

type PreambleDeps = Pick<BundleLaunchDeps, 'engine' | 'sidecarsImage' | 'bundleUser' | 'daemonCommands' | 'testUpstream' | 'now'>;

// The engine-free part of the preamble: the clock, the abort check, the route secrets.
export function launchSettings(plan: BottlePlan, ctx: LaunchContext, deps: Pick<BundleLaunchDeps, 'now'>) {
  const now = deps.now ?? Date.now;
  const started = now();
  const checkAbort = (): void => {
    if (ctx.signal.aborted) throw new LaunchAbortedError(ctx.slug);
  };
  checkAbort();
  const secretEnv = routeSecretEnv(plan, ctx.env);
  return { now, started, checkAbort, secretEnv };
}

// The bundle's plan options for a bundle user.
export function bundleOptions(deps: Omit<PreambleDeps, 'engine' | 'now'>, bundleUser: string) {
  return {
    sidecarsImage: deps.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE, bundleUser, daemonCommands: deps.daemonCommands,
    ...(deps.testUpstream ? { testUpstream: deps.testUpstream } : {}),
  };
}

// One thing a launch made and how to unmake it (`done`: the progress line after the undo).
export interface LaunchUndo { what: string; undo: () => Promise<unknown>; done?: string }

// After a failed or interrupted launch: undoes what it made, newest first (a thing already
// gone is fine), then rethrows — as LaunchAbortedError when interrupted. Both backends end so.
export async function unwindLaunch(stack: LaunchUndo[], ctx: LaunchContext, e: unknown): Promise<never> {
  const aborted = ctx.signal.aborted;
  ctx.log(aborted ? 'interrupted: removing what was created' : `launch failed: ${(e as Error).message.split('\n')[0]}; removing what was created`);
  for (const item of [...stack].reverse()) {
    try {
      await item.undo();
      ctx.log(item.done ?? `removed ${item.what}`);
    } catch (u) {
      if (statusOf(u) !== 404) ctx.log(`could not remove ${item.what}: ${engineMessage(u)} (run \`bottle cleanup\`)`);
    }
  }
  if (aborted) throw new LaunchAbortedError(ctx.slug);
  throw e;
}
