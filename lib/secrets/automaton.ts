// One pass over the text that reports every occurrence of many short patterns, each a sequence
// of character sets (a keyword, or a regex prefix such as `<non-word>0x` or four digits). The
// patterns become one DFA by subset construction, so a step costs one table load whatever the
// pattern count.
import { hasCol, setId, type CharSet } from './charset.js';
import { wasmDfaScanner } from './dfa-wasm.js';

const COLS = 128; // column 0: NUL and every code unit above 127 (see charset.ts)
const MAX_LEN = 63; // positions per pattern (a 6-bit field in the NFA position code)
// Texts at least this long are scanned as two interleaved halves (see scanner).
const SPLIT_MIN = 2048;
// A DFA state only depends on the last MAX_LEN - 1 characters, so the second half's state is
// exact after reading this many characters before it.
const WARMUP = MAX_LEN + 1;
// Hit buffers are grown before each block of this many steps, never inside the loop.
const BLOCK = 4096;
// Texts at least this long are scanned in WebAssembly when it is available (dfa-wasm.ts).
export const WASM_MIN = 256;

// Pattern occurrences of one scan in text order: end position (inclusive) and the state reached.
export interface Hits {
  count: number;
  ends: Int32Array;
  states: Int32Array; // see PatternScanner.outStart
}

interface Dfa {
  delta: Int32Array; // row offsets (state * 128); ~offset when the target state completes patterns
  start: number;
  outStart: Int32Array;
  outIds: Int32Array;
  states: number;
}

// Scans text for a list of patterns; pattern ids are their indexes.
export class PatternScanner {
  readonly scan: (text: string) => Hits;
  // The JavaScript loop alone (scan uses WebAssembly for texts of WASM_MIN or more when it can): the
  // reference the differential test holds the other to.
  readonly scanJs: (text: string) => Hits;
  // Whether scan runs WebAssembly (for texts of WASM_MIN characters or more).
  readonly wasm: boolean;
  // Pattern ids that end in state s (a value from Hits.states): outIds[outStart[s] .. outStart[s + 1]].
  readonly outStart: Int32Array;
  readonly outIds: Int32Array;
  readonly stateCount: number;

  constructor(patterns: readonly CharSet[][]) {
    const dfa = buildDfa(patterns);
    this.stateCount = dfa.states;
    this.outStart = dfa.outStart;
    this.outIds = dfa.outIds;
    const { scan, scanJs } = scanner(dfa);
    this.scan = scan;
    this.scanJs = scanJs;
    this.wasm = scan !== scanJs;
    // Run every branch of the loop once (both halves, the odd tail, hits everywhere, buffer
    // growth), so V8 has type feedback for all of it when it optimizes; otherwise the first real
    // text taking a path it never saw deoptimizes the loop, and megabytes run unoptimized again.
    if (patterns.length === 0) return;
    const sample = `${patterns.slice(0, 64).map(example).join(' ')} `;
    const last = example(patterns[0]!);
    const long = sample.repeat(Math.ceil((2 * SPLIT_MIN) / sample.length)) + last; // ends in a hit
    this.scan(sample);
    this.scan(long.length % 2 ? long : ` ${long}`); // odd: the last character is the tail
    this.scan(long.length % 2 ? ` ${long}` : long);
  }
}

// A string matching a pattern: the first column of each set (column 0 as a non-ASCII letter).
function example(p: CharSet[]): string {
  let out = '';
  for (const s of p) {
    let c = 0;
    while (c < 127 && !hasCol(s, c)) c++;
    out += c === 0 ? '\u00e9' : String.fromCharCode(c);
  }
  return out;
}

// The scan loop as a closure over its table: V8 then treats it as a constant (a class method
// reading it from `this` measured ~35% slower). Long texts are scanned as two halves in one
// loop: the two table lookups per step are independent, so the CPU overlaps them (~18% faster
// than one stream; three streams measured slower again). The Hits object is reused by the
// next scan.
function scanner(dfa: Dfa): { scan: (text: string) => Hits; scanJs: (text: string) => Hits } {
  const delta = dfa.delta;
  const start = dfa.start;
  // Small at first, so the warm-up scan (see PatternScanner) exercises growing them too.
  const hits: Hits = { count: 0, ends: new Int32Array(8), states: new Int32Array(8) };
  const upper: Hits = { count: 0, ends: new Int32Array(8), states: new Int32Array(8) };
  const reserve = (b: Hits, need: number): void => {
    if (need <= b.ends.length) return;
    const size = Math.max(need, b.ends.length * 2);
    const e = new Int32Array(size);
    e.set(b.ends);
    const s = new Int32Array(size);
    s.set(b.states);
    b.ends = e;
    b.states = s;
  };
  const scanJs = function scanText(text: string): Hits {
    const len = text.length;
    let h = 0;
    let h2 = 0;
    let r = start;
    if (len < SPLIT_MIN) {
      reserve(hits, len);
      const e1 = hits.ends;
      const s1 = hits.states;
      for (let i = 0; i < len; i++) {
        let c = text.charCodeAt(i);
        if (c > 127) c = 0;
        r = delta[r + c]!;
        if (r < 0) { r = ~r; e1[h] = i; s1[h++] = r >> 7; }
      }
      hits.count = h;
      return hits;
    }
    // Stream 1 reads [0, mid); stream 2 reads [mid, 2 * mid) after warming up on the WARMUP
    // characters before mid (whose hits stream 1 reports), then the odd last character if any.
    const mid = len >> 1;
    let q = start;
    for (let j = mid - WARMUP; j < mid; j++) {
      let c = text.charCodeAt(j);
      if (c > 127) c = 0;
      q = delta[q + c]!;
      if (q < 0) q = ~q;
    }
    for (let b = 0; b < mid; b += BLOCK) {
      reserve(hits, h + BLOCK);
      reserve(upper, h2 + BLOCK + 1);
      const e1 = hits.ends;
      const s1 = hits.states;
      const e2 = upper.ends;
      const s2 = upper.states;
      for (let i = b, j = mid + b, stop = Math.min(b + BLOCK, mid); i < stop; i++, j++) {
        let c = text.charCodeAt(i);
        if (c > 127) c = 0;
        let e = text.charCodeAt(j);
        if (e > 127) e = 0;
        r = delta[r + c]!;
        q = delta[q + e]!;
        if ((r | q) < 0) {
          if (r < 0) { r = ~r; e1[h] = i; s1[h++] = r >> 7; }
          if (q < 0) { q = ~q; e2[h2] = j; s2[h2++] = q >> 7; }
        }
      }
    }
    if (len & 1) {
      let e = text.charCodeAt(len - 1);
      if (e > 127) e = 0;
      q = delta[q + e]!;
      if (q < 0) { q = ~q; upper.ends[h2] = len - 1; upper.states[h2++] = q >> 7; }
    }
    reserve(hits, h + h2);
    const { ends, states } = hits;
    for (let k = 0; k < h2; k++) { ends[h + k] = upper.ends[k]!; states[h + k] = upper.states[k]!; }
    hits.count = h + h2;
    return hits;
  };
  const wasm = wasmDfaScanner(delta, start, hits);
  if (!wasm) return { scan: scanJs, scanJs };
  const scan = (text: string): Hits => (text.length >= WASM_MIN ? wasm(text) : scanJs(text));
  return { scan, scanJs };
}

// Subset construction. An NFA position is (pattern p, j sets matched), coded p << 6 | j; a DFA
// state is the sorted set of live positions, including completed ones (its outputs). States
// live in one pool of codes and are found again by a hash of their codes (this runs at every
// engine construction, e.g. once per push in the git gate, so it avoids per-step garbage).
function buildDfa(patterns: readonly CharSet[][]): Dfa {
  for (const p of patterns) if (p.length === 0 || p.length > MAX_LEN) throw new Error(`pattern length ${p.length}`);
  if (patterns.length > 1000) throw new Error('too many patterns');
  const classes = columnClasses(patterns);
  const k = classes.reps.length;
  const lens = Int32Array.from(patterns, (p) => p.length);
  // accepts[code]: the classes position `code` (j >= 1) advances on; startsBy[ci]: codes (p, 1).
  const accepts: number[][] = [];
  const startsBy: number[][] = Array.from({ length: k }, () => []);
  const classesOf = new Map<CharSet, number[]>();
  patterns.forEach((p, id) => {
    p.forEach((set, j) => {
      let cls = classesOf.get(set);
      if (!cls) {
        cls = [];
        for (let ci = 0; ci < k; ci++) if (hasCol(set, classes.reps[ci]!)) cls.push(ci);
        classesOf.set(set, cls);
      }
      if (j === 0) for (const ci of cls) startsBy[ci]!.push((id << 6) | 1);
      else accepts[(id << 6) | j] = cls;
    });
  });
  const table = new StateTable();
  table.intern(new Int32Array(0), 0);
  const starts = startsBy.map((codes) => Int32Array.from(codes));
  const startOnly = starts.map((codes) => table.intern(codes, codes.length)); // where a class leads when nothing advances
  let rows = new Int32Array(1024 * k);
  // Bucket ci holds the codes advancing on class ci (sorted: a state's codes are); cap per bucket.
  let cap = 64;
  let buckets = new Int32Array(k * cap);
  const fill = new Int32Array(k);
  const touched = new Int32Array(k);
  let merged = new Int32Array(cap);
  for (let s = 0; s < table.count; s++) {
    if ((s + 1) * k > rows.length) { const r = new Int32Array(rows.length * 2); r.set(rows); rows = r; }
    rows.set(startOnly, s * k);
    const codes = table.codes(s);
    if (codes.length > cap) { cap = codes.length * 2; buckets = new Int32Array(k * cap); }
    let nt = 0;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      if ((code & 63) === lens[code >> 6]) continue; // completed
      const cls = accepts[code];
      if (!cls) continue;
      for (let x = 0; x < cls.length; x++) {
        const ci = cls[x]!;
        if (fill[ci] === 0) touched[nt++] = ci;
        buckets[ci * cap + fill[ci]!++] = code + 1;
      }
    }
    for (let t = 0; t < nt; t++) {
      const ci = touched[t]!;
      const b = starts[ci]!;
      if (merged.length < fill[ci]! + b.length) merged = new Int32Array(2 * (fill[ci]! + b.length));
      const m = mergeSorted(buckets, ci * cap, fill[ci]!, b, merged);
      rows[s * k + ci] = table.intern(merged, m);
      fill[ci] = 0;
    }
  }
  const n = table.count;
  const outStart = new Int32Array(n + 1);
  const flat: number[] = [];
  for (let s = 0; s < n; s++) {
    outStart[s] = flat.length;
    for (const code of table.codes(s)) if ((code & 63) === lens[code >> 6]) flat.push(code >> 6);
  }
  outStart[n] = flat.length;
  // Each state's table entry (its row offset, ~offset if it completes patterns), then the rows.
  const entry = new Int32Array(n);
  for (let t = 0; t < n; t++) entry[t] = outStart[t + 1]! > outStart[t]! ? ~(t * COLS) : t * COLS;
  const of = classes.of;
  const delta = new Int32Array(n * COLS);
  for (let s = 0, row = 0; s < n; s++, row += COLS) {
    const base = s * k;
    for (let c = 0; c < COLS; c++) delta[row + c] = entry[rows[base + of[c]!]!]!;
  }
  // Scanning starts as if after a column-0 character, so `\b` and lookbehind anchors hold at 0.
  const first = delta[0]!;
  return { delta, start: first < 0 ? ~first : first, outStart, outIds: Int32Array.from(flat), states: n };
}

// DFA states as sorted code lists in one pool, interned by hash (open addressing).
class StateTable {
  private pool: Int32Array = new Int32Array(4096);
  private used = 0;
  private starts: Int32Array = new Int32Array(1024);
  private ends: Int32Array = new Int32Array(1024);
  private hashes: Int32Array = new Int32Array(1024);
  private slots: Int32Array = new Int32Array(2048).fill(-1); // state ids; -1: empty
  count = 0;

  codes(s: number): Int32Array {
    return this.pool.subarray(this.starts[s]!, this.ends[s]!);
  }

  // The id of the state with codes[0, n) (sorted), created if new.
  intern(codes: Int32Array, n: number): number {
    let h = n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ codes[i]!, 0x9e3779b1);
    h |= 0;
    const mask = this.slots.length - 1;
    let slot = h & mask;
    for (let id = this.slots[slot]!; id >= 0; slot = (slot + 1) & mask, id = this.slots[slot]!) {
      if (this.hashes[id] !== h) continue;
      const a = this.starts[id]!;
      if (this.ends[id]! - a !== n) continue;
      let i = 0;
      while (i < n && this.pool[a + i] === codes[i]) i++;
      if (i === n) return id;
    }
    const id = this.count++;
    if (id === this.starts.length) {
      const grow = (x: Int32Array): Int32Array => { const y = new Int32Array(x.length * 2); y.set(x); return y; };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.hashes = grow(this.hashes);
    }
    if (this.used + n > this.pool.length) {
      const p = new Int32Array(Math.max(this.pool.length * 2, this.used + n));
      p.set(this.pool);
      this.pool = p;
    }
    this.starts[id] = this.used;
    this.pool.set(codes.subarray(0, n), this.used);
    this.used += n;
    this.ends[id] = this.used;
    this.hashes[id] = h;
    this.slots[slot] = id;
    if (2 * this.count > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let slot = this.hashes[id]! & mask;
      while (slots[slot]! >= 0) slot = (slot + 1) & mask;
      slots[slot] = id;
    }
    this.slots = slots;
  }
}

// Merges a[from, from + n) and b (both sorted) into out; returns the merged length.
function mergeSorted(a: Int32Array, from: number, n: number, b: Int32Array, out: Int32Array): number {
  let i = from;
  const stop = from + n;
  let j = 0;
  let m = 0;
  while (i < stop && j < b.length) out[m++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < stop) out[m++] = a[i++]!;
  while (j < b.length) out[m++] = b[j++]!;
  return m;
}

// Partitions the 128 columns into classes that no pattern position tells apart.
function columnClasses(patterns: readonly CharSet[][]): { of: Int32Array; reps: number[] } {
  const of = new Int32Array(COLS);
  let count = 1;
  const seen = new Set<number>();
  for (const p of patterns) {
    for (const s of p) {
      if (seen.has(setId(s))) continue;
      seen.add(setId(s));
      const split = new Map<number, number>();
      for (let c = 0; c < COLS; c++) {
        if (!hasCol(s, c)) continue;
        let nw = split.get(of[c]!);
        if (nw === undefined) { nw = count++; split.set(of[c]!, nw); }
        of[c] = nw;
      }
    }
  }
  const dense = new Map<number, number>();
  const reps: number[] = [];
  for (let c = 0; c < COLS; c++) {
    let d = dense.get(of[c]!);
    if (d === undefined) { d = reps.length; dense.set(of[c]!, d); reps.push(c); }
    of[c] = d;
  }
  return { of, reps };
}
