// Finding bottle.yaml (flag, ./, XDG config, built-in example) and loading it as a UserError-
// safe LoadedManifest.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { quote } from 'shell-quote';
import { UserError } from '../errors.js';
import { projectRoot } from '../paths.js';
import { parseManifest } from './parse.js';
import type { LoadedManifest, ManifestIssue, ManifestSource } from './types.js';

export const MANIFEST_FILE = 'bottle.yaml';

// `bottle.yaml:7:3: agents.implementer.promt: unknown key; did you mean prompt?`
export function formatIssue(i: ManifestIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

// A manifest that failed validation; the message is the first issue, `issues` has them all.
export class ManifestError extends UserError {
  override name = 'ManifestError';
  constructor(readonly issues: ManifestIssue[], checkCommand = 'bottle manifest check') {
    const [first, ...rest] = issues;
    const head = first ? formatIssue(first) : 'invalid manifest';
    super(rest.length > 0 ? `${head} (and ${rest.length} more; run ${checkCommand})` : head);
  }
}

export interface LocatedManifest {
  path: string;
  display: string;
  source: ManifestSource;
}

export interface LocateOptions {
  /** The --manifest value, as the user typed it. */
  flag?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The built-in example; defaults to examples/bottle.yaml in the bottle checkout. */
  embedded?: string;
}

// SPEC §3 lookup order: --manifest, ./bottle.yaml, $XDG_CONFIG_HOME/bottle/bottle.yaml, example.
export function locateManifest(opts: LocateOptions): LocatedManifest {
  if (opts.flag !== undefined) {
    const path = resolve(opts.cwd, opts.flag);
    if (!existsSync(path)) throw new UserError(`manifest not found: ${opts.flag} (given with --manifest)`);
    return { path, display: opts.flag, source: 'flag' };
  }
  const local = join(opts.cwd, MANIFEST_FILE);
  if (existsSync(local)) return { path: local, display: MANIFEST_FILE, source: 'cwd' };
  const config = configHome(opts.env);
  if (config) {
    const xdg = join(config, 'bottle', MANIFEST_FILE);
    if (existsSync(xdg)) return { path: xdg, display: xdg, source: 'xdg' };
  }
  const embedded = opts.embedded ?? join(projectRoot(), 'examples', MANIFEST_FILE);
  return { path: embedded, display: join('examples', MANIFEST_FILE), source: 'embedded' };
}

// XDG base dir spec: a relative XDG_CONFIG_HOME is ignored.
export function configHome(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && isAbsolute(xdg)) return xdg;
  return env.HOME ? join(env.HOME, '.config') : undefined;
}

// Reads and validates a located manifest; throws ManifestError listing every issue.
export function readManifest(located: LocatedManifest): LoadedManifest {
  let text: string;
  try {
    if (statSync(located.path).isDirectory()) throw new UserError(`manifest ${located.display} is a directory, not a file`);
    text = readFileSync(located.path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new UserError(`cannot read manifest ${located.display}: ${code}`);
  }
  const result = parseManifest(text, located.display);
  if (!result.manifest) {
    const check = located.source === 'flag' ? `bottle manifest check --manifest ${quote([located.display])}` : undefined;
    throw new ManifestError(result.issues, check);
  }
  return { ...located, manifest: result.manifest, positions: result.positions };
}

// Locate + read in one step, for verbs that just need the manifest in use.
export function loadManifest(opts: LocateOptions): LoadedManifest {
  return readManifest(locateManifest(opts));
}

// The stderr line telling the operator which manifest a verb is using.
export function manifestNotice(m: LocatedManifest): string {
  switch (m.source) {
    case 'flag':
      return `bottle: using manifest ${m.display}`;
    case 'cwd':
      return `bottle: using manifest ./${MANIFEST_FILE}`;
    case 'xdg':
      return `bottle: using manifest ${m.display} (no ./${MANIFEST_FILE} here)`;
    case 'embedded':
      return `bottle: using manifest ${m.display} (built-in example; create ./${MANIFEST_FILE} to use your own)`;
  }
}
