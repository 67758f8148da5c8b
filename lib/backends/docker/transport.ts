// HOW provisioning reaches a Docker agent: files as small in-memory tars through putArchive
// (ownership comes from the tar headers, so no chown and no capability is needed in the
// agent), directories streamed from the host, commands through engine-API execs.
import { readFile } from 'node:fs/promises';
import { type EngineContainer, execIn, type ExecResult } from '../../docker/api.js';
import { archiveRoot, entriesByRoot, type Ids, parentDirs } from '../bundle/archive.js';
import type { Principal, ProvisionTransport } from '../bundle/provision.js';
import { tarBuffer, tarDirectory } from '../bundle/tar.js';

// The provisioning transport for one running agent container.
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
