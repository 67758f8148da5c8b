// The Docker bottle as data: networks, the two containers' create bodies, host files and the
// provisioning steps, computed from the plan without touching the engine or reading a secret.
// Launch adds exactly one thing: the route secret values, into the bundle's Env, at create.
import type Docker from 'dockerode';
import { basename, dirname } from 'node:path';
import type { AgentSpec } from '../../manifest/index.js';
import type { BottlePlan } from '../../plan/index.js';
import type { BottlePaths } from '../../state/index.js';
import {
  AGENT_PATHS, BUNDLE_ALIASES, BUNDLE_PATHS, containerLabels, DEFAULT_SIDECARS_IMAGE, dockerHostPaths, dockerNames,
  type DockerHostPaths, type DockerNames, LABEL_STATE, networkLabels, PLACEHOLDER_API_KEY, PORTS, stateKey,
} from './names.js';
import { type ProvisionStep, provisionSteps } from './provision.js';

// A bundle daemon with a port the launch waits for.
export type DaemonName = keyof typeof PORTS;

// One network and its create body.
export interface NetworkSpec {
  name: string;
  create: Docker.NetworkCreateOptions;
}

// One container: its create body and the networks it joins after create.
export interface ContainerSpec {
  name: string;
  /** Engine create body; for the bundle, launch appends the secret env to `Env`. */
  create: Docker.ContainerCreateOptions;
  /** Networks connected after create (API 1.41 takes one network at create). */
  connect: string[];
}

// A file launch writes on the host before anything is created (never a secret).
export interface HostFile { path: string; content: string; mode: number }

// Everything launch does, in order, as data.
export interface DockerPlan {
  slug: string;
  names: DockerNames;
  host: DockerHostPaths;
  networks: NetworkSpec[];
  bundle: ContainerSpec;
  agent: ContainerSpec;
  /** Runs once in the agent's network namespace (NET_ADMIN there, never in the agent). */
  routeHelper: ContainerSpec;
  /** Daemons the bundle runs; launch waits for each one's port. */
  daemons: DaemonName[];
  /** Host env var names whose values go into the bundle's Env at launch (route headers). */
  secretNames: string[];
  hostDirs: string[];
  hostFiles: HostFile[];
  /** Host files that must exist before launch (CA, identities, workspace .git, skills). */
  requiredPaths: Array<{ path: string; kind: 'file' | 'dir'; what: string }>;
  provision: ProvisionStep[];
}

// Inputs that are not in the bottle plan: which sidecars image, as whom the bundle runs.
export interface DockerPlanOptions {
  sidecarsImage?: string;
  /**
   * uid:gid the bundle runs as: the owner of the state dir and the identity files, so it can
   * read ca.key (0600) and the keys without any chown on the host (see index.ts).
   */
  bundleUser: string;
  /** Replaces daemons' argv in the bundle (init's BOTTLE_SIDECAR_COMMANDS escape hatch). */
  daemonCommands?: Record<string, string[]>;
  /**
   * Test upstreams only, never a default: a CA the gateway also trusts for upstream TLS, and
   * names it may dial at private addresses (the e2e suite's fake internet).
   */
  testUpstream?: TestUpstream;
}

export interface TestUpstream { caFile?: string; allowPrivate?: string[]; resolveOnly?: string[] }

// Read from explicitly named env vars (BOTTLE_TEST_UPSTREAM_CA, BOTTLE_TEST_ALLOW_PRIVATE,
// BOTTLE_TEST_RESOLVE_ONLY: the e2e suite's bundles resolve only `*.test` names).
export function testUpstreamFromEnv(env: NodeJS.ProcessEnv): TestUpstream | undefined {
  const caFile = env.BOTTLE_TEST_UPSTREAM_CA || undefined;
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const allowPrivate = list(env.BOTTLE_TEST_ALLOW_PRIVATE);
  const resolveOnly = list(env.BOTTLE_TEST_RESOLVE_ONLY);
  if (!caFile && allowPrivate.length === 0 && resolveOnly.length === 0) return undefined;
  return { ...(caFile ? { caFile } : {}), ...(allowPrivate.length ? { allowPrivate } : {}), ...(resolveOnly.length ? { resolveOnly } : {}) };
}

const TEST_UPSTREAM_CA = '/bottle/test/upstream-ca.pem';

// The bundle's env: which daemons, and where init finds their config (sidecars/daemons.ts).
function bundleEnv(daemons: DaemonName[], overrides: Record<string, string[]> = {}, test?: TestUpstream): string[] {
  const env: Record<string, string> = {
    BOTTLE_SIDECAR_DAEMONS: daemons.join(','),
    ...(Object.keys(overrides).length ? { BOTTLE_SIDECAR_COMMANDS: JSON.stringify(overrides) } : {}),
    BOTTLE_GATEWAY_LISTEN: `0.0.0.0:${PORTS.gateway}`,
    BOTTLE_GATEWAY_POLICY_DIR: BUNDLE_PATHS.policyDir,
    BOTTLE_GATEWAY_CA_DIR: BUNDLE_PATHS.caDir,
    ...(test?.caFile ? { BOTTLE_GATEWAY_UPSTREAM_CA: TEST_UPSTREAM_CA } : {}),
    ...(test?.allowPrivate?.length ? { BOTTLE_GATEWAY_ALLOW_PRIVATE: test.allowPrivate.join(',') } : {}),
    ...(test?.resolveOnly?.length ? { BOTTLE_GATEWAY_RESOLVE_ONLY: test.resolveOnly.join(',') } : {}),
    BOTTLE_EVENTS_FILE: `${BUNDLE_PATHS.eventsDir}/events.jsonl`,
    BOTTLE_POLICY_FILE: `${BUNDLE_PATHS.policyDir}/policy.yaml`,
    HOME: BUNDLE_PATHS.home,
  };
  if (daemons.includes('supervise')) {
    Object.assign(env, {
      BOTTLE_SUPERVISE_LISTEN: `0.0.0.0:${PORTS.supervise}`,
      BOTTLE_SUPERVISE_QUEUE_DIR: BUNDLE_PATHS.queueDir,
      BOTTLE_SUPERVISE_DECISIONS_DIR: BUNDLE_PATHS.decisionsDir,
    });
  }
  if (daemons.includes('git-gate')) {
    Object.assign(env, {
      BOTTLE_GIT_GATE_LISTEN: '0.0.0.0',
      BOTTLE_GIT_GATE_REPOS_DIR: BUNDLE_PATHS.reposDir,
      BOTTLE_GIT_GATE_UPSTREAMS: BUNDLE_PATHS.upstreams,
    });
  }
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

type Mount = NonNullable<NonNullable<Docker.ContainerCreateOptions['HostConfig']>['Mounts']>[number];
const bind = (source: string, target: string, readOnly: boolean): Mount => ({ Type: 'bind', Source: source, Target: target, ReadOnly: readOnly });

// In-container name of an upstream's identity: by remote name, so two `id_ed25519` never clash.
const identityTarget = (remote: string): string => `${BUNDLE_PATHS.identities}/${remote}`;

// The host path of a local upstream (absolute path or file:// URL): mounted at the same path in
// the bundle, so git-gate can fetch from and push to it.
export function localUpstreamPath(upstream: string): string | undefined {
  if (upstream.startsWith('/')) return upstream;
  if (upstream.startsWith('file://')) return decodeURIComponent(upstream.slice('file://'.length));
  return undefined;
}

// git-gate's --upstreams file (no secret: identity files are paths, mounted read-only).
export function upstreamsJson(plan: BottlePlan): string {
  const list = plan.git.map((g) => ({ name: g.name, upstream: g.upstream, ...(g.identity ? { identityFile: identityTarget(g.name) } : {}) }));
  return `${JSON.stringify(list, null, 2)}\n`;
}

// Where the agent finds the bundle: Docker network aliases, or (smolvm) the bundle's IP.
export interface AgentWiring { proxy: string; noProxy: string }
export const DOCKER_WIRING: AgentWiring = { proxy: `http://gateway:${PORTS.gateway}`, noProxy: 'git-gate,supervise,localhost,127.0.0.1' };

// The agent's env: the manifest's plain env, then bottle's wiring, which always wins.
export function agentEnv(agent: Pick<AgentSpec, 'env'>, wiring: AgentWiring = DOCKER_WIRING): string[] {
  const { proxy, noProxy } = wiring;
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(agent.env)),
    HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy,
    NO_PROXY: noProxy, no_proxy: noProxy,
    NODE_EXTRA_CA_CERTS: AGENT_PATHS.caCert,
    ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY,
  };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

// SPEC §6/§7 as engine calls. Pure: same inputs, same object; holds names of secrets only.
export function dockerPlan(plan: BottlePlan, slug: string, paths: BottlePaths, agent: AgentSpec, options: DockerPlanOptions): DockerPlan {
  const names = dockerNames(slug);
  const host = dockerHostPaths(paths);
  const daemons: DaemonName[] = ['gateway'];
  if (plan.git.length > 0) daemons.push('git-gate');
  if (plan.supervise) daemons.push('supervise');
  const secretNames = [...new Set(plan.egress.routes.flatMap((r) => r.headers.flatMap((h) => h.vars)))].sort();

  const mounts: Mount[] = [
    bind(paths.policy, BUNDLE_PATHS.policyDir, true),
    bind(host.caDir, BUNDLE_PATHS.caDir, true),
    bind(host.eventsDir, BUNDLE_PATHS.eventsDir, false),
  ];
  if (options.testUpstream?.caFile) mounts.push(bind(options.testUpstream.caFile, TEST_UPSTREAM_CA, true));
  if (daemons.includes('supervise')) {
    mounts.push(bind(paths.superviseQueue, BUNDLE_PATHS.queueDir, false), bind(paths.superviseDecisions, BUNDLE_PATHS.decisionsDir, true));
  }
  const hostDirs = [host.eventsDir];
  const hostFiles: HostFile[] = [];
  const requiredPaths: DockerPlan['requiredPaths'] = [
    { path: host.caCert, kind: 'file', what: 'bundle CA certificate' },
    { path: `${host.caDir}/ca.key`, kind: 'file', what: 'bundle CA key' },
    { path: paths.policy, kind: 'dir', what: 'policy directory' },
  ];
  if (daemons.includes('git-gate')) {
    hostDirs.push(host.reposDir);
    hostFiles.push({ path: host.upstreams, content: upstreamsJson(plan), mode: 0o644 });
    mounts.push(bind(host.upstreams, BUNDLE_PATHS.upstreams, true), bind(host.reposDir, BUNDLE_PATHS.reposDir, false));
    for (const g of plan.git) {
      const local = localUpstreamPath(g.upstream);
      if (local) {
        requiredPaths.push({ path: local, kind: 'dir', what: `upstream of git remote ${g.name}` });
        mounts.push(bind(local, local, false));
      }
      if (!g.identity) continue;
      requiredPaths.push({ path: g.identity, kind: 'file', what: `identity of git remote ${g.name}` });
      mounts.push(bind(g.identity, identityTarget(g.name), true));
    }
  }
  if (plan.workspace) requiredPaths.push({ path: `${plan.workspace}/.git`, kind: 'dir', what: 'workspace .git directory' });
  for (const s of plan.skills) requiredPaths.push({ path: s, kind: 'dir', what: `skill ${basename(s)}` });

  const [uid, gid] = options.bundleUser.split(':');
  const hardening = { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PublishAllPorts: false, PortBindings: {} };
  const bundle: ContainerSpec = {
    name: names.bundle,
    connect: [names.externalNetwork],
    create: {
      name: names.bundle,
      Image: options.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE,
      User: options.bundleUser,
      Env: bundleEnv(daemons, options.daemonCommands, options.testUpstream),
      Labels: containerLabels(slug, plan.agent, 'sidecars'),
      HostConfig: {
        ...hardening,
        NetworkMode: names.internalNetwork,
        Mounts: mounts,
        // HOME for git/ssh (known_hosts) as whichever uid the bundle runs as.
        Tmpfs: { [BUNDLE_PATHS.home]: `rw,nosuid,nodev,size=16m,uid=${uid},gid=${gid ?? uid},mode=0700` },
      },
      NetworkingConfig: { EndpointsConfig: { [names.internalNetwork]: { Aliases: [...BUNDLE_ALIASES] } } },
    },
  };
  const agentSpec: ContainerSpec = {
    name: names.agent,
    connect: [],
    create: {
      name: names.agent,
      Image: plan.image,
      User: AGENT_PATHS.user,
      WorkingDir: AGENT_PATHS.workspace,
      Cmd: ['sleep', 'infinity'],
      Env: agentEnv(agent),
      Labels: containerLabels(slug, plan.agent, 'agent'),
      HostConfig: { ...hardening, NetworkMode: names.internalNetwork },
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
  // Every object carries its state root's key, so cleanup elsewhere leaves it alone.
  const owner = { [LABEL_STATE]: stateKey(dirname(paths.dir)) };
  for (const spec of [bundle, agentSpec, routeHelper]) spec.create.Labels = { ...spec.create.Labels, ...owner };
  for (const net of networks) net.create.Labels = { ...net.create.Labels, ...owner };
  return {
    slug, names, host, networks, bundle, agent: agentSpec, routeHelper, daemons, secretNames, hostDirs, hostFiles, requiredPaths,
    provision: provisionSteps({ plan, caCertHostPath: host.caCert, superviseUrl: plan.supervise ? `http://supervise:${PORTS.supervise}` : undefined }),
  };
}
