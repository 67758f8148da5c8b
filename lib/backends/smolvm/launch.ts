// smolvm launch (SPEC §5, §10): bridge at a chosen subnet → bundle at its pinned IP (secrets in
// its API Env only) → wait for its ports → pack the agent image (cached) → `machine create`
// allowed to reach only the bundle's IP → `machine start` → provision through `machine cp` /
// `machine exec`. Every step that makes something pushes its undo; a failure or an abort
// unwinds them in reverse before the error is rethrown, so nothing is left behind.
import { stat } from 'node:fs/promises';
import type { DockerEngine, ListedNetwork } from '../../docker/api.js';
import type { BottlePlan } from '../../plan/index.js';
import {
  type BundleLaunchDeps, checkImages, checkRequiredPaths, create, launchPreamble, type LaunchUndo, prepareHost, seedCreatedBundle, start, unwindLaunch, withSecretEnv,
} from '../bundle/launch.js';
import { runProvision } from '../bundle/provision.js';
import { waitReady } from '../bundle/ready.js';
import { API_CHANNEL } from '../bundle/control.js';
import { engineRecord, resolveDockerEndpoint } from '../../docker/engine.js';
import type { LaunchContext, LaunchResult } from '../types.js';
import type { SmolvmClient } from './cli.js';
import { packAgentImage } from './pack.js';
import { smolvmPlan } from './plan.js';
import { chooseSubnet, engineSubnets, hostSubnets, type SubnetPoolOptions } from './subnet.js';
import { SmolvmTransport } from './transport.js';

// The Docker engine slice the smolvm backend needs: the Docker backend's, plus subnets of
// listed networks (to choose a free one) and `docker save` (to pack the agent image).
export interface SmolvmEngine extends DockerEngine {
  listNetworks(opts: { filters: Record<string, string[]> }): Promise<Array<ListedNetwork & { IPAM?: { Config?: Array<{ Subnet?: string }> | null } | null }>>;
  getImage(name: string): { inspect(): Promise<{ Id: string }>; get(): Promise<NodeJS.ReadableStream> };
}

// The smolvm calls launch makes (SmolvmClient; narrowed so tests can wrap it).
export type SmolvmOps = Pick<SmolvmClient, 'create' | 'start' | 'stop' | 'delete' | 'exec' | 'cp' | 'packCreate'>;

// What launch needs besides plan and context; everything but engine and smolvm has a default.
export interface SmolvmLaunchDeps extends BundleLaunchDeps {
  engine: SmolvmEngine;
  smolvm: SmolvmOps;
  /** Where packed agent images are cached (default $XDG_CACHE_HOME/bottle/smolmachines). */
  cacheDir?: string;
  /** The host's own subnets, avoided like the engine's (default: the host's interfaces). */
  hostSubnets?: () => string[];
  subnetPool?: SubnetPoolOptions;
}

// SPEC §5 launch + provision for smolvm.
export async function launchSmolvm(plan: BottlePlan, ctx: LaunchContext, deps: SmolvmLaunchDeps): Promise<LaunchResult> {
  const { engine, smolvm } = deps;
  const { now, started, checkAbort, secretEnv, bundleUser, bundle } = await launchPreamble(plan, ctx, deps);
  // Values go into the bundle's create body; the VM's argv is checked against them (SecretInArgvError).
  const secretValues = secretEnv.map((e) => e.slice(e.indexOf('=') + 1));
  const taken = [
    ...(await engineSubnets({ listNetworks: () => engine.listNetworks({ filters: {} }) })),
    ...(deps.hostSubnets ?? hostSubnets)(),
  ];
  const subnet = chooseSubnet(ctx.slug, taken, deps.subnetPool);
  const sp = smolvmPlan(plan, ctx.slug, ctx.paths, ctx.agent, subnet, bundle);
  const { names } = sp;
  checkRequiredPaths(sp.base);
  await checkImages(engine, [sp.bundle.create.Image!, plan.image]);
  await prepareHost(sp.base);
  const eventsOffset = await stat(sp.base.host.eventsFile).then((s) => s.size, () => 0);

  checkAbort();
  const stack: LaunchUndo[] = [];
  try {
    ctx.log(`creating network ${names.network} (${subnet.subnet}; sidecars at ${subnet.bundleIp})`);
    await create(`network ${names.network}`, () => engine.createNetwork(sp.network.create));
    stack.push({ what: `network ${names.network}`, done: `removed network ${names.network}`, undo: () => engine.getNetwork(names.network).remove() });
    checkAbort();
    ctx.log(`creating sidecars container ${names.bundle} (${sp.base.daemons.join(', ')})`);
    const bundleCreate = withSecretEnv(sp.bundle, secretEnv);
    await create(`container ${names.bundle}`, () => engine.createContainer(bundleCreate));
    stack.push({ what: `container ${names.bundle}`, done: `removed container ${names.bundle}`, undo: () => engine.getContainer(names.bundle).remove({ force: true, v: true }) });
    await seedCreatedBundle(engine, sp.base, bundleUser);
    checkAbort();
    ctx.log('starting sidecars');
    await start(engine, names.bundle);
    await waitReady(engine, sp.base, ctx, { timeoutMs: deps.readyTimeoutMs ?? 30_000 });

    checkAbort();
    const smolmachine = await packAgentImage({ image: plan.image, docker: engine, smolvm, env: ctx.env, log: ctx.log, ...(deps.cacheDir ? { cacheDir: deps.cacheDir } : {}) });
    checkAbort();
    ctx.log(`creating VM ${names.vm} (network: ${sp.vm.allowCidrs.join(', ')} only)`);
    await smolvm.create({ name: names.vm, source: { from: smolmachine }, allowCidrs: sp.vm.allowCidrs, env: sp.vm.env, workdir: sp.vm.workdir, secretValues });
    stack.push({ what: `VM ${names.vm}`, done: `removed VM ${names.vm}`, undo: () => smolvm.delete(names.vm) });
    checkAbort();
    ctx.log('starting VM');
    await smolvm.start(names.vm);
    stack.push({ what: `running VM ${names.vm}`, done: `stopped VM ${names.vm}`, undo: () => smolvm.stop(names.vm) });

    checkAbort();
    const transport = await SmolvmTransport.open(smolvm, names.vm, ctx.signal);
    try {
      await runProvision(sp.provision, transport, ctx.log, ctx.signal);
    } finally {
      await transport.close();
    }
    checkAbort();
    ctx.log(`bottle ${ctx.slug} is up (${((now() - started) / 1000).toFixed(1)}s)`);
    return {
      resources: { containers: [names.bundle], networks: [names.network], machine: names.vm },
      backendData: {
        bundleIp: subnet.bundleIp, subnet: subnet.subnet, vm: names.vm, smolmachine,
        channel: API_CHANNEL, engine: engineRecord(resolveDockerEndpoint(ctx.env)), bundleUser, eventsFile: sp.base.host.eventsFile, sidecarsImage: sp.bundle.create.Image, launchMs: now() - started,
      },
    };
  } catch (e) {
    return unwindLaunch(stack, ctx, e);
  }
}
