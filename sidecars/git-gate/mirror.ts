// The bare repos the agent talks to: created from the upstreams list, refreshed from upstream,
// and wired to the gate's hooks.
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { quote } from 'shell-quote';
import { projectRoot } from '../../lib/paths.js';
import type { Runner } from '../../lib/run/index.js';
import type { GateEvent } from './decisions.js';
import { authFor, fetchArgs, gitArgv, lsRemoteHeadArgs, parseSymref } from './git.js';
import { readSettings, settingsConfigArgs, type RepoSettings } from './settings.js';

// node + hook-main, from dist (plain node; the bundled entry, see scripts/build.mjs) or from
// source (node with the tsx loader): absolute paths, so hooks work whatever PATH git hands them.
export function hookEntryArgv(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return [process.execPath, join(projectRoot(), 'dist', 'sidecars', 'git-gate', 'hook-main.js')];
  const tsx = pathToFileURL(join(projectRoot(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  return [process.execPath, '--import', tsx, join(dirname(here), 'hook-main.ts')];
}

// A hook script: exec the entry with the hook kind, passing git's arguments through.
export function hookScript(entry: string[], kind: 'pre-receive' | 'access'): string {
  return `#!/bin/sh\n# Written by bottle's git-gate at every start; edits are overwritten.\nexec ${quote([...entry, kind])} "$@"\n`;
}

export function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o755 });
  chmodSync(path, 0o755); // mode applies only when the file is created
}

// git's own verdict ("fatal: ..."), not the boilerplate it prints after it.
function gist(text: string, n = 2): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const key = lines.filter((l) => /^(fatal|error):/.test(l));
  return (key.length ? key : lines).slice(-n).join(' | ');
}

// Fetches upstream's branches and tags into the mirror; returns why it failed, or undefined.
export async function refreshMirror(run: Runner, gitDir: string, s: RepoSettings): Promise<string | undefined> {
  const auth = authFor(s);
  const r = await run(gitArgv(gitDir, auth, fetchArgs(s.upstream)), { probe: true, env: auth.env, timeoutMs: s.fetchTimeoutMs });
  if (!r.failed) return undefined;
  if (r.timedOut) return `fetch from upstream timed out after ${Math.round(s.fetchTimeoutMs / 1000)} s`;
  return `fetch from upstream failed: ${gist(r.stderr) || `exit ${r.exitCode}`}`;
}

// Creates (or re-configures) <reposDir>/<name>.git and refreshes it; a failed refresh is returned,
// not thrown, so one unreachable upstream does not keep the others from being served.
export async function ensureMirror(run: Runner, reposDir: string, s: RepoSettings, hook: string): Promise<{ path: string; error?: string }> {
  const path = join(reposDir, `${s.name}.git`);
  if (!existsSync(join(path, 'HEAD'))) await run(['git', 'init', '--bare', '--quiet', path]);
  await run(gitArgv(path, undefined, ['config', '--remove-section', 'gitgate']), { probe: true });
  for (const args of settingsConfigArgs(s)) await run(gitArgv(path, undefined, args));
  await run(gitArgv(path, undefined, ['config', 'receive.fsckObjects', 'true']));
  writeExecutable(join(path, 'hooks', 'pre-receive'), hook);
  const error = await refreshMirror(run, path, s);
  if (error) return { path, error };
  const auth = authFor(s);
  const head = await run(gitArgv(path, auth, lsRemoteHeadArgs(s.upstream)), { probe: true, env: auth.env, timeoutMs: s.fetchTimeoutMs });
  const target = parseSymref(head.stdout);
  if (target) await run(gitArgv(path, undefined, ['symbolic-ref', 'HEAD', target]));
  return { path };
}

export interface AccessDeps {
  run: Runner;
  /** Text for the client; git daemon sends the hook's stdout only when it declines. */
  out: (line: string) => void;
  record: (event: GateEvent, s: RepoSettings) => void;
  now?: () => Date;
}

// git daemon's --access-hook, run before every service: refresh the mirror so a fetch returns
// what upstream has now (and a push is checked against it). Bounded by fetchTimeoutMs; when
// upstream is unreachable the last good state is served and the failure is logged.
export async function accessHook(service: string, repoPath: string, deps: AccessDeps): Promise<number> {
  const s = await readSettings(deps.run, repoPath);
  if (!s) {
    deps.out(`git-gate: ${basename(repoPath)} is not served by this gate`);
    return 1;
  }
  if (service === 'upload-pack' || service === 'receive-pack') {
    const error = await refreshMirror(deps.run, repoPath, s);
    if (error) deps.record({ event: 'refresh-failed', time: (deps.now?.() ?? new Date()).toISOString(), repo: s.name, error }, s);
  }
  return 0;
}
