// The texts the gate scans for a piece of pushed content: the bytes as text (binary data as its
// printable runs), plus every decoding of the encoded blocks in it, decoded the way the gateway
// decodes request data. Findings are mapped back to lines of the original content. Pure.
import { DECODE_DEPTH } from '../../lib/policy/candidates.js';
import { encodedRuns, forEachDecoding } from '../../lib/policy/decoders.js';
import type { Finding, Scanner } from '../../lib/secrets/index.js';

// A finding placed on a line of the scanned content (1-based).
export interface LineFinding {
  line: number;
  finding: Finding;
}

// Printable runs kept from binary data (8+ characters: shorter runs are noise, and no secret
// shape the scanner knows is shorter); tab counts as printable, newline ends a run.
const ASCII_RUN = /[\t\x20-\x7e]{8,}/g;
const UTF16_RUN = /(?:[\t\x20-\x7e]\x00){8,}/g;

// A line of `base64`/`openssl`/MIME output: 16+ alphabet characters, optional padding.
const B64_LINE = /^[A-Za-z0-9+/]{16,}={0,2}$/;

const PERCENT = /%[0-9a-fA-F]{2}/;
const ALPHABET_ONLY = /^[A-Za-z0-9+/_-]+={0,2}$/;

// Every printable decoding in `text` with the line it starts on: each encoded run (decoded
// once however often it repeats: code repeats its identifiers), each line with %XX escapes, and
// each wrapped block (consecutive equal-length base64 lines, the last may be shorter) joined,
// so a secret split by the wrap is decoded whole.
export function decodings(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const emitted = new Set<string>();
  const decode = (s: string, line: number): void => {
    forEachDecoding(s, DECODE_DEPTH, (_how, decoded) => {
      if (emitted.has(decoded)) return;
      emitted.add(decoded);
      out.push({ line, text: decoded });
    }, false);
  };
  if (ALPHABET_ONLY.test(text)) {
    decode(text, 1);
    return out;
  }
  const seen = new Set<string>();
  let at = 0;
  let line = 1;
  for (const run of encodedRuns(text)) {
    // A run may come back joined over line breaks; its first 16 characters are verbatim.
    const start = text.indexOf(run.slice(0, 16), at);
    if (start >= at) {
      line += countNewlines(text, at, start);
      at = text.startsWith(run, start) ? start + run.length : start + 16;
    }
    if (seen.has(run)) continue;
    seen.add(run);
    decode(run, line);
  }
  const lines = text.split('\n');
  let block: string[] = [];
  let blockStart = 0;
  const endBlock = (): void => {
    if (block.length > 1) decode(block.join(''), blockStart);
    block = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.includes('%') && PERCENT.test(l)) decode(l, i + 1);
    const b = l.trim();
    if (!B64_LINE.test(b)) {
      endBlock();
      continue;
    }
    const width = block[0]?.length;
    if (width !== undefined && (b.length > width || block[block.length - 1]!.length !== width)) endBlock();
    if (block.length === 0) blockStart = i + 1;
    block.push(b);
  }
  endBlock();
  return out;
}

// Scans `text` and its decodings (in one scanner call); decoded findings carry the line the
// encoded text starts on. `path` enables the scanner's path-scoped rules for the text itself.
export function scanText(scanner: Scanner, text: string, path?: string): LineFinding[] {
  const found: LineFinding[] = scanner.scan(text, path === undefined ? {} : { path }).map((finding) => ({ line: finding.line, finding }));
  const decoded = decodings(text);
  if (decoded.length === 0) return found;
  const starts: number[] = [];
  let line = 1;
  for (const d of decoded) {
    starts.push(line);
    line += countNewlines(d.text) + 1;
  }
  // A value decoded both per line and as part of its block is reported once.
  const seen = new Set(found.map((f) => `${f.finding.ruleId} ${f.finding.redacted}`));
  for (const finding of scanner.scan(decoded.map((d) => d.text).join('\n'))) {
    const key = `${finding.ruleId} ${finding.redacted}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const i = lastAtOrBefore(starts, finding.line);
    found.push({ line: decoded[i]!.line, finding: { ...finding, line: decoded[i]!.line } });
  }
  return found;
}

// A text view of some bytes and, per view line, the content line it came from.
export interface BytesView {
  text: string;
  /** Source line of each view line; absent when the view is the content itself. */
  lines?: number[];
}

// Text content as is; binary content (a NUL anywhere) as its printable runs, ASCII and
// UTF-16LE (at either byte alignment), each run on its own view line. A newline ends a run, so
// text lines stay lines (a PEM block in a binary reads as one).
export function bytesView(data: Buffer): BytesView {
  if (!data.includes(0)) return { text: data.toString('utf8') };
  const raw = data.toString('latin1');
  const runs: string[] = [];
  const lines: number[] = [];
  for (const [re, wide] of [[ASCII_RUN, false], [UTF16_RUN, true]] as const) {
    let line = 1;
    let at = 0;
    for (const m of raw.matchAll(re)) {
      line += countNewlines(raw, at, m.index);
      at = m.index;
      runs.push(wide ? m[0].replace(/\0/g, '') : m[0]);
      lines.push(line);
    }
  }
  return { text: runs.join('\n'), lines };
}

// Scans bytes through bytesView and scanText, with findings on content lines.
export function scanBytes(scanner: Scanner, data: Buffer, path?: string): LineFinding[] {
  const view = bytesView(data);
  const found = scanText(scanner, view.text, path);
  if (!view.lines) return found;
  return found.map((f) => ({ ...f, line: view.lines![f.line - 1] ?? f.line }));
}

// A loop rather than indexOf: indexOf would search past `to`, to the end, on every call.
function countNewlines(s: string, from = 0, to = s.length): number {
  let n = 0;
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}

function lastAtOrBefore(starts: number[], line: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= line) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
