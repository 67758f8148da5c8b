// Stopping a bottle keeps its work: claude's sessions, the unpushed commits and the uncommitted
// changes are saved into its state dir (save.ts), then the engine resources go and the bottle is
// `stopped` — listed, resumable, exportable. Only `bottle rm` (remove.ts) deletes state.
import { appendFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { bottlePaths, updateMetadata, type Metadata } from '../state/index.js';
import { backendOf, engineStateOf, findBottle, type LifecycleDeps } from './context.js';
import { dropStopGrants } from './policy.js';
import { describeSaved, readSavedSummary, saveWork, type SavedSummary } from './save.js';

export interface StopResult {
  slug: string;
  state: 'stopped';
  /** What this stop saved; null when nothing could be (the containers were gone) or --no-save. */
  saved: SavedSummary | null;
}

export interface StopOptions {
  /** false: do not save (the work since the last save is lost). Default true. */
  save?: boolean;
}

// Any process may stop any bottle. A save that fails stops nothing: the bottle keeps running and
// the error says how to stop it without saving.
export async function stopBottle(deps: LifecycleDeps, slug: string, log: (line: string) => void, opts: StopOptions = {}): Promise<StopResult> {
  const meta = await findBottle(deps, slug);
  const paths = bottlePaths(deps.root, meta.slug);
  await writeFile(paths.teardownLog, '', { flag: 'a', mode: 0o600 });
  const say = (line: string): void => {
    try { appendFileSync(paths.teardownLog, `${line}\n`); } catch { /* removed under us */ }
    log(line);
  };
  const backend = await backendOf(deps, meta);
  const engine = await engineStateOf(backend, meta);
  if (meta.state === 'stopped' && engine === 'missing') {
    say(`${meta.slug} is already stopped`);
    return { slug: meta.slug, state: 'stopped', saved: null };
  }
  const previous = meta.state;
  await updateMetadata(deps.root, meta.slug, { state: 'stopping' }).catch(() => undefined);
  say(`stopping ${meta.slug} (${meta.agent} on ${meta.backend})`);
  let saved: SavedSummary | null = null;
  if (opts.save === false) {
    say('not saving (--no-save)');
  } else if (engine === 'missing') {
    const prior = readSavedSummary(deps.root, meta.slug);
    say(`nothing to save: the bottle's containers are gone${prior ? ` (keeping the save of ${prior.savedAt})` : ''}`);
  } else {
    try {
      if (engine !== 'running') {
        say(`the agent is not running (engine: ${engine}); starting it without network to save its work`);
        await backend.wake(meta);
      }
      say('saving the work: claude sessions, unpushed commits, uncommitted changes');
      saved = await saveWork(backend, deps.root, meta, deps.now());
      say(`saved ${describeSaved(saved)}`);
    } catch (e) {
      await updateMetadata(deps.root, meta.slug, { state: previous ?? 'running' }).catch(() => undefined);
      const why = (e as Error).message.split('\n')[0];
      throw new UserError(`${why}; ${meta.slug} was not stopped. \`bottle stop --no-save ${meta.slug}\` stops it anyway (its unsaved work is lost)`);
    }
  }
  // The state dir keeps what the bundle wrote last (usage, marks, proposals): it outlives the bundle.
  if (engine === 'running' || engine === 'partial') {
    await backend.pull(meta, paths).catch((e: Error) => say(`could not copy the bundle's last events and proposals: ${e.message.split('\n')[0]}`));
  }
  await backend.teardown(meta, say);
  // "Until stop" grants end here: the saved policy (which resume restores) keeps none.
  const dropped = await dropStopGrants(paths);
  if (dropped.length > 0) say(`dropped the until-stop grant${dropped.length > 1 ? 's' : ''} for ${dropped.join(', ')}`);
  await updateMetadata(deps.root, meta.slug, (m) => ({
    ...m, state: 'stopped', stoppedAt: deps.now().toISOString(),
    ...(saved?.lastSession ? { claudeSessionId: saved.lastSession } : {}),
  } as Metadata));
  say(`${meta.slug} stopped; bring it back with: bottle resume ${meta.slug}`);
  return { slug: meta.slug, state: 'stopped', saved };
}
