// Docker launch, in as few round trips to the engine as the dependencies allow (a remote
// engine pays each one): the images are checked, the engine asked whether it is rootless and
// the internal network made side by side; then two branches run side by side. The bundle's:
// create (secrets in its API Env) → seed → start → it joins the egress network and gets ready.
// The agent's: create → its files are provisioned through the archive API and the route helper
// is created → start → the helper drops its default route, the commands left run. The egress
// network, which only the running bundle joins, is made after the internal one, beside the
// branches (a third one): neither container waits for it at create. Every created resource goes on a stack, networks
// under the containers; a failure or an abort stops the other branches at their next step and,
// once all have ended, unwinds the stack in reverse (the containers, then the networks) before
// the error is rethrown, so nothing is left behind.
import { type DockerEngine, engineMessage, logTail } from '../../docker/api.js';
import type { BottlePlan } from '../../plan/index.js';
import { engineRecord, remoteEngineName, remoteEngineText, resolveDockerEndpoint } from '../../docker/engine.js';
import { UserError } from '../../errors.js';
import {
  type BundleLaunchDeps, bundleOptions, bundleUserOf, checkImages, checkRequiredPaths, create, hostBundleUser, launchSettings, type LaunchUndo, prepareHost,
  seedArchiveFor, seedCreatedBundle, start, unwindLaunch, withSecretEnv,
} from '../bundle/launch.js';
import { AGENT_PATHS } from '../bundle/names.js';
import { type ProvisionCommands, provisionCommands, provisionFiles } from '../bundle/provision.js';
import { waitReady } from '../bundle/ready.js';
import { API_CHANNEL } from '../bundle/control.js';
import type { LaunchContext, LaunchResult } from '../types.js';
import { localUpstreamPath } from '../bundle/plan.js';
import { type DockerPlan, dockerPlan } from './plan.js';
import { DockerTransport } from './transport.js';

// Runs the created route helper in the agent's network namespace and removes it again.
async function dropDefaultRoute(engine: DockerEngine, dp: DockerPlan, ctx: Pick<LaunchContext, 'log'>): Promise<void> {
  const h = dp.routeHelper;
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

// Independent calls side by side; every one is waited for (so nothing appears after the
// unwind), then the first failure is rethrown.
async function together(calls: Array<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(calls.map((c) => c()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

// Branches side by side, each handed a signal that aborts with `signal` or when another branch
// failed (it then stops at its next step); once all have ended, the first failure is rethrown.
async function branches(signal: AbortSignal, runs: Array<(signal: AbortSignal) => Promise<void>>): Promise<void> {
  const stop = new AbortController();
  const either = AbortSignal.any([signal, stop.signal]);
  const failures: unknown[] = [];
  await Promise.all(runs.map((run) => run(either).catch((e: unknown) => {
    failures.push(e);
    stop.abort();
  })));
  if (failures.length > 0) throw failures[0];
}

// SPEC §5 launch + provision for Docker.
export async function launchDocker(plan: BottlePlan, ctx: LaunchContext, deps: BundleLaunchDeps): Promise<LaunchResult> {
  const { engine } = deps;
  const { now, started, checkAbort, secretEnv } = launchSettings(plan, ctx, deps);
  // The plan for the likely bundle user; made again in the rare case the engine says otherwise.
  const likelyUser = deps.bundleUser ?? hostBundleUser();
  const planFor = (user: string): DockerPlan => dockerPlan(plan, ctx.slug, ctx.paths, ctx.agent, bundleOptions(deps, user));
  const likely = planFor(likelyUser);
  checkRequiredPaths(likely);
  const endpoint = resolveDockerEndpoint(ctx.env);
  // A remote engine has none of this machine's paths: the one a plan can still name is a git
  // upstream given as a local path, which git-gate would mount.
  const locals = plan.git.flatMap((g) => {
    const path = localUpstreamPath(g.upstream);
    return path ? [{ remote: g.name, path }] : [];
  });
  // One GET /info answers both: is the engine rootless (the bundle user), is it another machine.
  const askUser = deps.bundleUser === undefined && typeof process.getuid === 'function';
  const info = askUser || locals.length > 0 ? engine.info().then((i) => i as { Name?: string; SecurityOptions?: string[] | null }, () => undefined) : undefined;
  const remote = locals.length > 0 ? await remoteEngineName(endpoint, async () => (await info) ?? {}).catch(() => undefined) : undefined;
  if (remote) throw new UserError(remoteEngineText(endpoint.host, remote, locals));
  await prepareHost(likely);

  checkAbort();
  // Networks are removed after every container (one may still be connected to them).
  const networks: LaunchUndo[] = [];
  const stack: LaunchUndo[] = [];
  const made = (what: string, undo: () => Promise<unknown>) => stack.push({ what, undo });
  const makeNetwork = (net: DockerPlan['networks'][number]) => async (): Promise<void> => {
    await create(`network ${net.name}`, () => engine.createNetwork(net.create));
    networks.push({ what: `network ${net.name}`, undo: () => engine.getNetwork(net.name).remove() });
  };
  // The networks the containers are created on, and those the bundle joins once it runs.
  const joined = new Set(likely.bundle.connect);
  const egress = likely.networks.filter((n) => joined.has(n.name));
  try {
    for (const net of likely.networks) ctx.log(`creating network ${net.name}${net.create.Internal ? ' (internal)' : ''}`);
    let bundleUser = likelyUser;
    // A missing image is reported before the containers (the networks are unwound).
    const first = together([
      () => checkImages(engine, [likely.bundle.create.Image!, likely.agent.create.Image!]),
      async () => { if (askUser) bundleUser = bundleUserOf((await info) ?? {}); },
      ...likely.networks.filter((n) => !joined.has(n.name)).map(makeNetwork),
    ]);
    // Made once the internal one is there (two at once slow each other down: on Docker 20.10
    // each takes ~1.5x as long as alone), beside the containers.
    const egressMade = first.then(() => together(egress.map(makeNetwork)));
    egressMade.catch(() => undefined); // awaited by its branch below
    try {
      await first;
      checkAbort();
    } catch (e) {
      await egressMade.catch(() => undefined); // no network appears after the unwind
      throw e;
    }
    const dp = bundleUser === likelyUser ? likely : planFor(bundleUser);
    ctx.log(`creating sidecars container ${dp.bundle.name} (${dp.daemons.join(', ')})`);
    ctx.log(`creating agent container ${dp.agent.name} (${dp.agent.create.Image})`);
    const bundleCreate = withSecretEnv(dp.bundle, secretEnv);
    await branches(ctx.signal, [
      () => egressMade,
      async (signal) => {
        // Packed (host files only) while the bundle is created.
        const seed = seedArchiveFor(dp, bundleUser);
        seed.catch(() => undefined);
        await create(`container ${dp.bundle.name}`, () => engine.createContainer(bundleCreate));
        made(`container ${dp.bundle.name}`, () => engine.getContainer(dp.bundle.name).remove({ force: true, v: true }));
        await seedCreatedBundle(engine, dp, bundleUser, seed);
        signal.throwIfAborted();
        ctx.log('starting sidecars');
        await start(engine, dp.bundle.name);
        signal.throwIfAborted();
        await together([
          // The egress network joins the running bundle (its daemons boot meanwhile; none dials
          // out before the bottle is up): a container starts faster on one network than on two.
          async () => {
            await egressMade;
            signal.throwIfAborted();
            for (const n of dp.bundle.connect) {
              await engine.getNetwork(n).connect({ Container: dp.bundle.name }).catch((e: unknown) => {
                throw new Error(`connecting ${dp.bundle.name} to ${n}: ${engineMessage(e)}`, { cause: e });
              });
            }
          },
          () => waitReady(engine, dp, { ...ctx, signal }, { timeoutMs: deps.readyTimeoutMs ?? 30_000 }),
        ]);
      },
      // The agent runs nothing but `sleep infinity` until the bottle is reported up; while it
      // starts, its files go in and the route helper is created (in its network namespace).
      async (signal) => {
        await create(`container ${dp.agent.name}`, () => engine.createContainer(dp.agent.create));
        made(`container ${dp.agent.name}`, () => engine.getContainer(dp.agent.name).remove({ force: true, v: true }));
        signal.throwIfAborted();
        const transport = DockerTransport.open(engine.getContainer(dp.agent.name), AGENT_PATHS.user, signal);
        ctx.log('starting agent');
        for (const step of dp.provision) ctx.log(`provision: ${step.label}`);
        const files = provisionFiles(dp.provision, transport, signal);
        files.catch(() => undefined); // awaited below, beside the route
        try {
          await together([
            () => start(engine, dp.agent.name),
            async () => {
              const h = dp.routeHelper;
              await create(`container ${h.name}`, () => engine.createContainer(h.create));
              made(`container ${h.name}`, () => engine.getContainer(h.name).remove({ force: true }));
            },
          ]);
          signal.throwIfAborted();
        } catch (e) {
          await files.catch(() => undefined); // no upload still running when the unwind begins
          throw e;
        }
        await together([
          () => dropDefaultRoute(engine, dp, ctx),
          async () => provisionCommands(await files, transport, ctx.log, signal),
        ]);
      },
    ]);
    checkAbort();
    ctx.log(`bottle ${ctx.slug} is up (${((now() - started) / 1000).toFixed(1)}s)`);
    return {
      resources: { containers: [dp.bundle.name, dp.agent.name], networks: dp.networks.map((n) => n.name) },
      backendData: { channel: API_CHANNEL, engine: engineRecord(endpoint), bundleUser, eventsFile: dp.host.eventsFile, sidecarsImage: dp.bundle.create.Image, launchMs: now() - started },
    };
  } catch (e) {
    return unwindLaunch([...networks, ...stack], ctx, e);
  }
}
