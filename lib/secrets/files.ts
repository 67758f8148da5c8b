// Finds the files `bottle scan` reads: a directory walk that honours .gitignore files at every
// level (and those above the root, up to the git work tree), skips .git/ (and, in hygiene mode,
// node_modules/), binary files (NUL in the first 8 KB) and files over the size cap.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ignore from 'ignore';
import type { ScanMode } from './types.js';

type Ignore = ignore.Ignore;

// Files above this are reported as skipped: bounded memory and regex time per file.
export const MAX_FILE_BYTES = 2 * 1024 * 1024;
const BINARY_PROBE = 8192;
// The git gate scans a committed node_modules/ like any other directory, so only hygiene skips it.
const SKIP_DIRS = { boundary: new Set(['.git']), hygiene: new Set(['.git', 'node_modules']) };

export interface FileEntry {
  path: string; // as shown to the user: the argument joined with the path below it, '/'-separated
  abs: string;
}

export interface Skipped {
  path: string;
  reason: string;
}

// What a file turned out to be: text to scan, binary (path rules only) or skipped with a reason.
export type FileContent = { kind: 'text'; text: string } | { kind: 'binary' } | { kind: 'skipped'; reason: string };

interface Layer {
  dir: string; // absolute directory the .gitignore lives in
  ig: Ignore;
}

const toSlash = (p: string): string => p.split(sep).join('/');

function loadIgnore(dir: string): Layer | undefined {
  const file = join(dir, '.gitignore');
  if (!existsSync(file)) return undefined;
  try {
    return { dir, ig: ignore().add(readFileSync(file, 'utf8')) };
  } catch {
    return undefined;
  }
}

function ignored(layers: Layer[], abs: string, isDir: boolean): boolean {
  for (const l of layers) {
    const rel = toSlash(relative(l.dir, abs));
    if (!rel || rel.startsWith('..')) continue;
    if (l.ig.ignores(isDir ? `${rel}/` : rel)) return true;
  }
  return false;
}

// .gitignore layers from the enclosing git work tree's root down to (excluding) `dir`.
function ancestorLayers(dir: string): Layer[] {
  const chain: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (existsSync(join(d, '.git')) || dirname(d) === d) break;
  }
  if (!existsSync(join(chain[0]!, '.git'))) return [];
  return chain.map(loadIgnore).filter((l): l is Layer => l !== undefined);
}

// Lists the files under `arg` (a file or a directory, resolved against cwd) in a stable order.
export function listFiles(arg: string, cwd: string, onSkip: (s: Skipped) => void, mode: ScanMode = 'boundary'): FileEntry[] {
  const skipDirs = SKIP_DIRS[mode];
  const root = resolve(cwd, arg);
  const st = statSync(root); // throws ENOENT/EACCES for the caller to report
  const show = (abs: string): string => {
    const rel = toSlash(relative(root, abs));
    if (arg === '.' || arg === './') return rel;
    return rel ? `${toSlash(arg).replace(/\/+$/, '')}/${rel}` : toSlash(arg);
  };
  if (!st.isDirectory()) return [{ path: show(root), abs: root }];
  const out: FileEntry[] = [];
  const walk = (dir: string, layers: Layer[]): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      onSkip({ path: show(dir), reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    const own = loadIgnore(dir);
    const here = own ? [...layers, own] : layers;
    for (const name of names) {
      const abs = join(dir, name);
      let s: Stats;
      try {
        s = statSync(abs);
      } catch {
        continue; // dangling symlink
      }
      if (s.isDirectory()) {
        if (skipDirs.has(name) || ignored(here, abs, true)) continue;
        walk(abs, here);
      } else if (s.isFile() && !ignored(here, abs, false)) {
        out.push({ path: show(abs), abs });
      }
    }
  };
  walk(root, ancestorLayers(root));
  return out;
}

// Reads a file for scanning, enforcing the size cap and the binary probe.
export function readForScan(abs: string, maxBytes = MAX_FILE_BYTES): FileContent {
  let fd: number | undefined;
  try {
    const size = statSync(abs).size;
    if (size > maxBytes) return { kind: 'skipped', reason: `larger than ${Math.round(maxBytes / 1024 / 1024)} MB (${size} bytes)` };
    fd = openSync(abs, 'r');
    const probe = Buffer.alloc(Math.min(BINARY_PROBE, size));
    readSync(fd, probe, 0, probe.length, 0);
    if (probe.includes(0)) return { kind: 'binary' };
    return { kind: 'text', text: readFileSync(abs, 'utf8') };
  } catch (e) {
    return { kind: 'skipped', reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
