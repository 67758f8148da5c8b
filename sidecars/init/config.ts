// Which daemons init runs and with what argv: the built-in registry, narrowed by
// BOTTLE_SIDECAR_DAEMONS, with explicit command overrides (a testing/ops escape hatch) on top.
import { UserError } from '../../lib/errors.js';
import { DAEMON_ENV, DAEMON_NAMES, daemonArgv, isDaemonName } from '../daemons.js';

// One supervised daemon: its name (the `[name] ` log prefix) and the argv that runs it.
export interface DaemonSpec {
  name: string;
  argv: string[];
  /** How many processes run it side by side (default 1); each is supervised on its own. */
  replicas?: number;
  /** Extra env for every process of it (on top of init's; under `instance`'s). */
  env?: Record<string, string>;
  /** Descriptors every process inherits, as fd 3, 4, ... (e.g. a shared listening socket). */
  fds?: number[];
  /** Per-process argv and extra env, evaluated at each (re)start; default: `argv`, no extra env. */
  instance?: (replica: number) => { argv: string[]; env?: Record<string, string> };
}

type Env = Record<string, string | undefined>;

const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;

function checkArgv(name: string, argv: unknown, source: string): string[] {
  if (!NAME_RE.test(name)) throw new UserError(`${source}: bad daemon name ${JSON.stringify(name)}; use lowercase letters, digits, - and _`);
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new UserError(`${source}: the command for ${name} must be a non-empty JSON array of strings, e.g. ["node","daemon.js"]`);
  }
  return argv as string[];
}

// Parses BOTTLE_SIDECAR_COMMANDS: JSON {"name": ["argv0", ...], ...}.
export function parseCommandsJson(text: string, source = 'BOTTLE_SIDECAR_COMMANDS'): Map<string, string[]> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source} is not JSON (${(e as Error).message}); expected {"name": ["argv0", ...]}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new UserError(`${source} must be a JSON object {"name": ["argv0", ...]}`);
  }
  return new Map(Object.entries(v).map(([name, argv]) => [name, checkArgv(name, argv, source)]));
}

// Parses one `--daemon name=<json argv>` flag.
export function parseDaemonFlag(spec: string): [string, string[]] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`--daemon ${spec}: expected name=<JSON argv>, e.g. web='["node","web.js"]'`);
  const name = spec.slice(0, eq);
  let argv: unknown;
  try {
    argv = JSON.parse(spec.slice(eq + 1));
  } catch (e) {
    throw new UserError(`--daemon ${name}: the argv is not JSON (${(e as Error).message})`);
  }
  return [name, checkArgv(name, argv, `--daemon ${name}`)];
}

// The daemons to run, in start order. BOTTLE_SIDECAR_DAEMONS (csv; set-but-empty = none) picks the
// names; without it, the overridden names if any were given, else every built-in daemon.
export function resolveDaemons(env: Env, overrides: ReadonlyMap<string, string[]>, self?: string[]): DaemonSpec[] {
  const csv = env.BOTTLE_SIDECAR_DAEMONS;
  const names = csv !== undefined
    ? [...new Set(csv.split(',').map((s) => s.trim()).filter(Boolean))]
    : overrides.size > 0 ? [...overrides.keys()] : [...DAEMON_NAMES];
  return names.map((name) => {
    const argv = overrides.get(name);
    if (argv) return { name, argv: [...argv] };
    if (isDaemonName(name)) return { name, argv: daemonArgv(name, env, self), env: { ...DAEMON_ENV[name] } };
    throw new UserError(`unknown daemon ${JSON.stringify(name)} in BOTTLE_SIDECAR_DAEMONS; known: ${DAEMON_NAMES.join(', ')} (or give its command with --daemon ${name}=<JSON argv>)`);
  });
}

// Combines the env JSON and the flags (flags win) into one override map.
export function collectOverrides(env: Env, flags: readonly string[]): Map<string, string[]> {
  const map = env.BOTTLE_SIDECAR_COMMANDS ? parseCommandsJson(env.BOTTLE_SIDECAR_COMMANDS) : new Map<string, string[]>();
  for (const f of flags) {
    const [name, argv] = parseDaemonFlag(f);
    map.set(name, argv);
  }
  return map;
}
