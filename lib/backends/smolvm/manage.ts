// Everything after launch that looks at or removes a smolvm bottle's objects: the VM (through
// `machine ls --json`, never stderr text) and the Docker half (bundle + bridge, by name and by
// label, through the bundle's teardown/list code, which the Docker backend uses too).
import { type DockerEngine, type ListedContainer } from '../../docker/api.js';
import { BinaryNotFoundError } from '../../errors.js';
import type { Metadata } from '../../state/index.js';
import { engineState, listDockerResources, removeDockerResource, teardownEngineObjects } from '../bundle/manage.js';
import { LABEL_SERVICE, LABEL_SLUG } from '../bundle/names.js';
import type { EngineResource, EngineState } from '../types.js';
import type { MachineRecord, SmolvmClient } from './cli.js';
import { smolvmNames } from './plan.js';

type Smolvm = Pick<SmolvmClient, 'list' | 'stop' | 'delete'>;

// VM names are `bottle-<slug>` (the compose project name of the bottle's Docker objects).
export const VM_PREFIX = 'bottle-';

// The bottle's VM names: the derived one, plus whatever metadata recorded.
export function vmNamesOf(meta: Metadata): string[] {
  const recorded = [meta.resources.machine, meta.backendData?.vm].filter((n): n is string => typeof n === 'string' && n !== '');
  return [...new Set([smolvmNames(meta.slug).vm, ...recorded])];
}

// The VM to exec in: the recorded name, else the derived one.
export function vmNameOf(meta: Metadata): string {
  return vmNamesOf(meta).at(-1)!;
}

// `machine ls`, with no smolvm installed meaning no VM can exist (a probe: it does not throw then).
async function machinesOrNone(smolvm: Smolvm): Promise<MachineRecord[]> {
  try {
    return await smolvm.list();
  } catch (e) {
    if (e instanceof BinaryNotFoundError) return [];
    throw e;
  }
}

// Stops (when it may be running) and deletes one VM; returns what failed, if anything.
async function removeMachine(smolvm: Smolvm, m: MachineRecord, log: (line: string) => void): Promise<string | undefined> {
  if (m.state !== 'created' && m.state !== 'stopped') {
    try {
      await smolvm.stop(m.name);
      log(`stopped VM ${m.name}`);
    } catch (e) {
      // delete -f stops what it deletes; a failed/unreachable VM may not answer a stop at all.
      if (m.state === 'running') log(`stopping VM ${m.name}: ${(e as Error).message.split('\n')[0]}; deleting it anyway`);
    }
  }
  try {
    await smolvm.delete(m.name);
    log(`removed VM ${m.name}`);
    return undefined;
  } catch (e) {
    // Gone in the meantime (a concurrent stop) is fine: decided by listing, not by stderr.
    const still = await smolvm.list().then((l) => l.some((x) => x.name === m.name), () => true);
    return still ? `VM ${m.name}: ${(e as Error).message.split('\n')[0]}` : undefined;
  }
}

// Removes the VM, then the bundle, then the bridge (reverse of launch); already-gone objects are
// fine. Tries everything, then throws once listing what is left.
export async function teardownSmolvm(engine: DockerEngine, smolvm: Smolvm, meta: Metadata, log: (line: string) => void): Promise<void> {
  const names = smolvmNames(meta.slug);
  const failures: string[] = [];
  const wanted = vmNamesOf(meta);
  try {
    for (const m of (await machinesOrNone(smolvm)).filter((x) => wanted.includes(x.name))) {
      const failed = await removeMachine(smolvm, m, log);
      if (failed) failures.push(failed);
    }
  } catch (e) {
    failures.push(`VM ${wanted.join(', ')}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    await teardownEngineObjects(engine, meta, log, { containers: [names.bundle], networks: [names.network] });
  } catch (e) {
    failures.push((e as Error).message);
  }
  if (failures.length === 0) return;
  for (const f of failures) if (f.startsWith('VM ')) log(`could not remove ${f}`);
  throw new Error(`teardown of ${meta.slug} left ${failures.join('; ')}; retry \`bottle stop ${meta.slug}\` or \`bottle cleanup\``);
}

// The VM as a pseudo container of service `agent`, so engineState decides as for Docker bottles.
function vmAsContainer(m: MachineRecord): Pick<ListedContainer, 'State' | 'Labels'> {
  return { State: m.state, Labels: { [LABEL_SERVICE]: 'agent' } };
}

// The engine view of many bottles: one `machine ls` and one Docker list call.
export async function inspectSmolvm(engine: DockerEngine, smolvm: Smolvm, metas: Metadata[], signal?: AbortSignal): Promise<Map<string, EngineState>> {
  const filters = { label: [LABEL_SLUG] };
  const [containers, machines] = await Promise.all([
    engine.listContainers({ all: true, filters, ...(signal ? { abortSignal: signal } : {}) }),
    machinesOrNone(smolvm),
  ]);
  const out = new Map<string, EngineState>();
  for (const meta of metas) {
    const vms = vmNamesOf(meta);
    const mine = [
      ...containers.filter((c) => c.Labels?.[LABEL_SLUG] === meta.slug),
      ...machines.filter((m) => vms.includes(m.name)).map(vmAsContainer),
    ];
    out.set(meta.slug, engineState(mine));
  }
  return out;
}

// VMs named `bottle-*` and the Docker objects labelled as the smolvm backend's.
export async function listSmolvmResources(engine: DockerEngine, smolvm: Smolvm): Promise<EngineResource[]> {
  const [machines, docker] = await Promise.all([machinesOrNone(smolvm), listDockerResources(engine, 'smolvm')]);
  const vms = machines
    .filter((m) => m.name.startsWith(VM_PREFIX) && m.name.length > VM_PREFIX.length)
    .map((m): EngineResource => ({ kind: 'machine', name: m.name, slug: m.name.slice(VM_PREFIX.length), state: m.rawState ?? m.state }));
  return [...vms, ...docker];
}

// Removes one listed resource (cleanup); gone already is fine.
export async function removeSmolvmResource(engine: DockerEngine, smolvm: Smolvm, r: EngineResource): Promise<void> {
  if (r.kind !== 'machine') return removeDockerResource(engine, r);
  const m = (await smolvm.list()).find((x) => x.name === r.name);
  if (!m) return;
  const failed = await removeMachine(smolvm, m, () => undefined);
  if (failed) throw new Error(`removing ${failed}`);
}
