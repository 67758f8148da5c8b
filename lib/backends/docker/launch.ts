// Docker launch: networks → bundle (secrets in its API Env) and agent → both started → side by
// side: the bundle joins the egress network and gets ready, the agent loses its default route
// and is provisioned. Every created resource goes on a stack; a failure or an abort unwinds the
// stack in reverse before the error is rethrown, so nothing is left behind.
import { statSync } from 'node:fs';
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { UserError } from '../../errors.js';
import { resolveRouteHeaders } from '../../manifest/index.js';
import type { BottlePlan } from '../../plan/index.js';
import type { LaunchContext, LaunchResult } from '../types.js';
import { type DockerEngine, engineMessage, logTail, statusOf } from './engine.js';
import { AGENT_PATHS, DEFAULT_SIDECARS_IMAGE } from './names.js';
import { type DockerPlan, dockerPlan, type TestUpstream } from './plan.js';
import { runProvision } from './provision.js';
import { waitReady } from './ready.js';
import { DockerTransport } from './transport.js';

// Thrown when ctx.signal aborted the launch (after the unwind); exit code as for SIGINT.
export class LaunchAbortedError extends UserError {
  override name = 'LaunchAbortedError';
  constructor(slug: string) {
    super(`bring-up of ${slug} interrupted; everything it created was removed`, 130);
  }
}

// What launch needs besides plan and context; everything but the engine has a default.
export interface LaunchDeps {
  engine: DockerEngine;
  sidecarsImage?: string;
  /** uid:gid for the bundle; default: see defaultBundleUser. */
  bundleUser?: string;
  /** Bound on the bundle's ports answering (default 30 s). */
  readyTimeoutMs?: number;
  /** Daemon argv overrides for the bundle (ops/test escape hatch, see DockerPlanOptions). */
  daemonCommands?: Record<string, string[]>;
  /** Fake-internet CA + private-address allowances, for the e2e suite only. */
  testUpstream?: TestUpstream;
  now?: () => number;
}

// `NAME=value` for every route variable, from the host env; a missing one is a UserError
// raised before anything exists. The values go only into the bundle's create request.
export function routeSecretEnv(plan: Pick<BottlePlan, 'egress'>, env: NodeJS.ProcessEnv): string[] {
  for (const route of plan.egress.routes) resolveRouteHeaders(route, env);
  const names = [...new Set(plan.egress.routes.flatMap((r) => r.headers.flatMap((h) => h.vars)))].sort();
  return names.map((n) => `${n}=${env[n]}`);
}

// The bundle runs as the host user that owns the state dir (ca.key is 0600) and the identity
// files, so nothing on the host is chowned or loosened. Rootless Docker maps that user to
// container root, and Windows has no uid: the image's own user then.
export async function defaultBundleUser(engine: DockerEngine): Promise<string> {
  if (typeof process.getuid !== 'function' || typeof process.getgid !== 'function') return '10001:10001';
  const info = await engine.info().catch(() => ({ SecurityOptions: [] as string[] }));
  if ((info.SecurityOptions ?? []).some((o) => o.includes('name=rootless'))) return '0:0';
  return `${process.getuid()}:${process.getgid()}`;
}

// Host files the bundle or provisioning needs, checked before anything is created (smolvm reuses it).
export function checkRequiredPaths(dp: Pick<DockerPlan, 'requiredPaths'>): void {
  for (const r of dp.requiredPaths) {
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
    if (statusOf(r.reason) === 404) throw new UserError(`image ${image} is not in the Docker engine; run \`bottle images build\``);
    throw new Error(`inspecting image ${image}: ${engineMessage(r.reason)}`, { cause: r.reason });
  });
}

// An engine call that creates something: conflicts (a leftover of the same slug) are user errors.
export async function create(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (statusOf(e) === 409) throw new UserError(`${what} already exists (left over from an earlier run?); run \`bottle cleanup\``);
    throw new Error(`creating ${what}: ${engineMessage(e)}`, { cause: e });
  }
}

// The host dirs the bundle writes (events, git-gate mirrors) and the upstreams file. They belong
// to the bundle user; that is this process's user unless a root caller chose another one.
export async function prepareHost(dp: Pick<DockerPlan, 'hostDirs' | 'hostFiles'>, bundleUser: string): Promise<void> {
  const [uid, gid] = bundleUser.split(':').map(Number);
  const giveAway = process.getuid?.() === 0 && uid !== 0 && Number.isInteger(uid);
  for (const d of dp.hostDirs) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    if (giveAway) await chown(d, uid!, gid ?? uid!);
  }
  for (const f of dp.hostFiles) await writeFile(f.path, f.content, { mode: f.mode });
}

// Runs the route helper in the agent's network namespace and removes it again.
async function dropDefaultRoute(engine: DockerEngine, dp: DockerPlan, ctx: LaunchContext): Promise<void> {
  const h = dp.routeHelper;
  await create(`container ${h.name}`, () => engine.createContainer(h.create));
  const c = engine.getContainer(h.name);
  try {
    await c.start();
    const { StatusCode } = await c.wait();
    if (StatusCode === 0) ctx.log('agent network: no default route');
    else ctx.log(`note: the agent's default route could not be deleted (${(await logTail(c, 3)) || `exit ${StatusCode}`}); direct connections still fail (the bridge has no host address)`);
  } catch (e) {
    throw new Error(`running ${h.name}: ${engineMessage(e)}`, { cause: e });
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

// What every backend's launch settles before it creates anything: the clock, the abort check,
// the route secrets from the host env (a missing one fails here), the bundle user and the
// bundle's plan options.
export async function launchPreamble(
  plan: BottlePlan, ctx: LaunchContext,
  deps: Pick<LaunchDeps, 'engine' | 'sidecarsImage' | 'bundleUser' | 'daemonCommands' | 'testUpstream' | 'now'>,
) {
  const now = deps.now ?? Date.now;
  const started = now();
  const checkAbort = (): void => {
    if (ctx.signal.aborted) throw new LaunchAbortedError(ctx.slug);
  };
  checkAbort();
  const secretEnv = routeSecretEnv(plan, ctx.env);
  const bundleUser = deps.bundleUser ?? (await defaultBundleUser(deps.engine));
  const bundle = {
    sidecarsImage: deps.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE, bundleUser, daemonCommands: deps.daemonCommands,
    ...(deps.testUpstream ? { testUpstream: deps.testUpstream } : {}),
  };
  return { now, started, checkAbort, secretEnv, bundleUser, bundle };
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

// SPEC §5 launch + provision for Docker.
export async function launchDocker(plan: BottlePlan, ctx: LaunchContext, deps: LaunchDeps): Promise<LaunchResult> {
  const { engine } = deps;
  const { now, started, checkAbort, secretEnv, bundleUser, bundle } = await launchPreamble(plan, ctx, deps);
  const dp = dockerPlan(plan, ctx.slug, ctx.paths, ctx.agent, bundle);
  checkRequiredPaths(dp);
  await checkImages(engine, [dp.bundle.create.Image!, dp.agent.create.Image!]);
  await prepareHost(dp, bundleUser);
  const eventsOffset = await stat(dp.host.eventsFile).then((s) => s.size, () => 0);

  checkAbort();
  const stack: LaunchUndo[] = [];
  const made = (what: string, undo: () => Promise<unknown>) => stack.push({ what, undo });
  try {
    // Independent engine calls run side by side; every one is waited for (so nothing appears
    // after the unwind), then the first failure is rethrown.
    const together = async (calls: Array<() => Promise<unknown>>): Promise<void> => {
      const results = await Promise.allSettled(calls.map((c) => c()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      checkAbort();
    };
    for (const net of dp.networks) ctx.log(`creating network ${net.name}${net.create.Internal ? ' (internal)' : ''}`);
    await together(dp.networks.map((net) => async () => {
      await create(`network ${net.name}`, () => engine.createNetwork(net.create));
      made(`network ${net.name}`, () => engine.getNetwork(net.name).remove());
    }));
    ctx.log(`creating sidecars container ${dp.bundle.name} (${dp.daemons.join(', ')})`);
    ctx.log(`creating agent container ${dp.agent.name} (${dp.agent.create.Image})`);
    const bundleCreate = { ...dp.bundle.create, Env: [...(dp.bundle.create.Env ?? []), ...secretEnv] };
    await together([
      async () => {
        await create(`container ${dp.bundle.name}`, () => engine.createContainer(bundleCreate));
        made(`container ${dp.bundle.name}`, () => engine.getContainer(dp.bundle.name).remove({ force: true, v: true }));
      },
      async () => {
        await create(`container ${dp.agent.name}`, () => engine.createContainer(dp.agent.create));
        made(`container ${dp.agent.name}`, () => engine.getContainer(dp.agent.name).remove({ force: true, v: true }));
      },
    ]);
    ctx.log('starting sidecars');
    ctx.log('starting agent');
    const agent = engine.getContainer(dp.agent.name);
    await together([
      () => engine.getContainer(dp.bundle.name).start().catch((e: unknown) => {
        throw new Error(`starting ${dp.bundle.name}: ${engineMessage(e)}`, { cause: e });
      }),
      () => agent.start().catch((e: unknown) => {
        throw new Error(`starting ${dp.agent.name}: ${engineMessage(e)}`, { cause: e });
      }),
    ]);
    // While the bundle's daemons come up, the agent loses its default route and is provisioned:
    // it runs nothing but `sleep infinity` until the bottle is reported up, and provisioning
    // touches no network.
    await together([
      // The egress network joins the running bundle (its daemons boot meanwhile; none dials out
      // before the bottle is up): a container starts faster on one network than on two.
      async () => {
        for (const n of dp.bundle.connect) {
          await engine.getNetwork(n).connect({ Container: dp.bundle.name }).catch((e: unknown) => {
            throw new Error(`connecting ${dp.bundle.name} to ${n}: ${engineMessage(e)}`, { cause: e });
          });
        }
      },
      () => waitReady(engine, dp, ctx, { timeoutMs: deps.readyTimeoutMs ?? 30_000, eventsOffset }),
      () => dropDefaultRoute(engine, dp, ctx),
      async () => {
        const transport = await DockerTransport.open(agent, AGENT_PATHS.user, ctx.signal);
        await runProvision(dp.provision, transport, ctx.log, ctx.signal);
      },
    ]);
    ctx.log(`bottle ${ctx.slug} is up (${((now() - started) / 1000).toFixed(1)}s)`);
    return {
      resources: { containers: [dp.bundle.name, dp.agent.name], networks: dp.networks.map((n) => n.name) },
      backendData: { bundleUser, eventsFile: dp.host.eventsFile, sidecarsImage: dp.bundle.create.Image, launchMs: now() - started },
    };
  } catch (e) {
    return unwindLaunch(stack, ctx, e);
  }
}
