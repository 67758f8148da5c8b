// The sidecars image ships the built dist/ (type check, then the esbuild bundle); this decides
// whether it must be (re)built first. A failed build leaves the previous dist/ in place, so
// dist/ existing proves nothing: a stamp written only after a successful `npm run build`
// (dated when that build started) does.
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { join } from 'node:path';

// Written by markDistBuilt after a clean `npm run build`; removed before each attempt.
export const DIST_STAMP = join('dist', '.bottle-build-ok');

// Why dist/ needs `npm run build`, or undefined when it is up to date.
export function distStaleness(root: string, dirs: readonly string[]): string | undefined {
  const built = mtime(join(root, 'dist', 'commands', 'main.js')) !== undefined;
  // An installed package ships dist/ and no sources: what it has is what it runs.
  if (!existsSync(join(root, 'commands', 'main.ts'))) {
    if (built) return undefined;
    throw new UserError(`${root} has neither dist/ nor the sources to build it; reinstall bottle`);
  }
  if (!built) return 'dist/ is missing';
  const stamped = mtime(join(root, DIST_STAMP));
  if (stamped === undefined) return 'dist/ has no record of a successful npm run build';
  const inputs = [join(root, 'tsconfig.build.json'), join(root, 'tsconfig.json'), join(root, 'package.json'), join(root, 'scripts', 'build.mjs')];
  let newest: { file: string; at: number } | undefined;
  const consider = (file: string): void => {
    const at = mtime(file);
    if (at !== undefined && (!newest || at > newest.at)) newest = { file, at };
  };
  inputs.forEach(consider);
  for (const d of dirs) walkTs(join(root, d), consider);
  if (newest && newest.at > stamped) return `${newest.file.slice(root.length + 1)} is newer than dist/`;
  return undefined;
}

// Forgets the last success (call before a build attempt, so a failed one leaves dist/ stale).
export function clearDistStamp(root: string): void {
  rmSync(join(root, DIST_STAMP), { force: true });
}

// Records a successful build that started at `startedMs`: sources saved during it stay newer.
export function markDistBuilt(root: string, startedMs: number): void {
  const stamp = join(root, DIST_STAMP);
  writeFileSync(stamp, `${new Date(startedMs).toISOString()}\n`);
  const at = new Date(startedMs);
  utimesSync(stamp, at, at);
}

function walkTs(dir: string, visit: (file: string) => void): void {
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    let st;
    try { st = statSync(path); } catch { continue; }
    if (st.isDirectory()) walkTs(path, visit);
    else if (name.endsWith('.ts')) visit(path);
  }
}

function mtime(path: string): number | undefined {
  try { return statSync(path).mtimeMs; } catch { return undefined; }
}
