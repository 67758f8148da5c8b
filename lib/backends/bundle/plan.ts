// The sidecar bundle as data, the part of every backend's plan that is the same: its container's
// create body (image, user, env, mounts, hardening, labels), the host dirs and files it needs,
// the host paths launch checks first, its daemons and the names of its secrets. Computed from the
// plan without touching the engine or reading a secret; the backend says which network it joins.
import { AUTH, CREDENTIAL_ENV, type AuthMode } from '../../plan/auth.js';
import type Docker from 'dockerode';
import { basename, dirname } from 'node:path';
import type { AgentSpec } from '../../manifest/index.js';
import { routeVarNames, type BottlePlan } from '../../plan/index.js';
import type { BottlePaths } from '../../state/index.js';
import type { BundleSeed } from './channel.js';
import {
  AGENT_PATHS, BUNDLE_PATHS, type BundleHostPaths, bundleHostPaths, type BundleNames, bundleNames, containerLabels,
  DEFAULT_SIDECARS_IMAGE, LABEL_STATE, PORTS, stateKey,
} from './names.js';

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

// Inputs that are not in the bottle plan: which sidecars image, as whom the bundle runs.
export interface BundlePlanOptions {
  sidecarsImage?: string;
  /**
   * uid:gid the bundle runs as: the owner of the state dir and the identity files, so it can
   * read ca.key (0600) and the keys without any chown on the host (see docker/index.ts).
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

// Which daemons a plan's bundle runs, and whether git-gate holds pushes for review (which needs
// supervise's queue even when supervise is off).
export function bundleDaemons(plan: Pick<BottlePlan, 'git' | 'supervise'>): { daemons: DaemonName[]; review: boolean } {
  const daemons: DaemonName[] = ['gateway'];
  if (plan.git.length > 0) daemons.push('git-gate');
  if (plan.supervise) daemons.push('supervise');
  return { daemons, review: plan.git.some((g) => g.review) };
}

// The bundle's env: which daemons, and where init finds their config (sidecars/daemons.ts).
export function bundleEnv(daemons: DaemonName[], review: boolean, overrides: Record<string, string[]> = {}, test?: TestUpstream): string[] {
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
  if (daemons.includes('supervise') || review) {
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
      ...(review ? { BOTTLE_GIT_GATE_REVIEW: '1' } : {}),
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
  const dlpIgnore = plan.dlpIgnore?.length ? { dlpIgnore: plan.dlpIgnore } : {};
  const list = plan.git.map((g) => ({
    name: g.name, upstream: g.upstream, ...(g.identity ? { identityFile: identityTarget(g.name) } : {}), ...dlpIgnore,
    ...(g.review ? { reviewHoldMs: g.review.holdMs } : {}),
  }));
  return `${JSON.stringify(list, null, 2)}\n`;
}

// Where the agent finds the bundle: Docker network aliases, or (smolvm) the bundle's IP.
export interface AgentWiring { proxy: string; noProxy: string }

// The agent reaches the bundle by its aliases (BUNDLE_ALIASES), whatever makes them resolve.
export const ALIAS_WIRING: AgentWiring = { proxy: `http://gateway:${PORTS.gateway}`, noProxy: 'git-gate,supervise,localhost,127.0.0.1' };

// The agent's env: the manifest's plain env, then bottle's wiring, which always wins: the
// proxy, the CA, and the placeholder of the auth mode's credential (only that one: claude
// prefers an API key over a token, so both would defeat auth: oauth-token).
export function agentEnvFor(agent: Pick<AgentSpec, 'env'>, wiring: AgentWiring, auth: AuthMode = 'api-key'): string[] {
  const { proxy, noProxy } = wiring;
  const plain = Object.entries(agent.env).filter(([k]) => !CREDENTIAL_ENV.includes(k));
  const env: Record<string, string> = {
    ...Object.fromEntries(plain),
    HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy,
    NO_PROXY: noProxy, no_proxy: noProxy,
    NODE_EXTRA_CA_CERTS: AGENT_PATHS.caCert,
    [AUTH[auth].agentVar]: AUTH[auth].placeholder,
  };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

// Every container bottle creates runs without capabilities or privilege gain, publishing no port.
export function hardening() {
  return { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PublishAllPorts: false, PortBindings: {} };
}

// Where a backend puts the bundle: the network it is created on and its endpoint there (aliases,
// or a pinned IP), the networks it joins once created, and labels that backend adds.
export interface BundleAttachment {
  network: string;
  endpoint: Docker.EndpointSettings;
  connect: string[];
  labels?: Record<string, string>;
}

// The bundle part of a backend's plan, in the order launch uses it.
export interface BundlePlan {
  slug: string;
  names: BundleNames;
  host: BundleHostPaths;
  bundle: ContainerSpec;
  /** Daemons the bundle runs; launch waits for each one's port. */
  daemons: DaemonName[];
  /** Host env var names whose values go into the bundle's Env at launch (route headers). */
  secretNames: string[];
  hostDirs: string[];
  /** What the bundle is given by archive upload before it starts (it mounts no host path). */
  seed: BundleSeed;
  /** Host files that must exist before launch (CA, identities, workspace .git, skills). */
  requiredPaths: Array<{ path: string; kind: 'file' | 'dir'; what: string }>;
}

// SPEC §7 as one container create body and what it is given. Pure: same inputs, same object;
// holds names of secrets only. The bundle mounts no host path (a remote engine has none): its
// inputs go in by the seed, its outputs come back through lib/backends/bundle/channel.ts. The one
// exception is a git remote whose upstream is a local path, which git-gate pushes to in place.
export function bundlePlan(plan: BottlePlan, slug: string, paths: BottlePaths, options: BundlePlanOptions, attach: BundleAttachment): BundlePlan {
  const names = bundleNames(slug);
  const host = bundleHostPaths(paths);
  const { daemons, review } = bundleDaemons(plan);
  const secretNames = routeVarNames(plan.egress.routes);

  const mounts: Mount[] = [];
  // What the bundle only reads (policy, CA, decisions, config) belongs to the keeper: readable
  // through the bundle's group, not changeable by it (read-only mounts did this before). What it
  // writes (events, queue, mirrors, its identities) is its own.
  const seed: BundleSeed = {
    dirs: [
      { path: '/bottle', mode: 0o755 },
      { path: BUNDLE_PATHS.policyDir, mode: 0o750 },
      { path: BUNDLE_PATHS.caDir, mode: 0o750 },
      { path: BUNDLE_PATHS.eventsDir, mode: 0o700, owner: 'bundle' },
    ],
    files: [
      { target: `${BUNDLE_PATHS.caDir}/ca.crt`, from: host.caCert, mode: 0o644 },
      { target: `${BUNDLE_PATHS.caDir}/ca.key`, from: `${host.caDir}/ca.key`, mode: 0o640 },
    ],
    copyDirs: [{ from: paths.policy, to: BUNDLE_PATHS.policyDir, mode: 0o640 }],
  };
  // The host copy of the events file: the budget reads usage back from it, and the host's
  // mirror of the new bundle's file continues it byte for byte.
  seed.files.push({ target: `${BUNDLE_PATHS.eventsDir}/events.jsonl`, from: host.eventsFile, mode: 0o600, optional: true, owner: 'bundle' });
  if (options.testUpstream?.caFile) {
    seed.dirs.push({ path: dirname(TEST_UPSTREAM_CA), mode: 0o755 });
    seed.files.push({ target: TEST_UPSTREAM_CA, from: options.testUpstream.caFile, mode: 0o644 });
  }
  // Supervise's queue, which also holds pushes git-gate keeps for review: pending proposals and
  // decisions survive a stop and a resume.
  if (daemons.includes('supervise') || review) {
    seed.dirs.push(
      { path: dirname(BUNDLE_PATHS.queueDir), mode: 0o755 }, { path: BUNDLE_PATHS.queueDir, mode: 0o755, owner: 'bundle' },
      { path: BUNDLE_PATHS.decisionsDir, mode: 0o750 },
    );
    seed.copyDirs.push(
      { from: paths.superviseQueue, to: BUNDLE_PATHS.queueDir, mode: 0o644, owner: 'bundle' },
      { from: paths.superviseDecisions, to: BUNDLE_PATHS.decisionsDir, mode: 0o640 },
    );
  }
  const hostDirs = [host.eventsDir];
  const requiredPaths: BundlePlan['requiredPaths'] = [
    { path: host.caCert, kind: 'file', what: 'bundle CA certificate' },
    { path: `${host.caDir}/ca.key`, kind: 'file', what: 'bundle CA key' },
    { path: paths.policy, kind: 'dir', what: 'policy directory' },
  ];
  if (daemons.includes('git-gate')) {
    seed.dirs.push(
      { path: BUNDLE_PATHS.gitGateDir, mode: 0o755 }, { path: BUNDLE_PATHS.reposDir, mode: 0o700, owner: 'bundle' },
      { path: BUNDLE_PATHS.identities, mode: 0o700, owner: 'bundle' },
    );
    seed.files.push({ target: BUNDLE_PATHS.upstreams, content: upstreamsJson(plan), mode: 0o644 });
    for (const g of plan.git) {
      const local = localUpstreamPath(g.upstream);
      if (local) {
        requiredPaths.push({ path: local, kind: 'dir', what: `upstream of git remote ${g.name}` });
        mounts.push(bind(local, local, false));
      }
      if (!g.identity) continue;
      requiredPaths.push({ path: g.identity, kind: 'file', what: `identity of git remote ${g.name}` });
      seed.files.push({ target: identityTarget(g.name), from: g.identity, mode: 0o600, owner: 'bundle' });
    }
  }
  if (plan.workspace) requiredPaths.push({ path: `${plan.workspace}/.git`, kind: 'dir', what: 'workspace .git directory' });
  for (const s of plan.skills) requiredPaths.push({ path: s, kind: 'dir', what: `skill ${basename(s)}` });

  const [uid, gid] = options.bundleUser.split(':');
  const bundle: ContainerSpec = {
    name: names.bundle,
    connect: attach.connect,
    create: {
      name: names.bundle,
      Image: options.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE,
      User: options.bundleUser,
      Env: bundleEnv(daemons, review, options.daemonCommands, options.testUpstream),
      // Every object carries its state root's key, so cleanup elsewhere leaves it alone.
      Labels: { ...containerLabels(slug, plan.agent, 'sidecars'), ...attach.labels, [LABEL_STATE]: stateKey(dirname(paths.dir)) },
      HostConfig: {
        ...hardening(),
        NetworkMode: attach.network,
        ...(mounts.length > 0 ? { Mounts: mounts } : {}),
        // HOME for git/ssh (known_hosts) as whichever uid the bundle runs as.
        Tmpfs: { [BUNDLE_PATHS.home]: `rw,nosuid,nodev,size=16m,uid=${uid},gid=${gid ?? uid},mode=0700` },
      },
      NetworkingConfig: { EndpointsConfig: { [attach.network]: attach.endpoint } },
    },
  };
  return { slug, names, host, bundle, daemons, secretNames, hostDirs, seed, requiredPaths };
}
