// Small pure helpers on text: entropy, redaction, offset → line/column, input segmentation.

const ASCII_COUNTS = new Int32Array(128); // all zero between calls

// Shannon entropy in bits per character (UTF-16 code unit), as gitleaks computes it for ASCII.
// Terms are summed in order of first appearance, as a Map of counts would iterate them.
export function shannonEntropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  const ascii = ASCII_COUNTS;
  let others: Map<number, number> | undefined;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) ascii[c]!++;
    else (others ??= new Map()).set(c, (others.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const k = c < 128 ? ascii[c]! : others!.get(c)!;
    if (k === 0) continue;
    if (c < 128) ascii[c] = 0;
    else others!.set(c, 0);
    const p = k / n;
    h -= p * Math.log2(p);
  }
  return h;
}

// Shows enough of a secret to recognise it, never all of it; short secrets are fully masked.
export function redact(secret: string): string {
  const s = secret.trim();
  const n = s.length;
  if (n >= 16) return `${s.slice(0, 4)}…${s.slice(-4)}`;
  if (n >= 12) return `${s.slice(0, 2)}…${s.slice(-2)}`;
  return '*'.repeat(Math.max(n, 3));
}

// Maps offsets to 1-based line and column; built lazily, only when a finding needs it.
export class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  position(offset: number): { line: number; column: number } {
    if (!this.starts) {
      const starts = [0];
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.starts = starts;
    }
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - s[lo]! + 1 };
  }

  // The full line(s) covering [start, end): gitleaks's `Line` for regexTarget=line and gitleaks:allow.
  linesAround(start: number, end: number): string {
    const from = this.text.lastIndexOf('\n', start - 1) + 1;
    const nl = this.text.indexOf('\n', Math.max(end - 1, start));
    return this.text.slice(from, nl < 0 ? this.text.length : nl);
  }
}

export const LIMITS = {
  // Lines longer than this are scanned in overlapping windows so no regex sees more at once.
  maxLine: 4096,
  lineOverlap: 512,
  // Runs of ordinary lines are scanned in segments this big, overlapping by a few KB so a
  // multi-line secret (a PEM block) that straddles a cut is still seen whole by one segment.
  segment: 32768,
  segmentOverlap: 4096,
};

// Splits text into [start, end) ranges, each small enough to bound regex backtracking. Ordinary
// text is checked for long lines in jumps of `maxLine` (one native lastIndexOf per jump).
export function segments(text: string, limits = LIMITS): Array<[number, number]> {
  const len = text.length;
  if (len <= limits.maxLine) return [[0, len]];
  const out: Array<[number, number]> = [];
  let groupStart = 0;
  let pos = 0;
  const flush = (end: number): void => {
    if (end > groupStart) out.push([groupStart, end]);
  };
  while (len - pos > limits.maxLine) {
    const nl = text.lastIndexOf('\n', pos + limits.maxLine);
    if (nl >= pos) {
      pos = nl + 1;
      if (pos - groupStart >= limits.segment) {
        flush(pos);
        const back = text.lastIndexOf('\n', pos - limits.segmentOverlap) + 1;
        groupStart = back > groupStart ? back : pos;
      }
      continue;
    }
    // A line longer than maxLine starts at pos: scan it in overlapping windows.
    flush(pos);
    const nextNl = text.indexOf('\n', pos);
    const next = nextNl < 0 ? len : nextNl + 1;
    const step = limits.maxLine - limits.lineOverlap;
    for (let w = pos; ; w += step) {
      out.push([w, Math.min(w + limits.maxLine, next)]);
      if (w + limits.maxLine >= next) break;
    }
    groupStart = next;
    pos = next;
  }
  flush(len);
  return out;
}
