// Fake executables on PATH for tests of code that spawns tmux, docker, git, smolvm...: real
// spawning, scripted answers, and a log of every call's argv. See test/fixtures/bin/fakebin.mjs.
// Also a fake Docker engine socket, for code that talks to the engine API instead of the CLI.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// What one invocation prints and how it exits.
export interface FakeResponse {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** Wait before answering (for timeout tests). */
  delayMs?: number;
  /** Kill itself with this signal instead of exiting (e.g. 'SIGKILL'). */
  signal?: NodeJS.Signals;
}

// A binary's script: its own fields are the default answer; `when` rules match argv by prefix.
export interface FakeBinSpec extends FakeResponse {
  when?: Array<FakeResponse & { args: string[] }>;
  /** Env var names whose values are recorded in each Call (null when unset). */
  recordEnv?: string[];
}

// One recorded invocation, in call order.
export interface Call {
  bin: string;
  argv: string[];
  cwd: string;
  stdin?: string;
  env?: Record<string, string | null>;
}

export interface FakeBins {
  /** Directory holding the fakes. */
  dir: string;
  /** Env for the code under test: the base env with PATH = `dir` first (or only). */
  env: NodeJS.ProcessEnv;
  /** Recorded calls, optionally only those of one binary. */
  calls(bin?: string): Promise<Call[]>;
  /** Installs more fakes or replaces the script of existing ones (takes effect on the next call). */
  set(specs: Record<string, FakeBinSpec>): Promise<void>;
}

export interface FakeBinsOptions {
  /** Keep the rest of PATH after the fakes (default true). false hides every real binary. */
  inheritPath?: boolean;
  /** Base env (default process.env). */
  env?: NodeJS.ProcessEnv;
}

// The script every fake runs; resolved from this file so it works from any cwd.
export const FAKEBIN_SCRIPT = fileURLToPath(new URL('../fixtures/bin/fakebin.mjs', import.meta.url));

interface Teardownable { teardown(fn: () => unknown): void }

// Creates a temp dir of fakes named after the keys of `specs`; removed at t's teardown.
export async function fakeBins(
  t: Teardownable,
  specs: Record<string, FakeBinSpec>,
  opts: FakeBinsOptions = {},
): Promise<FakeBins> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-fakebin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const binDir = join(dir, 'bin');
  const logFile = join(dir, 'calls.jsonl');
  const scriptFile = join(dir, 'script.json');
  const script: Record<string, FakeBinSpec> = {};
  await writeFile(logFile, '');
  await mkdir(binDir);

  const set = async (more: Record<string, FakeBinSpec>): Promise<void> => {
    for (const [name, spec] of Object.entries(more)) {
      if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`fakeBins: bad binary name ${JSON.stringify(name)}`);
      if (!(name in script)) await installWrapper(binDir, name, logFile, scriptFile);
      script[name] = spec;
    }
    await writeFile(scriptFile, JSON.stringify(script, null, 2));
  };
  await set(specs);

  const base = opts.env ?? process.env;
  const path = opts.inheritPath === false ? binDir : [binDir, base.PATH ?? ''].filter(Boolean).join(delimiter);
  const env: NodeJS.ProcessEnv = { ...base, PATH: path };

  const calls = async (bin?: string): Promise<Call[]> => {
    const text = await readFile(logFile, 'utf8');
    const all = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Call);
    return bin === undefined ? all : all.filter((c) => c.bin === bin);
  };
  return { dir: binDir, env, calls, set };
}

// A sh wrapper rather than a symlink: node need not be on PATH (inheritPath: false), and each
// fake logs to its own dir whatever env the code under test passes down (FAKEBIN_* included).
async function installWrapper(binDir: string, name: string, logFile: string, scriptFile: string): Promise<void> {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const body = [
    '#!/bin/sh',
    `FAKEBIN_NAME=${q(name)}; FAKEBIN_LOG=${q(logFile)}; FAKEBIN_SCRIPT=${q(scriptFile)}`,
    'export FAKEBIN_NAME FAKEBIN_LOG FAKEBIN_SCRIPT',
    `exec ${q(process.execPath)} ${q(FAKEBIN_SCRIPT)} "$@"`,
    '',
  ].join('\n');
  const file = join(binDir, name);
  await writeFile(file, body);
  await chmod(file, 0o755);
}

// A stand-in Docker engine: an HTTP server on a unix socket (DOCKER_HOST=unix://...) answering
// GET /version and image inspects, for probes that go through dockerode rather than the docker CLI.
export interface FakeEngineOptions {
  /** GET /version body; default a plausible engine. */
  version?: Record<string, unknown>;
  /** Answer every request with this status instead (e.g. 404: not an engine). */
  status?: number;
  /** Never answer (timeout tests). */
  hang?: boolean;
  /** Images that GET /images/<name>/json finds (others: 404); default bottle's own two. */
  images?: string[];
}

export interface FakeEngine {
  /** unix://<socket>, ready for DOCKER_HOST. */
  host: string;
  requests: Array<{ method: string; url: string }>;
}

export async function fakeDockerEngine(t: Teardownable, opts: FakeEngineOptions = {}): Promise<FakeEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-engine-'));
  const socket = join(dir, 'docker.sock');
  const requests: FakeEngine['requests'] = [];
  const version = opts.version ?? { Version: '27.3.1', ApiVersion: '1.47', Os: 'linux', Arch: 'amd64' };
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    if (opts.hang) return;
    const image = /^(?:\/v[\d.]+)?\/images\/(.+)\/json$/.exec(req.url ?? '')?.[1];
    if (opts.status === undefined && image !== undefined) {
      const name = decodeURIComponent(image);
      const found = (opts.images ?? ['bottle-agent:latest', 'bottle-sidecars:latest']).includes(name);
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ? { Id: `sha256:${name.length}`, RepoTags: [name] } : { message: `No such image: ${name}` }));
      return;
    }
    const ok = opts.status === undefined && /^(\/v[\d.]+)?\/version$/.test(req.url ?? '');
    res.writeHead(ok ? 200 : (opts.status ?? 404), { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? version : { message: 'page not found' }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return { host: `unix://${socket}`, requests };
}
