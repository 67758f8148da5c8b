// The byte-level views of a request body or multipart part: content codings undone (gzip,
// deflate, br, stacked) under an output cap, and the text readings of its bytes (UTF-8 and the
// declared charset). What cannot be decoded, or decodes past the cap, is refused.
import zlib from 'node:zlib';
import { block, type Verdict } from './types.js';

// Codings one body may stack (`Content-Encoding: gzip, br`); more is refused rather than peeled.
const MAX_CODINGS = 4;

// How many decompressed bytes one body may still produce, over all its layers and parts (so a
// bomb spread over many multipart parts stops at the same cap as one in a single body).
export interface DecodeBudget { cap: number; left: number }

// The bytes `codings` (a Content-Encoding list, applied in order) decode to, within `budget`;
// a Verdict when a coding is unknown, its data is corrupt or it inflates past the budget.
export function undoContentCodings(bytes: Buffer, codings: readonly string[], budget: DecodeBudget, where: string): Buffer | Verdict {
  const list = codings.flatMap((v) => v.split(',')).map((e) => e.trim().toLowerCase()).filter((e) => e !== '' && e !== 'identity');
  if (list.length === 0) return bytes;
  if (list.length > MAX_CODINGS) return refuse(`${where} has ${list.length} stacked content codings (at most ${MAX_CODINGS} are decoded)`);
  let cur = bytes;
  for (let i = list.length - 1; i >= 0; i--) {
    const coding = list[i]!;
    const next = inflate(cur, coding, budget.left);
    if (next === 'unknown') return refuse(`${where} has content coding "${quotable(coding)}", which the gateway cannot decode to scan`);
    if (next === 'too-large') return refuse(`${where} decompresses to over ${budget.cap} bytes (limit); too big to scan`);
    if (next === 'corrupt') return refuse(`${where} claims ${quotable(coding)} content coding but does not decode`);
    budget.left -= next.length;
    cur = next;
  }
  return cur;
}

function refuse(reason: string): Verdict {
  return block('body-dlp', reason, 'compressed-body');
}

// A coding name safe to quote in a reason (a token, not a place to smuggle a secret).
function quotable(s: string): string {
  return /^[a-z0-9._+-]{1,20}$/.test(s) ? s : 'unknown';
}

function inflate(b: Buffer, coding: string, cap: number): Buffer | 'unknown' | 'too-large' | 'corrupt' {
  if (cap < 1) return 'too-large';
  const opts = { maxOutputLength: cap };
  try {
    if (coding === 'gzip' || coding === 'x-gzip') return zlib.gunzipSync(b, opts);
    if (coding === 'br') return zlib.brotliDecompressSync(b, opts);
    if (coding === 'deflate') {
      // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate, which servers accept.
      try {
        return zlib.inflateSync(b, opts);
      } catch (err) {
        if (tooLarge(err)) return 'too-large';
        return zlib.inflateRawSync(b, opts);
      }
    }
  } catch (err) {
    return tooLarge(err) ? 'too-large' : 'corrupt';
  }
  return 'unknown';
}

function tooLarge(err: unknown): boolean {
  return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });
const SAME_AS_UTF8 = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'us-ascii', 'ascii']);

export interface TextViews {
  // The bytes as UTF-8: always scanned, whatever the body claims.
  utf8: string;
  // The bytes in the declared charset, when one is declared and reads them differently.
  declared?: string;
  // UTF-16 readings of bytes that look like UTF-16 (many NULs) but do not say so.
  utf16?: string[];
}

// The text readings of `bytes` with declared `charset` (`asUtf8`: their UTF-8 reading, when the
// caller has it already). A charset the gateway cannot decode is
// refused: the upstream might read it (UTF-7 spells `ghp_` as `+AGcAaABwAF8-`) where no scan can.
export function textViews(bytes: Buffer, charset: string | undefined, where: string, asUtf8?: string): TextViews | Verdict {
  const utf8 = asUtf8 ?? UTF8.decode(bytes);
  const views: TextViews = { utf8 };
  const cs = charset?.trim().toLowerCase();
  if (cs && !SAME_AS_UTF8.has(cs)) {
    const declared = decodeCharset(bytes, cs);
    if (declared === undefined) return block('body-dlp', `${where} declares a charset the gateway cannot decode to scan`, 'unsupported-charset');
    if (declared !== utf8) views.declared = declared;
  }
  if (!cs?.startsWith('utf-16') && bytes.length >= 16 && bytes.indexOf(0) >= 0) {
    let nuls = 0;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) nuls++;
    if (nuls >= bytes.length / 4) views.utf16 = [new TextDecoder('utf-16le').decode(bytes), new TextDecoder('utf-16be').decode(bytes)];
  }
  return views;
}

function decodeCharset(bytes: Buffer, cs: string): string | undefined {
  // WHATWG maps the bare `utf-16` label to little-endian; a big-endian BOM says otherwise.
  const label = cs === 'utf-16' && bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : cs;
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return undefined;
  }
}
