// Decoders an exfiltrating agent might hide a secret behind, and the text normalisation
// applied before pattern matching. Every decoder returns undefined rather than throwing.

const UTF8 = new TextDecoder('utf-8', { fatal: false });

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;

// %XX decoding to a fixed point (`%252541` → `A`, however deep the nesting), in one linear
// pass over the bytes: each decoded byte is pushed onto the output and may complete a new
// `%XX` with the two before it, which collapses again at once. Escapes never overlap, so this
// reaches the same result as decoding round after round, with no round cap an agent can
// outnest and no quadratic cost. Malformed escapes stay literal; invalid UTF-8 becomes U+FFFD.
export function percentDecodeFully(s: string): string {
  if (!s.includes('%')) return s;
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    out[n++] = src[i]!;
    while (n >= 3 && out[n - 3] === 0x25 && HEX_VALUE[out[n - 2]!]! >= 0 && HEX_VALUE[out[n - 1]!]! >= 0) {
      out[n - 3] = HEX_VALUE[out[n - 2]!]! * 16 + HEX_VALUE[out[n - 1]!]!;
      n -= 2;
    }
  }
  return n === src.length ? s : UTF8.decode(out.subarray(0, n));
}

// Decoded bytes as text, or undefined when they are not mostly printable (random bytes from
// decoding an innocent hash or word are discarded here, which keeps false positives down).
export function printable(bytes: Uint8Array, minChars = 4): string | undefined {
  if (bytes.length < minChars) return undefined;
  const text = UTF8.decode(bytes);
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f || c === 0xfffd) bad++;
  }
  return bad <= text.length * 0.1 ? text : undefined;
}

// Shortest printable run kept from binary: the route-secret (canary) minimum, so a secret
// of any length a pattern or canary knows survives.
const MIN_PRINTABLE_RUN = 8;

// The printable ASCII runs of binary bytes (8+ characters), one per line, or undefined when
// there are none: a secret inside base64 of a binary file (a zip, an image, a key store) is
// still a run of printable bytes after decoding.
export function printableRuns(bytes: Uint8Array): string | undefined {
  const runs: string[] = [];
  let start = -1;
  for (let i = 0; i <= bytes.length; i++) {
    const b = i < bytes.length ? bytes[i]! : 0;
    if (b >= 0x20 && b < 0x7f) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= MIN_PRINTABLE_RUN) runs.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('latin1'));
    start = -1;
  }
  return runs.length > 0 ? runs.join('\n') : undefined;
}

// Decoded bytes as something worth scanning: the text when mostly printable, else its runs.
export function readable(bytes: Uint8Array): string | undefined {
  return printable(bytes) ?? printableRuns(bytes);
}

const HEX_SEPARATORS = /\\x|0x|[:\-\s,]/gi;

// Hex in any common spelling: plain, `\x41\x42`, `0x41 0x42`, `41:42`, `41-42`, `41,42`.
export function decodeHex(s: string): Uint8Array | undefined {
  if (s.length < 10 || /[^0-9a-fA-Fx\\:\s,-]/.test(s)) return undefined;
  const h = /^[0-9a-fA-F]+$/.test(s) ? s : s.replace(HEX_SEPARATORS, '');
  if (h.length < 10 || h.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(h)) return undefined;
  return Buffer.from(h, 'hex');
}

// Base64, standard or URL-safe, padded or not.
export function decodeBase64(s: string): Uint8Array | undefined {
  if (s.length < 10 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return undefined;
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  return Buffer.from(body, 'base64');
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// RFC 4648 base32, either case, padded or not.
export function decodeBase32(s: string): Uint8Array | undefined {
  if (s.length < 10 || !/^[A-Za-z2-7]+=*$/.test(s)) return undefined;
  const body = s.replace(/=+$/, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < body.length; i++) {
    acc = (acc << 5) | B32.indexOf(body[i]!);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

const NOISE = /[./ \t\n\r+,;|]/g;

// Drops the characters used to break a secret up (`sk-ant.api03 …`) so it matches again.
export function stripNoise(s: string): string {
  return s.replace(NOISE, '');
}

// Cyrillic and Greek look-alikes of Latin letters, dashes, and invisible characters that NFKC
// leaves alone; fullwidth and other compatibility forms are handled by NFKC itself.
const CONFUSABLES: Record<string, string> = {
  'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
  'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ɡ': 'g', 'ӏ': 'l',
  'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T',
  'У': 'Y', 'Х': 'X', 'І': 'I', 'Ј': 'J', 'Ѕ': 'S', 'Ԛ': 'Q', 'Ԝ': 'W', 'Ү': 'Y', 'Һ': 'h',
  'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
  'χ': 'x', 'γ': 'y', 'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M',
  'Ν': 'N', 'Ο': 'O', 'Ρ': 'P', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X',
  '‐': '-', '‑': '-', '‒': '-', '–': '-', '—': '-', '―': '-', '−': '-', '⁃': '-', '﹣': '-',
  '\u00ad': '', '\u200b': '', '\u200c': '', '\u200d': '', '\u2060': '', '\ufeff': '', '\u180e': '',
};
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'g');
const NON_ASCII = /[\u0080-\uffff]/;

// NFKC plus confusable folding, so `ｓｋ－ａｎｔ…` and Cyrillic `ѕk-аnt…` match like ASCII.
// ASCII text is returned as is (the common case costs one regex test).
export function normalizeText(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  return s.normalize('NFKC').replace(CONFUSABLE_RE, (c) => CONFUSABLES[c] ?? c);
}

// Emits every printable decoding of `s`, nested up to `depth` layers (base64 inside hex inside
// percent-encoding...). `how` names the chain, outermost first: "base64", "percent+hex".
// `strip` also tries the text with noise separators removed (URL values; not prose bodies).
export function forEachDecoding(s: string, depth: number, emit: (how: string, text: string) => void, strip = true, how = ''): void {
  if (depth <= 0 || s.length < 10) return;
  const seen = new Set<string>();
  const found = (kind: string, text: string | undefined) => {
    if (text === undefined || text === s || seen.has(text)) return;
    seen.add(text);
    const chain = how ? `${how}+${kind}` : kind;
    emit(chain, text);
    forEachDecoding(text, depth - 1, emit, strip, chain);
  };
  if (/%[0-9a-fA-F]{2}/.test(s)) found('percent', percentDecodeFully(s));
  tryEncodings(s, found);
  // Encoded blobs inside a longer string ("data:...;base64,<blob>", "Bearer <blob>", prose).
  for (const run of encodedRuns(s)) tryEncodings(run, found);
  if (!strip) return;
  const stripped = stripNoise(s);
  if (stripped !== s && stripped.length >= 10) tryEncodings(stripped, found);
}

function tryEncodings(s: string, found: (kind: string, text: string | undefined) => void): void {
  const hex = decodeHex(s);
  if (hex) found('hex', readable(hex));
  const b64 = decodeBase64(s);
  if (b64) found('base64', readable(b64));
  const b32 = decodeBase32(s);
  if (b32) found('base32', readable(b32));
}

// Base64-alphabet characters (which include hex and base32), as a lookup table.
const RUN_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') RUN_CHAR[c.charCodeAt(0)] = 1;
const MIN_RUN = 16;

// Maximal runs of 16+ base64-alphabet characters (plus trailing `=` padding) strictly inside
// `s`; a hand-written scan because the equivalent regex backtracks on every word of prose.
// A run wrapped over lines (`base64`, `openssl` and MIME wrap at 64 or 76 columns, LF or CRLF)
// is one run, returned with the line breaks removed: a line break continues it when the line
// before it is 16+ characters and a multiple of 4 (so each line decodes on a byte boundary).
export function encodedRuns(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  let line = -1;
  let wrapped = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c < 128 && RUN_CHAR[c] === 1) {
      if (start < 0) start = line = i;
      continue;
    }
    if (start >= 0 && (c === 10 || c === 13) && i - line >= MIN_RUN && (i - line) % 4 === 0) {
      const next = c === 13 && s.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
      const n = s.charCodeAt(next);
      if (n < 128 && RUN_CHAR[n] === 1) {
        wrapped = true;
        line = next;
        i = next - 1;
        continue;
      }
    }
    if (start >= 0 && i - start >= MIN_RUN) {
      let end = i;
      while (end < s.length && end - i < 2 && s.charCodeAt(end) === 61) end++;
      if (wrapped) out.push(s.slice(start, end).replace(/\r?\n/g, ''));
      else if (start > 0 || end < s.length) out.push(s.slice(start, end));
    }
    start = -1;
    wrapped = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The fast path of the candidate decoders (Candidates.addDecoded in fast mode). It emits exactly
// what forEachDecoding feeds Candidates.add, in the same order, minus texts Candidates.add drops
// anyway (shorter than `minText`), and skips work whose output could only be such a text:
// - a decoder is not run on input too short to decode to `minText` bytes (hex: 2 characters a
//   byte, base64 4 per 3, base32 8 per 5; separators and padding only shorten the output);
// - readable() of fewer than `minText` bytes is never tried: UTF-8 decoding never yields more
//   UTF-16 units than it reads bytes, and printableRuns() joins 8+-byte runs with one '\n' in
//   place of at least one byte, so neither reading can be longer than the bytes;
// - readableAtLeast() decides printable() from the bytes when it can (all ASCII: the UTF-8
//   reading is the bytes one for one; or more ASCII control bytes than printable() tolerates:
//   each decodes to itself, so the text has at least as many bad characters) and decodes with
//   TextDecoder only otherwise.
// test/unit/evaluate-fastpath.test.ts checks these against the reference path.

const B32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 32; i++) {
  B32_VALUE[B32.charCodeAt(i)] = i;
  B32_VALUE[B32.toLowerCase().charCodeAt(i)] = i;
}
const BASE32_TEXT = /^[A-Za-z2-7]+=*$/;

// decodeBase32 with a lookup table into a preallocated buffer (same bytes).
export function decodeBase32Fast(s: string): Buffer | undefined {
  if (s.length < 10 || !BASE32_TEXT.test(s)) return undefined;
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  const out = Buffer.allocUnsafe((end * 5) >> 3);
  let n = 0;
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < end; i++) {
    acc = (acc << 5) | B32_VALUE[s.charCodeAt(i)]!;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return n === out.length ? out : out.subarray(0, n);
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));

// readable(bytes) when its result could be `minText`+ characters long, else undefined.
export function readableAtLeast(bytes: Uint8Array, minText: number): string | undefined {
  if (bytes.length < minText || bytes.length < 4) return undefined;
  let ctrl = 0;
  let high = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) high++;
    else if ((b < 0x20 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f) ctrl++;
  }
  const rejected = ctrl > bytes.length * 0.1;
  if (high === 0 && !rejected) return asBuffer(bytes).toString('latin1');
  if (rejected) return printableRuns(bytes);
  return readable(bytes);
}

const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/;

// Every decoding forEachDecoding(s, depth, emit, strip) emits with text `minText`+ characters
// long, as (how, text) pairs appended to `out`, in its order.
export function collectDecodings(s: string, depth: number, strip: boolean, minText: number, out: string[]): void {
  decodeLevel(s, depth, strip, minText, '', out);
}

function decodeLevel(s: string, depth: number, strip: boolean, minText: number, how: string, out: string[]): void {
  if (depth <= 0 || s.length < 10) return;
  const seen = new Set<string>();
  if (s.includes('%') && PERCENT_ESCAPE.test(s)) foundText(s, seen, depth, strip, minText, how, out, 'percent', percentDecodeFully(s));
  tryEncodingsFast(s, s, seen, depth, strip, minText, how, out);
  for (const run of encodedRunsFast(s)) tryEncodingsFast(run, s, seen, depth, strip, minText, how, out);
  if (!strip) return;
  const stripped = stripNoise(s);
  if (stripped !== s && stripped.length >= 10) tryEncodingsFast(stripped, s, seen, depth, strip, minText, how, out);
}

// forEachDecoding's `found`: a text shorter than `minText` is neither emitted usefully nor
// decoded further (the next level needs 10+), so only its `seen` entry is skipped, which
// could only ever suppress that same short text.
function foundText(s: string, seen: Set<string>, depth: number, strip: boolean, minText: number, how: string, out: string[], kind: string, text: string | undefined): void {
  if (text === undefined || text === s || text.length < minText || seen.has(text)) return;
  seen.add(text);
  const chain = how ? `${how}+${kind}` : kind;
  out.push(chain, text);
  decodeLevel(text, depth - 1, strip, minText, chain, out);
}

// tryEncodings on `t` (s itself, a run in it or its stripped form) for the level of `s`.
function tryEncodingsFast(t: string, s: string, seen: Set<string>, depth: number, strip: boolean, minText: number, how: string, out: string[]): void {
  const len = t.length;
  if (len >= 2 * minText) {
    const hex = decodeHex(t);
    if (hex) foundText(s, seen, depth, strip, minText, how, out, 'hex', readableAtLeast(hex, minText));
  }
  if (Math.floor((len * 3) / 4) >= minText) {
    const b64 = decodeBase64(t);
    if (b64) foundText(s, seen, depth, strip, minText, how, out, 'base64', readableAtLeast(b64, minText));
  }
  if (Math.floor((len * 5) / 8) >= minText) {
    const b32 = decodeBase32Fast(t);
    if (b32) foundText(s, seen, depth, strip, minText, how, out, 'base32', readableAtLeast(b32, minText));
  }
}

// encodedRuns, probing every 16th character instead of reading each: a run of 16+ characters
// covers 16 consecutive positions, so it covers a probe (positions 15, 31, ... to begin with,
// then 16 apart from the end of each run followed). A probe on a run character is widened
// left to its run's start (the character before a run start is never a run character: runs
// are maximal; a continuation line of a wrapped run is reached from the run's first line,
// which is 16+ characters, so probed, and earlier) and the run is then followed forward
// exactly as encodedRuns does, wrapping included. Same runs, same order; in prose, where
// 16-character runs are rare, most characters are never read.
export function encodedRunsFast(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let p = MIN_RUN - 1;
  while (p < n) {
    const c = s.charCodeAt(p);
    if (!(c < 128 && RUN_CHAR[c] === 1)) {
      p += MIN_RUN;
      continue;
    }
    let start = p;
    for (;;) {
      const b = start > 0 ? s.charCodeAt(start - 1) : 128;
      if (!(b < 128 && RUN_CHAR[b] === 1)) break;
      start--;
    }
    // Runs starting after this one's end (a non-run character) are found by probes spaced
    // MIN_RUN apart from end + MIN_RUN: one starting at end + 1 or later covers one of them.
    p = runFrom(s, start, out) + MIN_RUN;
  }
  return out;
}

// encodedRuns' loop from a run's first character to the index that ends it (emitting it).
function runFrom(s: string, start: number, out: string[]): number {
  let line = start;
  let wrapped = false;
  for (let i = start; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c < 128 && RUN_CHAR[c] === 1) continue;
    if ((c === 10 || c === 13) && i - line >= MIN_RUN && (i - line) % 4 === 0) {
      const next = c === 13 && s.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
      const n = s.charCodeAt(next);
      if (n < 128 && RUN_CHAR[n] === 1) {
        wrapped = true;
        line = next;
        i = next - 1;
        continue;
      }
    }
    if (i - start >= MIN_RUN) {
      let end = i;
      while (end < s.length && end - i < 2 && s.charCodeAt(end) === 61) end++;
      if (wrapped) out.push(s.slice(start, end).replace(/\r?\n/g, ''));
      else if (start > 0 || end < s.length) out.push(s.slice(start, end));
    }
    return i;
  }
  return s.length;
}
