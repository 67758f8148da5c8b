// Memory of a running container, read the way `docker stats` reads it, and of each process in
// it (from /proc/<pid>/status): pure parsers over what the engine API and an exec return.

const MIB = 1024 * 1024;

// "12.3 MiB".
export const formatMiB = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;

// The engine's stats object (GET /containers/{id}/stats?stream=false), the part read here.
export interface EngineMemoryStats {
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
}

// What `docker stats` shows as MEM USAGE: usage minus the inactive page cache (cgroup v1:
// total_inactive_file, v2: inactive_file; the docker CLI's calculateMemUsageUnixNoCache),
// plus the parts it is made of, for the table.
export interface ContainerMemory { shown: number; usage: number; inactiveFile: number; anon?: number; cgroup: 'v1' | 'v2' }

export function containerMemory(stats: EngineMemoryStats): ContainerMemory {
  const usage = stats.memory_stats?.usage ?? 0;
  const s = stats.memory_stats?.stats ?? {};
  const v1 = s.total_inactive_file !== undefined;
  const inactiveFile = (v1 ? s.total_inactive_file : s.inactive_file) ?? 0;
  const anon = v1 ? s.total_rss : s.anon;
  return { shown: inactiveFile < usage ? usage - inactiveFile : usage, usage, inactiveFile, ...(anon !== undefined ? { anon } : {}), cgroup: v1 ? 'v1' : 'v2' };
}

// Prints, for every process but the shell running it: a `@@ pid` line, its cmdline (NULs as
// spaces), then its status lines. Run as `sh -c PROC_SCRIPT` in the container.
export const PROC_SCRIPT = 'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue; '
  + 'echo "@@ $p"; tr "\\0" " " < "$d/cmdline" 2>/dev/null; echo; cat "$d/status" 2>/dev/null; done';

// One process: its pid, command line and resident memory (VmRSS = RssAnon + RssFile + RssShmem).
export interface ProcMemory { pid: number; cmdline: string; rss: number; anon: number; file: number }

// Parses PROC_SCRIPT's output; processes that exited mid-read (no VmRSS) are left out.
export function parseProcs(text: string): ProcMemory[] {
  const out: ProcMemory[] = [];
  for (const block of text.split(/^@@ /m).slice(1)) {
    const [head = '', cmdline = '', ...status] = block.split('\n');
    const kb = (key: string): number | undefined => {
      const line = status.find((l) => l.startsWith(`${key}:`));
      const m = line && /(\d+)\s*kB/.exec(line);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const rss = kb('VmRSS');
    if (rss === undefined) continue;
    out.push({ pid: Number(head.trim()), cmdline: cmdline.trim(), rss, anon: kb('RssAnon') ?? 0, file: kb('RssFile') ?? 0 });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

// A short role for a bundle process from its command line: `sidecar gateway` → gateway.
export function processRole(cmdline: string): string {
  if (/^(\S*\/)?tini\b/.test(cmdline)) return 'tini';
  const sidecar = /\bsidecar (\S+)/.exec(cmdline);
  if (sidecar) return sidecar[1]!;
  if (/^(\S*\/)?git(-daemon)?\b.*\bdaemon\b|^(\S*\/)?git-daemon\b/.test(cmdline)) return 'git daemon';
  return cmdline.split(' ')[0]?.split('/').pop() || '?';
}

// Roles made unique in pid order (gateway, gateway#2), so rounds line up by name.
export function labelProcs(procs: readonly ProcMemory[]): Array<ProcMemory & { role: string }> {
  const seen = new Map<string, number>();
  return procs.map((p) => {
    const base = processRole(p.cmdline);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { ...p, role: n === 1 ? base : `${base}#${n}` };
  });
}
