// The anchor automaton's scan loop (automaton.ts) in WebAssembly: four interleaved streams over
// a UTF-16 copy of the text, with no bounds checks and registers to spare, run about 2.5× faster
// than the JavaScript loop (whose two streams are as many as V8's registers allow). Same table,
// same hits, same order: the JavaScript loop stays the reference (and the path without
// WebAssembly, and for short texts), and a differential test holds the two equal.
//
// The module is assembled here from a few dozen instructions (no toolchain, no dependency).

// The module's memory: the streams' registers, the table, one chunk of text (after the
// characters a stream warms up on), then per stream a region of hit ends and one of states.
const CTRL = 0; // per stream k: r (table byte offset), p (text address), o (next end's address), lo, hi
const TABLE = 128;
const STREAMS = 4;
// Text is copied in and scanned this many characters at a time (bounds the memory).
export const CHUNK = 1 << 18;
// A DFA state only depends on the last 62 characters (automaton.ts), so a stream starting
// mid-text reads this many characters before its start to know its state exactly there.
const WARMUP = 64;
// Hits one stream can report per chunk (at most one per character of its part).
const REGION = Math.ceil(CHUNK / STREAMS) + WARMUP + 64;
const PAGE = 65536;
// Chunks shorter than this run as one stream (four would mostly warm up).
export const MULTI_MIN = 256;

// Hits of one scan, as automaton.ts defines them.
export interface WasmHits {
  count: number;
  ends: Int32Array;
  states: Int32Array;
}

type Run = (steps: number, textBase: number, shift: number) => void;

// --- a tiny WebAssembly assembler: just what the two functions below need ---
function leb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do { let b = n & 0x7f; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'ascii')];

const op = {
  get: (l: number) => [0x20, ...uleb(l)],
  set: (l: number) => [0x21, ...uleb(l)],
  tee: (l: number) => [0x22, ...uleb(l)],
  i32: (n: number) => [0x41, ...leb(n)],
  load: (offset: number) => [0x28, 2, ...uleb(offset)],
  load16: (offset: number) => [0x2f, 1, ...uleb(offset)],
  store: (offset: number) => [0x36, 2, ...uleb(offset)],
  add: [0x6a], sub: [0x6b], shl: [0x74], shrU: [0x76], xor: [0x73], ltS: [0x48], ltU: [0x49], geU: [0x4f], and: [0x71], or: [0x72], shrS: [0x75], eqz: [0x45], select: [0x1b],
  block: [0x02, 0x40], loop: [0x03, 0x40], if: [0x04, 0x40], end: [0x0b], brIf: (d: number) => [0x0d, ...uleb(d)], br: (d: number) => [0x0c, ...uleb(d)],
};

// run(steps, textBase, shift): each listed stream takes `steps` steps from its registers in
// CTRL. A step reads the UTF-16 code unit at p (above 127: column 0) and moves r to
// table[r + 4 * column]; a negative entry (~offset) completes patterns, and when p is in
// [lo, hi) the hit goes out: its end (p - textBase) / 2 + shift at o, its state at o + STATES.
function runBody(streams: number[], states: number): number[] {
  const STEPS_L = 0, BASE = 1, SHIFT = 2;
  // Registers r and p live in locals; o, lo and hi stay in CTRL (only a hit needs them).
  const FIELDS = ['r', 'p', 'o', 'lo', 'hi'];
  const field = (f: string, k: number): number => CTRL + 4 * (FIELDS.indexOf(f) * STREAMS + k);
  const r = (k: number): number => 3 + k;
  const p = (k: number): number => 3 + STREAMS + k;
  const c = (k: number): number => 3 + 2 * STREAMS + k;
  const o = 3 + 3 * STREAMS;
  const code: number[] = [];
  for (const k of streams) code.push(...op.i32(0), ...op.load(field('r', k)), ...op.set(r(k)), ...op.i32(0), ...op.load(field('p', k)), ...op.set(p(k)));
  code.push(...op.block, ...op.get(STEPS_L), ...op.eqz, ...op.brIf(0), ...op.loop);
  for (const k of streams) {
    code.push(
      ...op.get(p(k)), ...op.load16(0), ...op.tee(c(k)), ...op.i32(0), ...op.get(c(k)), ...op.i32(128), ...op.ltU, ...op.select,
      ...op.i32(2), ...op.shl, ...op.get(r(k)), ...op.add, ...op.load(TABLE), ...op.tee(r(k)),
      ...op.i32(0), ...op.ltS, ...op.if,
      ...op.get(r(k)), ...op.i32(-1), ...op.xor, ...op.set(r(k)),
      ...op.get(p(k)), ...op.i32(0), ...op.load(field('lo', k)), ...op.geU,
      ...op.get(p(k)), ...op.i32(0), ...op.load(field('hi', k)), ...op.ltU, ...op.and, ...op.if,
      ...op.i32(0), ...op.load(field('o', k)), ...op.set(o),
      ...op.get(o), ...op.get(p(k)), ...op.get(BASE), ...op.sub, ...op.i32(1), ...op.shrU, ...op.get(SHIFT), ...op.add, ...op.store(0),
      ...op.get(o), ...op.get(r(k)), ...op.i32(9), ...op.shrU, ...op.store(states),
      ...op.i32(0), ...op.get(o), ...op.i32(4), ...op.add, ...op.store(field('o', k)),
      ...op.end,
      ...op.end,
      ...op.get(p(k)), ...op.i32(2), ...op.add, ...op.set(p(k)),
    );
  }
  code.push(...op.get(STEPS_L), ...op.i32(1), ...op.sub, ...op.tee(STEPS_L), ...op.brIf(0), ...op.end, ...op.end);
  for (const k of streams) code.push(...op.i32(0), ...op.get(r(k)), ...op.store(field('r', k)), ...op.i32(0), ...op.get(p(k)), ...op.store(field('p', k)));
  code.push(...op.end);
  const body = [...vec([[...uleb(3 * STREAMS + 1), 0x7f]]), ...code];
  return [...uleb(body.length), ...body];
}

// scale(n): the table's n entries, copied in as automaton.ts built them (row offsets of 128
// columns), become byte offsets: e << 2, keeping ~offset's low bits set ((e << 2) | 3).
function scaleBody(): number[] {
  const N = 0, I = 1, ADDR = 2, E = 3;
  const code = [
    ...op.i32(0), ...op.set(I),
    ...op.block, ...op.loop,
    ...op.get(I), ...op.get(N), ...op.geU, ...op.brIf(1),
    ...op.get(I), ...op.i32(2), ...op.shl, ...op.tee(ADDR),
    ...op.get(ADDR), ...op.load(TABLE), ...op.tee(E), ...op.i32(2), ...op.shl,
    ...op.get(E), ...op.i32(31), ...op.shrS, ...op.i32(3), ...op.and, ...op.or,
    ...op.store(TABLE),
    ...op.get(I), ...op.i32(1), ...op.add, ...op.set(I),
    ...op.br(0),
    ...op.end, ...op.end, ...op.end,
  ];
  const body = [...vec([[1, 0x7f]]), ...code];
  return [...uleb(body.length), ...body];
}

const modules = new Map<number, WebAssembly.Module | null>();

// The module for a table of `tableBytes` (the code holds the state regions' distance).
function compiled(statesGap: number): WebAssembly.Module | undefined {
  let mod = modules.get(statesGap);
  if (mod === undefined) {
    try {
      const i32 = 0x7f;
      const bytes = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
        ...section(1, vec([[0x60, ...vec([[i32], [i32], [i32]]), 0]])),
        ...section(2, vec([[...name('m'), ...name('m'), 0x02, 0x00, 0x01]])),
        ...section(3, vec([[0], [0], [0]])),
        ...section(7, vec([[...name('run4'), 0x00, 0], [...name('run1'), 0x00, 1], [...name('scale'), 0x00, 2]])),
        ...section(10, vec([runBody([0, 1, 2, 3], statesGap), runBody([STREAMS - 1], statesGap), scaleBody()])),
      ];
      mod = new WebAssembly.Module(Uint8Array.from(bytes));
    } catch {
      mod = null;
    }
    modules.set(statesGap, mod);
  }
  return mod ?? undefined;
}

// A scanner over the table `delta` (row offsets state * 128, ~offset for states completing
// patterns, as automaton.ts builds it) from state `start`, reporting into `hits`; undefined
// without WebAssembly.
export function wasmDfaScanner(delta: Int32Array, start: number, hits: WasmHits): ((text: string) => WasmHits) | undefined {
  const textBase = TABLE + delta.length * 4;
  const endsBase = textBase + 2 * (WARMUP + CHUNK);
  const gap = STREAMS * REGION * 4; // from a hit's end to its state
  const mod = compiled(gap);
  if (!mod) return undefined;
  let mem: WebAssembly.Memory;
  let run4: Run;
  let run1: Run;
  let scale: Run;
  try {
    mem = new WebAssembly.Memory({ initial: Math.ceil((endsBase + 2 * gap) / PAGE) });
    const inst = new WebAssembly.Instance(mod, { m: { m: mem } });
    run4 = inst.exports.run4 as Run;
    run1 = inst.exports.run1 as Run;
    scale = inst.exports.scale as Run;
  } catch {
    return undefined;
  }
  const buf = mem.buffer; // never grown: views stay valid
  new Int32Array(buf, TABLE, delta.length).set(delta);
  scale(delta.length, 0, 0);
  const bytes = Buffer.from(buf);
  const words = new Int32Array(buf);
  const ctrl = new Int32Array(buf, CTRL, 5 * STREAMS); // r, p, o, lo, hi (see runBody)
  const R = 0, P = STREAMS, O = 2 * STREAMS, LO = 3 * STREAMS, HI = 4 * STREAMS;
  const region = (k: number): number => endsBase + k * REGION * 4;
  const reserve = (need: number): void => {
    if (need <= hits.ends.length) return;
    const size = Math.max(need, hits.ends.length * 2);
    const e = new Int32Array(size);
    e.set(hits.ends.subarray(0, hits.count));
    const s = new Int32Array(size);
    s.set(hits.states.subarray(0, hits.count));
    hits.ends = e;
    hits.states = s;
  };
  return function scanUnits(text: string): WasmHits {
    const len = text.length;
    hits.count = 0;
    for (let c0 = 0; c0 < len; c0 += CHUNK) {
      // The chunk text[c0, c1) goes in after the `w` characters before it (a stream's warm-up).
      const c1 = Math.min(len, c0 + CHUNK);
      const w = Math.min(c0, WARMUP);
      const n = c1 - c0;
      bytes.write(c0 === 0 && c1 === len ? text : text.slice(c0 - w, c1), textBase, 2 * (w + n), 'utf16le');
      // Stream j reports hits ending in [s, e) of the copy and reads from max(0, s - WARMUP) on,
      // from the start state: exact from s on. Streams 0..3 run j = 0..3; one stream runs as 3.
      const streams = n < MULTI_MIN ? 1 : STREAMS;
      const q = Math.floor(n / streams);
      let from = 0;
      for (let j = 0; j < streams; j++) {
        const k = j + STREAMS - streams;
        const s = w + j * q;
        const e = j === streams - 1 ? w + n : s + q;
        from = Math.max(0, s - WARMUP);
        ctrl[R + k] = start * 4;
        ctrl[P + k] = textBase + 2 * from;
        ctrl[O + k] = region(k);
        ctrl[LO + k] = textBase + 2 * s;
        ctrl[HI + k] = textBase + 2 * e;
      }
      // Every stream takes the same steps: the last ends at the chunk's end, the others past theirs.
      (streams === 1 ? run1 : run4)(w + n - from, textBase, c0 - w);
      for (let k = STREAMS - streams; k < STREAMS; k++) {
        const at = region(k) >> 2;
        const m = (ctrl[O + k]! - region(k)) >> 2;
        reserve(hits.count + m);
        hits.ends.set(words.subarray(at, at + m), hits.count);
        hits.states.set(words.subarray(at + gap / 4, at + gap / 4 + m), hits.count);
        hits.count += m;
      }
    }
    return hits;
  };
}
