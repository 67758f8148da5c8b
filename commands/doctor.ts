// `bottle doctor`: is this machine ready to run bottles? One row per prerequisite, each
// problem with a one-line fix; exits 1 when a required one is missing.
import { AUTH, authMissingText } from '../lib/plan/auth.js';
import type { Command } from 'commander';
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { probeEngine, type EngineProbe, type ProbeEngineOptions } from '../lib/docker/engine.js';
import { describeSource, loadCredentialConfig, sourcedNames } from '../lib/credentials.js';
import { BinaryNotFoundError } from '../lib/errors.js';
import { bottleImages, imagePresence, missingImageFix } from '../lib/images/present.js';
import { DEFAULT_IMAGE, LOCAL_ENGINE, locateManifest, readManifest } from '../lib/manifest/index.js';
import { engineEnv, manifestEngine, preparePlan, routeVarNames } from '../lib/plan/index.js';
import { stateRoot } from '../lib/state/root.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import { MIN_TMUX_VERSION } from '../tmux/version.js';

export type CheckStatus = 'ok' | 'missing' | 'warn';

// One prerequisite's verdict; also the `--json` row shape.
export interface Check {
  name: string;
  status: CheckStatus;
  required: boolean;
  version?: string;
  detail?: string;
  fix?: string;
}

// What doctor needs besides ctx; injected so tests need no real engine or old node.
export interface DoctorDeps {
  probeEngine: (opts: ProbeEngineOptions) => Promise<EngineProbe>;
  nodeVersion: string;
  engineTimeoutMs?: number;
}

export const defaultDoctorDeps: DoctorDeps = { probeEngine, nodeVersion: process.versions.node };

const MIN_NODE: [number, number] = [20, 5];
// The cockpit's own gate (tmux/version.ts): doctor must not pass a tmux that `bottle tmux` refuses.
const MIN_TMUX = MIN_TMUX_VERSION.split('.').map(Number) as [number, number];
const TOOL_TIMEOUT_MS = 5000;

export function registerDoctor(program: Command, ctx: Ctx, outcome: Outcome, deps: DoctorDeps = defaultDoctorDeps): void {
  program
    .command('doctor')
    .description('check tmux, docker, the Docker engine (and each one the manifest\'s engines: names), git, smolvm, the state dir, the images the manifest\'s agents run from and where route credentials come from; print a fix for each problem')
    .option('--json', 'print {"ok", "checks": [...]} instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const checks = await runChecks(ctx, deps);
      const ok = doctorOk(checks);
      ctx.out(opts.json ? `${JSON.stringify({ ok, checks }, null, 2)}\n` : renderChecks(checks));
      if (!ok) outcome.exitCode = 1;
    });
}

// Runs every check concurrently; the order of the result is the display order.
export async function runChecks(ctx: Ctx, deps: DoctorDeps = defaultDoctorDeps): Promise<Check[]> {
  const [before, engines, after] = await Promise.all([firstChecks(ctx, deps), manifestEngineChecks(ctx, deps), lastChecks(ctx, deps)]);
  return [...before, ...engines, ...after];
}

function firstChecks(ctx: Ctx, deps: DoctorDeps): Promise<Check[]> {
  return Promise.all([
    guard('node', true, async () => nodeCheck(deps.nodeVersion)),
    guard('tmux', true, () => toolCheck(ctx, {
      name: 'tmux', argv: ['tmux', '-V'], required: true, parse: /^tmux\s+(\S+)/m, minimum: MIN_TMUX,
      fix: `install tmux ≥ ${MIN_TMUX_VERSION} (apt-get install tmux)`,
    })),
    guard('docker', true, () => toolCheck(ctx, {
      name: 'docker', argv: ['docker', '--version'], required: true, parse: /version\s+([^\s,]+)/,
      fix: 'install the docker CLI (apt-get install docker.io, or Docker Desktop)',
    })),
    guard('docker-engine', true, () => engineCheck(ctx, deps)),
  ]);
}

function lastChecks(ctx: Ctx, deps: DoctorDeps): Promise<Check[]> {
  return Promise.all([
    guard('git', true, () => toolCheck(ctx, {
      name: 'git', argv: ['git', '--version'], required: true, parse: /git version\s+(\S+)/,
      fix: 'install git (apt-get install git, brew install git)',
    })),
    guard('smolvm', false, () => toolCheck(ctx, {
      name: 'smolvm', argv: ['smolvm', '--version'], required: false, parse: /(\d+\.\d+(?:\.\d+)?[^\s]*)/,
      absent: 'not installed (optional; needed only for --backend smolvm)',
      fix: 'install smolvm ≥ 0.8 and put it on PATH, if you want --backend smolvm',
    })),
    guard('state-dir', true, () => stateDirCheck(ctx)),
    guard('images', false, () => imagesCheck(ctx, deps)),
    guard('credentials', false, async () => credentialsCheck(ctx)),
    guard('auth', false, async () => authCheck(ctx)),
  ]);
}

// The images the manifest's agents run from (the built-in defaults when it cannot be read) and
// the sidecar bundle's, asked of the engine as `start --dry-run` asks it.
async function imagesCheck(ctx: Ctx, deps: DoctorDeps): Promise<Check> {
  const images = manifestImages(ctx);
  const p = await imagePresence(ctx.env, images, deps.engineTimeoutMs);
  if (!p.checked) return { name: 'images', status: 'warn', required: false, detail: `not checked (${p.why})` };
  if (p.missing.length === 0) return { name: 'images', status: 'ok', required: false, detail: images.join(', ') };
  return {
    name: 'images', status: 'warn', required: false, detail: `not in the engine: ${p.missing.join(', ')}`,
    fix: [...new Set(p.missing.map(missingImageFix))].join('; '),
  };
}

function manifestImages(ctx: Ctx): string[] {
  try {
    const { manifest } = readManifest(locateManifest({ cwd: ctx.cwd, env: ctx.env }));
    return bottleImages(Object.values(manifest.agents).map((a) => a.image ?? manifest.defaults.image));
  } catch {
    return bottleImages([DEFAULT_IMAGE]);
  }
}

// Every route variable the manifest's agents need and where its value would come from
// (environment, or a source in credentials.yaml), never the value; commands are not run.
function credentialsCheck(ctx: Ctx): Check {
  const loaded = readManifest(locateManifest({ cwd: ctx.cwd, env: ctx.env }));
  const names = [...new Set(Object.keys(loaded.manifest.agents).flatMap((agent) => routeVarNames(preparePlan(loaded, agent, { cwd: ctx.cwd, sourced: sourcedNames(ctx.env) }, ctx.env).egress.routes)))].sort();
  const config = loadCredentialConfig(ctx.env);
  const rows = names.map((n) => ({ n, ...describeSource(n, config, ctx.env) }));
  const unavailable = rows.filter((r) => r.available === false).map((r) => r.n);
  const detail = rows.map((r) => `${r.n} from ${r.from}${r.available === false ? ' (not available)' : r.available === undefined ? ' (run at start)' : ''}`).join('; ');
  if (unavailable.length === 0) return { name: 'credentials', status: 'ok', required: false, detail: detail || 'none needed' };
  return {
    name: 'credentials', status: 'warn', required: false, detail,
    fix: `export ${unavailable.join(', ')} in the shell that starts bottles, or name a source in ${config.path} (env, file with mode 0600, or command)`,
  };
}

// Which Claude credential each of the manifest's agents would start with (auth: api-key,
// oauth-token, or auto: the API key when the host has one, else the subscription token), and
// where it comes from; a start without one refuses, so this says how to get one.
function authCheck(ctx: Ctx): Check {
  const loaded = readManifest(locateManifest({ cwd: ctx.cwd, env: ctx.env }));
  const config = loadCredentialConfig(ctx.env);
  const sourced = new Set(config.sources.keys());
  const byAgent = Object.keys(loaded.manifest.agents).map((agent) => ({ agent, auth: preparePlan(loaded, agent, { cwd: ctx.cwd, sourced }, ctx.env).auth }));
  const missing = byAgent.find((a) => a.auth.none || describeSource(AUTH[a.auth.mode].variable, config, ctx.env).available === false);
  const modes = [...new Set(byAgent.map((a) => `${a.auth.mode}${a.auth.from === 'auto' ? ' (auto)' : ''}`))];
  const detail = byAgent.length === 1 || modes.length === 1
    ? `${modes[0]}: ${AUTH[byAgent[0]!.auth.mode].variable}${byAgent[0]!.auth.none ? ' (neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN is set)' : ''}`
    : byAgent.map((a) => `${a.agent}: ${a.auth.mode}${a.auth.from === 'auto' ? ' (auto)' : ''}`).join('; ');
  if (!missing) return { name: 'auth', status: 'ok', required: false, detail };
  return { name: 'auth', status: 'warn', required: false, detail, fix: authMissingText(missing.auth, config.path) };
}

// Required checks decide the exit code; warnings never do.
export function doctorOk(checks: readonly Check[]): boolean {
  return checks.every((c) => !c.required || c.status === 'ok');
}

const LABEL: Record<CheckStatus, string> = { ok: 'OK', missing: 'MISSING', warn: 'WARN' };

// Pure: aligned columns `STATUS  NAME  version/detail`, a `fix:` line under each problem, and
// a summary naming what is missing.
export function renderChecks(checks: readonly Check[]): string {
  const statusWidth = Math.max(...Object.values(LABEL).map((l) => l.length));
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const indent = ' '.repeat(statusWidth + nameWidth + 4);
  const lines: string[] = [];
  for (const c of checks) {
    const info = [c.version, c.detail].filter(Boolean).join('  ');
    lines.push(`${LABEL[c.status].padEnd(statusWidth)}  ${c.name.padEnd(nameWidth)}  ${info}`.trimEnd());
    if (c.status !== 'ok' && c.fix) lines.push(`${indent}fix: ${c.fix}`);
  }
  const missing = checks.filter((c) => c.required && c.status !== 'ok').map((c) => c.name);
  lines.push('', missing.length ? `missing required: ${missing.join(', ')}` : 'all required checks passed');
  return `${lines.join('\n')}\n`;
}

// A check that throws unexpectedly is reported, not allowed to take doctor down.
async function guard(name: string, required: boolean, fn: () => Promise<Check>): Promise<Check> {
  try {
    return await fn();
  } catch (e) {
    return { name, status: required ? 'missing' : 'warn', required, detail: `check failed: ${(e as Error).message}` };
  }
}

function nodeCheck(version: string): Check {
  const ok = !olderThan(version, MIN_NODE);
  return {
    name: 'node', status: ok ? 'ok' : 'missing', required: true, version,
    ...(!ok && { detail: `older than ${MIN_NODE.join('.')}`, fix: `install Node.js ≥ ${MIN_NODE.join('.')} (e.g. Node 22 LTS)` }),
  };
}

interface ToolSpec {
  name: string;
  argv: string[];
  required: boolean;
  parse: RegExp;
  fix: string;
  minimum?: [number, number];
  /** Detail when the binary is not on PATH (default "not found on PATH"). */
  absent?: string;
}

// Runs `<tool> --version` through ctx.run as a probe; missing binary and failure are verdicts.
async function toolCheck(ctx: Ctx, spec: ToolSpec): Promise<Check> {
  const { name, required, fix } = spec;
  const bad: CheckStatus = required ? 'missing' : 'warn';
  let r;
  try {
    r = await ctx.run(spec.argv, { probe: true, env: ctx.env, extendEnv: false, cwd: ctx.cwd, timeoutMs: TOOL_TIMEOUT_MS });
  } catch (e) {
    if (!(e instanceof BinaryNotFoundError)) throw e;
    return { name, status: bad, required, detail: spec.absent ?? 'not found on PATH', fix };
  }
  if (r.failed) {
    const why = r.timedOut ? 'timed out' : `exited ${r.exitCode ?? 'by signal'}`;
    const stderr = firstLine(r.stderr);
    return { name, status: bad, required, detail: `\`${spec.argv.join(' ')}\` ${why}${stderr ? `: ${stderr}` : ''}`, fix };
  }
  const out = r.stdout || r.stderr;
  const version = spec.parse.exec(out)?.[1];
  if (!version) return { name, status: 'ok', required, detail: firstLine(out) || 'present (version unknown)' };
  if (spec.minimum && olderThan(version, spec.minimum)) {
    return { name, status: bad, required, version, detail: `older than ${spec.minimum.join('.')}`, fix };
  }
  return { name, status: 'ok', required, version };
}

// One row per engine the manifest's engines: defines (docker-engine:NAME), probed as the shell's
// own; required when an agent runs there (its engine:, else defaults.engine). A manifest that
// cannot be read adds none (the credentials row says why).
async function manifestEngineChecks(ctx: Ctx, deps: DoctorDeps): Promise<Check[]> {
  let loaded;
  try {
    loaded = readManifest(locateManifest({ cwd: ctx.cwd, env: ctx.env }));
  } catch {
    return [];
  }
  const { manifest } = loaded;
  const used = new Set(Object.values(manifest.agents).map((a) => a.engine ?? manifest.defaults.engine ?? LOCAL_ENGINE));
  return Promise.all(Object.keys(manifest.engines ?? {}).map((name) => {
    const required = used.has(name);
    return guard(`docker-engine:${name}`, required, async () => {
      const engine = manifestEngine(loaded, name, ctx.env);
      return engineCheck({ env: engineEnv(ctx.env, engine) }, deps, { name: `docker-engine:${name}`, required, fix: `start the engine at ${engine.host}, or fix engines.${name} in ${loaded.display}` });
    });
  }));
}

async function engineCheck(
  ctx: Pick<Ctx, 'env'>, deps: DoctorDeps,
  row: { name: string; required: boolean; fix?: string } = { name: 'docker-engine', required: true },
): Promise<Check> {
  const p = await deps.probeEngine({ env: ctx.env, timeoutMs: deps.engineTimeoutMs });
  const { name, required } = row;
  if (p.ok) {
    const platform = [p.os, p.arch].filter(Boolean).join('/');
    // A remote engine runs bottles too (their state crosses the engine API); only a git remote
    // whose upstream is a path on this machine cannot be reached from there (start says so).
    const where = p.remote ? `, a remote engine on ${p.remote} (git upstreams given as local paths need an engine on this machine)` : '';
    return { name, status: 'ok', required, version: p.version, detail: `API ${p.apiVersion}${platform ? `, ${platform}` : ''} at ${p.host}${where}` };
  }
  // An engine that is there but refuses this client (TLS, ssh) needs the detail's fix, not a start.
  const fix = p.disagrees
    ? `the engine at ${p.host} is up but ${p.disagrees === 'tls' ? 'the TLS settings' : 'the ssh access'} for it must change: do what the line above says`
    : row.fix ?? 'start the Docker engine (sudo systemctl start docker, or run dockerd), or set DOCKER_HOST to a reachable engine';
  return { name, status: required ? 'missing' : 'warn', required, detail: `${p.host}: ${p.error}${required ? '' : ' (no agent uses it)'}`, fix };
}

// The state root must be a writable dir, or creatable under the nearest existing ancestor.
// Doctor only looks: it does not create the dir.
async function stateDirCheck(ctx: Ctx): Promise<Check> {
  const root = stateRoot(ctx.env);
  const fix = `make ${root} writable, or set BOTTLE_STATE_DIR to a writable directory`;
  let dir = root;
  for (;;) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) return { name: 'state-dir', status: 'missing', required: true, detail: `${dir} is not a directory`, fix };
      const writable = await access(dir, constants.W_OK | constants.X_OK).then(() => true, () => false);
      if (!writable) return { name: 'state-dir', status: 'missing', required: true, detail: `${dir} is not writable`, fix };
      return { name: 'state-dir', status: 'ok', required: true, detail: dir === root ? root : `${root} (will be created)` };
    }
    const up = dirname(dir);
    if (up === dir) return { name: 'state-dir', status: 'missing', required: true, detail: `no existing parent of ${root}`, fix };
    dir = up;
  }
}

function olderThan(version: string, [major, minor]: [number, number]): boolean {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return false; // e.g. tmux "master": cannot tell, do not complain
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj < major || (maj === major && min < minor);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
