// Turns `git log -p -U0 --cc --full-index` output (see logArgs) into the lines each commit adds,
// with their file path and new-file line number, and scans them (and their decodings). Commit
// messages and whole objects are scanned from the raw objects (objects.ts). Pure: the hook,
// tests and benches share it.
import type { Finding, Scanner } from '../../lib/secrets/index.js';
import { scanText } from './views.js';

// A line a commit adds; `line` is its number in the new version of the file.
export interface AddedLine {
  line: number;
  text: string;
}

export interface PatchFile {
  path: string;
  binary: boolean;
  /** The file's new blob (from the `index` line); absent when deleted or not shown. */
  blob?: string;
  added: AddedLine[];
}

export interface PatchCommit {
  sha: string;
  files: PatchFile[];
}

// One finding placed in history: which commit, which file (or the commit message), which line.
export interface Hit {
  commit: string;
  file: string;
  line: number;
  finding: Finding;
}

const COMMIT = /^\0([0-9a-f]{40}(?:[0-9a-f]{24})?)$/;
const HUNK = /^(@{2,}) (.*?) \1/;
const INDEX = /^index [0-9a-f,]+\.\.([0-9a-f]+)/;
const ZERO_ID = /^0+$/;

// Undoes git's C-style path quoting ("a\tb", "caf\303\251"): octal escapes are UTF-8 bytes.
export function unquotePath(raw: string): string {
  if (!raw.startsWith('"') || !raw.endsWith('"') || raw.length < 2) return raw;
  const body = raw.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else {
      const next = body[i + 1] ?? '\\';
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// "+++ b/path" (or quoted) → path; /dev/null → undefined (the file was deleted).
function newPath(header: string): string | undefined {
  const raw = unquotePath(header.slice(4));
  if (raw === '/dev/null') return undefined;
  return raw.startsWith('b/') ? raw.slice(2) : raw;
}

// "Binary files a/x and b/y differ" → y (no "+++" header names a binary file's path).
function binaryPath(line: string): string | undefined {
  const m = /^Binary files .* and ("?b\/.*) differ$/.exec(line);
  return m ? newPath(`+++ ${m[1]}`) : undefined;
}

// Parses the whole log. Every diff content line starts with a prefix column (' ', '+', '-',
// '\'), so a line starting with "diff ", "@@" or NUL+sha is always structure, never content.
export function parsePatch(text: string): PatchCommit[] {
  const commits: PatchCommit[] = [];
  let commit: PatchCommit | undefined;
  let file: PatchFile | undefined;
  let width = 0; // prefix columns of the current hunk (parents of the commit); 0 = file header
  let lineNo = 0;
  for (const line of text.split('\n')) {
    const head = COMMIT.exec(line);
    if (head) {
      commit = { sha: head[1]!, files: [] };
      commits.push(commit);
      file = undefined;
      continue;
    }
    if (!commit) continue;
    if (line.startsWith('diff ')) {
      const cc = /^diff --(?:cc|combined) (.*)$/.exec(line);
      file = { path: cc ? unquotePath(cc[1]!) : '', binary: false, added: [] };
      commit.files.push(file);
      width = 0;
      continue;
    }
    if (!file) continue;
    const hunk = HUNK.exec(line);
    if (hunk) {
      width = hunk[1]!.length - 1;
      const plus = hunk[2]!.split(' ').find((r) => r.startsWith('+'));
      lineNo = Number(plus?.slice(1).split(',')[0] ?? 0);
      continue;
    }
    if (width === 0) {
      const index = INDEX.exec(line);
      if (index) {
        if (!ZERO_ID.test(index[1]!)) file.blob = index[1]!;
      } else if (line.startsWith('+++ ')) file.path = newPath(line) ?? file.path;
      else if (line.startsWith('Binary files ') || line === 'GIT binary patch') {
        file.binary = true;
        file.path ||= binaryPath(line) ?? '';
      }
      continue;
    }
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const prefix = line.slice(0, width);
    if (prefix.length < width || prefix.includes('-')) continue; // removed from the result
    if (/^\++$/.test(prefix)) file.added.push({ line: lineNo, text: line.slice(width) });
    lineNo += 1;
  }
  for (const c of commits) c.files = c.files.filter((f) => f.binary || f.blob || f.added.length > 0);
  return commits;
}

// The new blobs whose diff was shown as text: every line they add is scanned here, and every
// other line came from a parent's blob, so they need no whole-object scan.
export function textBlobs(commits: PatchCommit[]): Set<string> {
  // A NUL past the 8000 bytes git inspects leaves a file "text": read such a blob whole (its
  // UTF-16 runs are only visible there).
  const whole = (f: PatchFile): boolean => f.binary || f.added.some((a) => a.text.includes('\0'));
  return new Set(commits.flatMap((c) => c.files.filter((f) => f.blob && !whole(f)).map((f) => f.blob!)));
}

// Scans each file's added lines (joined, so a multi-line secret such as a PEM block or a wrapped
// base64 block is seen whole) and maps findings back to new-file line numbers.
export function scanPatch(commits: PatchCommit[], scanner: Scanner): Hit[] {
  const hits: Hit[] = [];
  for (const c of commits) {
    for (const f of c.files) {
      if (f.binary || f.added.length === 0) continue;
      const text = f.added.map((a) => a.text).join('\n');
      for (const { line, finding } of scanText(scanner, text, f.path)) {
        const at = f.added[line - 1] ?? f.added[f.added.length - 1]!;
        hits.push({ commit: c.sha, file: f.path, line: at.line, finding });
      }
    }
  }
  return hits;
}
