// A streaming tar reader for `docker save` output: regular files are written under a directory
// (hashed on the way, so layer digests cost no second read), links are only recorded. Images can
// be gigabytes, so nothing is held in memory beyond one chunk. No dependency: ustar, pax and GNU
// long names are all docker (Go's archive/tar) emits.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';

const BLOCK = 512;

// One archive member; files carry where they landed and their sha256, links their target.
export type TarMember =
  | { type: 'file'; path: string; file: string; size: number; sha256: string }
  | { type: 'dir'; path: string }
  | { type: 'symlink' | 'hardlink'; path: string; target: string };

// Pull-based reader over a byte stream: exact reads for headers, bounded chunks for bodies.
class ByteReader {
  #it: AsyncIterator<Buffer | string>;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;

  constructor(src: AsyncIterable<Buffer | string>) {
    this.#it = src[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const { value, done } = await this.#it.next();
    if (done) { this.#eof = true; return false; }
    const chunk = typeof value === 'string' ? Buffer.from(value) : value;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    return true;
  }

  // Exactly n bytes, or fewer only at end of stream.
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n && (await this.#fill()));
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  // Reads and discards the rest: an abandoned stream would keep the engine's connection open.
  async drain(): Promise<void> {
    this.#buf = Buffer.alloc(0);
    while (await this.#fill()) this.#buf = Buffer.alloc(0);
  }

  // n bytes as a sequence of chunks; throws if the stream ends first.
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) throw new Error(`tar: stream ended ${left} bytes early`);
      const take = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      this.#buf = this.#buf.subarray(take.length);
      left -= take.length;
      yield take;
    }
  }
}

function str(h: Buffer, off: number, len: number): string {
  const end = h.indexOf(0, off);
  return h.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function num(h: Buffer, off: number, len: number): number {
  if ((h[off]! & 0x80) !== 0) {
    // GNU base-256 for sizes over 8 GiB.
    let v = h[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[off + i]!;
    return v;
  }
  const s = str(h, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === num(h, 148, 8);
}

function paxRecords(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(' ', i);
    const len = parseInt(body.slice(i, sp), 10);
    if (sp === -1 || !(len > 0)) break;
    const rec = body.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

// Member paths are relative and may not climb out of the destination.
function safePath(raw: string): string {
  const parts = raw.replace(/^\.\//, '').split('/').filter((p) => p !== '' && p !== '.');
  if (raw.startsWith('/') || parts.includes('..') || parts.length === 0) throw new Error(`tar: unsafe member path ${JSON.stringify(raw)}`);
  return parts.join('/');
}

async function readBody(r: ByteReader, size: number): Promise<Buffer> {
  const body = await r.read(size);
  if (body.length < size) throw new Error('tar: stream ended inside a header extension');
  await r.read((BLOCK - (size % BLOCK)) % BLOCK);
  return body;
}

// Extracts `src` under `dest`, returning every member by its relative path.
export async function extractTar(src: AsyncIterable<Buffer | string>, dest: string): Promise<Map<string, TarMember>> {
  const r = new ByteReader(src);
  const members = new Map<string, TarMember>();
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.read(BLOCK);
    if (h.length === 0 || h.every((b) => b === 0)) {
      await r.drain(); // the second zero block and the record padding
      break;
    }
    if (h.length < BLOCK) throw new Error('tar: truncated header');
    if (!checksumOk(h)) throw new Error('tar: bad header checksum (not a tar stream, or corrupted)');
    const type = String.fromCharCode(h[156]!);
    const size = pax.size !== undefined ? Number(pax.size) : num(h, 124, 12);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const body = await readBody(r, size);
      if (type === 'x') pax = paxRecords(body.toString('utf8'));
      if (type === 'L') longName = str(body, 0, body.length);
      if (type === 'K') longLink = str(body, 0, body.length);
      continue;
    }
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? str(h, 345, 155) : '';
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const linkName = pax.linkpath ?? longLink ?? str(h, 157, 100);
    pax = {}; longName = undefined; longLink = undefined;
    const path = safePath(rawName);
    if (type === '0' || type === '\0' || type === '7') {
      const file = join(dest, path);
      await mkdir(dirname(file), { recursive: true });
      const hash = createHash('sha256');
      const ws = createWriteStream(file);
      const closed = once(ws, 'close');
      try {
        for await (const c of r.chunks(size)) {
          hash.update(c);
          if (!ws.write(c)) await Promise.race([once(ws, 'drain'), closed]);
        }
      } finally {
        ws.end();
        await closed;
      }
      await r.read((BLOCK - (size % BLOCK)) % BLOCK);
      members.set(path, { type: 'file', path, file, size, sha256: hash.digest('hex') });
    } else {
      // Directories, links and anything else carry no data we keep; skip any body.
      for await (const _ of r.chunks(size)); // eslint-disable-line @typescript-eslint/no-unused-vars
      await r.read((BLOCK - (size % BLOCK)) % BLOCK);
      if (type === '5') members.set(path, { type: 'dir', path });
      if (type === '2' || type === '1') members.set(path, { type: type === '2' ? 'symlink' : 'hardlink', path, target: linkName });
    }
  }
  return members;
}
