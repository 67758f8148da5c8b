// Docker launch: networks → bundle (secrets in its API Env) and agent → both started → side by
// side: the bundle joins the egress network and gets ready, the agent loses its default route
// and is provisioned. Every created resource goes on a stack; a failure or an abort unwinds the
// stack in reverse before the error is rethrown, so nothing is left behind.
import { stat } from 'node:fs/promises';
import { type DockerEngine, engineMessage, logTail } from '../../docker/api.js';
import type { BottlePlan } from '../../plan/index.js';
import { engineRecord, remoteEngineName, remoteEngineText, resolveDockerEndpoint } from '../../docker/engine.js';
import { UserError } from '../../errors.js';
import {
  type BundleLaunchDeps, checkImages, checkRequiredPaths, create, launchPreamble, type LaunchUndo, prepareHost, seedCreatedBundle, start, unwindLaunch, withSecretEnv,
} from '../bundle/launch.js';
import { AGENT_PATHS } from '../bundle/names.js';
import { runProvision } from '../bundle/provision.js';
import { waitReady } from '../bundle/ready.js';
import { API_CHANNEL } from '../bundle/control.js';
import type { LaunchContext, LaunchResult } from '../types.js';
import { localUpstreamPath } from '../bundle/plan.js';
import { type DockerPlan, dockerPlan } from './plan.js';
import { DockerTransport } from './transport.js';

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

// SPEC §5 launch + provision for Docker.
export async function launchDocker(plan: BottlePlan, ctx: LaunchContext, deps: BundleLaunchDeps): Promise<LaunchResult> {
  const { engine } = deps;
  const { now, started, checkAbort, secretEnv, bundleUser, bundle } = await launchPreamble(plan, ctx, deps);
  const dp = dockerPlan(plan, ctx.slug, ctx.paths, ctx.agent, bundle);
  checkRequiredPaths(dp);
  const endpoint = resolveDockerEndpoint(ctx.env);
  // A remote engine has none of this machine's paths: the one a plan can still name is a git
  // upstream given as a local path, which git-gate would mount.
  const locals = plan.git.flatMap((g) => {
    const path = localUpstreamPath(g.upstream);
    return path ? [{ remote: g.name, path }] : [];
  });
  const remote = locals.length > 0 ? await remoteEngineName(endpoint, () => engine.info() as Promise<{ Name?: string }>).catch(() => undefined) : undefined;
  if (remote) throw new UserError(remoteEngineText(endpoint.host, remote, locals));
  await checkImages(engine, [dp.bundle.create.Image!, dp.agent.create.Image!]);
  await prepareHost(dp);
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
    const bundleCreate = withSecretEnv(dp.bundle, secretEnv);
    await together([
      async () => {
        await create(`container ${dp.bundle.name}`, () => engine.createContainer(bundleCreate));
        made(`container ${dp.bundle.name}`, () => engine.getContainer(dp.bundle.name).remove({ force: true, v: true }));
        await seedCreatedBundle(engine, dp, bundleUser);
      },
      async () => {
        await create(`container ${dp.agent.name}`, () => engine.createContainer(dp.agent.create));
        made(`container ${dp.agent.name}`, () => engine.getContainer(dp.agent.name).remove({ force: true, v: true }));
      },
    ]);
    ctx.log('starting sidecars');
    ctx.log('starting agent');
    await together([() => start(engine, dp.bundle.name), () => start(engine, dp.agent.name)]);
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
      () => waitReady(engine, dp, ctx, { timeoutMs: deps.readyTimeoutMs ?? 30_000 }),
      () => dropDefaultRoute(engine, dp, ctx),
      async () => {
        const transport = await DockerTransport.open(engine.getContainer(dp.agent.name), AGENT_PATHS.user, ctx.signal);
        await runProvision(dp.provision, transport, ctx.log, ctx.signal);
      },
    ]);
    ctx.log(`bottle ${ctx.slug} is up (${((now() - started) / 1000).toFixed(1)}s)`);
    return {
      resources: { containers: [dp.bundle.name, dp.agent.name], networks: dp.networks.map((n) => n.name) },
      backendData: { channel: API_CHANNEL, engine: engineRecord(endpoint), bundleUser, eventsFile: dp.host.eventsFile, sidecarsImage: dp.bundle.create.Image, launchMs: now() - started },
    };
  } catch (e) {
    return unwindLaunch(stack, ctx, e);
  }
}
