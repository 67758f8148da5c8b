// Names, labels and paths both backends share: the bundle container's name and labels, the
// agent's in-sandbox paths, and the host files the bundle mounts. One place, so launch, teardown,
// inspect, attach and cleanup can never disagree about what belongs to a bottle.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { BottlePaths } from '../../state/index.js';

// Label keys. The compose ones make `docker compose -p bottle-<slug> ps|down` see a bottle.
export const LABEL_PROJECT = 'com.docker.compose.project';
export const LABEL_SERVICE = 'com.docker.compose.service';
export const LABEL_ONEOFF = 'com.docker.compose.oneoff';
export const LABEL_NETWORK = 'com.docker.compose.network';
export const LABEL_SLUG = 'dev.bottle.slug';
export const LABEL_AGENT = 'dev.bottle.agent';
/** Set on the smolvm backend's Docker objects (absent = docker), so each backend's cleanup lists its own. */
export const LABEL_BACKEND = 'dev.bottle.backend';
// Which state root made the resource: `bottle cleanup` from another state dir (another user,
// a test's temp root) must never take a running bottle it does not own for an orphan.
export const LABEL_STATE = 'dev.bottle.state';

// A short stable id of a state root directory (the value of LABEL_STATE).
export function stateKey(stateRoot: string): string {
  return createHash('sha256').update(resolve(stateRoot)).digest('hex').slice(0, 16);
}

export type Service = 'agent' | 'sidecars' | 'route-helper';

// The names every backend gives a bottle's engine objects; derived from the slug alone, so any
// process finds them.
export interface BundleNames {
  /** The compose project (and the smolvm VM's name). */
  project: string;
  bundle: string;
}

// The bottle's project and bundle container names.
export function bundleNames(slug: string): BundleNames {
  const project = `bottle-${slug}`;
  return { project, bundle: `${project}-sidecars` };
}

// Labels of a container of the bottle.
export function containerLabels(slug: string, agent: string, service: Service): Record<string, string> {
  return {
    [LABEL_PROJECT]: bundleNames(slug).project,
    [LABEL_SERVICE]: service,
    [LABEL_ONEOFF]: 'False',
    [LABEL_SLUG]: slug,
    [LABEL_AGENT]: agent,
  };
}

// Labels of a network of the bottle (`int`/`ext`; the smolvm backend's bundle bridge is `vm`).
export function networkLabels(slug: string, agent: string, network: 'int' | 'ext' | 'vm'): Record<string, string> {
  return { [LABEL_PROJECT]: bundleNames(slug).project, [LABEL_NETWORK]: network, [LABEL_SLUG]: slug, [LABEL_AGENT]: agent };
}

// The bundle's daemons with a port, and those ports.
export const PORTS = { gateway: 8888, 'git-gate': 9418, supervise: 9100 } as const;

// The names the agent reaches the bundle by (Docker network aliases; /etc/hosts entries on
// Kubernetes), one per port in PORTS.
export const BUNDLE_ALIASES = ['gateway', 'git-gate', 'supervise'] as const;

// The sidecars image `bottle images build` makes.
export const DEFAULT_SIDECARS_IMAGE = 'bottle-sidecars:latest';

// Worthless outside the bottle: the gateway's default route swaps x-api-key for the real key.
export { PLACEHOLDER_API_KEY } from '../../plan/auth.js';

// Paths inside the bundle (see sidecars/daemons.ts BUNDLE_DEFAULTS, which these match).
export const BUNDLE_PATHS = {
  app: '/opt/bottle/dist/commands/main.js',
  policyDir: '/bottle/policy',
  caDir: '/bottle/ca',
  queueDir: '/bottle/supervise/queue',
  decisionsDir: '/bottle/supervise/decisions',
  eventsDir: '/bottle/events',
  gitGateDir: '/bottle/git-gate',
  reposDir: '/bottle/git-gate/repos',
  upstreams: '/bottle/git-gate/upstreams.json',
  identities: '/bottle/git-gate/identities',
  home: '/home/bottle',
} as const;

// Paths inside the agent (the same agent image in a container or a VM).
export const AGENT_PATHS = {
  user: 'node',
  home: '/home/node',
  workspace: '/workspace',
  caCert: '/usr/local/share/ca-certificates/bottle-ca.crt',
  prompt: '/home/node/.bottle/prompt.md',
  claudeDir: '/home/node/.claude',
  transcripts: '/home/node/.claude/projects',
} as const;

// The bottle's state-dir files the bundle is seeded from and mirrored into (CA dir: made by the lifecycle).
export interface BundleHostPaths {
  caDir: string;
  caCert: string;
  eventsDir: string;
  /** JSON lines from init and supervise (daemon restarts, agent waiting/idle): the dashboard reads it. */
  eventsFile: string;
}

// Where those files live for one bottle.
export function bundleHostPaths(paths: BottlePaths): BundleHostPaths {
  const eventsDir = join(paths.dir, 'events');
  return {
    caDir: join(paths.dir, 'ca'),
    caCert: join(paths.dir, 'ca', 'ca.crt'),
    eventsDir,
    eventsFile: join(eventsDir, 'events.jsonl'),
  };
}
