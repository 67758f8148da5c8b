// `bottle rm`: a bottle and everything it holds go — its engine resources, its state dir and the
// work saved in it. The caller confirms first, naming what is lost (lostWith).
import { removeBottle } from '../state/index.js';
import { backendOf, engineStateOf, findBottle, type LifecycleDeps } from './context.js';
import { describeSaved, readSavedSummary } from './save.js';

// What removing the bottle throws away, in words; undefined when nothing of value is there.
export async function lostWith(deps: LifecycleDeps, slug: string): Promise<string | undefined> {
  const meta = await findBottle(deps, slug);
  const backend = await backendOf(deps, meta);
  const engine = await engineStateOf(backend, meta);
  const saved = readSavedSummary(deps.root, meta.slug);
  const parts: string[] = [];
  if (engine !== 'missing') parts.push(engine === 'running' ? 'the running agent and its workspace (unsaved)' : 'what is left of its containers (unsaved work)');
  if (saved) parts.push(`the saved ${describeSaved(saved)}`);
  return parts.length ? parts.join('; ') : undefined;
}

// Removes a bottle whatever its state; returns its slug.
export async function removeBottleFully(deps: LifecycleDeps, slug: string, log: (line: string) => void): Promise<string> {
  const meta = await findBottle(deps, slug);
  const backend = await backendOf(deps, meta);
  const engine = await engineStateOf(backend, meta);
  if (engine !== 'missing') await backend.teardown(meta, log);
  await removeBottle(deps.root, meta.slug);
  log(`${meta.slug} removed`);
  return meta.slug;
}
