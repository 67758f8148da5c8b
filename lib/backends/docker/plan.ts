// The Docker bottle as data: the bundle (bundle/plan.ts) on the internal network under its
// aliases, the agent container, the two networks, the route helper and the provisioning steps,
// computed from the plan without touching the engine or reading a secret.
// Launch adds exactly one thing: the route secret values, into the bundle's Env, at create.
import type { AuthMode } from '../../plan/auth.js';
import { dirname } from 'node:path';
import type { AgentSpec } from '../../manifest/index.js';
import type { BottlePlan } from '../../plan/index.js';
import type { BottlePaths } from '../../state/index.js';
import { AGENT_PATHS, containerLabels, LABEL_STATE, networkLabels, PORTS, stateKey } from '../bundle/names.js';
import {
  agentEnvFor, ALIAS_WIRING, type AgentWiring, type BundlePlan, bundlePlan, type BundlePlanOptions, type ContainerSpec, hardening, type NetworkSpec,
} from '../bundle/plan.js';
import { type ProvisionStep, provisionSteps } from '../bundle/provision.js';
import { BUNDLE_ALIASES, dockerNames, type DockerNames } from './names.js';

// Everything launch does, in order, as data: the bundle's part plus the agent's side.
export interface DockerPlan extends BundlePlan {
  names: DockerNames;
  networks: NetworkSpec[];
  agent: ContainerSpec;
  /** Runs once in the agent's network namespace (NET_ADMIN there, never in the agent). */
  routeHelper: ContainerSpec;
  provision: ProvisionStep[];
}

// The agent reaches the bundle by its aliases on the internal network.
export const DOCKER_WIRING: AgentWiring = ALIAS_WIRING;

// The agent container's env: the manifest's plain env, then the Docker wiring, which wins.
export function agentEnv(agent: Pick<AgentSpec, 'env'>, auth?: AuthMode): string[] {
  return agentEnvFor(agent, DOCKER_WIRING, auth);
}

// SPEC §6/§7 as engine calls. Pure: same inputs, same object; holds names of secrets only.
export function dockerPlan(plan: BottlePlan, slug: string, paths: BottlePaths, agent: AgentSpec, options: BundlePlanOptions): DockerPlan {
  const names = dockerNames(slug);
  const base = bundlePlan(plan, slug, paths, options, {
    network: names.internalNetwork,
    endpoint: { Aliases: [...BUNDLE_ALIASES] },
    connect: [names.externalNetwork],
  });
  const agentSpec: ContainerSpec = {
    name: names.agent,
    connect: [],
    create: {
      name: names.agent,
      Image: plan.image,
      User: AGENT_PATHS.user,
      WorkingDir: AGENT_PATHS.workspace,
      Cmd: ['sleep', 'infinity'],
      Env: agentEnv(agent, plan.auth?.mode),
      Labels: containerLabels(slug, plan.agent, 'agent'),
      HostConfig: { ...hardening(), NetworkMode: names.internalNetwork },
      NetworkingConfig: { EndpointsConfig: { [names.internalNetwork]: {} } },
    },
  };
  // The agent's only network. Internal stops forwarding, but Docker still gives the bridge
  // (that is, the host) an address there, on which every host service bound to 0.0.0.0
  // answers the agent: inhibit_ipv4 leaves the bridge without one. Docker 20.10 still installs
  // a default route to that missing address; routeHelper deletes it, so a connection that
  // bypasses the proxy fails at once (ENETUNREACH) instead of waiting for ARP.
  const networks: NetworkSpec[] = [
    {
      name: names.internalNetwork,
      create: {
        Name: names.internalNetwork, Driver: 'bridge', Internal: true, CheckDuplicate: true,
        Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' },
        Labels: networkLabels(slug, plan.agent, 'int'),
      },
    },
    { name: names.externalNetwork, create: { Name: names.externalNetwork, Driver: 'bridge', Internal: false, CheckDuplicate: true, Labels: networkLabels(slug, plan.agent, 'ext') } },
  ];
  const routeHelper: ContainerSpec = {
    name: names.routeHelper,
    connect: [],
    create: {
      name: names.routeHelper,
      Image: plan.image,
      User: 'root',
      // Succeeds when no default route is left (also when Docker installed none).
      Entrypoint: ['sh', '-c', 'ip route del default 2>/dev/null; ! ip route show default | grep -q .'],
      Cmd: [],
      Labels: containerLabels(slug, plan.agent, 'route-helper'),
      HostConfig: { CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'], SecurityOpt: ['no-new-privileges'], NetworkMode: `container:${names.agent}` },
    },
  };
  // Every object carries its state root's key (the bundle got it from bundlePlan), so cleanup
  // elsewhere leaves it alone.
  const owner = { [LABEL_STATE]: stateKey(dirname(paths.dir)) };
  for (const spec of [agentSpec, routeHelper]) spec.create.Labels = { ...spec.create.Labels, ...owner };
  for (const net of networks) net.create.Labels = { ...net.create.Labels, ...owner };
  return {
    ...base, names, networks, agent: agentSpec, routeHelper,
    provision: provisionSteps({ plan, caCertHostPath: base.host.caCert, superviseUrl: plan.supervise ? `http://supervise:${PORTS.supervise}` : undefined }),
  };
}
