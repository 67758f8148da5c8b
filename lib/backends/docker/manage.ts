// The Docker backend's view of its objects after launch: which ones a bottle has by name (the
// agent, the bundle, both networks), its teardown, and the engine state of many bottles. The
// removal and listing code itself is the bundle's (bundle/manage.ts), shared with smolvm.
import { type DockerEngine } from '../../docker/api.js';
import type { Metadata } from '../../state/index.js';
import { engineState, type ExpectedObjects, teardownEngineObjects } from '../bundle/manage.js';
import { LABEL_SLUG } from '../bundle/names.js';
import type { EngineState } from '../types.js';
import { dockerNames } from './names.js';

// The Docker backend's: agent and bundle; ext was created after int, so it goes first.
function dockerExpected(slug: string): ExpectedObjects {
  const n = dockerNames(slug);
  return { containers: [n.agent, n.bundle], networks: [n.externalNetwork, n.internalNetwork] };
}

// Removes every container and network of the bottle (see teardownEngineObjects).
export function teardownDocker(engine: DockerEngine, meta: Metadata, log: (line: string) => void): Promise<void> {
  return teardownEngineObjects(engine, meta, log, dockerExpected(meta.slug));
}

// The engine view of many bottles from two list calls.
export async function inspectDocker(engine: DockerEngine, metas: Metadata[], signal?: AbortSignal): Promise<Map<string, EngineState>> {
  const filters = { label: [LABEL_SLUG] };
  const containers = await engine.listContainers({ all: true, filters, ...(signal ? { abortSignal: signal } : {}) });
  const out = new Map<string, EngineState>();
  for (const m of metas) out.set(m.slug, engineState(containers.filter((c) => c.Labels?.[LABEL_SLUG] === m.slug)));
  return out;
}
