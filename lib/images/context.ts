// The build context of each image, assembled in a temp dir from an explicit file list (never
// the whole checkout), and the hash of its inputs that decides whether a rebuild is needed.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

// The two images `bottle images build` makes.
export type ImageKind = 'agent' | 'sidecars';
// Build order: the agent first (slowest to change, most often skipped).
export const IMAGE_KINDS: readonly ImageKind[] = ['agent', 'sidecars'];

// Tag and Dockerfile per image; backends and doctor refer to the tags.
export const IMAGES: Record<ImageKind, { tag: string; dockerfile: string }> = {
  agent: { tag: 'bottle-agent:latest', dockerfile: 'images/Dockerfile.agent' },
  sidecars: { tag: 'bottle-sidecars:latest', dockerfile: 'images/Dockerfile.sidecars' },
};

// Which bottle image this is (doctor and cleanup find images by it).
export const LABEL_IMAGE = 'dev.bottle.image';
// Hash of the build inputs: equal on the existing image = nothing to rebuild.
export const LABEL_SOURCE = 'dev.bottle.source';
// The base it was built FROM, for `docker inspect` readers.
export const LABEL_BASE = 'dev.bottle.base';

// One file to place in the context: repo-relative source, context-relative destination.
export interface ContextEntry { from: string; to: string }

const HELPER = 'images/build-helper.sh';
// What the sidecars image runs: the bundled CLI needs no node_modules (scripts/build.mjs
// bundles every dependency the daemons load), so no lockfile or npm install either.
const APP_FILES = ['package.json'];
// The sources the CLI is built from (tsconfig.build.json's include; a unit test keeps them equal).
export const SOURCE_DIRS: readonly string[] = ['commands', 'lib', 'tmux', 'panes', 'sidecars'];
// Written by a successful `npm run build` check (dist.ts); not an input of the image.
const DIST_STAMP_NAME = '.bottle-build-ok';

// Runtime assets are the non-TypeScript files next to the code (e.g. lib/secrets/gitleaks.toml).
export function isRuntimeAsset(file: string): boolean {
  const base = posix.basename(file);
  return !file.endsWith('.ts') && !base.endsWith('.md') && !base.startsWith('.') && !file.split('/').includes('test');
}

// Which package files go where, from a list of package-relative paths (pure; tested on plain
// arrays): package.json, bin/, the whole bundled dist/ and the runtime assets.
export function contextEntries(kind: ImageKind, files: readonly string[], sourceDirs: readonly string[] = SOURCE_DIRS): ContextEntry[] {
  const entries: ContextEntry[] = [
    { from: IMAGES[kind].dockerfile, to: 'Dockerfile' },
    { from: HELPER, to: 'build-helper.sh' },
  ];
  if (kind === 'agent') return entries;
  const under = (dir: string) => (f: string) => f.startsWith(`${dir}/`);
  const app = new Set<string>();
  for (const f of files) {
    if (APP_FILES.includes(f) || under('bin')(f)) app.add(f);
    else if (under('dist')(f) && posix.basename(f) !== DIST_STAMP_NAME && !f.split('/').includes('test')) app.add(f);
    else if (sourceDirs.some((d) => under(d)(f)) && isRuntimeAsset(f)) app.add(f);
  }
  for (const f of [...app].sort()) entries.push({ from: f, to: `app/${f}` });
  return entries;
}

// Package-relative paths of every file under `dirs` (and the top-level files named), sorted.
export function listFiles(root: string, dirs: readonly string[], topFiles: readonly string[] = APP_FILES): string[] {
  const out: string[] = topFiles.filter((f) => isFile(join(root, f)));
  const walk = (rel: string): void => {
    let names: string[];
    try { names = readdirSync(join(root, rel)); } catch { return; }
    for (const name of names) {
      if (name === 'node_modules' || name === '.git') continue;
      const child = `${rel}/${name}`;
      const st = statSync(join(root, child));
      if (st.isDirectory()) walk(child);
      else if (st.isFile()) out.push(child);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

function isFile(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

// The whole file list for one image, from a checkout or an installed package alike.
export function projectContextEntries(kind: ImageKind, root: string): ContextEntry[] {
  if (kind === 'agent') return contextEntries(kind, []);
  return contextEntries(kind, listFiles(root, ['bin', 'dist', ...SOURCE_DIRS]));
}

// Copies the entries into `dest` and writes build-ca.crt (the CA bundle, or empty); returns
// the top-level names to pack (dockerode tars exactly these).
export function assembleContext(root: string, entries: readonly ContextEntry[], caPem: string, dest: string): string[] {
  for (const e of entries) {
    const target = join(dest, e.to);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(root, e.from), target);
    chmodSync(target, statSync(join(root, e.from)).mode & 0o777);
  }
  writeFileSync(join(dest, 'build-ca.crt'), caPem);
  return readdirSync(dest).sort();
}

// sha256 over every context file (path, executable bit, content) and the build inputs that are
// not files (base image id, build args); equal hashes mean an identical build.
export function hashContext(dir: string, inputs: Record<string, string>): string {
  const h = createHash('sha256');
  for (const rel of listFiles(dir, readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()), readdirSync(dir))) {
    const mode = statSync(join(dir, rel)).mode & 0o111 ? 'x' : '-';
    h.update(`${rel}\0${mode}\0`).update(createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex')).update('\n');
  }
  for (const key of Object.keys(inputs).sort()) h.update(`input ${key}=${inputs[key]}\n`);
  return h.digest('hex');
}
