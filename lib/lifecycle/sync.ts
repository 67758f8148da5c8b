// Before a host reader looks at a bottle's state dir, what its running bundle wrote since the last
// copy (events, proposals) is copied in (issue 17: the bundle shares no host path). Best effort
// and bounded: a bundle that cannot be reached leaves the last copy, which is what the reader
// then shows.
import type { Metadata } from '../state/index.js';
import { bottlePaths, listBottles } from '../state/index.js';
import { backendOf, type LifecycleDeps } from './context.js';

// How long one bottle's copy may take before the reader goes on without it.
const PULL_TIMEOUT_MS = 5000;

// Copies the bundles of `metas` side by side (the caller picks the running ones).
export async function pullBundles(deps: Pick<LifecycleDeps, 'root' | 'env' | 'backends'>, metas: Metadata[]): Promise<void> {
  await Promise.all(metas.map(async (m) => {
    try {
      const backend = await backendOf(deps, m);
      await backend.pull(m, bottlePaths(deps.root, m.slug), AbortSignal.timeout(PULL_TIMEOUT_MS));
    } catch { /* unreachable or gone: the last copy stands */ }
  }));
}

// The same for every bottle metadata calls running, or only `slug`.
export async function pullAllBundles(deps: Pick<LifecycleDeps, 'root' | 'env' | 'backends'>, slug?: string): Promise<void> {
  const metas = (await listBottles(deps.root)).flatMap((e) => (e.ok && e.metadata.state === 'running' && (slug === undefined || e.slug === slug) ? [e.metadata] : []));
  await pullBundles(deps, metas);
}
