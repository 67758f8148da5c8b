// Pure argv builders for every git command the gate runs, and the per-upstream credentials
// (as -c flags and env entries that name secrets but never carry them).
import { quote } from 'shell-quote';
import type { Upstream } from './config.js';

export const ZERO = /^0+$/;

// One line of pre-receive stdin: `ref` moves from `old` to `new` (40 zeros = absent).
export interface RefUpdate {
  old: string;
  new: string;
  ref: string;
}

// What a git invocation needs to reach an upstream as the host-side identity.
export interface Auth {
  config: string[];
  env: Record<string, string>;
}

export const isDeletion = (u: RefUpdate): boolean => ZERO.test(u.new);
export const isCreation = (u: RefUpdate): boolean => ZERO.test(u.old);

// SSH uses the bundle's key only (IdentitiesOnly) and never prompts; HTTPS reads the token from
// the env var *by name* inside the helper's shell, so the value is in neither argv nor a file.
export function authFor(u: Pick<Upstream, 'kind' | 'identityFile' | 'tokenEnv'>): Auth {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  const config: string[] = [];
  if (u.kind === 'ssh') {
    env.GIT_SSH_COMMAND = [
      'ssh',
      ...(u.identityFile ? ['-i', quote([u.identityFile]), '-o', 'IdentitiesOnly=yes'] : []),
      '-o', 'StrictHostKeyChecking=accept-new', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15',
    ].join(' ');
  }
  if (u.kind === 'https' && u.tokenEnv) {
    // The empty value first resets helpers from any other config level.
    config.push('-c', 'credential.helper=', '-c',
      `credential.helper=!f() { echo username=x-access-token; echo "password=$${u.tokenEnv}"; }; f`);
  }
  return { config, env };
}

// `git --git-dir <dir> [-c ...] <args>`: every command names its repo explicitly.
export function gitArgv(gitDir: string, auth: Auth | undefined, args: string[]): string[] {
  return ['git', '--git-dir', gitDir, ...(auth?.config ?? []), ...args];
}

// Mirror refresh: branches and tags exactly as upstream has them (deleted upstream = deleted here).
export function fetchArgs(url: string): string[] {
  return ['fetch', '--prune', '--quiet', '--no-write-fetch-head', url, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
}

// Upstream's default branch, to point the mirror's HEAD at it.
export function lsRemoteHeadArgs(url: string): string[] {
  return ['ls-remote', '--symref', url, 'HEAD'];
}

// Parses `ls-remote --symref` output for HEAD's target ("ref: refs/heads/main\tHEAD").
export function parseSymref(stdout: string): string | undefined {
  return /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(stdout)?.[1];
}

// The pushed range as a patch. `--not --all` also drops commits the gate already has on other
// refs (they came from upstream or passed this hook before), so only new commits are scanned.
// --cc shows a merge's own lines (those in no parent, "++") rather than re-showing merged work;
// --full-index names each new blob, so the object scan knows which blobs the diff covered.
// Messages are not asked for: they are scanned raw, from the commit objects.
export function logArgs(u: RefUpdate): string[] {
  return [
    'log', '-p', '-U0', '--cc', '-M', '--full-index', '--no-color', '--no-ext-diff', '--no-textconv',
    '--src-prefix=a/', '--dst-prefix=b/', '--format=%x00%H',
    u.new, ...(isCreation(u) ? [] : [`^${u.old}`]), '--not', '--all', '--',
  ];
}

// Probe: does the pushed object peel to a commit (so there is history to diff)?
export function peelCommitArgs(u: RefUpdate): string[] {
  return ['rev-parse', '--verify', '--quiet', `${u.new}^{commit}`];
}

// Every object reachable from the pushed value that the gate does not have yet (commits, trees,
// blobs, tags, whatever the ref points at), one id per line.
export function revListArgs(u: RefUpdate): string[] {
  return ['rev-list', '--objects', '--no-object-names', u.new, '--not', '--all', '--'];
}

// Reads objects named on stdin, raw (`<id> <type> <size>` then the bytes): no transcoding.
export function catFileArgs(): string[] {
  return ['cat-file', '--batch'];
}

// One push carrying every ref of the agent's push. A non-fast-forward or deletion is leased on
// the old value the agent saw: forced only if upstream still has exactly that (safer than `+`,
// which would also overwrite commits that reached upstream after the mirror was refreshed).
export function pushArgs(url: string, updates: Array<RefUpdate & { ff: boolean }>, atomic: boolean): string[] {
  const leases = updates
    .filter((u) => !isCreation(u) && (isDeletion(u) || !u.ff))
    .map((u) => `--force-with-lease=${u.ref}:${u.old}`);
  const specs = updates.map((u) => (isDeletion(u) ? `:${u.ref}` : `${u.new}:${u.ref}`));
  return ['push', ...(atomic ? ['--atomic'] : []), ...leases, url, ...specs];
}

export interface DaemonArgvOptions {
  daemonBin: string;
  host: string;
  port: number;
  reposDir: string;
  accessHook: string;
  /** Repos to serve (absolute, real paths); anything else under reposDir is refused. */
  repos: string[];
}

// The real git daemon. --access-hook is run through the shell by git, hence quoted.
export function daemonArgv(o: DaemonArgvOptions): string[] {
  return [
    o.daemonBin, '--reuseaddr', `--base-path=${o.reposDir}`, '--export-all', '--enable=receive-pack',
    `--listen=${o.host}`, `--port=${o.port}`, '--informative-errors', '--verbose',
    `--access-hook=${quote([o.accessHook])}`, ...o.repos,
  ];
}
