// A growing JSON-lines file read on from where the last read stopped: the whole file at first
// sight, then only the bytes appended since, as complete lines (a partial last line waits for
// its end; a line over maxLine is skipped whole). A file that shrank or was replaced (another
// inode) is read again from the start, after `onReset`. The events file of a bottle is read this
// way by the dashboard (usage, the waiting marker, lapse events) and the gateway (budget).
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK = 1024 * 1024;

export interface LineTailOptions {
  /** Bytes of the file read at most (its beginning); beyond them `truncated` is set. */
  maxBytes: number;
  /** A longer line is skipped unparsed. */
  maxLine: number;
}

export class LineTail {
  #offset = 0;
  #ino: number | undefined;
  #tail: Buffer = Buffer.alloc(0);
  #skipping = false;
  /** The file is larger than maxBytes: what was read is its beginning. */
  truncated = false;

  constructor(readonly file: string, private readonly opts: LineTailOptions) {}

  /** Bytes of the file read so far (complete lines and the held partial one). */
  get offset(): number {
    return this.#offset;
  }

  // Reads what was appended since the last call, handing each complete line to `onLine`.
  // `onReset` runs first when the file is gone, shrank or was replaced (and its lines are read
  // again from the start). An absent file (or a symlink, FIFO, directory in its place) reads as
  // empty. Returns whether any line was handed over or a reset happened.
  read(onLine: (line: string) => void, onReset: () => void): boolean {
    let fd: number;
    try {
      fd = openSync(this.file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch {
      return this.#clear(onReset);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return this.#clear(onReset);
      let changed = false;
      if (this.#ino !== undefined && (st.ino !== this.#ino || st.size < this.#offset)) {
        this.#reset();
        onReset();
        changed = true;
      }
      this.#ino = st.ino;
      const end = Math.min(st.size, this.opts.maxBytes);
      this.truncated = st.size > this.opts.maxBytes;
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, end - this.#offset)));
      while (this.#offset < end) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - this.#offset), this.#offset);
        if (n <= 0) break;
        this.#offset += n;
        if (this.#chunk(buf.subarray(0, n), onLine)) changed = true;
      }
      return changed;
    } catch {
      return false;
    } finally {
      closeSync(fd);
    }
  }

  #reset(): void {
    this.#offset = 0;
    this.#ino = undefined;
    this.#tail = Buffer.alloc(0);
    this.#skipping = false;
    this.truncated = false;
  }

  #clear(onReset: () => void): boolean {
    const had = this.#ino !== undefined;
    this.#reset();
    if (had) onReset();
    return had;
  }

  // Complete lines of `data` (after the held tail) to onLine; the rest is held.
  #chunk(data: Buffer, onLine: (line: string) => void): boolean {
    let any = false;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = data.subarray(start, nl);
      start = nl + 1;
      if (this.#skipping) { this.#skipping = false; this.#tail = Buffer.alloc(0); continue; }
      const line = this.#tail.length > 0 ? Buffer.concat([this.#tail, piece]) : piece;
      this.#tail = Buffer.alloc(0);
      if (line.length > this.opts.maxLine) continue;
      onLine(line.toString('utf8'));
      any = true;
    }
    if (start < data.length && !this.#skipping) {
      const rest = data.subarray(start);
      if (this.#tail.length + rest.length > this.opts.maxLine) { this.#skipping = true; this.#tail = Buffer.alloc(0); }
      else this.#tail = Buffer.concat([this.#tail, rest]);
    }
    return any;
  }
}
