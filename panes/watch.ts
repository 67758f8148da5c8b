// Event-driven updates: fs.watch on the state root and on each bottle's dir, proposal queue,
// decisions and events dirs (re-armed as bottles come and go), bursts folded into one ChangeSet
// per short window. A slow stat poll covers filesystems where inotify misses events; nothing
// re-reads data on a timer.
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { bottlePaths } from '../lib/state/index.js';

// What to reload: the bottle list (metadata, waiting markers) and/or some bottles' proposals.
export interface ChangeSet {
  bottles: boolean;
  /** Slugs whose queue or decisions changed; 'all' after a root-level change. */
  proposals: Set<string> | 'all';
}

export interface WatchOptions {
  /** Window that folds a burst of events into one ChangeSet (default 30 ms). */
  debounceMs?: number;
  /** Fallback stat poll (default 5000 ms; 0 disables it). */
  pollMs?: number;
  /** fs.watch, injectable for tests. */
  watch?: (path: string, listener: () => void) => FSWatcher;
}

type Part = 'dir' | 'queue' | 'decisions' | 'events';

const defaultWatch = (path: string, listener: () => void): FSWatcher => fsWatch(path, { persistent: false }, listener);

// Watches one state root; call sync() with the current slugs after each bottle-list load.
export class StateWatcher {
  readonly #root: string;
  readonly #onChange: (c: ChangeSet) => void;
  readonly #debounceMs: number;
  readonly #pollMs: number;
  readonly #watch: NonNullable<WatchOptions['watch']>;
  readonly #watchers = new Map<string, FSWatcher>();
  #slugs: string[] = [];
  #pending: ChangeSet | undefined;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #stamps = new Map<string, string>();
  #closed = false;

  constructor(root: string, onChange: (c: ChangeSet) => void, opts: WatchOptions = {}) {
    this.#root = root;
    this.#onChange = onChange;
    this.#debounceMs = opts.debounceMs ?? 30;
    this.#pollMs = opts.pollMs ?? 5000;
    this.#watch = opts.watch ?? defaultWatch;
  }

  start(): void {
    this.#arm('root', this.#root, () => this.#mark({ bottles: true, proposals: 'all' }));
    if (this.#pollMs > 0) {
      void this.#stampAll(); // baseline, so the first poll only reports real changes
      this.#poll = setInterval(() => void this.#pollOnce(), this.#pollMs);
      this.#poll.unref();
    }
  }

  // Arms watchers for these bottles and drops those of bottles that are gone.
  sync(slugs: readonly string[]): void {
    if (this.#closed) return;
    this.#slugs = [...slugs];
    const wanted = new Set(['root']);
    for (const slug of slugs) {
      for (const [part, path] of this.#paths(slug)) {
        const id = `${slug}:${part}`;
        wanted.add(id);
        const onEvent = part === 'queue' || part === 'decisions'
          ? () => this.#mark({ bottles: false, proposals: new Set([slug]) })
          : () => this.#mark({ bottles: true, proposals: new Set() });
        this.#arm(id, path, onEvent);
      }
    }
    for (const [id, w] of this.#watchers) {
      if (!wanted.has(id)) {
        w.close();
        this.#watchers.delete(id);
      }
    }
  }

  #paths(slug: string): [Part, string][] {
    const p = bottlePaths(this.#root, slug);
    return [['dir', p.dir], ['queue', p.superviseQueue], ['decisions', p.superviseDecisions], ['events', p.events]];
  }

  // A dir that does not exist yet (mid-creation) is simply not watched; the poll re-tries.
  #arm(id: string, path: string, onEvent: () => void): void {
    if (this.#watchers.has(id) || this.#closed) return;
    try {
      const w = this.#watch(path, onEvent);
      w.on('error', () => {
        w.close();
        if (this.#watchers.get(id) === w) this.#watchers.delete(id);
        onEvent();
      });
      this.#watchers.set(id, w);
    } catch { /* ENOENT and friends: poll covers it */ }
  }

  #mark(c: ChangeSet): void {
    if (this.#closed) return;
    const p = this.#pending ?? { bottles: false, proposals: new Set<string>() };
    p.bottles ||= c.bottles;
    if (c.proposals === 'all' || p.proposals === 'all') p.proposals = 'all';
    else for (const s of c.proposals) p.proposals.add(s);
    this.#pending = p;
    this.#timer ??= setTimeout(() => this.flush(), this.#debounceMs);
  }

  // Delivers what accumulated now (tests and the poll call it; normally the debounce timer does).
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const c = this.#pending;
    this.#pending = undefined;
    if (c && !this.#closed) this.#onChange(c);
  }

  async #stamp(path: string): Promise<string> {
    try {
      const s = await stat(path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  // Signature of every watched path; returns the ids whose signature changed.
  async #stampAll(): Promise<string[]> {
    const targets: [string, string][] = [['root', this.#root]];
    for (const slug of this.#slugs) {
      for (const [part, path] of this.#paths(slug)) targets.push([`${slug}:${part}`, path]);
      targets.push([`${slug}:eventsFile`, bottlePaths(this.#root, slug).eventsFile]);
    }
    const stamps = await Promise.all(targets.map(async ([id, path]) => [id, await this.#stamp(path)] as const));
    const changed: string[] = [];
    for (const [id, s] of stamps) {
      if (this.#stamps.has(id) && this.#stamps.get(id) !== s) changed.push(id);
      this.#stamps.set(id, s);
    }
    return changed;
  }

  async #pollOnce(): Promise<void> {
    if (this.#closed) return;
    const changed = await this.#stampAll();
    if (changed.length > 0) {
      for (const id of changed) {
        if (id === 'root') this.#mark({ bottles: true, proposals: 'all' });
        else {
          const [slug, part] = id.split(':') as [string, string];
          this.#mark(part === 'queue' || part === 'decisions' ? { bottles: false, proposals: new Set([slug]) } : { bottles: true, proposals: new Set() });
        }
      }
    }
    this.sync(this.#slugs); // re-arm watchers that failed or whose dir appeared
  }

  // Number of live fs watchers (for tests and the bench).
  get watcherCount(): number {
    return this.#watchers.size;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}
