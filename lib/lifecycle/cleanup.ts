// `bottle cleanup`: labelled engine resources whose bottle has no state, and state dirs that are
// broken (unreadable metadata) and hold no saved work. Stopped and down bottles are kept: they
// are resumable. `--purge` also removes those, `--all` every bottle; the CLI confirms both,
// naming what is lost. Dry-run lists only.
import type { EngineResource } from '../backends/types.js';
import { existsSync } from 'node:fs';
import { bottlePaths, listBottles, removeBottle } from '../state/index.js';
import { stateKey } from '../backends/bundle/names.js';
import type { LifecycleDeps } from './context.js';
import { removeBottleFully } from './remove.js';
import { bottleStatuses, type BottleStatus } from './status.js';
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

// Which bottles a cleanup removes besides orphans (broken state without saved work).
export function cleanupTargets(statuses: BottleStatus[], opts: { all?: boolean; purge?: boolean }, hasSaved: (slug: string) => boolean): BottleStatus[] {
  return statuses.filter((s) => {
    if (opts.all) return true;
    if (opts.purge && (s.state === 'stopped' || s.state === 'down')) return true;
    return s.state === 'broken' && !hasSaved(s.slug);
  });
}

// Finds (and unless dryRun removes) orphans, plus the bottles cleanupTargets picks.
export async function cleanup(
  deps: LifecycleDeps,
  opts: { all?: boolean; purge?: boolean; dryRun?: boolean; log: (line: string) => void },
): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  const statuses = await bottleStatuses(deps);
  const hasSaved = (slug: string): boolean => existsSync(bottlePaths(deps.root, slug).saved);
  for (const s of cleanupTargets(statuses, opts, hasSaved)) {
    const item: CleanupItem = { what: s.state === 'broken' ? 'state' : 'bottle', backend: s.backend, slug: s.slug, name: s.slug, done: false };
    if (!opts.dryRun) {
      try {
        if (s.state === 'broken') await removeBottle(deps.root, s.slug);
        else await removeBottleFully(deps, s.slug, opts.log);
        item.done = true;
      } catch (e) { item.error = (e as Error).message; }
    }
    items.push(item);
  }
  for (const s of statuses) {
    if (s.state === 'broken' && hasSaved(s.slug) && !opts.all) opts.log(`kept ${s.slug}: its metadata is broken (${s.broken}) but it holds saved work; \`bottle cleanup --all\` removes it`);
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
