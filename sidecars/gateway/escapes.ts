// Finding a route secret written escaped, as URL and JSON encoders reflect it: any of its
// bytes as `%HH` (either case), `\u00HH`, or a JSON escape (`\/`, `\\`, `\"`). Used by the
// response mask (scrub.ts), which finds plain copies itself by native search. Pure.
import type { Needles } from './scrub.js';

const MASK = 0x2a; // '*'
const PERCENT = 0x25;
const BACKSLASH = 0x5c;

// Escaped copies: the buffer is read once with its escapes decoded, the needles are searched
// in that by native search, and each hit masks the bytes it was decoded from. The plain runs
// between escapes are copied natively; a map of segments (a run, or one escape) leads back.
export function maskEscaped(buf: Buffer, needles: Needles): number {
  const escapes = new Escapes(buf);
  let e = escapes.next(0);
  if (e === -1) return 0;
  const dec = Buffer.allocUnsafe(buf.length);
  const seg = new Segments();
  let i = 0;
  let j = 0;
  while (e !== -1) {
    const unit = unescapeAt(buf, e);
    if (unit === undefined || unit === 'partial') {
      e = escapes.next(e + 1);
      continue;
    }
    if (e > i) {
      seg.add(j, i, e - i, false);
      j += buf.copy(dec, j, i, e);
    }
    seg.add(j, e, unit.len, true);
    dec[j++] = unit.byte;
    i = e + unit.len;
    e = escapes.next(i);
  }
  if (seg.size === 0) return 0; // nothing was an escape
  seg.add(j, i, buf.length - i, false);
  j += buf.copy(dec, j, i);
  const d = dec.subarray(0, j);
  let n = 0;
  for (const needle of needles.list) {
    for (let at = d.indexOf(needle); at !== -1; at = d.indexOf(needle, at + needle.length)) {
      buf.fill(MASK, seg.start(at), seg.end(at + needle.length - 1));
      d.fill(MASK, at, at + needle.length);
      n++;
    }
  }
  return n;
}

// Where decoded bytes came from: segments in decoded order, each a plain run (same length
// both sides) or one escape (one decoded byte from `len` bytes).
class Segments {
  private readonly dec: number[] = [];
  private readonly orig: number[] = [];
  private readonly len: number[] = [];
  private readonly escape: boolean[] = [];

  get size(): number {
    return this.dec.length;
  }

  add(dec: number, orig: number, len: number, escape: boolean): void {
    this.dec.push(dec);
    this.orig.push(orig);
    this.len.push(len);
    this.escape.push(escape);
  }

  // Where decoded byte `at` starts in the buffer.
  start(at: number): number {
    const k = this.find(at);
    return this.orig[k]! + (this.escape[k] ? 0 : at - this.dec[k]!);
  }

  // Where decoded byte `at` ends in the buffer (exclusive).
  end(at: number): number {
    const k = this.find(at);
    return this.escape[k] ? this.orig[k]! + this.len[k]! : this.orig[k]! + at - this.dec[k]! + 1;
  }

  // The last segment starting at or before decoded byte `at` (binary search).
  private find(at: number): number {
    let lo = 0;
    let hi = this.dec.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.dec[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

// The next `%` or `\` at or after a position, for positions asked in increasing order: each
// character's next occurrence is searched again only once passed (one pass over the buffer).
export class Escapes {
  private p = -2;
  private b = -2;

  constructor(private readonly buf: Buffer) {}

  next(from: number): number {
    if (this.p !== -1 && this.p < from) this.p = this.buf.indexOf(PERCENT, from);
    if (this.b !== -1 && this.b < from) this.b = this.buf.indexOf(BACKSLASH, from);
    return this.p === -1 ? this.b : this.b === -1 ? this.p : Math.min(this.p, this.b);
  }
}

// The length of the longest needle found at `at`, plain or escaped; 0 if none; -1 when the
// buffer ends while one still could be (a tail to hold back).
export function escapedMatchAt(buf: Buffer, at: number, needles: Needles): number {
  const c = buf[at]!;
  const unit = c === PERCENT || c === BACKSLASH ? unescapeAt(buf, at) : undefined;
  if (unit === 'partial') return -1; // a cut escape could stand for any first byte
  const escaped = unit ? matchAny(buf, at, needles.byFirst.get(unit.byte)) : 0;
  if (escaped > 0) return escaped;
  const plain = matchAny(buf, at, needles.byFirst.get(c));
  return plain > 0 ? plain : escaped === -1 || plain === -1 ? -1 : 0;
}

// The first of `list` found at `at` (its length), else -1 if one may be cut by the end, else 0.
function matchAny(buf: Buffer, at: number, list: readonly Buffer[] | undefined): number {
  if (list === undefined) return 0;
  let pending = 0;
  for (const needle of list) {
    const len = escapedMatch(buf, at, needle);
    if (len > 0) return len;
    if (len === -1) pending = -1;
  }
  return pending;
}

// The length of `needle` at `at`, each byte as itself or escaped; 0 if it is not there; -1
// if the buffer ends first and the bytes so far fit.
function escapedMatch(buf: Buffer, at: number, needle: Buffer): number {
  let i = at;
  for (let k = 0; k < needle.length; k++) {
    if (i >= buf.length) return -1;
    const want = needle[k]!;
    const unit = buf[i] === PERCENT || buf[i] === BACKSLASH ? unescapeAt(buf, i) : undefined;
    if (unit === 'partial') return -1;
    if (unit !== undefined && unit.byte === want) i += unit.len;
    else if (buf[i] === want) i++;
    else return 0;
  }
  return i - at;
}

// A hex digit's value, or -1.
function hexDigit(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

// `n` hex digits at `from` as a number; 'partial' when the buffer ends inside them.
function hexAt(buf: Buffer, from: number, n: number): number | 'partial' | undefined {
  let v = 0;
  for (let k = 0; k < n; k++) {
    if (from + k >= buf.length) return 'partial';
    const d = hexDigit(buf[from + k]);
    if (d < 0) return undefined;
    v = v * 16 + d;
  }
  return v;
}

// The byte an escape at `at` stands for: `%HH`, `\u00HH` (ASCII only: above it JSON encodes
// code points, not bytes), `\/`, `\\`, `\"`. 'partial' when the buffer ends inside one.
function unescapeAt(buf: Buffer, at: number): { byte: number; len: number } | 'partial' | undefined {
  if (buf[at] === PERCENT) {
    const v = hexAt(buf, at + 1, 2);
    return typeof v === 'number' ? { byte: v, len: 3 } : v;
  }
  if (buf[at] !== BACKSLASH) return undefined;
  if (at + 1 >= buf.length) return 'partial';
  const c = buf[at + 1]!;
  if (c === 0x2f || c === BACKSLASH || c === 0x22) return { byte: c, len: 2 };
  if (c !== 0x75) return undefined; // 'u'
  const v = hexAt(buf, at + 2, 4);
  if (typeof v !== 'number') return v;
  return v < 0x80 ? { byte: v, len: 6 } : undefined;
}
