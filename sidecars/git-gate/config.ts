// The git gate's upstreams file: which repos it serves and where each one really lives.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../../lib/errors.js';
import { fingerprintProblem } from '../../lib/secrets/fingerprint.js';

// How the gate reaches an upstream; decides which credential mechanism applies.
export type UpstreamKind = 'ssh' | 'https' | 'http' | 'git' | 'file';

// One served repo: the agent sees git://git-gate/<name>.git, the gate talks to `upstream`.
export interface Upstream {
  name: string;
  upstream: string;
  kind: UpstreamKind;
  /** Absolute path of an SSH private key (ssh upstreams only). */
  identityFile?: string;
  /** Name of the env var holding an HTTPS token (https upstreams only); the value is never stored. */
  tokenEnv?: string;
  /** Finding fingerprints of known-harmless values (the operator's dlp.ignore): not a reason to reject. */
  dlpIgnore?: string[];
  /** Push review: a clean push is held for the operator up to this long (review.ts). */
  reviewHoldMs?: number;
}

// The longest a push may be held for review: longer, and the agent's connection is the risk.
export const MAX_REVIEW_HOLD_MS = 24 * 3600_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SCP_LIKE = /^(?:[^@/\s]+@)?[^:/\s]+:(?!\/\/)/;
const KEYS = new Set(['name', 'upstream', 'identityFile', 'tokenEnv', 'dlpIgnore', 'reviewHoldMs']);

// Classifies an upstream URL the way git does (scp-like `host:path` is ssh); undefined if unsupported.
export function upstreamKind(url: string): UpstreamKind | undefined {
  if (url.startsWith('/')) return 'file';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git') return 'ssh';
  if (scheme === 'https' || scheme === 'http' || scheme === 'git' || scheme === 'file') return scheme;
  if (!scheme && SCP_LIKE.test(url)) return 'ssh';
  return undefined;
}

// A password in the URL would reach argv and logs; tokens belong in tokenEnv.
function hasPassword(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url);
}

function fail(where: string, what: string): never {
  throw new UserError(`${where}: ${what}`);
}

// Validates parsed data (a list of entries); `where` names the file in messages, `baseDir` resolves identityFile.
export function validateUpstreams(data: unknown, where: string, baseDir: string): Upstream[] {
  const list = Array.isArray(data) ? data : (data as { upstreams?: unknown } | null)?.upstreams;
  if (!Array.isArray(list)) fail(where, 'expected a list of {name, upstream, identityFile?, tokenEnv?, dlpIgnore?, reviewHoldMs?} (or {upstreams: [...]})');
  const seen = new Set<string>();
  return list.map((raw: unknown, i) => {
    const at = `${where}: entry ${i + 1}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(at, 'expected an object with name and upstream');
    const e = raw as Record<string, unknown>;
    const unknownKey = Object.keys(e).find((k) => !KEYS.has(k));
    if (unknownKey) fail(at, `unknown key "${unknownKey}" (allowed: ${[...KEYS].join(', ')})`);
    const str = (k: string): string | undefined => {
      if (e[k] === undefined) return undefined;
      if (typeof e[k] !== 'string' || !e[k]) fail(at, `${k} must be a non-empty string`);
      return e[k] as string;
    };
    const name = str('name') ?? fail(at, 'missing "name" (the repo is served as git://git-gate/<name>.git)');
    if (!NAME.test(name) || name.endsWith('.git')) {
      fail(at, `name "${name}" must be letters, digits, ".", "_" or "-" (no slashes, no .git suffix)`);
    }
    if (seen.has(name)) fail(at, `duplicate name "${name}"`);
    seen.add(name);
    const upstream = str('upstream') ?? fail(at, `missing "upstream" for "${name}" (ssh, https, git:// URL or absolute path)`);
    const kind = upstreamKind(upstream)
      ?? fail(at, `upstream "${upstream}" of "${name}": expected ssh://, user@host:path, https://, git://, file:// or an absolute path`);
    if (hasPassword(upstream)) fail(at, `upstream of "${name}" has a password in the URL; put the token in an env var and name it in tokenEnv`);
    const identity = str('identityFile');
    if (identity && kind !== 'ssh') fail(at, `identityFile is for ssh upstreams; "${name}" is ${kind}`);
    const tokenEnv = str('tokenEnv');
    if (tokenEnv && kind !== 'https') fail(at, `tokenEnv is for https upstreams; "${name}" is ${kind} (a token over ${kind} would leak)`);
    if (tokenEnv && !ENV_NAME.test(tokenEnv)) fail(at, `tokenEnv "${tokenEnv}" is not an env var name`);
    const dlpIgnore = e.dlpIgnore;
    if (dlpIgnore !== undefined && !Array.isArray(dlpIgnore)) fail(at, 'dlpIgnore must be a list of finding fingerprints');
    for (const fp of dlpIgnore ?? []) {
      const problem = typeof fp === 'string' ? fingerprintProblem(fp) : 'dlpIgnore entries must be strings';
      if (problem) fail(at, `dlpIgnore: ${problem}`);
    }
    const hold = e.reviewHoldMs;
    if (hold !== undefined && (typeof hold !== 'number' || !Number.isInteger(hold) || hold < 1000 || hold > MAX_REVIEW_HOLD_MS)) {
      fail(at, `reviewHoldMs must be a whole number of milliseconds from 1000 to ${MAX_REVIEW_HOLD_MS}`);
    }
    return {
      name,
      upstream,
      kind,
      ...(identity ? { identityFile: isAbsolute(identity) ? identity : resolve(baseDir, identity) } : {}),
      ...(tokenEnv ? { tokenEnv } : {}),
      ...(dlpIgnore?.length ? { dlpIgnore: dlpIgnore as string[] } : {}),
      ...(hold !== undefined ? { reviewHoldMs: hold as number } : {}),
    };
  });
}

// Parses JSON or YAML text (YAML is a superset, but JSON errors read better from JSON.parse).
export function parseUpstreams(text: string, where: string, baseDir: string): Upstream[] {
  let data: unknown;
  try {
    data = text.trimStart().startsWith('[') || text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    fail(where, `not valid JSON/YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return validateUpstreams(data, where, baseDir);
}

// Reads and validates the --upstreams file.
export function loadUpstreams(file: string): Upstream[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`--upstreams ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass a JSON or YAML list of {name, upstream}`);
  }
  return parseUpstreams(text, file, dirname(resolve(file)));
}
