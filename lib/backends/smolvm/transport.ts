// HOW provisioning reaches a smolvm agent: the same tar archives the Docker transport builds
// (bundle/archive.ts: owners and modes in the headers) are copied with `machine cp` into a root-only staging dir
// in the VM and unpacked by root with `machine exec tar`, so files, directories, owners and
// modes all travel the same way whether or not `machine cp` handles directories. Commands run
// through `machine exec`, the agent's as `node` via runuser.
//
// Assumption (the smolvm reference does not say): `machine exec` runs as root, ignoring the
// image's USER. open() checks it and fails with a clear message otherwise, since the trust
// store and file ownership need root.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveRoot, entriesByRoot, type Ids, parentDirs } from '../bundle/archive.js';
import { AGENT_PATHS } from '../bundle/names.js';
import type { Principal, ProvisionTransport } from '../bundle/provision.js';
import { tarBuffer, tarDirectory } from '../bundle/tar.js';
import { UserError } from '../../errors.js';
import { type ExecResult, type SmolvmClient, vmPath } from './cli.js';

// argv that runs `argv` as the agent user from a root `machine exec`. runuser (util-linux,
// present in every Debian-based image) sets HOME to the user's and keeps the rest of the env
// (proxy, CA, placeholder key); no shell, so nothing needs quoting.
export function asAgent(argv: readonly string[]): string[] {
  return ['runuser', '-u', AGENT_PATHS.user, '--', ...argv];
}

type Smolvm = Pick<SmolvmClient, 'exec' | 'cp'>;

// Parent of the VM-side staging dirs (each one private: mode 0700, random name, made by mkdir,
// which fails rather than follow anything planted there).
const VM_TMP = '/tmp';

// The provisioning transport for one running VM.
export class SmolvmTransport implements ProvisionTransport {
  private seq = 0;

  private constructor(
    private readonly smolvm: Smolvm,
    private readonly vm: string,
    private readonly agentIds: Ids,
    private readonly hostDir: string,
    private readonly vmDir: string,
    private readonly signal?: AbortSignal,
  ) {}

  // Checks that exec is root, looks up the agent user's ids; close() removes the host staging dir.
  static async open(smolvm: Smolvm, vm: string, signal?: AbortSignal): Promise<SmolvmTransport> {
    const who = await smolvm.exec({ name: vm, command: ['id', '-u'] });
    if (who.exitCode !== 0 || who.stdout.trim() !== '0') {
      const what = who.exitCode === 0 ? `uid ${who.stdout.trim()}` : `exit ${who.exitCode}: ${(who.stderr || who.stdout).trim()}`;
      throw new UserError(`smolvm machine exec in ${vm} does not run as root (${what}); provisioning needs root for the trust store and file ownership — check the smolvm version (v0.8+)`);
    }
    const r = await smolvm.exec({ name: vm, command: ['id', AGENT_PATHS.user] });
    const m = /uid=(\d+)\S* gid=(\d+)/.exec(r.stdout);
    if (r.exitCode !== 0 || !m) {
      throw new UserError(`the agent image has no user ${AGENT_PATHS.user} (id ${AGENT_PATHS.user}: ${(r.stderr || r.stdout).trim()}); build it with \`bottle images build\``);
    }
    const vmDir = `${VM_TMP}/bottle-provision-${randomBytes(6).toString('hex')}`;
    const mk = await smolvm.exec({ name: vm, command: ['mkdir', '-m', '700', vmDir] });
    if (mk.exitCode !== 0) throw new Error(`making ${vmDir} in ${vm} failed (exit ${mk.exitCode}: ${(mk.stderr || mk.stdout).trim()})`);
    const hostDir = await mkdtemp(join(tmpdir(), 'bottle-smolvm-provision-'));
    return new SmolvmTransport(smolvm, vm, { uid: Number(m[1]), gid: Number(m[2]) }, hostDir, vmDir, signal);
  }

  // Removes both staging dirs (the VM's best effort: it holds nothing secret).
  async close(): Promise<void> {
    await rm(this.hostDir, { recursive: true, force: true });
    await this.smolvm.exec({ name: this.vm, command: ['rm', '-rf', this.vmDir] }).catch(() => undefined);
  }

  private ids(owner: Principal): Ids {
    return owner === 'root' ? { uid: 0, gid: 0 } : this.agentIds;
  }

  // One archive: staged on the host, copied in, unpacked under `root` by root.
  private async unpack(root: string, archive: Buffer | Readable): Promise<void> {
    this.signal?.throwIfAborted();
    const name = `${++this.seq}.tar`;
    const hostFile = join(this.hostDir, name);
    if (Buffer.isBuffer(archive)) await writeFile(hostFile, archive, { mode: 0o600 });
    else await pipeline(archive, createWriteStream(hostFile, { mode: 0o600 }));
    const vmFile = `${this.vmDir}/${name}`;
    try {
      await this.smolvm.cp(hostFile, vmPath(this.vm, vmFile));
    } finally {
      await rm(hostFile, { force: true });
    }
    this.signal?.throwIfAborted();
    // --numeric-owner: the ids in the headers are the VM's (looked up in open()), not names.
    const r = await this.smolvm.exec({ name: this.vm, command: ['tar', '-x', '--numeric-owner', '-f', vmFile, '-C', root] });
    if (r.exitCode !== 0) throw new Error(`unpacking into ${root} in ${this.vm} failed (tar exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()})`);
  }

  async write(files: Array<{ path: string; content: Buffer; mode: number; owner: Principal }>): Promise<void> {
    const byRoot = entriesByRoot(files, (owner) => this.ids(owner));
    for (const [root, entries] of byRoot) await this.unpack(root, tarBuffer(entries));
  }

  async copyDir(from: string, path: string, owner: Principal): Promise<void> {
    const { root, rel } = archiveRoot(path);
    const ids = this.ids(owner);
    const parents = parentDirs(rel, ids);
    if (parents.length > 0) await this.unpack(root, tarBuffer(parents));
    await this.unpack(root, tarDirectory(from, rel, ids));
  }

  async exec(user: Principal, argv: string[], workdir?: string): Promise<ExecResult> {
    this.signal?.throwIfAborted();
    return this.smolvm.exec({ name: this.vm, command: user === 'root' ? argv : asAgent(argv), ...(workdir ? { workdir } : {}) });
  }

  readHostFile(path: string): Promise<Buffer> {
    return readFile(path);
  }
}

// Copies an agent-owned directory out of the VM: tar it AS THE AGENT into the VM's /tmp (root
// writing where the agent may have planted symlinks would be a gift), `machine cp` the archive
// to the host and hand it to `receive` (which must treat it as untrusted). Cleans up both sides.
export async function copyOut(smolvm: Smolvm, vm: string, dir: string, receive: (archive: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const name = `bottle-copyout-${randomBytes(4).toString('hex')}.tar`;
  const vmFile = `${VM_TMP}/${name}`;
  const hostDir = await mkdtemp(join(tmpdir(), 'bottle-smolvm-copyout-'));
  const parent = dir.replace(/\/[^/]+\/?$/, '') || '/';
  const base = dir.replace(/\/$/, '').split('/').pop()!;
  try {
    const r = await smolvm.exec({ name: vm, command: asAgent(['tar', '-c', '-f', vmFile, '-C', parent, base]) });
    if (r.exitCode !== 0) throw new Error(`tar of ${dir} exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    const hostFile = join(hostDir, name);
    await smolvm.cp(vmPath(vm, vmFile), hostFile);
    await receive(createReadStream(hostFile));
  } finally {
    await smolvm.exec({ name: vm, command: asAgent(['rm', '-f', vmFile]) }).catch(() => undefined);
    await rm(hostDir, { recursive: true, force: true });
  }
}
