// The bundle's daemons and how init starts each one: `bottle sidecar <name> ...flags`, with
// flags taken from the bundle's env (set by the backend at launch) or in-container defaults.
import { selfArgv } from '../lib/paths.js';

// Start order matters little (each daemon retries its peers), but is kept stable for logs.
export const DAEMON_NAMES = ['gateway', 'git-gate', 'supervise'] as const;
// A daemon init knows how to start without an explicit command override.
export type DaemonName = (typeof DAEMON_NAMES)[number];

// In-container paths and ports; the backend mounts the bottle's state dirs here.
export const BUNDLE_DEFAULTS = {
  superviseListen: '0.0.0.0:9100',
  superviseQueueDir: '/bottle/supervise/queue',
  superviseDecisionsDir: '/bottle/supervise/decisions',
  gitGateListen: '0.0.0.0',
  gitGateReposDir: '/bottle/git-gate/repos',
  gitGateUpstreams: '/bottle/git-gate/upstreams.json',
} as const;

type Env = Record<string, string | undefined>;

// Flags per daemon. The gateway reads its own env for now; its owner adds flags here.
const FLAGS: Record<DaemonName, (env: Env) => string[]> = {
  gateway: () => [],
  'git-gate': (env) => [
    '--listen', env.BOTTLE_GIT_GATE_LISTEN || BUNDLE_DEFAULTS.gitGateListen,
    '--port', env.BOTTLE_GIT_GATE_PORT || '9418',
    '--repos-dir', env.BOTTLE_GIT_GATE_REPOS_DIR || BUNDLE_DEFAULTS.gitGateReposDir,
    '--upstreams', env.BOTTLE_GIT_GATE_UPSTREAMS || BUNDLE_DEFAULTS.gitGateUpstreams,
    ...(env.BOTTLE_GIT_GATE_MAX_SCAN_MB ? ['--max-scan-mb', env.BOTTLE_GIT_GATE_MAX_SCAN_MB] : []),
    ...(env.BOTTLE_GIT_GATE_FETCH_TIMEOUT_MS ? ['--fetch-timeout-ms', env.BOTTLE_GIT_GATE_FETCH_TIMEOUT_MS] : []),
  ],
  supervise: (env) => [
    '--listen', env.BOTTLE_SUPERVISE_LISTEN || BUNDLE_DEFAULTS.superviseListen,
    '--queue-dir', env.BOTTLE_SUPERVISE_QUEUE_DIR || BUNDLE_DEFAULTS.superviseQueueDir,
    '--decisions-dir', env.BOTTLE_SUPERVISE_DECISIONS_DIR || BUNDLE_DEFAULTS.superviseDecisionsDir,
    ...(env.BOTTLE_POLICY_FILE ? ['--policy-file', env.BOTTLE_POLICY_FILE] : []),
    ...(env.BOTTLE_EVENTS_FILE ? ['--events-file', env.BOTTLE_EVENTS_FILE] : []),
    ...(env.BOTTLE_SUPERVISE_WAIT_SECONDS ? ['--wait-seconds', env.BOTTLE_SUPERVISE_WAIT_SECONDS] : []),
  ],
};

// Narrows a name from env/CLI to a built-in daemon.
export function isDaemonName(name: string): name is DaemonName {
  return (DAEMON_NAMES as readonly string[]).includes(name);
}

// The argv that runs one built-in daemon; `self` is injectable so tests compare plain arrays.
export function daemonArgv(name: DaemonName, env: Env, self: string[] = selfArgv()): string[] {
  return [...self, 'sidecar', name, ...FLAGS[name](env)];
}
