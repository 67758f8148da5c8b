// Scans the raw objects a push adds (as `git cat-file --batch` read them): blobs whole (binary
// ones as printable runs), every path in new trees, commit and tag objects byte for byte (their
// headers too, and an `encoding` header never transcodes the message first). Pure.
import type { Scanner } from '../../lib/secrets/index.js';
import type { GitObject } from './capped.js';
import type { Hit } from './patch.js';
import { scanBytes, scanText, type LineFinding } from './views.js';

export const MESSAGE_PATH = '<commit message>';
export const COMMIT_HEADER_PATH = '<commit header>';
export const TAG_MESSAGE_PATH = '<tag message>';
export const TAG_HEADER_PATH = '<tag header>';
/** A file or directory name (which is not printed: it holds the secret). */
export const NAME_PATH = '<path name>';

// Where a blob was met in the pushed history, when a commit's diff named it.
export interface BlobContext {
  commit: string;
  path: string;
}

export interface TreeEntry {
  mode: string;
  name: string;
  id: string;
}

// Parses a raw tree: `<mode> <name>\0<id bytes>` per entry (id bytes: 20 for SHA-1, 32 for SHA-256).
export function parseTree(data: Buffer, idBytes: number): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(32, at);
    const nul = data.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + idBytes > data.length) throw new Error('malformed tree object');
    entries.push({
      mode: data.toString('latin1', at, sp),
      name: data.toString('utf8', sp + 1, nul),
      id: data.toString('hex', nul + 1, nul + 1 + idBytes),
    });
    at = nul + 1 + idBytes;
  }
  return entries;
}

// Scans every object; `context` names the commit and path of blobs a diff showed, so their
// findings read like the diff's. Objects are expected in `rev-list --objects` order (a tree
// before the trees and blobs under it), which is how their paths are known.
export function scanObjects(objects: readonly GitObject[], scanner: Scanner, context: ReadonlyMap<string, BlobContext> = new Map()): Hit[] {
  const hits: Hit[] = [];
  const pathOf = new Map<string, string>();
  const paths = new Map<string, string>(); // full path -> the tree that holds it
  for (const o of objects) {
    if (o.type !== 'tree') continue;
    const base = pathOf.get(o.id);
    for (const e of parseTree(o.data, o.id.length / 2)) {
      const path = base ? `${base}/${e.name}` : e.name;
      if (!pathOf.has(e.id)) pathOf.set(e.id, path);
      if (!paths.has(path)) paths.set(path, o.id);
    }
  }
  // All new paths in one scan, one per line (names are short and many).
  const names = [...paths.keys()];
  const holders = [...paths.values()];
  for (const { line, finding } of scanText(scanner, names.join('\n'))) {
    hits.push({ commit: holders[line - 1] ?? holders[0]!, file: NAME_PATH, line: 1, finding });
  }
  const secretNames = new Set(hits.map((h) => names[h.finding.line - 1]));
  for (const o of objects) {
    if (o.type === 'blob') {
      const ctx = context.get(o.id);
      const path = ctx?.path || pathOf.get(o.id);
      const shown = path === undefined || secretNames.has(path) ? '<blob>' : path;
      for (const { line, finding } of scanBytes(scanner, o.data, path)) {
        hits.push({ commit: ctx?.commit ?? o.id, file: shown, line, finding });
      }
    } else if (o.type === 'commit' || o.type === 'tag') {
      hits.push(...scanRaw(o, scanner));
    }
  }
  return hits;
}

// A commit or tag as stored: header lines, a blank line, the message. Findings in the header
// say so; findings in the message carry the message's own line numbers.
function scanRaw(o: GitObject, scanner: Scanner): Hit[] {
  const end = o.data.indexOf('\n\n');
  const headerLines = end < 0 ? Infinity : countByte(o.data, 10, end) + 1;
  const [headerPath, messagePath] = o.type === 'commit' ? [COMMIT_HEADER_PATH, MESSAGE_PATH] : [TAG_HEADER_PATH, TAG_MESSAGE_PATH];
  const found: LineFinding[] = scanBytes(scanner, o.data);
  // What a viewer honouring the `encoding` header shows is scanned too (UTF-16 text has NULs
  // and escapes the raw view); an encoding the runtime does not know leaves the raw view only.
  const encoding = end < 0 ? undefined : /^encoding (.+)$/m.exec(o.data.toString('latin1', 0, end))?.[1];
  if (encoding && end >= 0) {
    const decoded = transcode(o.data.subarray(end + 2), encoding);
    if (decoded !== undefined) {
      for (const f of scanText(scanner, decoded)) found.push({ ...f, line: f.line + headerLines + 1 });
    }
  }
  const seen = new Set<string>();
  const hits: Hit[] = [];
  for (const { line, finding } of found) {
    const inHeader = line <= headerLines;
    const hit = { commit: o.id, file: inHeader ? headerPath : messagePath, line: inHeader ? line : line - headerLines - 1, finding };
    const key = `${hit.file}:${hit.line}:${finding.ruleId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    hits.push(hit);
  }
  return hits;
}

function transcode(bytes: Buffer, label: string): string | undefined {
  try {
    return new TextDecoder(label.trim()).decode(bytes);
  } catch {
    return undefined;
  }
}

function countByte(data: Buffer, byte: number, end: number): number {
  let n = 0;
  for (let i = data.indexOf(byte); i >= 0 && i < end; i = data.indexOf(byte, i + 1)) n++;
  return n;
}
