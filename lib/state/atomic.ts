// Crash- and race-safe file updates: readers see the old file or the new one, never half.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors.js';

// Writes a temp file in the same dir, fsyncs it, renames it over `file`, then fsyncs the dir.
// Same dir so the rename is atomic; policy files rely on this inside a bind-mounted dir (§8).
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

export interface LockOptions {
  /** Give up waiting after this long (default 5 s). */
  timeoutMs?: number;
  /** A lock file older than this is from a crashed process and is broken (default 30 s). */
  staleMs?: number;
}

// Runs fn while holding an O_EXCL lock file, so read-modify-write cycles of different
// processes (dashboard, CLI) do not lose each other's updates.
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const staleMs = opts.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 50)) {
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      try { await fh.writeFile(`${process.pid}\n`); } finally { await fh.close(); }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > staleMs) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new UserError(
        `${lockFile} is held by another bottle process; retry, or remove it if no bottle command is running`,
      );
    }
    await sleep(wait + Math.random() * wait);
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
