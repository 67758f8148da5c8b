// A bottle's Docker objects after launch, for both backends (the bundle and its networks are
// Docker objects either way): teardown, the state they add up to, and cleanup's listing and
// removal. Objects are found by name AND by label, so a launch that died before metadata
// recorded its resources is still cleaned up.
import { type DockerEngine, engineMessage, isGone, type ListedContainer, statusOf } from '../../docker/api.js';
import { UserError } from '../../errors.js';
import type { Metadata } from '../../state/index.js';
import type { EngineResource, EngineState } from '../types.js';
import { LABEL_BACKEND, LABEL_SERVICE, LABEL_SLUG, LABEL_STATE } from './names.js';

const nameOf = (c: { Names: string[]; Id: string }): string => (c.Names[0] ?? c.Id).replace(/^\//, '');

// Stop timeout: the bundle's init forwards SIGTERM and its daemons close quickly.
const STOP_SECONDS = 3;

// Removal order: the agent first (it depends on the bundle), the bundle, then anything else.
function containerRank(name: string, service: string | undefined): number {
  if (service === 'agent' || name.endsWith('-agent')) return 0;
  if (service === 'sidecars' || name.endsWith('-sidecars')) return 2;
  return 1;
}

// The objects a backend makes for a bottle even when metadata never recorded them (by name).
export interface ExpectedObjects { containers: string[]; networks: string[] }

// Removes every container and network of the bottle: `expected` (the backend's, networks in
// reverse of creation), what metadata recorded, and whatever carries its slug label; already-gone
// objects are fine. Throws once at the end, listing what could not be removed, after trying everything.
export async function teardownEngineObjects(engine: DockerEngine, meta: Metadata, log: (line: string) => void, expected: ExpectedObjects): Promise<void> {
  const filters = { label: [`${LABEL_SLUG}=${meta.slug}`] };
  const [listed, listedNets] = await Promise.all([
    engine.listContainers({ all: true, filters }),
    engine.listNetworks({ filters }),
  ]);
  const containers = new Map<string, string | undefined>();
  for (const n of [...expected.containers, ...(meta.resources.containers ?? [])]) containers.set(n, undefined);
  for (const c of listed) containers.set(nameOf(c), c.Labels?.[LABEL_SERVICE]);
  const order = [...containers].sort((a, b) => containerRank(a[0], a[1]) - containerRank(b[0], b[1])).map(([n]) => n);
  // Reverse of creation (expected lists them so).
  const networks = [...new Set([...expected.networks, ...(meta.resources.networks ?? []), ...listedNets.map((n) => n.Name)])];

  const failures: string[] = [];
  for (const name of order) {
    const c = engine.getContainer(name);
    try {
      await c.stop({ t: STOP_SECONDS });
      log(`stopped container ${name}`);
    } catch (e) {
      if (isGone(e)) continue;
      if (statusOf(e) !== 304) log(`stopping ${name}: ${engineMessage(e)}; removing it anyway`);
    }
    try {
      await c.remove({ force: true, v: true });
      log(`removed container ${name}`);
    } catch (e) {
      if (!isGone(e)) failures.push(`container ${name}: ${engineMessage(e)}`);
    }
  }
  for (const name of networks) {
    try {
      await engine.getNetwork(name).remove();
      log(`removed network ${name}`);
    } catch (e) {
      if (!isGone(e)) failures.push(`network ${name}: ${engineMessage(e)}`);
    }
  }
  if (failures.length > 0) {
    for (const f of failures) log(`could not remove ${f}`);
    // Often something else on the engine (a container someone attached to the bottle's network):
    // a problem to fix there, not a crash of ours.
    throw new UserError(`teardown of ${meta.slug} left ${failures.join('; ')}; retry \`bottle stop ${meta.slug}\` or \`bottle cleanup\``);
  }
}

// One bottle's state from its labelled containers (and whether any network remains); the smolvm
// backend passes its VM as a container of service `agent`.
export function engineState(containers: Array<Pick<ListedContainer, 'State' | 'Labels'>>): EngineState {
  // Networks without containers are leftovers (cleanup removes them): the bottle itself is gone.
  if (containers.length === 0) return 'missing';
  const running = new Set(containers.filter((c) => c.State === 'running').map((c) => c.Labels?.[LABEL_SERVICE]));
  if (running.has('agent') && running.has('sidecars')) return 'running';
  return running.size > 0 ? 'partial' : 'exited';
}

// Every labelled container and network of `backend`'s bottles (unlabelled = docker), so
// `bottle cleanup` lists each object once, under the backend that made it.
export async function listDockerResources(engine: DockerEngine, backend = 'docker'): Promise<EngineResource[]> {
  const filters = { label: [LABEL_SLUG] };
  const mine = (labels: Record<string, string> | undefined): boolean => (labels?.[LABEL_BACKEND] ?? 'docker') === backend;
  const [allContainers, allNetworks] = await Promise.all([engine.listContainers({ all: true, filters }), engine.listNetworks({ filters })]);
  const containers = allContainers.filter((c) => mine(c.Labels));
  const networks = allNetworks.filter((n) => mine(n.Labels));
  return [
    ...containers.map((c): EngineResource => ({ kind: 'container', name: nameOf(c), slug: c.Labels[LABEL_SLUG] ?? '', state: c.State, ...keyOf(c.Labels) })),
    ...networks.map((n): EngineResource => ({ kind: 'network', name: n.Name, slug: n.Labels?.[LABEL_SLUG] ?? '', ...keyOf(n.Labels) })),
  ];
}

const keyOf = (labels: Record<string, string> | undefined): { stateKey?: string } =>
  labels?.[LABEL_STATE] ? { stateKey: labels[LABEL_STATE] } : {};

// Removes one listed resource (cleanup); gone already is fine.
export async function removeDockerResource(engine: DockerEngine, r: EngineResource): Promise<void> {
  try {
    if (r.kind === 'container') await engine.getContainer(r.name).remove({ force: true, v: true });
    else if (r.kind === 'network') await engine.getNetwork(r.name).remove();
    else throw new Error(`the docker backend has no ${r.kind} resources (${r.name})`);
  } catch (e) {
    if (isGone(e)) return;
    throw new Error(`removing ${r.kind} ${r.name}: ${engineMessage(e)}`, { cause: e });
  }
}
