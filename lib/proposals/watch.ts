// Waits for decision files to appear in the (read-only) decisions dir. One fs.watch serves all
// waiters, plus a slow poll: fs.watch misses events on some bind mounts (Docker Desktop, virtio-fs),
// and a dir that does not exist yet cannot be watched at all.
import { watch, type FSWatcher } from 'node:fs';
import { readDecision, ProposalFileError } from './files.js';
import type { Decision } from './types.js';

// Tunables; tests shorten the poll.
export interface DecisionWatcherOptions {
  /** Fallback poll period; also how often a missing dir is re-tried for fs.watch. */
  pollMs?: number;
  /** Told about malformed decision files (they are treated as "no decision yet"). */
  warn?: (message: string) => void;
}

// Lets many concurrent tool calls each wait, bounded, for the decision on one proposal id.
export class DecisionWatcher {
  private readonly waiters = new Map<string, Set<(d: Decision) => void>>();
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private readonly pollMs: number;

  constructor(private readonly dir: string, private readonly opts: DecisionWatcherOptions = {}) {
    this.pollMs = opts.pollMs ?? 2000;
  }

  // The decision, or null if there is none yet (a malformed file counts as none, with a warning).
  async current(id: string): Promise<Decision | null> {
    try {
      return await readDecision(this.dir, id);
    } catch (e) {
      if (e instanceof ProposalFileError) {
        this.opts.warn?.(`ignoring malformed decision: ${e.message}`);
        return null;
      }
      throw e;
    }
  }

  // Resolves with the decision as soon as it is seen, or null after `timeoutMs` or on abort.
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Decision | null> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (d: Decision | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.remove(id, onDecision);
        resolve(d);
      };
      const onDecision = (d: Decision) => done(d);
      const onAbort = () => done(null);
      if (signal?.aborted) return resolve(null);
      signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => done(null), timeoutMs);
      // Register before the first look, so a decision landing in between is not missed.
      this.add(id, onDecision);
      // An unreadable dir (EACCES...) is not fatal either: keep waiting, the poll will retry.
      this.current(id).then((d) => { if (d) done(d); }, () => undefined);
    });
  }

  close(): void {
    this.waiters.clear();
    this.stop();
  }

  private add(id: string, fn: (d: Decision) => void): void {
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(fn);
    this.ensureRunning();
  }

  private remove(id: string, fn: (d: Decision) => void): void {
    const set = this.waiters.get(id);
    set?.delete(fn);
    if (set?.size === 0) this.waiters.delete(id);
    if (this.waiters.size === 0) this.stop();
  }

  private ensureRunning(): void {
    this.startWatch();
    this.poller ??= setInterval(() => {
      this.startWatch();
      for (const id of [...this.waiters.keys()]) void this.check(id);
    }, this.pollMs);
  }

  private startWatch(): void {
    if (this.watcher) return;
    try {
      const w = watch(this.dir, { persistent: false }, (_event, filename) => {
        const name = filename ? String(filename) : '';
        if (name.endsWith('.json') && !name.startsWith('.')) void this.check(name.slice(0, -'.json'.length));
        else if (!name) for (const id of [...this.waiters.keys()]) void this.check(id);
      });
      // e.g. the dir was removed: drop the watcher; the poll re-creates it when it can.
      w.on('error', () => { w.close(); if (this.watcher === w) this.watcher = undefined; });
      this.watcher = w;
    } catch {
      // Missing or unwatchable dir: the poll carries on alone.
    }
  }

  private stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.poller);
    this.poller = undefined;
  }

  private async check(id: string): Promise<void> {
    const set = this.waiters.get(id);
    if (!set) return;
    const d = await this.current(id).catch(() => null);
    if (d) for (const fn of [...(this.waiters.get(id) ?? [])]) fn(d);
  }
}
