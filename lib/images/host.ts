// What the host tells an image build: which extra CA bundle to trust, which npm registry to
// use, which proxies to pass on. Decisions are pure (env, npm config and a file probe are
// inputs); readNpmConfig is the one place that asks npm, through the runner.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Runner } from '../run/index.js';

// Where the CA file came from, in the order they are consulted.
export type CaSource = '--ca-file' | 'NODE_EXTRA_CA_CERTS' | 'SSL_CERT_FILE' | 'npm cafile' | 'none';

// The chosen bundle (path undefined = build without an extra CA) and candidates passed over.
export interface CaChoice {
  path?: string;
  source: CaSource;
  skipped: { source: CaSource; path: string; why: string }[];
}

// The npm settings a build needs; undefined when npm has none (or is not installed).
export interface NpmConfig { registry?: string; cafile?: string }

// Everything the CA choice depends on, injected so the order can be tested without files.
export interface CaInputs {
  flag?: string;
  env: Record<string, string | undefined>;
  npm: NpmConfig;
  cwd: string;
  /** Whether a path is a readable regular file; injected for tests. */
  isFile?: (path: string) => boolean;
}

const isRegularFile = (path: string): boolean => {
  try { return existsSync(path) && statSync(path).isFile(); } catch { return false; }
};

// --ca-file, else NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, npm's cafile; a named-but-missing file
// is an error for the flag (the operator typed it) and a skipped candidate otherwise.
export function selectCaFile(inputs: CaInputs): CaChoice {
  const isFile = inputs.isFile ?? isRegularFile;
  if (inputs.flag !== undefined) {
    const path = resolve(inputs.cwd, inputs.flag);
    if (!isFile(path)) throw new UserError(`--ca-file ${inputs.flag}: no such file; give a PEM bundle (e.g. your proxy's CA)`);
    return { path, source: '--ca-file', skipped: [] };
  }
  const candidates: [CaSource, string | undefined][] = [
    ['NODE_EXTRA_CA_CERTS', inputs.env.NODE_EXTRA_CA_CERTS],
    ['SSL_CERT_FILE', inputs.env.SSL_CERT_FILE],
    ['npm cafile', inputs.npm.cafile],
  ];
  const skipped: CaChoice['skipped'] = [];
  for (const [source, value] of candidates) {
    if (!value) continue;
    const path = resolve(inputs.cwd, value);
    if (isFile(path)) return { path, source, skipped };
    skipped.push({ source, path, why: 'not a readable file' });
  }
  return { source: 'none', skipped };
}

// One line for the build log: which CA and why.
export function describeCa(choice: CaChoice): string {
  const notes = choice.skipped.map((s) => `; ignored ${s.source}=${s.path} (${s.why})`).join('');
  return choice.path
    ? `extra CA: ${choice.path} (from ${choice.source})${notes}`
    : `extra CA: none (no --ca-file, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE or npm cafile)${notes}`;
}

// `npm config get` prints "null"/"undefined" for unset keys.
export function parseNpmValue(stdout: string): string | undefined {
  const v = stdout.trim().split('\n').pop()?.trim();
  return !v || v === 'null' || v === 'undefined' ? undefined : v;
}

// Reads registry and cafile from the host's npm config (user/global .npmrc, env).
export async function readNpmConfig(run: Runner, cwd: string): Promise<NpmConfig> {
  const get = async (key: string): Promise<string | undefined> => {
    try {
      const r = await run(['npm', 'config', 'get', key], { probe: true, cwd, timeoutMs: 15_000 });
      return r.exitCode === 0 ? parseNpmValue(r.stdout) : undefined;
    } catch {
      return undefined; // npm not installed: builds fall back to npm's default registry
    }
  };
  const [registry, cafile] = await Promise.all([get('registry'), get('cafile')]);
  return { ...(registry && { registry }), ...(cafile && { cafile }) };
}

// Build args keep their values in `docker history`: drop any user:password from the URL.
export function registryBuildArg(registry: string | undefined): { value: string; note?: string } {
  if (!registry) return { value: '' };
  try {
    const url = new URL(registry);
    if (!url.username && !url.password) return { value: registry };
    url.username = '';
    url.password = '';
    return { value: url.toString(), note: 'credentials removed from the registry URL (they would persist in the image history)' };
  } catch {
    return { value: '', note: `npm registry ${JSON.stringify(registry)} is not a URL; using npm's default` };
  }
}

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;

// Docker's predefined proxy build args: used by RUN steps, never stored in the image history.
export function proxyBuildArgs(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROXY_VARS) {
    const v = env[name];
    if (v) out[name] = v;
  }
  return out;
}
