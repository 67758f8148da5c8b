// The dashboard's copy of what running bundles write (issue 17: the bundle shares no host path):
// one follow per running bottle streams its events file, and the proposals it announces, into
// the bottle's state dir, where the dashboard's watchers see them as if written in place. A
// follow that ends (the bundle stopped, the engine went away) is started again, backing off.
import { backendOf, type LifecycleDeps } from '../lib/lifecycle/index.js';
import { bottlePaths, type Metadata } from '../lib/state/index.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
// A follow that ran this long before it ended is retried at once (back off only from a loop).
const HEALTHY_MS = 10_000;

interface Running { abort: AbortController; state: string | undefined }

export class BundleFollowers {
  readonly #deps: Pick<LifecycleDeps, 'root' | 'env' | 'backends'>;
  readonly #running = new Map<string, Running>();
  readonly #backoff = new Map<string, { at: number; delay: number }>();
  #wanted: Metadata[] = [];
  #closed = false;

  constructor(deps: Pick<LifecycleDeps, 'root' | 'env' | 'backends'>) {
    this.#deps = deps;
  }

  // Follows exactly these bottles (the running ones), starting and stopping follows to match.
  sync(metas: Metadata[]): void {
    if (this.#closed) return;
    this.#wanted = metas;
    const wanted = new Map(metas.map((m) => [m.slug, m]));
    for (const [slug, r] of this.#running) {
      if (wanted.get(slug)?.state !== r.state) {
        r.abort.abort();
        this.#running.delete(slug);
      }
    }
    for (const m of metas) if (!this.#running.has(m.slug)) this.#start(m);
  }

  // Slugs followed now (tests).
  following(): string[] {
    return [...this.#running.keys()].sort();
  }

  close(): void {
    this.#closed = true;
    for (const r of this.#running.values()) r.abort.abort();
    this.#running.clear();
  }

  #start(m: Metadata): void {
    const wait = this.#backoff.get(m.slug);
    if (wait && wait.at > Date.now()) return;
    const abort = new AbortController();
    this.#running.set(m.slug, { abort, state: m.state });
    const t0 = Date.now();
    void (async () => {
      try {
        const backend = await backendOf(this.#deps, m);
        await backend.follow(m, bottlePaths(this.#deps.root, m.slug), { signal: abort.signal });
      } catch { /* unreachable: retried below */ }
      if (this.#running.get(m.slug)?.abort === abort) this.#running.delete(m.slug);
      if (abort.signal.aborted || this.#closed) return;
      const previous = this.#backoff.get(m.slug)?.delay ?? 0;
      const delay = Date.now() - t0 >= HEALTHY_MS ? 0 : Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, previous * 2));
      this.#backoff.set(m.slug, { at: Date.now() + delay, delay });
      setTimeout(() => this.sync(this.#wanted), delay).unref();
    })();
  }
}
