// HOW provisioning reaches a Docker agent: files as small in-memory tars through putArchive
// (ownership comes from the tar headers, so no chown and no capability is needed in the
// agent), directories streamed from the host, commands through engine-API execs. Files go in
// and out through the archive API, which works on a created container too: launch provisions
// the files before the agent starts, and only commands need it running.
import { readFile } from 'node:fs/promises';
import { type EngineContainer, engineMessage, execIn, type ExecResult, statusOf } from '../../docker/api.js';
import { archiveRoot, type Ids, parentDirs, rootedEntries } from '../bundle/archive.js';
import type { Principal, ProvisionFile, ProvisionTransport } from '../bundle/provision.js';
import { readTarMembers, tarBuffer, tarDirectory } from '../bundle/tar.js';

// The uid and primary gid of `user` in an /etc/passwd text (what the engine itself reads to
// start a container as that user).
export function passwdIds(passwd: string, user: string): Ids | undefined {
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === user && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

// The provisioning transport for one agent container (created or running).
export class DockerTransport implements ProvisionTransport {
  private constructor(
    private readonly container: EngineContainer,
    private readonly agentUser: string,
    /** Looked up once, side by side with the first transfers. */
    private readonly agentIds: Promise<Ids>,
    private readonly signal?: AbortSignal,
  ) {
    agentIds.catch(() => undefined); // observed here; reported by the call that needs the ids
  }

  // Starts looking up the agent user's uid/gid in the image's /etc/passwd (the image decides
  // them, not us): one archive read, no process in the container.
  static open(container: EngineContainer, agentUser: string, signal?: AbortSignal): DockerTransport {
    const ids = (async (): Promise<Ids> => {
      const passwd = await readRegularFile(container, '/etc/passwd').catch((e: unknown) => {
        throw new Error(`reading the agent image's /etc/passwd: ${engineMessage(e)}`, { cause: e });
      });
      const found = passwd && passwdIds(passwd.content.toString('utf8'), agentUser);
      if (!found) throw new Error(`the agent image has no user ${agentUser} (not in its /etc/passwd); build it with \`bottle images build\``);
      return found;
    })();
    return new DockerTransport(container, agentUser, ids, signal);
  }

  private async ids(owner: Principal): Promise<Ids> {
    return owner === 'root' ? { uid: 0, gid: 0 } : this.agentIds;
  }

  // Every file in one archive unpacked at `/`.
  async write(files: ProvisionFile[]): Promise<void> {
    const ids = { root: await this.ids('root'), agent: await this.ids('agent') };
    this.signal?.throwIfAborted();
    await this.container.putArchive(tarBuffer(rootedEntries(files, (o) => ids[o])), { path: '/' });
  }

  async copyDir(from: string, path: string, owner: Principal): Promise<void> {
    const { root, rel } = archiveRoot(path);
    const ids = await this.ids(owner);
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

// A small regular file of the container through the archive API (a symlink or a missing path:
// undefined). The engine holds the container's lock until the answer is sent: a big file on a
// slow link would hold up the container's start.
async function readRegularFile(container: EngineContainer, path: string): Promise<{ content: Buffer } | undefined> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path });
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
  const members = await readTarMembers(archive as AsyncIterable<Buffer>);
  const m = members.length === 1 ? members[0] : undefined;
  return m?.type === 'file' ? m : undefined;
}
