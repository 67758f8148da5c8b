// `bottle cleanup`: labelled engine resources whose bottle has no state, and state dirs whose
// bottle the engine no longer has. `--all` removes every bottle. Dry-run lists only.
import type { EngineResource } from '../backends/types.js';
import { listBottles, removeBottle } from '../state/index.js';
import { stateKey } from '../backends/bundle/names.js';
import type { LifecycleDeps } from './context.js';
import { bottleStatuses } from './status.js';
import { stopBottle } from './stop.js';
import { describeEngineError, engineConnectError } from '../docker/unreachable.js';

export interface CleanupItem {
  what: 'resource' | 'state' | 'bottle';
  backend: string;
  slug: string;
  name: string;
  done: boolean;
  error?: string;
}


// Whether a labelled resource is this state root's to remove. Another root's objects are never
// touched (another user, another BOTTLE_STATE_DIR, a test's temp root); unlabelled ones (made
// before the label existed) only with --all; VMs carry no labels and go by slug alone.
export function ownsResource(r: EngineResource, ourKey: string, known: Set<string>, all: boolean): boolean {
  if (r.kind === 'machine') return all || !known.has(r.slug);
  if (r.stateKey === undefined) return all;
  return r.stateKey === ourKey && (all || !known.has(r.slug));
}

// Finds (and unless dryRun removes) orphans; with all, stops every bottle first.
export async function cleanup(
  deps: LifecycleDeps,
  opts: { all?: boolean; dryRun?: boolean; log: (line: string) => void },
): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  const statuses = await bottleStatuses(deps);
  if (opts.all) {
    for (const s of statuses) {
      const item: CleanupItem = { what: 'bottle', backend: s.backend, slug: s.slug, name: s.slug, done: false };
      if (!opts.dryRun) {
        try { await stopBottle(deps, s.slug, opts.log); item.done = true; } catch (e) { item.error = (e as Error).message; }
      }
      items.push(item);
    }
  } else {
    // Stale state: the engine says nothing of it exists and it is not mid-launch.
    for (const s of statuses) {
      const stale = s.state === 'broken' || (s.engine === 'missing' && s.state !== 'claimed' && s.state !== 'launching');
      if (!stale) continue;
      const item: CleanupItem = { what: 'state', backend: s.backend, slug: s.slug, name: s.slug, done: false };
      if (!opts.dryRun) {
        try { await removeBottle(deps.root, s.slug); item.done = true; } catch (e) { item.error = (e as Error).message; }
      }
      items.push(item);
    }
  }
  const known = new Set((await listBottles(deps.root)).map((b) => b.slug));
  const ourKey = stateKey(deps.root);
  for (const name of deps.backends.engines) {
    let resources: EngineResource[];
    try {
      const backend = await deps.backends.load(name, deps.env);
      resources = await backend.listResources();
      for (const r of resources) {
        if (!ownsResource(r, ourKey, known, Boolean(opts.all))) continue;
        const item: CleanupItem = { what: 'resource', backend: name, slug: r.slug, name: `${r.kind} ${r.name}`, done: false };
        if (!opts.dryRun) {
          try { await backend.removeResource(r); item.done = true; } catch (e) { item.error = (e as Error).message; }
        }
        items.push(item);
      }
    } catch (e) {
      const down = engineConnectError(e);
      opts.log(`${name}: not checked (${down ? describeEngineError(down) : (e as Error).message.split('\n')[0]})`);
    }
  }
  return items;
}
