// Stopping a bottle: transcript snapshot into state, engine resources removed, state settled.
import { appendFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { bottlePaths, settle, updateMetadata, type Metadata, type SettleResult } from '../state/index.js';
import { backendOf, findBottle, type LifecycleDeps } from './context.js';

export interface StopResult { slug: string; settled: SettleResult; transcript: boolean }

// Any process may stop any bottle; stopping one that is already gone just settles its state.
export async function stopBottle(deps: LifecycleDeps, slug: string, log: (line: string) => void): Promise<StopResult> {
  const meta = await findBottle(deps, slug);
  const paths = bottlePaths(deps.root, meta.slug);
  await writeFile(paths.teardownLog, '', { flag: 'a', mode: 0o600 });
  const say = (line: string): void => {
    try { appendFileSync(paths.teardownLog, `${line}\n`); } catch { /* settled */ }
    log(line);
  };
  const backend = await backendOf(deps, meta);
  await updateMetadata(deps.root, meta.slug, { state: 'stopping' }).catch(() => undefined);
  say(`stopping ${meta.slug} (${meta.agent} on ${meta.backend})`);
  let transcript = false;
  try {
    await backend.snapshotTranscript(meta, paths.transcript, say);
    transcript = true;
  } catch (e) {
    say(`transcript snapshot skipped: ${(e as Error).message}`);
  }
  await backend.teardown(meta, say);
  say(`${meta.slug} stopped`);
  const settled = await settle(deps.root, meta.slug);
  if (settled.action === 'preserved') say(`state kept at ${settled.dir} (preserve marker)`);
  return { slug: meta.slug, settled, transcript };
}

export type { Metadata };
