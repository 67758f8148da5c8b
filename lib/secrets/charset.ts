// Sets of characters for the regex analysis and the anchor automaton. Characters are 128
// columns: 1..127 are ASCII, column 0 stands for NUL and every code unit above 127 (no rule
// keyword or class tells those apart, and JavaScript's \w and \d never contain them).
export type CharSet = Uint32Array; // 4 × 32 bits; treat as immutable once built

export const column = (code: number): number => (code > 127 ? 0 : code);

export function hasCol(s: CharSet, c: number): boolean {
  return ((s[c >> 5]! >>> (c & 31)) & 1) === 1;
}

const interned = new Map<number, CharSet[]>();
const ids = new Map<CharSet, number>();

// One shared object per distinct set: cheap to compare and to use as a key.
function intern(s: CharSet): CharSet {
  const key = Math.imul(s[0]! ^ Math.imul(s[1]! ^ Math.imul(s[2]! ^ Math.imul(s[3]!, 0x9e3779b1), 0x85ebca6b), 0xc2b2ae35), 0x27d4eb2f);
  const same = interned.get(key);
  if (same) for (const k of same) if (k[0] === s[0] && k[1] === s[1] && k[2] === s[2] && k[3] === s[3]) return k;
  if (same) same.push(s);
  else interned.set(key, [s]);
  ids.set(s, ids.size);
  return s;
}

// A small number naming an (interned) set, for keys.
export function setId(s: CharSet): number {
  const id = ids.get(s);
  if (id === undefined) throw new Error('set not interned');
  return id;
}

export function setOf(pred: (c: number) => boolean): CharSet {
  const s = new Uint32Array(4);
  for (let c = 0; c < 128; c++) if (pred(c)) s[c >> 5]! |= 1 << (c & 31);
  return intern(s);
}

export function union(a: CharSet, b: CharSet): CharSet {
  return intern(Uint32Array.of(a[0]! | b[0]!, a[1]! | b[1]!, a[2]! | b[2]!, a[3]! | b[3]!));
}

export function intersect(a: CharSet, b: CharSet): CharSet {
  return intern(Uint32Array.of(a[0]! & b[0]!, a[1]! & b[1]!, a[2]! & b[2]!, a[3]! & b[3]!));
}

// Every column not in s, and column 0 always: code units above 127 are outside any ASCII class.
export function complement(s: CharSet): CharSet {
  return intern(Uint32Array.of(~s[0]! | 1, ~s[1]!, ~s[2]!, ~s[3]!));
}

export function subset(a: CharSet, b: CharSet): boolean {
  return (a[0]! & ~b[0]!) === 0 && (a[1]! & ~b[1]!) === 0 && (a[2]! & ~b[2]!) === 0 && (a[3]! & ~b[3]!) === 0;
}

export function disjoint(a: CharSet, b: CharSet): boolean {
  return (a[0]! & b[0]!) === 0 && (a[1]! & b[1]!) === 0 && (a[2]! & b[2]!) === 0 && (a[3]! & b[3]!) === 0;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function setSize(s: CharSet): number {
  return popcount(s[0]!) + popcount(s[1]!) + popcount(s[2]!) + popcount(s[3]!);
}

// The set with both cases of every ASCII letter it holds (case-insensitive matching).
export function caseClose(s: CharSet): CharSet {
  // Letters are columns 65..90 (word 2, bits 1..26) and 97..122 (word 3, bits 1..26).
  const letters = (s[2]! | s[3]!) & 0x07fffffe;
  return intern(Uint32Array.of(s[0]!, s[1]!, s[2]! | letters, s[3]! | letters));
}

// Letters (either case) the set holds.
export function letterCount(s: CharSet): number {
  return popcount((s[2]! | s[3]!) & 0x07fffffe);
}

// Code units lo..hi (those above 127 land in column 0).
export function range(lo: number, hi: number): CharSet {
  return intern(addRange(new Uint32Array(4), lo, hi));
}

// Adds code units lo..hi to the bits of an unfinished set; returns it.
export function addRange(raw: Uint32Array, lo: number, hi: number): Uint32Array {
  if (lo <= 0 || hi > 127) raw[0]! |= 1;
  for (let c = Math.max(lo, 1); c <= Math.min(hi, 127); c++) raw[c >> 5]! |= 1 << (c & 31);
  return raw;
}

// Adds set s to the bits of an unfinished set; returns it.
export function addSet(raw: Uint32Array, s: CharSet): Uint32Array {
  for (let w = 0; w < 4; w++) raw[w]! |= s[w]!;
  return raw;
}

// The (interned) set with the bits of an unfinished one.
export function finishSet(raw: Uint32Array): CharSet {
  return intern(Uint32Array.from(raw));
}

const singles: CharSet[] = [];

export function single(code: number, ignoreCase: boolean): CharSet {
  const c = column(code);
  const key = ignoreCase ? c + 128 : c;
  let s = singles[key];
  if (!s) {
    const raw = new Uint32Array(4);
    raw[c >> 5] = 1 << (c & 31);
    s = singles[key] = ignoreCase ? caseClose(intern(raw)) : intern(raw);
  }
  return s;
}

export const EMPTY = setOf(() => false);
export const WORD = setOf((c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95);
export const DIGIT = setOf((c) => c >= 48 && c <= 57);
// JavaScript's \s also matches non-ASCII spaces (U+00A0, U+FEFF, ...): column 0.
export const SPACE = setOf((c) => c === 0 || (c >= 9 && c <= 13) || c === 32);
export const DOT = setOf((c) => c !== 10 && c !== 13);

const keywordCache = new Map<string, CharSet[]>();

// A keyword as the prefilter matches it: ASCII case-insensitively, one set per character.
export function keywordCharSets(kw: string): CharSet[] {
  let sets = keywordCache.get(kw);
  if (!sets) {
    sets = [...kw].map((ch) => single(ch.charCodeAt(0), true));
    keywordCache.set(kw, sets);
  }
  return sets;
}
