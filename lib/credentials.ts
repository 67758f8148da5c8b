// Where the host values of route variables (ANTHROPIC_API_KEY, GITHUB_TOKEN, ...) come from.
// Default: the environment of the bottle command. A tmux server started before the variable
// was exported hands its panes (the dashboard) an environment without it, so the user config
// `$XDG_CONFIG_HOME/bottle/credentials.yaml` can name a source per variable instead:
//
//   ANTHROPIC_API_KEY: { command: "pass show anthropic/api-key" }   # like apiKeyHelper
//   GITHUB_TOKEN: { file: ~/.config/bottle/github-token }            # must be mode 0600
//   OTHER_TOKEN: { env: MY_OTHER_TOKEN }                             # another variable
//
// Values are resolved by the command that starts a bottle or hands a secret to a running
// gateway, only when needed, and go nowhere but there: not to argv, logs or tmux.
import { chmodSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { UserError } from './errors.js';
import { readFileNoFollow } from './fs-safe.js';
import { configHome } from './manifest/load.js';
import type { Runner } from './run/index.js';

export type CredentialSource = { kind: 'env'; name: string } | { kind: 'file'; path: string } | { kind: 'command'; command: string };

export interface CredentialConfig {
  /** The file read (also when it does not exist: where to create it). */
  path: string;
  sources: ReadonlyMap<string, CredentialSource>;
}

const VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COMMAND_TIMEOUT_MS = 60_000;

// The config file's path for this environment.
export function credentialsFile(env: NodeJS.ProcessEnv): string {
  return join(configHome(env) ?? join(homedir(), '.config'), 'bottle', 'credentials.yaml');
}

// Reads the credential sources; a missing file is an empty config, a broken one a UserError
// naming file:line and the fix.
export function loadCredentialConfig(env: NodeJS.ProcessEnv): CredentialConfig {
  const path = credentialsFile(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path, sources: new Map() };
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const at = (pos: number | undefined): string => {
    const p = lines.linePos(pos ?? 0);
    return `${path}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) throw new UserError(`${at(doc.errors[0]!.pos[0])}: not valid YAML (${doc.errors[0]!.code})`);
  const sources = new Map<string, CredentialSource>();
  if (doc.contents === null) return { path, sources };
  if (!isMap(doc.contents)) throw new UserError(`${at(doc.contents.range?.[0])}: expected a map of VARIABLE: { env | file | command: ... }`);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const where = at(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
    if (!VAR.test(key)) throw new UserError(`${where}: "${key}" is not an environment variable name`);
    const value = pair.value;
    const entries = isMap(value) ? value.items.map((p) => [isScalar(p.key) ? String(p.key.value) : '', isScalar(p.value) ? p.value.value : undefined] as const) : [];
    if (entries.length !== 1 || typeof entries[0]![1] !== 'string' || entries[0]![1] === '') {
      throw new UserError(`${where}: ${key} needs exactly one source: { env: NAME }, { file: PATH } or { command: "..." }`);
    }
    const [kind, arg] = entries[0]! as [string, string];
    if (kind === 'env') {
      if (!VAR.test(arg)) throw new UserError(`${where}: ${key}: env: "${arg}" is not an environment variable name`);
      sources.set(key, { kind: 'env', name: arg });
    } else if (kind === 'file') {
      sources.set(key, { kind: 'file', path: expandHome(arg, env) });
    } else if (kind === 'command') {
      sources.set(key, { kind: 'command', command: arg });
    } else {
      throw new UserError(`${where}: ${key}: unknown source "${kind}" (use env, file or command)`);
    }
  }
  return { path, sources };
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(home, p);
}

// Where a variable's value would come from, for plans and doctor (never the value).
export function describeSource(name: string, config: CredentialConfig, env: NodeJS.ProcessEnv): { from: string; available: boolean | undefined } {
  const s = config.sources.get(name);
  if (!s) return { from: 'environment', available: Boolean(env[name]) };
  if (s.kind === 'env') return { from: `environment ($${s.name}, ${config.path})`, available: Boolean(env[s.name]) };
  if (s.kind === 'file') return { from: `file ${s.path}`, available: fileProblem(s.path) === undefined };
  return { from: `command \`${s.command}\``, available: undefined }; // known only by running it
}

// Why a credential file cannot be used, or undefined.
function fileProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as NodeJS.ErrnoException).code})`;
  }
  if (!st.isFile()) return 'is not a regular file';
  // Readable by others means it is not a secret any more: refuse rather than use it.
  if ((st.mode & 0o077) !== 0) return `is readable by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`;
  return undefined;
}

export interface Resolved {
  /** name → value, for the variables that resolved. */
  values: Record<string, string>;
  /** Variables with no configured source and no value in the environment. */
  unset: string[];
  /** One line per configured source that failed: what is wrong and the fix. */
  problems: string[];
}

// Resolves `names`: a configured source wins; otherwise the environment. Commands run only
// for names asked for, with no shell input and a bound on time.
export async function resolveCredentials(names: readonly string[], env: NodeJS.ProcessEnv, run: Runner, config = loadCredentialConfig(env)): Promise<Resolved> {
  const values: Record<string, string> = {};
  const unset: string[] = [];
  const problems: string[] = [];
  for (const name of new Set(names)) {
    const s = config.sources.get(name);
    if (!s || s.kind === 'env') {
      const from = s?.name ?? name;
      const v = env[from];
      if (v) values[name] = v;
      else if (s) problems.push(`${name}: $${from} (named in ${config.path}) is not set`);
      else unset.push(name);
      continue;
    }
    if (s.kind === 'file') {
      const bad = fileProblem(s.path);
      const v = bad ? '' : readFileSync(s.path, 'utf8').replace(/\r?\n$/, '');
      if (bad) problems.push(`${name}: ${s.path} ${bad}`);
      else if (!v) problems.push(`${name}: ${s.path} is empty`);
      else values[name] = v;
      continue;
    }
    const r = await run(['sh', '-c', s.command], { env, extendEnv: false, timeoutMs: COMMAND_TIMEOUT_MS, probe: true });
    const v = r.stdout.replace(/\r?\n$/, '');
    if (r.exitCode !== 0 || r.timedOut) {
      const why = r.timedOut ? `did not finish within ${COMMAND_TIMEOUT_MS / 1000} s` : `exited ${r.exitCode ?? 'by signal'}`;
      const said = r.stderr.trim().split('\n')[0];
      problems.push(`${name}: command \`${s.command}\` ${why}${said ? `: ${said.slice(0, 200)}` : ''}`);
    } else if (!v) {
      problems.push(`${name}: command \`${s.command}\` printed nothing`);
    } else {
      values[name] = v;
    }
  }
  return { values, unset, problems };
}

// `env` with `names` resolved in; a UserError naming every variable that could not be and how
// to provide it.
// `when` completes "export it …", e.g. "before starting (the gateway injects it)".
export async function withCredentials(names: readonly string[], env: NodeJS.ProcessEnv, run: Runner, when: string): Promise<NodeJS.ProcessEnv> {
  const config = loadCredentialConfig(env);
  const r = await resolveCredentials(names, env, run, config);
  const parts: string[] = [];
  if (r.unset.length > 0) {
    const them = r.unset.length > 1 ? 'them' : 'it';
    parts.push(`host env not set: ${r.unset.join(', ')}; export ${them} ${when}, or name a source in ${config.path}, e.g. ${r.unset[0]}: { command: "pass show ${r.unset[0]!.toLowerCase()}" }`);
  }
  parts.push(...r.problems);
  if (parts.length > 0) throw new UserError(parts.join('; '));
  return { ...env, ...r.values };
}

// The variables credentials.yaml names a source for (none when it is missing or broken: the
// command that needs a value reports the file's problem), for auth: auto.
export function sourcedNames(env: NodeJS.ProcessEnv): Set<string> {
  try {
    return new Set(loadCredentialConfig(env).sources.keys());
  } catch {
    return new Set();
  }
}

// The names that have neither a value in `env` nor a configured source (checked without
// running anything: plans and the dashboard's preflight use it).
export function unsourced(names: readonly string[], env: NodeJS.ProcessEnv, config: CredentialConfig): string[] {
  return names.filter((n) => !config.sources.has(n) && !env[n]);
}

// The handoff: `bottle tmux`, run from a shell that has the values, leaves them for the
// dashboard (whose environment is the tmux server's) in one 0600 file in the private state
// root, which the dashboard reads once and deletes within moments; never the tmux environment.
const HANDOFF_FILE = '.credential-handoff.json';
const HANDOFF_TTL_MS = 60_000;
const HANDOFF_MAX_BYTES = 64 * 1024;

export function writeCredentialHandoff(root: string, values: Record<string, string>, now = Date.now()): string {
  const file = join(root, HANDOFF_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ expires: now + HANDOFF_TTL_MS, values }), { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

// Takes (reads and deletes) a handoff left for this state root; {} when there is none, it
// expired, or it is not a plain private file.
export function takeCredentialHandoff(root: string, now = Date.now()): Record<string, string> {
  const file = join(root, HANDOFF_FILE);
  let read;
  try {
    read = readFileNoFollow(file, { maxBytes: HANDOFF_MAX_BYTES });
  } catch {
    read = null; // a symlink, FIFO or oversized file: not ours to read
  }
  try { unlinkSync(file); } catch { /* none, or taken by another dashboard */ }
  if (!read) return {};
  try {
    const doc = JSON.parse(read.data.toString('utf8')) as { expires?: unknown; values?: unknown };
    if (typeof doc.expires !== 'number' || doc.expires < now || typeof doc.values !== 'object' || doc.values === null) return {};
    return Object.fromEntries(Object.entries(doc.values).filter((e): e is [string, string] => VAR.test(e[0]) && typeof e[1] === 'string' && e[1] !== ''));
  } catch {
    return {};
  }
}
