// Harness of the sandbox-escape e2e (SPEC §12): one real bottle per test file, started by the
// real CLI (`bottle start <agent> --yes --no-attach --manifest F`, a subprocess), plus a fake
// internet on its egress network (test/e2e/fixtures/upstream). The bottle trusts the fake
// upstream's test CA and may dial its *.test names at a private address only through the
// backend's explicit test knobs BOTTLE_TEST_UPSTREAM_CA / BOTTLE_TEST_ALLOW_PRIVATE.
// Everything made here carries the run's slug and is removed by close(), also after a failure.
import type Docker from 'dockerode';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerBackend, dockerNames, type DockerNames } from '../../lib/backends/docker/index.js';
import { execIn, type ExecResult } from '../../lib/docker/api.js';
import { lifecycleDeps, stopBottle } from '../../lib/lifecycle/index.js';
import { projectRoot } from '../../lib/paths.js';
import { type BottlePaths, bottlePaths, readMetadata } from '../../lib/state/index.js';
import { E2E_LABEL, type FakeUpstream, startFakeUpstream, upstreamCertificates } from '../e2e/fixtures/upstream/upstream.js';
import { P, pemKey } from '../fixtures/secrets/tokens.js';
import { bottleProcess, type CliResult, tsxArgv } from './cli.js';
import { type EngineGate, imagesGate } from './e2e.js';

export { E2E_IMAGES as IMAGES } from './e2e.js';
// Names the fake upstream answers for; the gateway may dial them although they are private.
export const UPSTREAM_NAMES = ['allowed.test', 'api.allowed.test', 'www.allowed.test', 'pass.allowed.test', 'exfil.test', 'newhost.test'] as const;

// Engine reachable and the sandbox's images built, or a visible skip (see imagesGate).
export const sandboxGate = (): Promise<EngineGate> => imagesGate();

// A fresh value per run, with no recognisable secret shape (only the canary stage knows it).
export const randomToken = (): string => `e2e${randomBytes(18).toString('base64url')}`;

// The manifest of a sandbox bottle: allowed.test and *.allowed.test, a credentialed route, one
// passthrough host, optionally a git upstream; never exfil.test or newhost.test.
export function sandboxManifest(agent: string, o: { workspace?: string; upstreamRepo?: string; identity?: string; review?: string; extra?: string[]; top?: string[] } = {}): string {
  return [
    'version: 1',
    ...(o.top ?? []),
    'agents:',
    `  ${agent}:`,
    '    prompt: "You are the sandbox e2e agent."',
    ...(o.workspace ? [`    workspace: ${JSON.stringify(o.workspace)}`] : []),
    ...(o.upstreamRepo || o.identity ? ['    git:'] : []),
    ...(o.upstreamRepo ? ['      - name: origin', `        upstream: ${JSON.stringify(o.upstreamRepo)}`, ...(o.review ? [`        review: ${o.review}`] : [])] : []),
    // An ssh remote whose host is the fake upstream (no sshd: fetches fail at once, on our network).
    ...(o.identity ? ['      - name: deploy', '        upstream: ssh://git@exfil.test/e2e.git', `        identity: ${JSON.stringify(o.identity)}`] : []),
    '    egress:',
    '      allow: [allowed.test, "*.allowed.test"]',
    '      routes:',
    '        - host: api.allowed.test',
    '          headers:',
    '            Authorization: "Bearer ${E2E_ROUTE_TOKEN}"',
    // Literal text and the $${ escape mean the same to the gateway as to the manifest.
    '            X-Env: production',
    '            X-Literal: "$${NOT_A_VAR}"',
    '      passthrough: [pass.allowed.test]',
    ...(o.extra ?? []).map((l) => `    ${l}`),
    '',
  ].join('\n');
}

// The host env a sandbox's CLI calls run with: its own state root, the planted secrets, and
// nothing else from the caller's environment but PATH and the engine address.
export function sandboxEnv(root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: root, BOTTLE_STATE_DIR: join(root, 'state'),
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    E2E_ROUTE_TOKEN: randomToken(),
    ANTHROPIC_API_KEY: `${P.skAnt}e2e-${randomBytes(24).toString('base64url')}`,
    // Test bundles resolve only *.test names: no public host is ever dialled (claude itself
    // calls its API host during provisioning; here that gets a 502, never a connection).
    BOTTLE_TEST_RESOLVE_ONLY: 'test',
    ...extra,
  };
}

// `bottle <args>` as a real subprocess whose stderr lines are handed to `onLine` as they come.
// From source (tsx) by default; `compiled`: bin/bottle.js, what users run (dist/ must be built).
export function spawnBottle(args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void = () => {}, o: { compiled?: boolean } = {}): {
  child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
} {
  const entry = o.compiled ? [join(projectRoot(), 'bin', 'bottle.js')] : [...tsxArgv(), join(projectRoot(), 'commands', 'main.ts')];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: projectRoot(), env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    const lines = (partial + c.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) onLine(l);
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

// A running sandbox bottle and the ways a test pokes at it.
export interface Sandbox {
  docker: Docker;
  slug: string;
  names: DockerNames;
  paths: BottlePaths;
  /** Host env of the run: BOTTLE_STATE_DIR, the route token, the (fake) Anthropic key, test knobs. */
  env: NodeJS.ProcessEnv;
  routeToken: string;
  apiKey: string;
  upstream: FakeUpstream;
  /** The bare repo git-gate forwards to (with `git: true`). */
  upstreamRepo?: string;
  /** The host-side git identity (a private key) of the `deploy` remote (with `identity: true`). */
  identityKey?: string;
  /** Progress lines of the bring-up (the CLI's stderr). */
  bringup: string[];
  /** `sh -c cmd` in the agent, as node (default) or root; `env` (NAME=value) travels in the exec's API body. */
  agent(cmd: string, user?: 'node' | 'root', env?: string[]): Promise<ExecResult>;
  /** `sh -c cmd` in the bundle, as the bundle's own runtime user. */
  bundle(cmd: string): Promise<ExecResult>;
  /** Runs test/e2e/fixtures/probes/<name>.mjs with node in the agent (or bundle), `env` (NAME=value) added; parses its JSON. */
  probe<T = unknown>(name: ProbeName, args: string[], where?: 'agent' | 'bundle', env?: string[]): Promise<T>;
  /** The bottle CLI (a real subprocess) with the sandbox's env. */
  cli(args: string[]): Promise<CliResult>;
  /** Copies what the bundle wrote (events, proposals) into the state dir, as every host reader does first. */
  pull(): Promise<void>;
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Agent name in the manifest; also the slug prefix. */
  agent: string;
  /** A workspace repo and a local bare upstream for git-gate. */
  git?: boolean;
  /** A second, ssh remote with a host-side identity file (which only git-gate may hold). */
  identity?: boolean;
  /** The origin remote's `review` (with `git`): pushes wait for the operator. */
  review?: string;
  /** Called with each progress line while the bottle comes up. */
  onLine?: (line: string) => void;
  /** The fake upstream also answers for api.anthropic.com (the model API, with usage), which the
   * gateway may then resolve and dial; `agent` lines go into the agent's manifest entry
   * (e.g. `auth: oauth-token`, `budget: { usd: 0.02 }`). */
  model?: { agent?: string[] };
  /** Host env for the CLI over the defaults (e.g. CLAUDE_CODE_OAUTH_TOKEN). */
  env?: NodeJS.ProcessEnv;
  /** Manifest lines: `top` before `agents:` (e.g. an `engines:` map), `agent` in the agent's entry. */
  manifest?: { top?: string[]; agent?: string[] };
}

// The model API's stand-in name on the fake upstream (test/e2e/fixtures/upstream/server.mjs).
export const MODEL_HOST = 'api.anthropic.com';

// git in a host directory with a fixed identity (safe.directory: the dirs may be another uid's).
export const gitIn = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'safe.directory=*', '-c', 'user.name=e2e', '-c', 'user.email=e2e@e2e.invalid', ...args], { cwd, stdio: 'pipe' }).toString();

// A workspace repo with one commit and its bare clone as `origin` (a local upstream for git-gate).
export function prepareGit(root: string): { workspace: string; upstreamRepo: string } {
  const workspace = join(root, 'ws');
  mkdirSync(workspace);
  gitIn(workspace, 'init', '-q', '-b', 'main');
  writeFileSync(join(workspace, 'README.md'), 'sandbox e2e\n');
  gitIn(workspace, 'add', '.');
  gitIn(workspace, 'commit', '-qm', 'init');
  const upstreamRepo = join(root, 'upstream.git');
  gitIn(root, 'clone', '-q', '--bare', workspace, upstreamRepo);
  gitIn(workspace, 'remote', 'add', 'origin', upstreamRepo);
  return { workspace, upstreamRepo };
}

// Names of the containers and networks labelled with the slug.
export async function labelled(docker: Docker, slug: string): Promise<string[]> {
  const filters = { label: [`dev.bottle.slug=${slug}`] };
  const [cs, ns] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters })]);
  return [...cs.map((c) => c.Names[0]!.replace(/^\//, '')), ...ns.map((n) => n.Name)].sort();
}

// Removes whatever still carries the slug's label, the test's own containers (the fake
// upstream) first, since they hold the bottle's network: the last resort of every teardown.
export async function sweep(docker: Docker, slug: string): Promise<void> {
  for (const label of [`${E2E_LABEL}.slug=${slug}`, `dev.bottle.slug=${slug}`]) {
    for (const c of await docker.listContainers({ all: true, filters: { label: [label] } })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
  }
  for (const n of await docker.listNetworks({ filters: { label: [`dev.bottle.slug=${slug}`] } })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
}

// The base64 lines of a PEM (a P-256 key has three): each one carries key bytes, so each is a
// needle for a leak search. Throws rather than hand back an empty needle that matches anything.
export function pemBodyLines(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  if (lines.length < 2 || lines.some((l) => l.length < 16)) throw new Error(`not a PEM body: ${lines.length} line(s)`);
  return lines;
}

// Searches every file a container added or changed (its writable layer: the only place a
// per-run secret could be, since the image predates the run) for `needles`, read through the
// engine with full privilege: files no user inside can read are searched too. Returns hits.
export async function writableLayerHits(docker: Docker, container: string, needles: readonly string[]): Promise<Array<{ path: string; needle: string }>> {
  const c = docker.getContainer(container);
  const changes = ((await c.changes()) ?? []) as Array<{ Path: string; Kind: number }>;
  // Kind 0 = changed (a changed file, or a directory whose children changed: those are listed
  // too), 1 = added (an added directory's children are listed too), 2 = deleted. Archive each
  // outermost added path and each changed leaf, never a whole changed directory such as /usr.
  const under = (p: string, q: string): boolean => p.startsWith(`${q}/`);
  const added = changes.filter((x) => x.Kind === 1).map((x) => x.Path);
  const roots = [
    ...added.filter((p) => !added.some((q) => under(p, q))),
    ...changes.filter((x) => x.Kind === 0 && !changes.some((y) => under(y.Path, x.Path))).map((x) => x.Path),
  ].sort();
  const longest = Math.max(...needles.map((n) => n.length));
  const hits: Array<{ path: string; needle: string }> = [];
  for (const path of roots) {
    const stream = await c.getArchive({ path }).catch(() => undefined);
    if (!stream) continue; // removed again since `changes` (a temp file)
    let tail = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = tail + chunk.toString('latin1');
      for (const needle of needles) if (text.includes(needle) && !hits.some((h) => h.path === path && h.needle === needle)) hits.push({ path, needle });
      tail = text.slice(-longest);
    }
  }
  return hits;
}

// A supervise MCP answer as the `mcp` probe prints it, and the probe's argument for one tool call.
export interface McpReply { status: number; result?: { structuredContent?: { id: string; status: string; message: string }; tools?: unknown[]; isError?: boolean } }
export const mcpCall = (name: string, args: Record<string, unknown>): string => JSON.stringify([{ method: 'tools/call', params: { name, arguments: args } }]);

// Polls `bottle proposals ls --json` until a pending proposal for `host` shows up; its id.
export async function pendingProposal(sb: Sandbox, host: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ls = await sb.cli(['proposals', 'ls', '--json']);
    const row = ls.exitCode === 0 ? (JSON.parse(ls.stdout) as Array<{ id: string; host: string; slug: string }>).find((r) => r.host === host && r.slug === sb.slug) : undefined;
    if (row) return row.id;
    if (Date.now() > deadline) throw new Error(`no pending proposal for ${host} after ${timeoutMs} ms: ${ls.stdout}${ls.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The slug a `bottle start` announces on its first progress line (`bottle <slug>: ...`).
export const slugFromLine = (line: string): string | undefined => /^bottle ([a-z0-9][a-z0-9_-]*): /.exec(line)?.[1];

// The node scripts in test/e2e/fixtures/probes (the agent image has node, none of our modules).
export type ProbeName = 'mcp' | 'scan' | 'dns' | 'raw' | 'poll' | 'connect' | 'tunnel' | 'fetch';
const PROBE_DIR = new URL('../e2e/fixtures/probes/', import.meta.url);

// Brings a sandbox bottle up; on any failure everything made so far is removed before the throw.
export async function startSandbox(docker: Docker, o: SandboxOptions): Promise<Sandbox> {
  const root = mkdtempSync(join(tmpdir(), `bottle-e2e-${o.agent}-`));
  const hosts = o.model ? [...UPSTREAM_NAMES, MODEL_HOST] : [...UPSTREAM_NAMES];
  const certs = upstreamCertificates(hosts);
  const caFile = join(root, 'upstream-ca.pem');
  writeFileSync(caFile, certs.caPem, { mode: 0o644 });
  const env = sandboxEnv(root, {
    BOTTLE_TEST_UPSTREAM_CA: caFile, BOTTLE_TEST_ALLOW_PRIVATE: hosts.join(','),
    ...(o.model ? { BOTTLE_TEST_RESOLVE_ONLY: `test,${MODEL_HOST}` } : {}),
    ...o.env,
  });
  const git = o.git ? prepareGit(root) : undefined;
  const identityKey = o.identity ? `${pemKey()}\n` : undefined;
  const identity = join(root, 'id_e2e');
  if (identityKey) writeFileSync(identity, identityKey, { mode: 0o600 });
  const manifest = join(root, 'bottle.yaml');
  writeFileSync(manifest, sandboxManifest(o.agent, {
    ...git, ...(identityKey ? { identity } : {}), ...(o.review ? { review: o.review } : {}),
    extra: [...(o.model?.agent ?? []), ...(o.manifest?.agent ?? [])], top: o.manifest?.top ?? [],
  }));
  let slug: string | undefined;
  let upstream: FakeUpstream | undefined;
  const bringup: string[] = [];
  const close = async (): Promise<void> => {
    await upstream?.remove();
    if (slug) {
      await stopBottle(lifecycleDeps(env), slug, () => undefined, { save: false }).catch(() => undefined);
      await sweep(docker, slug);
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const start = spawnBottle(['start', o.agent, '--yes', '--no-attach', '--manifest', manifest], env, (line) => {
      bringup.push(line);
      slug ??= slugFromLine(line);
      o.onLine?.(line);
    });
    const r = await start.done;
    if (r.code !== 0) throw new Error(`bottle start exited ${r.code ?? r.signal}`);
    slug = r.stdout.trim();
    const names = dockerNames(slug);
    upstream = await startFakeUpstream(docker, {
      name: `bottle-e2e-upstream-${slug}`, network: names.externalNetwork, aliases: hosts,
      labels: { [`${E2E_LABEL}.slug`]: slug }, certs,
    });
    const agentC = docker.getContainer(names.agent);
    const bundleC = docker.getContainer(names.bundle);
    const bundleUser = (await bundleC.inspect()).Config.User ?? '';
    const run = (where: 'agent' | 'bundle', argv: string[], user?: string, env?: string[]): Promise<ExecResult> =>
      where === 'agent'
        ? execIn(agentC, argv, { user: user ?? 'node', workdir: '/workspace', ...(env ? { env } : {}) })
        : execIn(bundleC, argv, { user: bundleUser });
    return {
      docker, slug, names, paths: bottlePaths(env.BOTTLE_STATE_DIR!, slug), env,
      routeToken: env.E2E_ROUTE_TOKEN!, apiKey: env.ANTHROPIC_API_KEY!, upstream, upstreamRepo: git?.upstreamRepo, identityKey, bringup,
      agent: (cmd, user = 'node', env) => run('agent', ['sh', '-c', cmd], user, env),
      bundle: (cmd) => run('bundle', ['sh', '-c', cmd]),
      async probe<T>(name: string, args: string[], where: 'agent' | 'bundle' = 'agent', env?: string[]): Promise<T> {
        const source = readFileSync(new URL(`${name}.mjs`, PROBE_DIR), 'utf8');
        const r = await run(where, ['node', '--input-type=module', '-e', source, '--', ...args], undefined, env);
        try {
          return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
        } catch {
          throw new Error(`probe ${name} in the ${where} printed no JSON (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
        }
      },
      cli: (args) => bottleProcess(args, { env }),
      pull: async () => {
        const root = env.BOTTLE_STATE_DIR!;
        await createDockerBackend(env).pull(await readMetadata(root, slug!), bottlePaths(root, slug!));
      },
      close,
    };
  } catch (e) {
    await close();
    throw new Error(`sandbox bottle did not come up: ${(e as Error).message}\n${bringup.join('\n')}`, { cause: e });
  }
}
