// What a workspace does not bring into a bottle, said before start and in its dry run. The
// bottle gets the repository's .git and checks out HEAD (lib/backends/bundle/provision.ts), so
// every uncommitted change stays on the host; and a push needs a remote to go to.
import type { Runner } from '../run/index.js';
import type { BottlePlan } from './prepare.js';

// `git status` in a machine format: NUL-separated entries, every untracked file listed.
export function gitStatusArgv(dir: string): string[] {
  return ['git', '-C', dir, 'status', '--porcelain=v1', '-z', '--untracked-files=all'];
}

// Every remote's URL as `remote.<name>.url <url>` lines (exit 1 when there is none).
export function gitRemoteUrlsArgv(dir: string): string[] {
  return ['git', '-C', dir, 'config', '--get-regexp', '^remote\\..*\\.url$'];
}

export interface WorkspaceState {
  /** Tracked files with changes, staged or not. */
  changed: number;
  untracked: number;
  remotes: string[];
}

// Pure: counts of `git status --porcelain=v1 -z` (a rename or copy carries its source as an
// extra field, skipped).
export function parseStatus(z: string): Pick<WorkspaceState, 'changed' | 'untracked'> {
  const fields = z.split('\0');
  let changed = 0;
  let untracked = 0;
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    const xy = entry.slice(0, 2);
    if (xy === '??') untracked++;
    else if (xy !== '!!') changed++;
    if (/[RC]/.test(xy[0]!)) i++;
  }
  return { changed, untracked };
}

// Pure: remote names from `git config --get-regexp '^remote\..*\.url$'`.
export function parseRemotes(text: string): string[] {
  return text.split('\n').map((l) => /^remote\.(.+)\.url /.exec(l)?.[1]).filter((n): n is string => n !== undefined);
}

// The workspace's state, or undefined when git cannot tell (no git, not a checkout: planErrors
// has said so already).
export async function readWorkspace(run: Runner, dir: string, env: NodeJS.ProcessEnv): Promise<WorkspaceState | undefined> {
  const opts = { probe: true, env, timeoutMs: 10_000 } as const;
  try {
    const [status, remotes] = await Promise.all([run(gitStatusArgv(dir), opts), run(gitRemoteUrlsArgv(dir), opts)]);
    if (status.exitCode !== 0) return undefined;
    return { ...parseStatus(status.stdout), remotes: remotes.exitCode === 0 ? parseRemotes(remotes.stdout) : [] };
  } catch {
    return undefined;
  }
}

// Pure: the warnings for a workspace in this state (none when it is clean and has an origin).
export function workspaceWarnings(dir: string, s: WorkspaceState): string[] {
  const lines: string[] = [];
  const total = s.changed + s.untracked;
  if (total > 0) {
    const parts = [s.changed > 0 ? `${s.changed} changed` : '', s.untracked > 0 ? `${s.untracked} untracked` : ''].filter(Boolean).join(', ');
    const one = total === 1;
    lines.push(`warning: workspace ${dir}: ${total} uncommitted ${one ? 'file' : 'files'} (${parts}) ${one ? 'stays' : 'stay'} on the host: the bottle checks out the last commit; commit first to take ${one ? 'it' : 'them'} along`);
  }
  if (s.remotes.length === 0) {
    lines.push(`warning: workspace ${dir} has no remote: the agent will have no remote to push to (git remote add origin URL on the host, with URL as one of the agent's git: upstreams)`);
  } else if (!s.remotes.includes('origin')) {
    lines.push(`warning: workspace ${dir} has no origin remote (only ${s.remotes.join(', ')}): a plain git push in the bottle has nowhere to go`);
  }
  return lines;
}

// The plan's workspace warnings (none without a workspace).
export async function planWorkspaceWarnings(plan: Pick<BottlePlan, 'workspace'>, run: Runner, env: NodeJS.ProcessEnv): Promise<string[]> {
  if (plan.workspace === undefined) return [];
  const state = await readWorkspace(run, plan.workspace, env);
  return state ? workspaceWarnings(plan.workspace, state) : [];
}
