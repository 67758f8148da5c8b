// HOW provisioning reaches a Docker agent: files as small in-memory tars through putArchive
// (ownership comes from the tar headers, so no chown and no capability is needed in the
// agent), directories streamed from the host, commands through engine-API execs.
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { type EngineContainer, execIn, type ExecResult } from './engine.js';
import { AGENT_PATHS } from './names.js';
import type { Principal, ProvisionTransport } from './provision.js';
import { type TarEntry, tarBuffer, tarDirectory } from './tar.js';

// Numeric owner of provisioned files (the agent user's, or root's).
export interface Ids { uid: number; gid: number }

// Directories that exist in the agent image and under which the agent user owns everything
// provisioning creates; anything else is written into its (existing) parent directory.
const AGENT_ROOTS = [AGENT_PATHS.home, AGENT_PATHS.workspace];

// Where an archive is unpacked, and the relative path of `path` in it.
export function archiveRoot(path: string): { root: string; rel: string } {
  for (const root of AGENT_ROOTS) {
    if (path.startsWith(`${root}/`)) return { root, rel: path.slice(root.length + 1) };
  }
  return { root: posix.dirname(path), rel: posix.basename(path) };
}

// Directory entries for each parent of `rel` below its root (so they get the right owner).
export function parentDirs(rel: string, ids: Ids): TarEntry[] {
  const parts = rel.split('/').slice(0, -1);
  return parts.map((_, i) => ({ path: parts.slice(0, i + 1).join('/'), type: 'dir' as const, mode: 0o755, ...ids }));
}

// The provisioning transport for one running agent container.
// Files to write, grouped into tar entries (with their parent dirs) per archive root, owned
// by `idsOf(owner)`: both transports (docker putArchive, smolvm cp + tar) unpack these.
export function entriesByRoot(
  files: Array<{ path: string; content: Buffer; mode: number; owner: Principal }>,
  idsOf: (owner: Principal) => Ids,
): Map<string, TarEntry[]> {
  const byRoot = new Map<string, TarEntry[]>();
  for (const f of files) {
    const { root, rel } = archiveRoot(f.path);
    const ids = idsOf(f.owner);
    const entries = byRoot.get(root) ?? [];
    entries.push(...parentDirs(rel, ids), { path: rel, type: 'file', content: f.content, mode: f.mode, ...ids });
    byRoot.set(root, entries);
  }
  return byRoot;
}

export class DockerTransport implements ProvisionTransport {
  constructor(
    private readonly container: EngineContainer,
    private readonly agentUser: string,
    private readonly agentIds: Ids,
    private readonly signal?: AbortSignal,
  ) {}

  // Looks up the agent user's uid/gid in the container (the image decides them, not us).
  static async open(container: EngineContainer, agentUser: string, signal?: AbortSignal): Promise<DockerTransport> {
    const r = await execIn(container, ['id', agentUser], { user: 'root', signal });
    const m = /uid=(\d+)\S* gid=(\d+)/.exec(r.stdout);
    if (r.exitCode !== 0 || !m) {
      throw new Error(`the agent image has no user ${agentUser} (id ${agentUser}: ${(r.stderr || r.stdout).trim()}); build it with \`bottle images build\``);
    }
    return new DockerTransport(container, agentUser, { uid: Number(m[1]), gid: Number(m[2]) }, signal);
  }

  private ids(owner: Principal): Ids {
    return owner === 'root' ? { uid: 0, gid: 0 } : this.agentIds;
  }

  async write(files: Array<{ path: string; content: Buffer; mode: number; owner: Principal }>): Promise<void> {
    const byRoot = entriesByRoot(files, (owner) => this.ids(owner));
    for (const [root, entries] of byRoot) {
      this.signal?.throwIfAborted();
      await this.container.putArchive(tarBuffer(entries), { path: root });
    }
  }

  async copyDir(from: string, path: string, owner: Principal): Promise<void> {
    const { root, rel } = archiveRoot(path);
    const ids = this.ids(owner);
    const parents = parentDirs(rel, ids);
    if (parents.length > 0) await this.container.putArchive(tarBuffer(parents), { path: root });
    this.signal?.throwIfAborted();
    await this.container.putArchive(tarDirectory(from, rel, ids), { path: root });
  }

  exec(user: Principal, argv: string[], workdir?: string): Promise<ExecResult> {
    return execIn(this.container, argv, { user: user === 'root' ? 'root' : this.agentUser, workdir, signal: this.signal });
  }

  readHostFile(path: string): Promise<Buffer> {
    return readFile(path);
  }
}
