// Reading a file the other side of a boundary can write (the supervise queue and decisions, the
// events file): the bundle could plant a symlink to a host secret, a FIFO that blocks the reader
// forever, or a file too big to hold. One opener refuses all three.
import { closeSync, constants as fsc, fstatSync, openSync, readSync, writeSync } from 'node:fs';

// The path exists but is not read: a symlink, not a regular file, or over the cap.
export class UnsafeFileError extends Error {
  override name = 'UnsafeFileError';
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

// How much to read, and what a longer file means.
export interface SafeReadOptions {
  maxBytes: number;
  /** Longer than maxBytes: 'refuse' (the default) throws; 'tail' returns the last maxBytes. */
  overflow?: 'refuse' | 'tail';
}

// Bytes read, and the file's size when opened (size > data.length: a tail was cut off the front).
export interface SafeRead {
  data: Buffer;
  size: number;
}

// Reads `file` without following a symlink in its last component; null when it does not exist.
export function readFileNoFollow(file: string, opts: SafeReadOptions): SafeRead | null {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; regular files ignore it.
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    // Linux and macOS say ELOOP for O_NOFOLLOW on a symlink; FreeBSD says EMLINK.
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFileError(file, 'is a symbolic link; not following it');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnsafeFileError(file, 'is not a regular file');
    if (st.size > opts.maxBytes && opts.overflow !== 'tail') {
      throw new UnsafeFileError(file, `is ${st.size} bytes, over the ${opts.maxBytes}-byte limit`);
    }
    const start = Math.max(0, st.size - opts.maxBytes);
    const data = Buffer.alloc(st.size - start);
    let got = 0;
    // A file that shrinks meanwhile ends the read early; one that grows is read up to the cap only.
    while (got < data.length) {
      const n = readSync(fd, data, got, data.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return { data: data.subarray(0, got), size: st.size };
  } finally {
    closeSync(fd);
  }
}

// Appends `text` to a file the other side can also write (the host logging into the bundle's
// events file): a planted symlink or a FIFO is refused the same way, a missing file is created.
export function appendFileNoFollow(file: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFileError(file, 'is a symbolic link; not following it');
    // A FIFO without a reader: O_NONBLOCK makes the open fail instead of wait.
    if (code === 'ENXIO') throw new UnsafeFileError(file, 'is not a regular file');
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UnsafeFileError(file, 'is not a regular file');
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
