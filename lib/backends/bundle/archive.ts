// How both provisioning transports lay files out for the agent: tar archives unpacked at a root
// that exists in the agent image, with owners and modes in the headers (Docker putArchive and
// smolvm `machine cp` + tar both unpack these, so no chown is ever needed).
import { posix } from 'node:path';
import { AGENT_PATHS } from './names.js';
import type { Principal } from './provision.js';
import type { TarEntry } from './tar.js';

// Numeric owner of provisioned files (the agent user's, or root's).
export interface Ids { uid: number; gid: number }

// The bundle user ("uid:gid", or a bare uid) as owner ids of what is uploaded into the bundle.
export function bundleIds(bundleUser: string): Ids {
  const [uid = 0, gid] = bundleUser.split(':').map((n) => Number(n) || 0);
  return { uid, gid: gid ?? uid };
}

// Who owns what the bundle may read but must not change (policy, CA, decisions, its config):
// another uid than the bundle's, with the bundle's group, so the bundle reads through the group
// and, with no capability, can neither write, rename nor chmod it. (A read-only mount did this
// when the bundle mounted host dirs.)
export function keeperIds(bundle: Ids): Ids {
  return { uid: bundle.uid === 0 ? 65534 : 0, gid: bundle.gid };
}

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

// Files to write, grouped into tar entries (with their parent dirs) per archive root, owned
// by `idsOf(owner)`.
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

// The same as one archive unpacked at `/`: each root's entries under its path. The roots
// themselves are no members (they exist in the image, and keep their owner and mode).
export function rootedEntries(
  files: Array<{ path: string; content: Buffer; mode: number; owner: Principal }>,
  idsOf: (owner: Principal) => Ids,
): TarEntry[] {
  const out: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const [root, entries] of entriesByRoot(files, idsOf)) {
    for (const e of entries) {
      const path = [root.replace(/^\/+|\/+$/g, ''), e.path].filter(Boolean).join('/');
      if (e.type === 'dir' && dirs.has(path)) continue;
      if (e.type === 'dir') dirs.add(path);
      out.push({ ...e, path });
    }
  }
  return out;
}
