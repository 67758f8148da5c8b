// The one way bottle talks to smolvm (v0.8.x; surface in reference/smolvm-cli.md): pure argv
// builders (the arguments after `smolvm`), a parser for `machine ls --json`, and SmolvmClient,
// which prepends the binary and runs them through an injected Runner.
//
// Secrets: `-e K=V` puts values on smolvm's argv, visible in `ps` to every host user. The smolvm
// flow passes only non-secret env this way (proxy URLs, plain manifest env); route secrets live
// in the sidecar bundle's container env and never enter the VM. Every builder that takes env
// also takes `secretValues` and refuses any value containing one of them.
import { CommandError } from '../../errors.js';
import { run as defaultRun, type RunOptions, type RunResult, type Runner } from '../../run/index.js';

export const SMOLVM_INSTALL_HINT =
  'smolvm is only needed for `backend: smolvm`; install smolvm (v0.8+) and put it on PATH, or use the docker backend (`bottle doctor` shows what is found)';

// A smolvm command that ran and failed (not `machine exec`, whose exit code is the VM's).
export class SmolvmError extends CommandError {
  override name = 'SmolvmError';
}

// A builder was handed a value the caller flagged secret: refusing beats leaking it into `ps`.
export class SecretInArgvError extends Error {
  override name = 'SecretInArgvError';
  constructor(readonly flag: string, readonly key: string) {
    super(`smolvm: refusing to pass ${flag} ${key}=…: the value contains a secret, and argv is visible to every host user; route secrets belong in the sidecar bundle, never in the VM`);
  }
}

// Plain env for `-e K=V`, plus the secrets the caller knows of (the guard).
export interface EnvArgs {
  env?: Readonly<Record<string, string>>;
  /** Secret values (e.g. route tokens); any env value containing one is refused. */
  secretValues?: readonly string[];
}

function envFlags({ env, secretValues = [] }: EnvArgs): string[] {
  const secrets = secretValues.filter((s) => s.length > 0);
  return Object.entries(env ?? {}).flatMap(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`smolvm: invalid env name ${JSON.stringify(k)}`);
    if (secrets.some((s) => v.includes(s))) throw new SecretInArgvError('-e', k);
    return ['-e', `${k}=${v}`];
  });
}

function assertName(name: string): void {
  // A leading '-' would be read as a flag, a ':' would make `machine cp` see a VM path.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`smolvm: invalid machine name ${JSON.stringify(name)}`);
}

// `pack create` writes `<output>.smolmachine`: pass the path WITHOUT the suffix.
export function packCreate(o: { image: string; output: string }): string[] {
  return ['pack', 'create', '-I', o.image, '-o', o.output];
}

// A bind mount `-v HOST:GUEST[:ro]`.
export interface Volume { host: string; guest: string; readOnly?: boolean }

export type MachineSource = { from: string } | { image: string };

export interface MachineCreateOpts extends EnvArgs {
  name: string;
  /** `--from FILE.smolmachine` (packed, no pull at start) or `-I IMAGE`; never both (CLI refuses). */
  source: MachineSource;
  cpus?: number;
  memMib?: number;
  volumes?: readonly Volume[];
  /** TSI allowlist, IP-level only (not ports); any `--allow-*` implies `--net`. */
  allowCidrs?: readonly string[];
  workdir?: string;
}

// `machine create` takes the name POSITIONALLY (start/stop/exec take `--name`).
export function machineCreate(o: MachineCreateOpts): string[] {
  assertName(o.name);
  const args = ['machine', 'create', o.name];
  args.push(...('from' in o.source ? ['--from', o.source.from] : ['-I', o.source.image]));
  if (o.cpus !== undefined) args.push('--cpus', String(positiveInt('cpus', o.cpus)));
  if (o.memMib !== undefined) args.push('--mem', String(positiveInt('mem', o.memMib)));
  for (const v of o.volumes ?? []) args.push('-v', `${v.host}:${v.guest}${v.readOnly ? ':ro' : ''}`);
  for (const cidr of o.allowCidrs ?? []) args.push('--allow-cidr', cidr);
  args.push(...envFlags(o));
  if (o.workdir !== undefined) args.push('-w', o.workdir);
  return args;
}

function positiveInt(what: string, n: number): number {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`smolvm: --${what} must be a positive integer, got ${n}`);
  return n;
}

// start/stop take `--name`; without it they act on the machine called `default`, so always pass it.
export function machineStart(name: string): string[] {
  assertName(name);
  return ['machine', 'start', '--name', name];
}

export function machineStop(name: string): string[] {
  assertName(name);
  return ['machine', 'stop', '--name', name];
}

// `machine delete` takes the name POSITIONALLY; `-f` skips the confirmation prompt.
export function machineDelete(name: string): string[] {
  assertName(name);
  return ['machine', 'delete', name, '-f'];
}

export interface MachineExecOpts extends EnvArgs {
  name: string;
  command: readonly string[];
  workdir?: string;
  /** Whole seconds, rendered as smolvm's duration (`30s`). */
  timeoutS?: number;
  interactive?: boolean;
  tty?: boolean;
}

// `machine exec` has `--name` but NO `-n` short flag (unlike start/stop): always the long form.
// `--` ends smolvm's flags so the command's own flags are not parsed as smolvm's.
export function machineExec(o: MachineExecOpts): string[] {
  assertName(o.name);
  if (o.command.length === 0) throw new Error('smolvm: machine exec needs a command');
  const args = ['machine', 'exec', '--name', o.name];
  if (o.workdir !== undefined) args.push('-w', o.workdir);
  args.push(...envFlags(o));
  if (o.timeoutS !== undefined) args.push('--timeout', `${positiveInt('timeout', o.timeoutS)}s`);
  if (o.interactive) args.push('-i');
  if (o.tty) args.push('-t');
  return [...args, '--', ...o.command];
}

// `machine cp SRC DST`: exactly one side is `NAME:/path` (see vmPath).
export function machineCp(src: string, dst: string): string[] {
  if (isVmPath(src) === isVmPath(dst)) throw new Error(`smolvm: machine cp needs exactly one side as NAME:/path, got ${src} → ${dst}`);
  return ['machine', 'cp', src, dst];
}

// `NAME:/abs/path`, the VM side of `machine cp`.
export function vmPath(name: string, path: string): string {
  assertName(name);
  if (!path.startsWith('/')) throw new Error(`smolvm: VM path must be absolute, got ${JSON.stringify(path)}`);
  return `${name}:${path}`;
}

function isVmPath(p: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*:\//.test(p);
}

export function machineLs(): string[] {
  return ['machine', 'ls', '--json'];
}

export type MachineState = 'created' | 'running' | 'stopped' | 'failed' | 'unreachable' | 'unknown';
const STATES = new Set(['created', 'running', 'stopped', 'failed', 'unreachable']);

// One `machine ls --json` entry, typed; `rawState` keeps what smolvm said when it is unknown.
export interface MachineRecord {
  name: string;
  state: MachineState;
  rawState?: string;
  cpus?: number;
  memoryMib?: number;
  pid?: number;
  image?: string;
}

// Parses `machine ls --json` (`[]` when empty); malformed output is a SmolvmError naming it.
export function parseMachineList(stdout: string, argv: readonly string[] = ['smolvm', ...machineLs()]): MachineRecord[] {
  const bad = (why: string): SmolvmError => {
    const e = new SmolvmError(argv, 0, '');
    e.message = `${argv.join(' ')}: unexpected output (${why}): ${JSON.stringify(stdout.slice(0, 200))}; is this smolvm v0.8+?`;
    return e;
  };
  let data: unknown;
  try {
    data = JSON.parse(stdout.trim() || 'null');
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw bad('expected a JSON array');
  return data.map((item, i) => {
    if (!item || typeof item !== 'object') throw bad(`entry ${i} is not an object`);
    const o = item as Record<string, unknown>;
    if (typeof o.name !== 'string' || !o.name) throw bad(`entry ${i} has no name`);
    const raw = typeof o.state === 'string' ? o.state.toLowerCase() : undefined;
    const rec: MachineRecord = { name: o.name, state: raw && STATES.has(raw) ? (raw as MachineState) : 'unknown' };
    if (rec.state === 'unknown') rec.rawState = typeof o.state === 'string' ? o.state : JSON.stringify(o.state ?? null);
    const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const cpus = num(o.cpus), mem = num(o.memory_mib), pid = num(o.pid);
    if (cpus !== undefined) rec.cpus = cpus;
    if (mem !== undefined) rec.memoryMib = mem;
    if (pid !== undefined) rec.pid = pid;
    if (typeof o.image === 'string' && o.image) rec.image = o.image;
    return rec;
  });
}

// What the command in the VM did (smolvm exits with the in-VM exit code).
export interface ExecResult { exitCode: number; stdout: string; stderr: string; timedOut: boolean }

export interface SmolvmClientOptions {
  run?: Runner;
  /** Binary name or path (default `smolvm`). */
  binary?: string;
  /** Extra environment for every call. */
  env?: Record<string, string | undefined>;
  /** Per-call host-side timeout for lifecycle calls (default 120 s; pack gets 30 min). */
  timeoutMs?: number;
}

// Runs smolvm for the smolvm backend; every failure but exec's is a SmolvmError.
export class SmolvmClient {
  readonly binary: string;
  readonly #run: Runner;
  readonly #env: Record<string, string | undefined> | undefined;
  readonly #timeoutMs: number;

  constructor(opts: SmolvmClientOptions = {}) {
    this.binary = opts.binary ?? 'smolvm';
    this.#run = opts.run ?? defaultRun;
    this.#env = opts.env;
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
  }

  argv(sub: readonly string[]): string[] {
    return [this.binary, ...sub];
  }

  // Runs and returns the result whatever the exit code; a missing binary still throws.
  async probe(sub: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    const runOpts: RunOptions = {
      probe: true,
      installHint: SMOLVM_INSTALL_HINT,
      timeoutMs: opts.timeoutMs ?? this.#timeoutMs,
      ...(this.#env ? { env: this.#env } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    };
    return this.#run(this.argv(sub), runOpts);
  }

  async #must(sub: readonly string[], timeoutMs?: number): Promise<RunResult> {
    const r = await this.probe(sub, timeoutMs === undefined ? {} : { timeoutMs });
    if (r.failed) throw new SmolvmError(r.argv, r.exitCode, r.stderr, r.timedOut);
    return r;
  }

  // Writes `<output>.smolmachine` and returns that path.
  async packCreate(o: { image: string; output: string; timeoutMs?: number }): Promise<string> {
    await this.#must(packCreate(o), o.timeoutMs ?? 30 * 60_000);
    return `${o.output}.smolmachine`;
  }

  async create(o: MachineCreateOpts): Promise<void> {
    await this.#must(machineCreate(o));
  }

  async start(name: string): Promise<void> {
    await this.#must(machineStart(name));
  }

  async stop(name: string): Promise<void> {
    await this.#must(machineStop(name));
  }

  async delete(name: string): Promise<void> {
    await this.#must(machineDelete(name));
  }

  async cp(src: string, dst: string): Promise<void> {
    await this.#must(machineCp(src, dst));
  }

  async list(): Promise<MachineRecord[]> {
    const r = await this.#must(machineLs());
    return parseMachineList(r.stdout, r.argv);
  }

  // Never throws on a non-zero exit: that is the command's answer. A host-side timeout
  // (options.timeoutMs) reports timedOut with exit code 124, like timeout(1).
  async exec(o: MachineExecOpts & { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    // The host-side limit must outlast smolvm's own --timeout, or we would kill it first.
    const timeoutMs = o.timeoutMs ?? (o.timeoutS ? Math.max(this.#timeoutMs, o.timeoutS * 1000 + 10_000) : undefined);
    const r = await this.probe(machineExec(o), {
      ...(timeoutMs !== undefined && { timeoutMs }),
      ...(o.input !== undefined && { input: o.input }),
    });
    return { exitCode: r.exitCode ?? (r.timedOut ? 124 : 1), stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut };
  }
}
