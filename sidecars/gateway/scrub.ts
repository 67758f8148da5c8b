// Route secrets never come back to the agent: a route host that echoes what it received (a
// `/headers` debug endpoint, an error page quoting the request, a token-info call) would
// otherwise hand the agent the credential the gateway injected. Responses to routed requests
// are masked: every searchable form of every route secret (the canary forms: raw, hex,
// base64, base32 at every alignment) becomes the same number of `*`, in the status reason,
// header names and values and in the body, as it streams. Same length, so Content-Length
// stays true. Each form is also found escaped, any of its bytes written as `%HH`, `\u00HH`
// or a JSON escape (`\/`), as a URL or a JSON encoder would reflect it. In a head, where
// values are short and a token can be cut across headers, every piece of a raw secret of a
// third of its length (at least 8 characters) is masked too.
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { Canaries } from '../../lib/policy/index.js';
import { Escapes, escapedMatchAt, maskEscaped } from './escapes.js';

const MASK = 0x2a; // '*'

// The forms to mask, ready for searching: longest first (a longer form is masked whole before
// a shorter one inside it could split it), and indexed by first byte for the tail check.
export interface Needles {
  readonly list: readonly Buffer[];
  readonly texts: readonly string[];
  readonly byFirst: ReadonlyMap<number, readonly Buffer[]>;
  readonly longest: number;
  // The raw secrets' pieces masked in a head (see above), longest first.
  readonly pieces: readonly string[];
}

// `\u00HH` is the longest escape of one byte: an escaped needle is at most this many times longer.
const MAX_ESCAPE = 6;
// The shortest piece of a secret masked in a head: shorter ones would match innocent text.
const MIN_PIECE = 8;

// Built once per policy generation (a Snapshot's canaries), not per request.
const built = new WeakMap<Canaries, Needles>();

export function maskNeedles(c: Canaries): Needles {
  let n = built.get(c);
  if (!n) {
    const list = c.forms.map((f) => Buffer.from(f.text, 'utf8')).sort((a, b) => b.length - a.length);
    const byFirst = new Map<number, Buffer[]>();
    for (const b of list) byFirst.set(b[0]!, [...(byFirst.get(b[0]!) ?? []), b]);
    n = { list, texts: list.map((b) => b.toString('latin1')), byFirst, longest: list[0]?.length ?? 0, pieces: secretPieces(c) };
    built.set(c, n);
  }
  return n;
}

// The needles for a request's response: only a routed request's (one that had headers
// injected) is masked; undefined when there is nothing to mask.
export function routeNeedles(inject: Readonly<Record<string, string>> | undefined, c: Canaries): Needles | undefined {
  if (!inject || Object.keys(inject).length === 0) return undefined;
  const n = maskNeedles(c);
  return n.list.length ? n : undefined;
}

// Every piece of each raw secret that a head masks: all substrings of a third of its length
// (at least MIN_PIECE), so a secret cut into up to three parts loses at least one whole.
function secretPieces(c: Canaries): string[] {
  const out = new Set<string>();
  for (const f of c.forms) {
    if (f.kind !== 'raw') continue;
    const size = Math.min(f.text.length, Math.max(MIN_PIECE, Math.ceil(f.text.length / 3)));
    for (let i = 0; i + size <= f.text.length; i++) out.add(f.text.slice(i, i + size));
  }
  return [...out];
}

// Masks every occurrence of every needle in `buf`, in place, plain or escaped; returns how
// many it masked. Plain copies by native search; escaped ones (escapes.ts) only where the
// buffer has an escape character at all.
export function maskInPlace(buf: Buffer, needles: Needles): number {
  let n = 0;
  for (const needle of needles.list) {
    for (let at = buf.indexOf(needle); at !== -1; at = buf.indexOf(needle, at + needle.length)) {
      buf.fill(MASK, at, at + needle.length);
      n++;
    }
  }
  return n + maskEscaped(buf, needles);
}

// The length of the longest tail of `buf` that could begin a needle, plain or escaped: those
// bytes may be the start of a secret that the next chunk completes, so they wait for it.
// Scans the last bytes an escaped needle could span, left to right (the first hit is the
// longest tail), comparing only the needles that start with the byte found there.
export function pendingTail(buf: Buffer, needles: Needles): number {
  const reach = Math.max(0, buf.length - needles.longest * MAX_ESCAPE + 1);
  const e = new Escapes(buf).next(reach);
  // A plain prefix is under `longest` bytes; an escaped one has under `longest` plain bytes
  // before its first escape, and that is at or after the first escape in reach.
  const from = Math.max(reach, (e === -1 ? buf.length : e) - needles.longest + 1);
  for (let at = from; at < buf.length; at++) {
    if (escapedMatchAt(buf, at, needles) === -1) return buf.length - at;
  }
  return 0;
}

// Masks one byte stream piece by piece: each piece comes back masked, minus a tail that could
// begin a needle, which waits for the next piece (or goes out whole at the end: no needle fits
// in it, that was checked).
class TailMasker {
  private carry: Buffer = Buffer.alloc(0);
  masked = 0;

  constructor(private readonly needles: Needles) {}

  // `last`: nothing follows in this stream, so nothing is held back.
  feed(piece: Buffer, last: boolean): Buffer {
    const buf = this.carry.length ? Buffer.concat([this.carry, piece]) : Buffer.from(piece);
    this.masked += maskInPlace(buf, this.needles);
    const hold = last ? 0 : pendingTail(buf, this.needles);
    this.carry = Buffer.from(buf.subarray(buf.length - hold));
    return buf.subarray(0, buf.length - hold);
  }
}

// A body stream with the needles masked. Holds back only a tail that could begin a needle, so
// a stream (SSE) is not delayed unless its last bytes look like the start of a secret.
export class SecretMask extends Transform {
  private readonly tail: TailMasker;

  constructor(needles: Needles) {
    super();
    this.tail = new TailMasker(needles);
  }

  get masked(): number {
    return this.tail.masked;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.tail.feed(chunk, false);
    if (out.length) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    const out = this.tail.feed(Buffer.alloc(0), true);
    if (out.length) this.push(out);
    done();
  }
}

// A response head with the needles masked: the status reason, and every header name and value
// (raw list). Masked as one block, the parts joined by a newline (which no header or reason
// holds), so a piece of a secret is found wherever it is and each part keeps its length.
export function maskHeaders(raw: readonly string[], needles: Needles, message = ''): { headers: string[]; message: string; masked: number } {
  const block = [message, ...raw].join('\n');
  const buf = Buffer.from(block, 'latin1');
  let masked = maskInPlace(buf, needles);
  // Every piece is looked for before any is masked: overlapping pieces cover a part together.
  const text = buf.toString('latin1');
  for (const piece of needles.pieces) {
    for (let at = text.indexOf(piece); at !== -1; at = text.indexOf(piece, at + 1)) {
      buf.fill(MASK, at, at + piece.length);
      masked++;
    }
  }
  if (masked === 0) return { headers: [...raw], message, masked };
  const [m, ...headers] = buf.toString('latin1').split('\n');
  return { headers, message: m!, masked };
}

// A decoder for a response's codings (Content-Encoding, then Transfer-Encoding other than
// chunked, which node's parser undoes), so the body can be masked; 'identity' when it has
// none; undefined for codings the gateway cannot read, or more than one (refused).
export function decoderFor(contentEncoding: string | undefined, transferEncoding?: string): (() => Transform) | 'identity' | undefined {
  const codings = `${contentEncoding ?? ''},${transferEncoding ?? ''}`.split(',').map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity' && c !== 'chunked');
  if (codings.length === 0) return 'identity';
  if (codings.length > 1) return undefined;
  switch (codings[0]) {
    case 'gzip': case 'x-gzip': return () => zlib.createGunzip();
    case 'deflate': return () => zlib.createInflate();
    case 'br': return () => zlib.createBrotliDecompress();
    default: return undefined;
  }
}

// WebSocket frames from a route host, masked (RFC 6455 §5.2). Frame lengths cannot change, so
// each data or control frame's payload is masked on its own, streaming: a tail that could
// begin a secret waits for the rest of the same frame, and is flushed at the frame's end.
// (A secret cut across two frames of a fragmented message is therefore not caught.) Frames a
// server must not send (masked ones) and compressed frames (RSV1, possible only if an
// extension was negotiated, which the gateway never offers on a route host) end the stream
// with an error: their payload cannot be checked.
export class FrameMask extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private left = 0; // payload bytes still to come in the current frame
  private readonly tail: TailMasker; // one payload at a time: it is empty between frames

  constructor(needles: Needles) {
    super();
    this.tail = new TailMasker(needles);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let data = chunk;
    while (data.length) {
      if (this.left === 0) {
        // Collect a whole frame header (2 to 10 bytes; servers send no masking key).
        this.head = this.head.length ? Buffer.concat([this.head, data]) : data;
        const size = frameHeaderSize(this.head);
        if (size === undefined || this.head.length < size) {
          this.head = Buffer.from(this.head);
          return done();
        }
        const b0 = this.head[0]!;
        const b1 = this.head[1]!;
        if (b1 & 0x80) return done(new Error('a masked frame from the server'));
        if (b0 & 0x40) return done(new Error('a compressed frame (RSV1) that cannot be checked'));
        const len = payloadLength(this.head);
        this.push(Buffer.from(this.head.subarray(0, size)));
        data = this.head.subarray(size);
        this.head = Buffer.alloc(0);
        this.left = len;
        if (len === 0) continue;
      }
      const take = Math.min(this.left, data.length);
      this.left -= take;
      const out = this.tail.feed(data.subarray(0, take), this.left === 0);
      data = data.subarray(take);
      if (out.length) this.push(out);
    }
    done();
  }
}

// Bytes in a server frame's header, or undefined while too few bytes are in to tell.
function frameHeaderSize(head: Buffer): number | undefined {
  if (head.length < 2) return undefined;
  const len7 = head[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
}

function payloadLength(head: Buffer): number {
  const len7 = head[1]! & 0x7f;
  if (len7 === 126) return head.readUInt16BE(2);
  if (len7 === 127) return Number(head.readBigUInt64BE(2));
  return len7;
}
