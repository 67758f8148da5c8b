// Saving a bottle's work into its state dir, and putting it back into a new agent: claude's
// session files (all of them, so any session can be resumed), the commits in /workspace that
// are on no remote-tracking ref (a git bundle), the uncommitted changes (a binary patch, new
// files included) and, for a workspace that is not a git checkout, its files. The scripts run
// in the agent as the agent user; what comes out is untrusted data (strict tar extraction,
// size-capped) and is only ever put back into an agent or written out by `bottle export`.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backends/types.js';
import { AGENT_PATHS } from '../backends/bundle/names.js';
import { bottlePaths, type Metadata } from '../state/index.js';

// Where the scripts stage their files inside the agent.
export const AGENT_SAVE_DIR = '/tmp/bottle-save';
// Under the agent's home: provisioning unpacks archives only below directories the image has.
export const AGENT_RESTORE_DIR = `${AGENT_PATHS.home}/.bottle/restore`;

// $1 workspace, $2 claude projects dir, $3 output dir. Exit 0 with the output dir complete, or
// non-zero with a reason on stderr: a save that cannot hold the work must not look like one.
export const SAVE_SCRIPT = `set -u
ws=$1 projects=$2 out=$3
rm -rf "$out" && mkdir -p "$out/git" "$out/claude" || exit 1
if [ -d "$projects" ]; then
  cp -R "$projects" "$out/claude/projects" || { echo "copying claude sessions failed" >&2; exit 1; }
  last=$(ls -t "$projects"/*/*.jsonl 2>/dev/null | head -n 1)
  [ -n "$last" ] && basename "$last" .jsonl > "$out/claude/last-session"
fi
cd "$ws" 2>/dev/null || exit 0
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1 || [ "$(git rev-parse --show-toplevel)" != "$(pwd -P)" ]; then
  if [ -n "$(ls -A)" ]; then
    mkdir -p "$out/files" && cp -R ./. "$out/files/" || { echo "copying the workspace files failed" >&2; exit 1; }
  fi
  exit 0
fi
git symbolic-ref -q HEAD > "$out/git/HEAD" || git rev-parse -q --verify HEAD > "$out/git/HEAD" || rm -f "$out/git/HEAD"
if git rev-parse -q --verify HEAD >/dev/null; then
  base=HEAD
  n=$(git rev-list --count --branches --tags HEAD --not --remotes) || { echo "git rev-list failed" >&2; exit 1; }
  echo "$n" > "$out/git/commits"
  if [ "$n" -gt 0 ]; then
    git bundle create "$out/git/work.bundle" --branches --tags HEAD --not --remotes >/dev/null 2>"$out/git/bundle.err" \\
      || { cat "$out/git/bundle.err" >&2; echo "git bundle failed with $n commit(s) to save" >&2; exit 1; }
    rm -f "$out/git/bundle.err"
  fi
else
  base=$(git hash-object -t tree /dev/null)
  echo 0 > "$out/git/commits"
fi
idx="$out/git/index.tmp"
cp "$(git rev-parse --git-path index)" "$idx" 2>/dev/null || rm -f "$idx"
GIT_INDEX_FILE="$idx" git add -A >/dev/null 2>"$out/git/add.err" || { cat "$out/git/add.err" >&2; exit 1; }
GIT_INDEX_FILE="$idx" git diff --cached --binary "$base" > "$out/git/uncommitted.patch" || exit 1
GIT_INDEX_FILE="$idx" git diff --cached --name-only "$base" | wc -l > "$out/git/changed"
rm -f "$idx" "$out/git/add.err"
[ -s "$out/git/uncommitted.patch" ] || rm -f "$out/git/uncommitted.patch"
exit 0
`;

// $1 workspace, $2 restore dir (a copy of the saved dir). The fresh workspace (the host .git,
// checked out) gets the saved commits, the saved HEAD and the uncommitted changes on top.
export const RESTORE_SCRIPT = `set -eu
ws=$1 in=$2
cd "$ws"
if [ -d "$in/files" ]; then cp -R "$in/files/." "$ws/"; rm -rf "$in"; exit 0; fi
if [ ! -d "$in/git" ]; then rm -rf "$in"; exit 0; fi
if [ -f "$in/git/work.bundle" ]; then
  if ! git bundle verify -q "$in/git/work.bundle" >/dev/null 2>&1; then
    echo "the saved commits build on history the workspace no longer has ($(git bundle list-heads "$in/git/work.bundle" 2>/dev/null | wc -l) ref(s)); bottle export gives you the bundle" >&2
    exit 3
  fi
  git fetch -q --update-head-ok "$in/git/work.bundle" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
fi
head=$(cat "$in/git/HEAD" 2>/dev/null || true)
case "$head" in
  refs/heads/*)
    if git rev-parse -q --verify "$head" >/dev/null; then git symbolic-ref HEAD "$head" && git reset -q --hard; fi ;;
  "") ;;
  *) git -c advice.detachedHead=false checkout -q -f --detach "$head" ;;
esac
if [ -f "$in/git/uncommitted.patch" ]; then git apply --binary --whitespace=nowarn "$in/git/uncommitted.patch"; fi
rm -rf "$in"
`;

// What a save holds, as `saved/summary.json` records it (ls, rm's confirmation, export).
export interface SavedSummary {
  savedAt: string;
  /** Commits on no remote-tracking ref (in work.bundle). */
  commits: number;
  /** Paths with uncommitted changes (in uncommitted.patch). */
  changedFiles: number;
  /** Claude sessions (JSONL files) saved. */
  sessions: number;
  /** The most recently written session id. */
  lastSession?: string;
  /** The workspace was not a git checkout: its files were saved as they are. */
  plainFiles?: boolean;
}

const number = (file: string): number => {
  const n = Number.parseInt(existsSync(file) ? readFileSync(file, 'utf8').trim() : '0', 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
};

// Session files under a saved claude/projects dir (ids are UUIDs; anything else is ignored).
export function savedSessions(dir: string): string[] {
  const projects = join(dir, 'claude', 'projects');
  if (!existsSync(projects)) return [];
  const ids: string[] = [];
  for (const p of readdirSync(projects, { withFileTypes: true })) {
    if (!p.isDirectory()) continue;
    for (const f of readdirSync(join(projects, p.name))) {
      const m = /^([0-9a-f-]{36})\.jsonl$/.exec(f);
      if (m) ids.push(m[1]!);
    }
  }
  return ids.sort();
}

function summarize(dir: string, now: Date): SavedSummary {
  const sessions = savedSessions(dir);
  const last = existsSync(join(dir, 'claude', 'last-session')) ? readFileSync(join(dir, 'claude', 'last-session'), 'utf8').trim() : '';
  return {
    savedAt: now.toISOString(),
    commits: number(join(dir, 'git', 'commits')),
    changedFiles: number(join(dir, 'git', 'changed')),
    sessions: sessions.length,
    ...(sessions.includes(last) ? { lastSession: last } : {}),
    ...(existsSync(join(dir, 'files')) ? { plainFiles: true } : {}),
  };
}

// The summary of a bottle's saved work, if it has any.
export function readSavedSummary(root: string, slug: string): SavedSummary | undefined {
  const file = join(bottlePaths(root, slug).saved, 'summary.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SavedSummary;
  } catch {
    return undefined;
  }
}

// One line of what a save holds ("2 commits, 3 changed files, 1 claude session").
export function describeSaved(s: SavedSummary): string {
  const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
  const parts = s.plainFiles ? ['the workspace files'] : [plural(s.commits, 'unpushed commit'), plural(s.changedFiles, 'uncommitted file')];
  return [...parts, plural(s.sessions, 'claude session')].join(', ');
}

// Saves the agent's work into <state>/saved, replacing an earlier save only once the new one is
// complete (a failed save leaves the previous one as it was). Throws with the reason.
export async function saveWork(backend: Backend, root: string, meta: Metadata, now: Date = new Date()): Promise<SavedSummary> {
  const paths = bottlePaths(root, meta.slug);
  const r = await backend.exec(meta, ['sh', '-c', SAVE_SCRIPT, 'bottle-save', AGENT_PATHS.workspace, AGENT_PATHS.transcripts, AGENT_SAVE_DIR]);
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-2).join('; ');
    throw new Error(`saving the work in ${meta.slug} failed (exit ${r.exitCode}${why ? `: ${why}` : ''})`);
  }
  const tmp = join(paths.dir, `.saving-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    await backend.copyOut(meta, AGENT_SAVE_DIR, tmp);
    const got = join(tmp, 'bottle-save');
    if (!existsSync(got) || !statSync(got).isDirectory()) throw new Error(`saving the work in ${meta.slug}: nothing came out of ${AGENT_SAVE_DIR}`);
    const summary = summarize(got, now);
    await writeFile(join(got, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o600 });
    const old = `${paths.saved}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = existsSync(paths.saved);
    if (hadOld) await rename(paths.saved, old);
    await rename(got, paths.saved);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return summary;
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await backend.exec(meta, ['rm', '-rf', AGENT_SAVE_DIR]).catch(() => undefined);
  }
}

// Puts saved work into a freshly launched agent: the claude sessions where claude looks for
// them, then the workspace (see RESTORE_SCRIPT). Throws with the reason; the caller tears down.
export async function restoreWork(backend: Backend, root: string, meta: Metadata): Promise<SavedSummary | undefined> {
  const saved = bottlePaths(root, meta.slug).saved;
  const summary = readSavedSummary(root, meta.slug);
  if (!summary) return undefined;
  const projects = join(saved, 'claude', 'projects');
  if (existsSync(projects)) await backend.copyIn(meta, projects, AGENT_PATHS.transcripts);
  const hasWork = ['git', 'files'].some((d) => existsSync(join(saved, d)));
  if (!hasWork) return summary;
  for (const d of ['git', 'files']) {
    if (existsSync(join(saved, d))) await backend.copyIn(meta, join(saved, d), `${AGENT_RESTORE_DIR}/${d}`);
  }
  const r = await backend.exec(meta, ['sh', '-c', RESTORE_SCRIPT, 'bottle-restore', AGENT_PATHS.workspace, AGENT_RESTORE_DIR]);
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-2).join('; ');
    throw new Error(`restoring the saved work failed (exit ${r.exitCode}${why ? `: ${why}` : ''})`);
  }
  return summary;
}
