// Shared rig for the smolvm backend's unit tests: the Docker fake engine (plus subnets and
// `docker save`), the stateful fake `smolvm` on PATH spawned for real, and ONE ordered list of
// operations both write to, so tests assert engine calls and smolvm argv in their true order.
// Failures are injected at the n-th engine call (fake engine) or the n-th smolvm call (the fake
// smolvm's FAKE_SMOLVM_FAIL, set for that one call).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { ListedNetwork } from '../../lib/docker/api.js';
import { SmolvmClient } from '../../lib/backends/smolvm/cli.js';
import { SmolvmBackend, type SmolvmBackendOptions, type SmolvmEngine } from '../../lib/backends/smolvm/index.js';
import { run as realRun, type Runner } from '../../lib/run/index.js';
import type { Metadata } from '../../lib/state/index.js';
import { FakeEngine, type FakeOptions, type RecordedCall } from '../fixtures/docker/fake-engine.js';
import { type FakeSmolvm, fakeSmolvm, type FakeSmolvmScript, FakeImageEngine, VM_SCRIPT } from '../helpers/fake-smolvm.js';

export const AGENT_IMAGE_ID = `sha256:${'ab12'.repeat(16)}`;

// The fake engine, plus IPAM on listed networks and `docker save` of a tiny agent image.
export class SmolFakeEngine extends FakeEngine implements SmolvmEngine {
  readonly images = new FakeImageEngine();

  constructor(opts: FakeOptions = {}) {
    super(opts);
    this.images.images.set('bottle-agent:latest', { id: AGENT_IMAGE_ID, layers: [{ 'etc/hostname': 'vm\n' }, { 'usr/bin/claude': '#!/bin/sh\n' }] });
  }

  override async listNetworks(o: { filters: Record<string, string[]> }): Promise<Array<ListedNetwork & { IPAM?: Docker.NetworkCreateOptions['IPAM'] | null }>> {
    const listed = await super.listNetworks(o);
    return listed.map((n) => ({ ...n, IPAM: this.networks.get(n.Name)?.IPAM ?? null }));
  }

  override getImage(name: string): { inspect(): Promise<{ Id: string }>; get(): Promise<NodeJS.ReadableStream> } {
    const recorded = super.getImage(name);
    const saved = this.images.getImage(name);
    return {
      inspect: async () => {
        await recorded.inspect();
        return saved.inspect().catch(() => ({ Id: `sha256:${'0'.repeat(64)}` }));
      },
      get: () => saved.get(),
    };
  }
}

// The answers a booted agent VM gives (root exec, user node, tools that succeed).
export { VM_SCRIPT };

export interface RigOptions {
  /** Fail the engine call with this index (0-based, over every recorded engine call). */
  failEngineAt?: number;
  /** Fail the smolvm call with this index (0-based). */
  failSmolvmAt?: number;
  /** Extra env for every smolvm call (e.g. FAKE_SMOLVM_FAIL for a whole verb). */
  smolvmEnv?: Record<string, string>;
  engine?: FakeOptions;
  backend?: SmolvmBackendOptions;
  /** Runs before each smolvm call (tests that need the VM to hold a file). */
  beforeSmolvm?: (argv: readonly string[]) => Promise<void>;
  script?: FakeSmolvmScript;
}

export interface Rig {
  ops: string[];
  engine: SmolFakeEngine;
  fake: FakeSmolvm;
  smolvm: SmolvmClient;
  backend: SmolvmBackend;
  cacheDir: string;
}

interface Teardownable { teardown(fn: () => unknown): void }

// Random names in provisioning archives, normalised so the op list is stable.
const norm = (s: string): string => s
  .replace(/\/tmp\/bottle-provision-[0-9a-f]+\b/g, '/tmp/bottle-provision-X')
  .replace(/bottle-copyout-[0-9a-f]+\.tar/g, 'bottle-copyout-X.tar')
  .replace(/\S*\/bottle-smolvm-provision-\w+\//g, 'HOST/');

export async function rig(t: Teardownable, o: RigOptions = {}): Promise<Rig> {
  const ops: string[] = [];
  let engineCalls = 0;
  const fail = (c: RecordedCall): boolean => {
    ops.push(`${c.op} ${c.target}`);
    return engineCalls++ === o.failEngineAt;
  };
  const engine = new SmolFakeEngine({ ...o.engine, failOn: fail });
  const fake = await fakeSmolvm(t);
  await fake.script(o.script ?? VM_SCRIPT);
  let smolvmCalls = 0;
  const run: Runner = async (argv, opts = {}) => {
    ops.push(norm(`smolvm ${argv.slice(1).join(' ')}`));
    await o.beforeSmolvm?.(argv);
    const failHere = smolvmCalls++ === o.failSmolvmAt;
    return realRun(argv, failHere ? { ...opts, env: { ...opts.env, FAKE_SMOLVM_FAIL: argv[1]! } } : opts);
  };
  const smolvm = new SmolvmClient({ run, env: { ...fake.env, ...o.smolvmEnv } });
  const cacheDir = mkdtempSync(join(tmpdir(), 'bottle-smolvm-cache-'));
  t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));
  const backend = new SmolvmBackend(engine, smolvm, { bundleUser: '1000:1000', env: {}, cacheDir, hostSubnets: () => [], ...o.backend });
  return { ops, engine, fake, smolvm, backend, cacheDir };
}

// The operations that make or unmake something, or run in the VM (lists and probes dropped).
export function mutating(ops: string[]): string[] {
  return ops.filter((op) => /^(createNetwork|createContainer|start|exec|removeContainer|removeNetwork|stop|smolvm (?!machine ls))/.test(op));
}

// What exists after the rig's launch: engine objects and VMs.
export async function leftovers(r: Rig): Promise<string[]> {
  return [
    ...[...r.engine.containers.keys()].map((n) => `container ${n}`),
    ...[...r.engine.networks.keys()].map((n) => `network ${n}`),
    ...Object.keys(await r.fake.machines()).map((n) => `machine ${n}`),
  ];
}

export const metaOf = (slug: string, over: Partial<Metadata> = {}): Metadata => ({
  schema: 1, slug, agent: 'tester', backend: 'smolvm', created: new Date(0).toISOString(), resources: {}, ...over,
});
