// The product as users get it: `npm pack` of this checkout, installed into a temporary prefix
// with npm, and only that prefix's `bin/bottle` run. The install is cached by the tarball's
// hash (npm packs reproducibly), so the acceptance files of one run share one install.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SOURCE_DIRS } from '../../lib/images/context.js';
import { distStaleness, markDistBuilt } from '../../lib/images/dist.js';
import { projectRoot } from '../../lib/paths.js';

export interface Installed {
  /** The npm prefix (bin/, lib/node_modules/bottle). */
  prefix: string;
  /** The installed executable. */
  bin: string;
  /** The installed package's root (what projectRoot() is for the installed CLI). */
  pkg: string;
  tarball: string;
}

export interface InstalledRun { exitCode: number; stdout: string; stderr: string }

const CACHE = join(tmpdir(), 'bottle-acceptance');

async function sh(argv: string[], cwd: string): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { cwd, reject: false, stdin: 'ignore', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}:\n${r.stderr || r.stdout}`);
  return String(r.stdout);
}

// dist/ as the checkout's sources say it should be (the tier tests the bundle of these sources).
async function freshDist(root: string): Promise<void> {
  if (!distStaleness(root, SOURCE_DIRS)) return;
  const started = Date.now();
  await sh(['npm', 'run', 'build'], root);
  markDistBuilt(root, started);
}

let memo: Promise<Installed> | undefined;

// Packs and installs once per process; other processes of the same run reuse the cached prefix.
export function installed(): Promise<Installed> {
  memo ??= install();
  return memo;
}

async function install(): Promise<Installed> {
  const root = projectRoot();
  await freshDist(root);
  mkdirSync(CACHE, { recursive: true });
  const packDir = await mkdtemp(join(CACHE, 'pack-'));
  try {
    const packed = JSON.parse(await sh(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', packDir], root)) as Array<{ filename: string }>;
    const file = join(packDir, packed[0]!.filename);
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
    const dir = join(CACHE, hash);
    const done = join(dir, 'installed.ok');
    const result = (): Installed => ({
      prefix: join(dir, 'prefix'), bin: join(dir, 'prefix', 'bin', 'bottle'),
      pkg: join(dir, 'prefix', 'lib', 'node_modules', 'bottle'), tarball: join(dir, 'bottle.tgz'),
    });
    const lock = `${dir}.lock`;
    for (let waited = 0; !existsSync(done); waited += 500) {
      try {
        mkdirSync(lock);
      } catch {
        // Another test process is installing this very tarball: wait for it (bounded).
        if (waited > 240_000) throw new Error(`gave up waiting for ${lock}; remove it if no test run is installing`);
        await sleep(500);
        continue;
      }
      try {
        if (existsSync(done)) break;
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeFileSync(result().tarball, readFileSync(file));
        await sh(['npm', 'install', '--global', '--prefix', result().prefix, '--prefer-offline', '--no-audit', '--no-fund', result().tarball], dir);
        writeFileSync(done, `${new Date().toISOString()}\n`);
        pruneOld(hash);
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    }
    return result();
  } finally {
    await rm(packDir, { recursive: true, force: true });
  }
}

// Installs of older tarballs (an hour untouched) are removed; a concurrent run's are kept.
function pruneOld(keep: string): void {
  for (const name of readdirSync(CACHE)) {
    if (name === keep || name.startsWith('pack-') || name.endsWith('.lock')) continue;
    const path = join(CACHE, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > 3600_000) rmSync(path, { recursive: true, force: true });
    } catch { /* gone already */ }
  }
}

// The environment an installed CLI runs in: its prefix first on PATH, a private HOME and state.
export function installedEnv(inst: Installed, home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_STATE_HOME: join(home, '.state'), ...extra };
  for (const k of ['BOTTLE_STATE_DIR', 'BOTTLE_DEBUG', 'TMUX', 'TMUX_PANE']) if (!(k in extra)) delete env[k];
  env.PATH = [join(inst.prefix, 'bin'), extra.PATH ?? process.env.PATH ?? ''].join(delimiter);
  return env;
}

// Runs the installed `bottle` (found on PATH, like a user's shell would) from `cwd`.
export async function runInstalled(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<InstalledRun> {
  const r = await execa('bottle', args, {
    env, extendEnv: false, cwd: opts.cwd ?? env.HOME, reject: false, stdin: 'ignore', timeout: opts.timeoutMs ?? 120_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
