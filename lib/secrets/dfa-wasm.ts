// The anchor automaton's scan loop (automaton.ts) in WebAssembly, for ASCII texts: four
// interleaved streams over bytes, with no bounds checks and plenty of registers, run about 3×
// faster than the JavaScript loop over code units (which two streams already saturate). Same
// table, same hits, same order; the JavaScript loop stays the reference and the fallback (texts
// with any code unit above 127, or no WebAssembly), and a differential test holds them equal.
//
// The module is assembled here from a few dozen instructions (no toolchain, no dependency).

// Where things live in the module's memory: the streams' registers, then the table, then the
// text of one chunk, then one hit region per stream.
const CTRL = 0; // r0..r3 (table byte offsets), p0..p3 (text addresses), o0..o3 (hit addresses)
const TABLE = 64;
const STREAMS = 4;
// Text is copied in and scanned this many characters at a time (bounds the memory).
export const CHUNK = 1 << 18;
// Steps per stream per call: the hit regions hold this many hits each.
const STEPS = 8192;
// A DFA state only depends on the last 62 characters (automaton.ts), so a stream starting
// mid-text reads this many characters before its start to know its state exactly.
const WARMUP = 64;
const PAGE = 65536;
// Chunks shorter than this run as one stream (four would mostly warm up).
export const MULTI_MIN = 256;

// Hits of one scan, as automaton.ts defines them.
export interface WasmHits {
  count: number;
  ends: Int32Array;
  states: Int32Array;
}

type Run = (steps: number, textBase: number) => void;

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
  add: [0x6a], sub: [0x6b], shl: [0x74], shrU: [0x76], xor: [0x73], ltS: [0x48], ltU: [0x49], eqz: [0x45], select: [0x1b],
  block: [0x02, 0x40], loop: [0x03, 0x40], if: [0x04, 0x40], end: [0x0b], brIf: (d: number) => [0x0d, ...uleb(d)],
};

// run(steps, textBase): each listed stream takes `steps` steps from its registers in CTRL, then
// stores them back. A step reads the UTF-16 code unit at p (above 127: column 0), moves r to
// table[r + 4 * column]; a negative entry (~offset) completes patterns: the hit
// ((p - textBase) / 2, state) goes to o.
function runBody(streams: number[]): number[] {
  const STEPS_L = 0, BASE = 1;
  const r = (k: number): number => 2 + k;
  const p = (k: number): number => 2 + STREAMS + k;
  const o = (k: number): number => 2 + 2 * STREAMS + k;
  const c = (k: number): number => 2 + 3 * STREAMS + k;
  const code: number[] = [];
  for (const k of streams) {
    code.push(...op.i32(CTRL), ...op.load(4 * k), ...op.set(r(k)));
    code.push(...op.i32(CTRL), ...op.load(16 + 4 * k), ...op.set(p(k)));
    code.push(...op.i32(CTRL), ...op.load(32 + 4 * k), ...op.set(o(k)));
  }
  code.push(...op.block, ...op.get(STEPS_L), ...op.eqz, ...op.brIf(0), ...op.loop);
  for (const k of streams) {
    code.push(
      // c = unit < 128 ? unit : 0
      ...op.get(p(k)), ...op.load16(0), ...op.tee(c(k)), ...op.i32(0), ...op.get(c(k)), ...op.i32(128), ...op.ltU, ...op.select,
      ...op.i32(2), ...op.shl, ...op.get(r(k)), ...op.add, ...op.load(TABLE), ...op.tee(r(k)),
      ...op.i32(0), ...op.ltS, ...op.if,
      ...op.get(r(k)), ...op.i32(-1), ...op.xor, ...op.set(r(k)),
      ...op.get(o(k)), ...op.get(p(k)), ...op.get(BASE), ...op.sub, ...op.i32(1), ...op.shrU, ...op.store(0),
      ...op.get(o(k)), ...op.get(r(k)), ...op.i32(9), ...op.shrU, ...op.store(4),
      ...op.get(o(k)), ...op.i32(8), ...op.add, ...op.set(o(k)),
      ...op.end,
      ...op.get(p(k)), ...op.i32(2), ...op.add, ...op.set(p(k)),
    );
  }
  code.push(...op.get(STEPS_L), ...op.i32(1), ...op.sub, ...op.tee(STEPS_L), ...op.brIf(0), ...op.end, ...op.end);
  for (const k of streams) {
    code.push(...op.i32(CTRL), ...op.get(r(k)), ...op.store(4 * k));
    code.push(...op.i32(CTRL), ...op.get(p(k)), ...op.store(16 + 4 * k));
    code.push(...op.i32(CTRL), ...op.get(o(k)), ...op.store(32 + 4 * k));
  }
  code.push(...op.end);
  const body = [...vec([[...uleb(4 * STREAMS), 0x7f]]), ...code];
  return [...uleb(body.length), ...body];
}

let moduleCache: WebAssembly.Module | null | undefined;

function compiled(): WebAssembly.Module | undefined {
  if (moduleCache === undefined) {
    try {
      const bytes = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
        ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f]]), 0]])),
        ...section(2, vec([[...name('m'), ...name('m'), 0x02, 0x00, 0x01]])),
        ...section(3, vec([[0], [0]])),
        ...section(7, vec([[...name('run4'), 0x00, 0], [...name('run1'), 0x00, 1]])),
        ...section(10, vec([runBody([0, 1, 2, 3]), runBody([STREAMS - 1])])),
      ];
      moduleCache = new WebAssembly.Module(Uint8Array.from(bytes));
    } catch {
      moduleCache = null;
    }
  }
  return moduleCache ?? undefined;
}

// A scanner over the table `delta` (row offsets state * 128, ~offset for states completing
// patterns, as automaton.ts builds it) from state `start`; undefined without WebAssembly.
// The function it returns answers undefined for texts it leaves to the JavaScript loop.
export function wasmDfaScanner(delta: Int32Array, start: number, hits: WasmHits): ((text: string) => WasmHits) | undefined {
  const mod = compiled();
  if (!mod) return undefined;
  const tableBytes = delta.length * 4;
  const textBase = TABLE + tableBytes;
  const outBase = textBase + 2 * (WARMUP + CHUNK) + 64;
  const need = outBase + STREAMS * STEPS * 8;
  let mem: WebAssembly.Memory;
  let run4: Run;
  let run1: Run;
  try {
    mem = new WebAssembly.Memory({ initial: Math.ceil(need / PAGE) });
    const inst = new WebAssembly.Instance(mod, { m: { m: mem } });
    run4 = inst.exports.run4 as Run;
    run1 = inst.exports.run1 as Run;
  } catch {
    return undefined;
  }
  const buf = mem.buffer; // never grown: views stay valid
  const table = new Int32Array(buf, TABLE, delta.length);
  for (let i = 0; i < delta.length; i++) {
    const e = delta[i]!;
    table[i] = e < 0 ? ~(~e * 4) : e * 4;
  }
  const bytes = Buffer.from(buf);
  const ctrl = new Int32Array(buf, CTRL, 3 * STREAMS);
  const outs = new Int32Array(buf, outBase, STREAMS * STEPS * 2);
  // Per-stream hits of the current chunk, appended to `hits` in stream order when it is done.
  const parts: WasmHits[] = Array.from({ length: STREAMS }, () => ({ count: 0, ends: new Int32Array(64), states: new Int32Array(64) }));
  const lo = new Int32Array(STREAMS); // stream k keeps hits ending in [lo[k], hi[k]) (chunk-relative)
  const hi = new Int32Array(STREAMS);
  const reserve = (b: WasmHits, need: number): void => {
    if (need <= b.ends.length) return;
    const size = Math.max(need, b.ends.length * 2);
    const e = new Int32Array(size);
    e.set(b.ends.subarray(0, b.count));
    const s = new Int32Array(size);
    s.set(b.states.subarray(0, b.count));
    b.ends = e;
    b.states = s;
  };
  // Moves the hits streams [from, STREAMS) wrote into parts (those in their own range), and
  // rewinds their regions.
  const drain = (from: number, shift: number): void => {
    for (let k = from; k < STREAMS; k++) {
      const base = outBase + k * STEPS * 8;
      const n = (ctrl[2 * STREAMS + k]! - base) >> 3;
      if (n === 0) continue;
      const part = parts[k]!;
      reserve(part, part.count + n);
      const { ends, states } = part;
      let m = part.count;
      for (let i = k * STEPS * 2, stop = i + 2 * n, a = lo[k]!, b = hi[k]!; i < stop; i += 2) {
        const end = outs[i]!;
        if (end >= a && end < b) { ends[m] = end + shift; states[m++] = outs[i + 1]!; }
      }
      part.count = m;
      ctrl[2 * STREAMS + k] = base;
    }
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
      // Stream k reports hits ending in [s, e) of the memory copy and reads from max(0, s - WARMUP)
      // on, from the start state: exact from s on. One stream for short chunks.
      const streams = n < MULTI_MIN ? 1 : STREAMS;
      const q = Math.floor(n / streams);
      for (let k = 0; k < STREAMS; k++) {
        const j = k - (STREAMS - streams); // this stream's part of the chunk, if it runs
        parts[k]!.count = 0;
        if (j < 0) continue;
        const s = w + j * q;
        const e = j === streams - 1 ? w + n : s + q;
        const from = Math.max(0, s - WARMUP);
        lo[k] = s;
        hi[k] = e;
        ctrl[k] = start * 4;
        ctrl[STREAMS + k] = textBase + 2 * from;
        ctrl[2 * STREAMS + k] = outBase + k * STEPS * 8;
      }
      // Every stream takes the same steps: the last ends at the chunk's end, the others past theirs.
      const total = w + n - Math.max(0, w + (streams - 1) * q - WARMUP);
      const run = streams === 1 ? run1 : run4;
      for (let done = 0; done < total; done += STEPS) {
        run(Math.min(STEPS, total - done), textBase);
        drain(STREAMS - streams, c0 - w);
      }
      for (const part of parts) {
        reserve(hits, hits.count + part.count);
        hits.ends.set(part.ends.subarray(0, part.count), hits.count);
        hits.states.set(part.states.subarray(0, part.count), hits.count);
        hits.count += part.count;
      }
    }
    return hits;
  };
}
