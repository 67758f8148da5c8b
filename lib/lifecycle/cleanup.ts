// `bottle cleanup`: labelled engine resources whose bottle has no state, and state dirs that are
// broken (unreadable metadata) and hold no saved work. Stopped and down bottles are kept: they
// are resumable. `--purge` also removes those, `--all` every bottle; the CLI confirms both,
// naming what is lost. Dry-run lists only.
import type { BackendName, EngineResource } from '../backends/types.js';
import { existsSync } from 'node:fs';
import { bottlePaths, listBottles, removeBottle } from '../state/index.js';
import { stateKey } from '../backends/bundle/names.js';
import type { LifecycleDeps } from './context.js';
import { removeBottleFully } from './remove.js';
import { bottleStatuses, engineLabel, type BottleStatus } from './status.js';
import { describeEngineError, engineConnectError } from '../docker/unreachable.js';
import { resolveDockerEndpoint } from '../docker/engine.js';
import { bottleEnv } from './context.js';
import type { Metadata } from '../state/index.js';

// An engine cleanup sweeps beside this shell's (a manifest's engines: entry): its name and the
// env that reaches it.
export interface CleanupEngine { name: string; env: NodeJS.ProcessEnv }

interface SweepTarget { engine?: string; env: NodeJS.ProcessEnv; backends: readonly BackendName[] }

// Where orphans can be: this shell's engine (every backend), then each other engine once, by
// endpoint: those the bottles in state were launched on and those `extra` names. On another
// engine only Docker objects are looked for (a VM is this machine's).
export function sweepTargets(deps: Pick<LifecycleDeps, 'env' | 'root' | 'backends'>, metas: readonly Metadata[], extra: readonly CleanupEngine[] = []): SweepTarget[] {
  const hostOf = (env: NodeJS.ProcessEnv): string => resolveDockerEndpoint(env).host;
  const seen = new Set([hostOf(deps.env)]);
  const out: SweepTarget[] = [{ env: deps.env, backends: deps.backends.engines }];
  const add = (engine: string, env: NodeJS.ProcessEnv): void => {
    const host = hostOf(env);
    if (seen.has(host)) return;
    seen.add(host);
    out.push({ engine, env, backends: deps.backends.engines.filter((b) => b === 'docker') });
  };
  for (const m of metas) {
    const env = bottleEnv(deps.env, m);
    add(engineLabel(m, bottlePaths(deps.root, m.slug).launchSpec) ?? hostOf(env), env);
  }
  for (const e of extra) add(e.name, e.env);
  return out;
}

export interface CleanupItem {
  what: 'resource' | 'state' | 'bottle';
  backend: string;
  /** A resource on another engine than this shell's: which (manifest name or DOCKER_HOST). */
  engine?: string;
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
  opts: { all?: boolean; purge?: boolean; dryRun?: boolean; log: (line: string) => void; engines?: readonly CleanupEngine[] },
): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  // The engines to sweep, read before any bottle (and its record of its engine) goes.
  const targets = sweepTargets(deps, (await listBottles(deps.root)).flatMap((e) => (e.ok ? [e.metadata] : [])), opts.engines);
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
  for (const target of targets) {
    for (const name of target.backends) {
      const on = target.engine ? { engine: target.engine } : {};
      try {
        const backend = await deps.backends.load(name, target.env);
        const resources: EngineResource[] = await backend.listResources();
        for (const r of resources) {
          if (!ownsResource(r, ourKey, known, Boolean(opts.all))) continue;
          const item: CleanupItem = { what: 'resource', backend: name, ...on, slug: r.slug, name: `${r.kind} ${r.name}`, done: false };
          if (!opts.dryRun) {
            try { await backend.removeResource(r); item.done = true; } catch (e) { item.error = (e as Error).message; }
          }
          items.push(item);
        }
      } catch (e) {
        const down = engineConnectError(e);
        opts.log(`${name}${target.engine ? ` on ${target.engine}` : ''}: not checked (${down ? describeEngineError(down) : (e as Error).message.split('\n')[0]})`);
      }
    }
  }
  return items;
}
