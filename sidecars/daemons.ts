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
  gatewayListen: '0.0.0.0:8888',
  gatewayPolicyDir: '/bottle/policy',
  gatewayCaDir: '/bottle/ca',
  gatewayControlSocket: '/tmp/bottle-gateway.sock',
} as const;

type Env = Record<string, string | undefined>;

// Comma-separated env lists (e.g. BOTTLE_GATEWAY_ALLOW_PRIVATE=a.test,b.test).
const csv = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

// Flags per daemon, from the bundle's env (set by the backend) or in-container defaults.
// The upstream CA and private-upstream allowances exist for test upstreams only; the
// backend sets them only when explicitly configured, never by default.
const FLAGS: Record<DaemonName, (env: Env) => string[]> = {
  gateway: (env) => [
    '--listen', env.BOTTLE_GATEWAY_LISTEN || BUNDLE_DEFAULTS.gatewayListen,
    '--policy-dir', env.BOTTLE_GATEWAY_POLICY_DIR || BUNDLE_DEFAULTS.gatewayPolicyDir,
    '--ca-dir', env.BOTTLE_GATEWAY_CA_DIR || BUNDLE_DEFAULTS.gatewayCaDir,
    '--control-socket', env.BOTTLE_GATEWAY_CONTROL_SOCKET || BUNDLE_DEFAULTS.gatewayControlSocket,
    ...(env.BOTTLE_GATEWAY_UPSTREAM_CA ? ['--upstream-ca', env.BOTTLE_GATEWAY_UPSTREAM_CA] : []),
    ...csv(env.BOTTLE_GATEWAY_ALLOW_PRIVATE).flatMap((name) => ['--allow-private-upstream', name]),
    ...csv(env.BOTTLE_GATEWAY_RESOLVE_ONLY).flatMap((suffix) => ['--resolve-only', suffix]),
    ...(env.BOTTLE_GATEWAY_HOSTS_FILE ? ['--hosts-file', env.BOTTLE_GATEWAY_HOSTS_FILE] : []),
    ...(env.BOTTLE_GATEWAY_LOG ? ['--log', env.BOTTLE_GATEWAY_LOG] : []),
    ...(env.BOTTLE_EVENTS_FILE ? ['--events-file', env.BOTTLE_EVENTS_FILE] : []),
  ],
  'git-gate': (env) => [
    '--listen', env.BOTTLE_GIT_GATE_LISTEN || BUNDLE_DEFAULTS.gitGateListen,
    '--port', env.BOTTLE_GIT_GATE_PORT || '9418',
    '--repos-dir', env.BOTTLE_GIT_GATE_REPOS_DIR || BUNDLE_DEFAULTS.gitGateReposDir,
    '--upstreams', env.BOTTLE_GIT_GATE_UPSTREAMS || BUNDLE_DEFAULTS.gitGateUpstreams,
    ...(env.BOTTLE_GIT_GATE_MAX_SCAN_MB ? ['--max-scan-mb', env.BOTTLE_GIT_GATE_MAX_SCAN_MB] : []),
    ...(env.BOTTLE_GIT_GATE_FETCH_TIMEOUT_MS ? ['--fetch-timeout-ms', env.BOTTLE_GIT_GATE_FETCH_TIMEOUT_MS] : []),
    // Push review holds pushes in the supervise queue (set when a git remote has `review`).
    ...(env.BOTTLE_GIT_GATE_REVIEW === '1' ? [
      '--review-queue-dir', env.BOTTLE_SUPERVISE_QUEUE_DIR || BUNDLE_DEFAULTS.superviseQueueDir,
      '--review-decisions-dir', env.BOTTLE_SUPERVISE_DECISIONS_DIR || BUNDLE_DEFAULTS.superviseDecisionsDir,
    ] : []),
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

// V8 flags per daemon (issue 19: the bundle's idle memory). A daemon's young generation grows
// to 2 x 8 MiB semi-spaces while its modules load (much of what loading allocates survives a
// scavenge, which is what makes V8 grow it) and stays resident for good, idle or not. Capped at
// 1 MiB each; measured in the bundle (anonymous memory): supervise 32 → 22 MiB, git-gate 17 → 14.
// Not the gateway: it would save ~4 MiB per replica, but its traffic is every request the agent
// makes, and the cap cost it ~30% of routed HTTPS throughput (npm run bench -- gateway with
// BENCH_GATEWAY_NODE_FLAGS=--max-semi-space-size=1 against none, two runs each: metering
// gateways 2.9k vs 4.2-4.5k req/s).
export const DAEMON_NODE_FLAGS: Record<DaemonName, readonly string[]> = {
  gateway: [],
  'git-gate': ['--max-semi-space-size=1'],
  supervise: ['--max-semi-space-size=1'],
};

// Env per daemon (issue 19). One malloc arena per process: glibc otherwise gives each thread
// that allocates (V8's workers, libuv's pool) an arena of its own, and what they free stays
// resident there. Measured in the bundle (RssAnon after 10 s idle, two to three runs each):
// git-gate 13.6-14.9 → 12.8-14.4 MiB, supervise 22.5-27.7 → 21.8-21.9. Not the gateway: it
// would save 3-5 MiB per replica, but its threads then share one arena's lock: bench gateway
// with MALLOC_ARENA_MAX=1 in the gateway's env only, three pairs against none, 3 s per case on
// a loaded 2-core machine: plain HTTP 2329-3047 vs 2807-3390 req/s (lower in every pair), HTTPS
// and routed too noisy to tell. Nor init (0.2 MiB): its env is every daemon's.
export const DAEMON_ENV: Record<DaemonName, Readonly<Record<string, string>>> = {
  gateway: {},
  'git-gate': { MALLOC_ARENA_MAX: '1' },
  supervise: { MALLOC_ARENA_MAX: '1' },
};

// Narrows a name from env/CLI to a built-in daemon.
export function isDaemonName(name: string): name is DaemonName {
  return (DAEMON_NAMES as readonly string[]).includes(name);
}

// The argv that runs one built-in daemon (its V8 flags right after the node binary, self[0]);
// `self` is injectable so tests compare plain arrays.
export function daemonArgv(name: DaemonName, env: Env, self: string[] = selfArgv()): string[] {
  const [node, ...rest] = self;
  return [node!, ...DAEMON_NODE_FLAGS[name], ...rest, 'sidecar', name, ...FLAGS[name](env)];
}
