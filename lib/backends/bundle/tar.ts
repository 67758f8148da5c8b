// A tiny tar writer and a strict tar extractor: the engine API moves files in and out of
// containers as tar streams, and these few formats (ustar + pax names) are all it needs. No
// dependency, and the extractor is ours to keep strict: archives coming OUT of the agent are
// untrusted, so only plain files and directories below the destination are ever written.
import { closeSync, createReadStream, lstatSync, mkdirSync, openSync, readdirSync, constants as fsc, writeSync } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';

const BLOCK = 512;

// One archive member. Paths are relative, `/`-separated; `content` only for files.
export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  content?: Buffer | string;
  /** Symlink target. */
  target?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}

function paxRecord(key: string, value: string): string {
  // The length prefix counts itself: grow it until it is stable.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${len}${body}`) !== len) len = Buffer.byteLength(`${len}${body}`);
  return `${len}${body}`;
}

function rawHeader(name: string, typeflag: string, size: number, e: Partial<TarEntry>, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, (e.mode ?? (typeflag === '5' ? 0o755 : 0o644)) & 0o7777);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(e.mtime ?? Date.now() / 1000));
  h.write(typeflag, 156, 1, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

// The header block(s) of one entry; long names and link targets go in a pax header first.
export function entryHeader(e: TarEntry, size: number): Buffer {
  const flag = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0';
  const name = e.type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path;
  const target = e.target ?? '';
  const pax: string[] = [];
  if (Buffer.byteLength(name) > 99) pax.push(paxRecord('path', name));
  if (Buffer.byteLength(target) > 99) pax.push(paxRecord('linkpath', target));
  if (size > 0o77777777777) pax.push(paxRecord('size', String(size)));
  const main = rawHeader(name.slice(0, 99), flag, size > 0o77777777777 ? 0 : size, e, target.slice(0, 99));
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(''));
  return Buffer.concat([rawHeader('PaxHeader', 'x', body.length, {}), body, padding(body.length), main]);
}

// A whole archive in memory, for the small files provisioning writes.
export function tarBuffer(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    parts.push(entryHeader(e, body.length), body, padding(body.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

// Streams a host directory as `<prefix>/...` (files read lazily, so a big .git is never
// held in memory); ownership is rewritten to `owner` so the files land as the agent user.
export function tarDirectory(hostDir: string, prefix: string, owner: { uid: number; gid: number }): Readable {
  async function* walk(): AsyncGenerator<Buffer> {
    const stack: string[] = [''];
    while (stack.length > 0) {
      const rel = stack.pop()!;
      const abs = join(hostDir, rel);
      const st = lstatSync(abs);
      const path = rel ? posix.join(prefix, rel.split(sep).join('/')) : prefix;
      const base = { path, uid: owner.uid, gid: owner.gid, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        yield entryHeader({ ...base, type: 'dir' }, 0);
        for (const name of readdirSync(abs).sort().reverse()) stack.push(rel ? join(rel, name) : name);
      } else if (st.isFile()) {
        yield entryHeader({ ...base, type: 'file' }, st.size);
        let sent = 0;
        for await (const chunk of createReadStream(abs)) {
          // A file that grows while packed would corrupt the archive: stop at the size declared.
          const c = (chunk as Buffer).subarray(0, st.size - sent);
          sent += c.length;
          if (c.length) yield c;
          if (sent >= st.size) break;
        }
        if (sent < st.size) yield Buffer.alloc(st.size - sent);
        yield padding(st.size);
      }
      // Sockets, fifos and symlinks are skipped: a .git directory needs none of them.
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  return Readable.from(walk());
}

// One member of a small archive read in memory (readTarMembers).
export interface TarMember { path: string; type: 'file' | 'dir' | 'symlink' | 'other'; mode: number; uid: number; gid: number; content: Buffer }

// The members of a small in-memory archive (a file the engine hands out of a container: the
// image's /etc/passwd, its CA bundle), at most `maxBytes` of it; pax/GNU long names honoured.
export async function readTarMembers(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxBytes = 16 << 20): Promise<TarMember[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of source) {
    const b = Buffer.from(c);
    size += b.length;
    if (size > maxBytes) throw new Error(`archive exceeds ${maxBytes} bytes`);
    chunks.push(b);
  }
  const data = Buffer.concat(chunks);
  const out: TarMember[] = [];
  let longName: string | undefined;
  for (let i = 0; i + BLOCK <= data.length;) {
    const h = data.subarray(i, i + BLOCK);
    if (h.every((b) => b === 0)) break;
    const len = readOctal(h, 124, 12);
    const body = data.subarray(i + BLOCK, i + BLOCK + len);
    i += BLOCK + len + ((BLOCK - (len % BLOCK)) % BLOCK);
    const flag = String.fromCharCode(h[156] || 0x30);
    if (flag === 'x') longName = parsePax(body).path ?? longName;
    if (flag === 'L') longName = readString(body, 0, body.length);
    if (flag === 'x' || flag === 'L' || flag === 'g') continue;
    const prefix = readString(h, 345, 155);
    const path = longName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    longName = undefined;
    const type = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : 'other';
    out.push({ path, type, mode: readOctal(h, 100, 8), uid: readOctal(h, 108, 8), gid: readOctal(h, 116, 8), content: Buffer.from(body) });
  }
  return out;
}

function readString(h: Buffer, offset: number, width: number): string {
  const raw = h.subarray(offset, offset + width);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? width : nul).toString('utf8');
}

function readOctal(h: Buffer, offset: number, width: number): number {
  const s = readString(h, offset, width).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(body.subarray(i, sp).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= 0) break;
    const rec = body.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

// What extraction wrote and what it refused (links, devices, paths escaping the destination).
export interface ExtractReport { files: number; dirs: number; skipped: string[] }

// Extracts a tar stream into `dest`, writing only regular files (0600) and directories (0700)
// strictly below it, at most `maxBytes` of file data; everything else is skipped and reported.
export async function extractTar(source: AsyncIterable<Buffer | string>, dest: string, maxBytes = 2 ** 30): Promise<ExtractReport> {
  const root = resolve(dest);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const report: ExtractReport = { files: 0, dirs: 0, skipped: [] };
  let pending = Buffer.alloc(0);
  let remaining = 0; // body bytes left in the current entry
  let pad = 0;
  let fd: number | undefined;
  let collect: Buffer[] | undefined; // pax / GNU long-name bodies
  let collectKind = '';
  let nextName: string | undefined;
  let ended = false;
  let written = 0;

  const target = (name: string): string | undefined => {
    const clean = posix.normalize(name.replace(/^\.\//, ''));
    if (!clean || clean === '.' || posix.isAbsolute(clean) || clean.split('/').includes('..')) return undefined;
    const abs = resolve(root, clean);
    const rel = relative(root, abs);
    return rel && !rel.startsWith('..') ? abs : undefined;
  };

  const onHeader = (h: Buffer): void => {
    if (h.every((b) => b === 0)) {
      ended = true;
      return;
    }
    const size = readOctal(h, 124, 12);
    const flag = String.fromCharCode(h[156] || 0x30);
    const prefix = readString(h, 345, 155);
    const name = nextName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    remaining = size;
    pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (flag === 'x' || flag === 'L') {
      collect = [];
      collectKind = flag;
      return;
    }
    if (flag === 'g') return; // global pax header: body skipped
    nextName = undefined;
    const abs = target(name);
    if (!abs) {
      report.skipped.push(name);
    } else if (flag === '5') {
      mkdirSync(abs, { recursive: true, mode: 0o700 });
      report.dirs++;
    } else if (flag === '0' || flag === '\0' || flag === '7') {
      mkdirSync(resolve(abs, '..'), { recursive: true, mode: 0o700 });
      fd = openSync(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600);
      report.files++;
    } else {
      report.skipped.push(name);
    }
    if (fd !== undefined && remaining === 0) {
      closeSync(fd);
      fd = undefined;
    }
  };

  const onBodyDone = (): void => {
    if (fd !== undefined) {
      closeSync(fd);
      fd = undefined;
    }
    if (collect) {
      const body = Buffer.concat(collect);
      collect = undefined;
      if (collectKind === 'x') {
        const pax = parsePax(body);
        if (pax.path) nextName = pax.path;
      } else {
        nextName = readString(body, 0, body.length);
      }
    }
  };

  try {
    for await (const chunk of source) {
      pending = pending.length ? Buffer.concat([pending, Buffer.from(chunk)]) : Buffer.from(chunk);
      while (!ended) {
        if (remaining > 0) {
          if (pending.length === 0) break;
          const part = pending.subarray(0, remaining);
          if (fd !== undefined) {
            written += part.length;
            if (written > maxBytes) throw new Error(`archive exceeds ${maxBytes} bytes; extraction stopped`);
            writeSync(fd, part);
          }
          else if (collect) collect.push(Buffer.from(part));
          remaining -= part.length;
          pending = pending.subarray(part.length);
          if (remaining === 0) onBodyDone();
          continue;
        }
        if (pad > 0) {
          const n = Math.min(pad, pending.length);
          pad -= n;
          pending = pending.subarray(n);
          if (pad > 0) break;
          continue;
        }
        if (pending.length < BLOCK) break;
        const h = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        onHeader(h);
        if (remaining === 0 && !ended) onBodyDone();
      }
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return report;
}
