// The git gate: mirrors each upstream into a bare repo, installs the hooks, and runs the real
// `git daemon` over them as a child process until stopped.
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { run as defaultRun, type Runner } from '../../lib/run/index.js';
import { spawnChild, type ChildExit } from '../../lib/run/spawn.js';
import type { Upstream } from './config.js';
import { tailLines } from './decisions.js';
import { daemonArgv } from './git.js';
import { ensureMirror, hookEntryArgv, hookScript, writeExecutable } from './mirror.js';
import type { ReviewDirs } from './review.js';
import { DEFAULTS, type RepoSettings } from './settings.js';

export interface GitGateOptions {
  reposDir: string;
  upstreams: Upstream[];
  host?: string;
  port?: number;
  /** Hook scripts and the decision log (default <reposDir>/.git-gate; not a repo, so never served). */
  stateDir?: string;
  maxScanBytes?: number;
  fetchTimeoutMs?: number;
  /** The supervise queue and decisions dirs, for upstreams with push review (review.ts). */
  review?: ReviewDirs;
  env?: NodeJS.ProcessEnv;
  run?: Runner;
  /** JSON event lines (push decisions, failed refreshes, readiness). */
  out?: (line: string) => void;
  /** Human-readable progress and git daemon's own log. */
  err?: (line: string) => void;
}

// A running gate. `exited` settles when git daemon ends for any reason, stop() included.
export interface GitGate {
  /** git-daemon's pid (it forks one child per connection and reaps them itself). */
  pid: number;
  host: string;
  port: number;
  repos: Array<{ name: string; path: string; url: string }>;
  exited: Promise<ChildExit>;
  stop(): Promise<void>;
}

const READY = /Ready to rumble/;
const STOP_GRACE_MS = 5_000;
const INSTALL_HINT = 'install git, which provides git-daemon (Alpine: apk add git-daemon)';

// Checks what the hooks cannot fix later: a missing key file or token variable, or push review
// without a queue to hold pushes in.
function checkCredentials(upstreams: Upstream[], env: NodeJS.ProcessEnv, review: ReviewDirs | undefined): void {
  for (const u of upstreams) {
    if (u.reviewHoldMs && !review) {
      throw new UserError(`git-gate: ${u.name}: push review is on (reviewHoldMs) but no review queue was given; pass --review-queue-dir and --review-decisions-dir`);
    }
    if (u.identityFile && !existsSync(u.identityFile)) {
      throw new UserError(`git-gate: ${u.name}: identityFile ${u.identityFile} does not exist; mount the key into the bundle or fix the upstreams file`);
    }
    if (u.tokenEnv && !env[u.tokenEnv]) {
      throw new UserError(`git-gate: ${u.name}: env var ${u.tokenEnv} (tokenEnv) is not set; pass it to the bundle's environment`);
    }
  }
}

// Sets up every mirror, then starts git daemon and resolves once it is listening.
export async function startGitGate(o: GitGateOptions): Promise<GitGate> {
  const run = o.run ?? defaultRun;
  const env = o.env ?? process.env;
  const out = o.out ?? ((l) => process.stdout.write(`${l}\n`));
  const err = o.err ?? ((l) => process.stderr.write(`${l}\n`));
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 9418;
  checkCredentials(o.upstreams, env, o.review);
  mkdirSync(o.reposDir, { recursive: true });
  const reposDir = realpathSync(o.reposDir);
  const stateDir = o.stateDir ?? join(reposDir, '.git-gate');
  mkdirSync(stateDir, { recursive: true });
  const decisionLog = join(realpathSync(stateDir), 'decisions.jsonl');
  const entry = hookEntryArgv();
  const accessHook = join(realpathSync(stateDir), 'access-hook');
  writeExecutable(accessHook, hookScript(entry, 'access'));

  const repos: GitGate['repos'] = [];
  for (const u of o.upstreams) {
    const settings: RepoSettings = {
      ...u,
      maxScanBytes: o.maxScanBytes ?? DEFAULTS.maxScanBytes,
      fetchTimeoutMs: o.fetchTimeoutMs ?? DEFAULTS.fetchTimeoutMs,
      pushTimeoutMs: DEFAULTS.pushTimeoutMs,
      decisionLog,
      ...(u.reviewHoldMs && o.review ? { reviewQueueDir: o.review.queueDir, reviewDecisionsDir: o.review.decisionsDir } : {}),
    };
    const m = await ensureMirror(run, reposDir, settings, hookScript(entry, 'pre-receive'));
    err(m.error ? `git-gate: ${u.name}: ${m.error}; serving the last mirrored state` : `git-gate: ${u.name}: mirrored ${u.upstream}`);
    repos.push({ name: u.name, path: m.path, url: `git://${host.includes(':') ? `[${host}]` : host}:${port}/${u.name}.git` });
  }

  const execPath = (await run(['git', '--exec-path'])).stdout.trim();
  // git-daemon itself, not the `git` wrapper: SIGKILL on the wrapper would orphan the listener.
  const argv = daemonArgv({ daemonBin: join(execPath, 'git-daemon'), host, port, reposDir, accessHook, repos: repos.map((r) => r.path) });
  const child = spawnChild(argv, { env, stdio: ['ignore', 'ignore', 'pipe'], installHint: INSTALL_HINT });
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  const { exited } = child;
  const forget = (): void => { process.off('exit', killOnExit); };
  exited.then(forget, forget);
  const log: string[] = [];
  let partial = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => { ready = r; });
  child.stderr!.on('data', (c: Buffer) => {
    const lines = (partial + c.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (READY.test(line)) ready();
      log.push(line);
      if (log.length > 20) log.shift();
      err(`git-gate: daemon: ${line}`);
    }
  });
  // A git-daemon that cannot start rejects here as BinaryNotFoundError (or CommandError).
  const early = await Promise.race([isReady.then(() => undefined), exited]);
  if (early) {
    throw new UserError(`git-gate: git daemon exited before listening on ${host}:${port} (${early.signal ?? `code ${early.exitCode}`}): `
      + `${log.slice(-3).join(' | ') || 'no output'}; is the port free and the git daemon package installed?`);
  }

  const tail = tailLines(decisionLog, out);
  out(JSON.stringify({ event: 'ready', time: new Date().toISOString(), listen: `${host}:${port}`, daemonPid: child.pid, repos: repos.map((r) => r.name) }));
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid!, host, port, repos, exited,
    stop() {
      stopping ??= (async () => {
        if (child.running) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
          await exited;
          clearTimeout(timer);
        }
        tail.stop();
      })();
      return stopping;
    },
  };
}
