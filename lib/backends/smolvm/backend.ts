// The smolvm backend (SPEC §10): the Backend contract with the agent in a smolvm micro-VM and
// the sidecar bundle in a Docker container. The VM side goes through SmolvmClient (argv
// builders + one runner), the Docker side through the same engine seam as the Docker backend;
// control is the bundle container's (bundle/control.ts), as for Docker bottles.
import type { BottlePlan } from '../../plan/index.js';
import type { BundleControl } from '../../proposals/control.js';
import type { BottlePaths, Metadata } from '../../state/index.js';
import { channelOf, containerControl, followContainer, pullContainer, type ControlChannel } from '../bundle/control.js';
import type { FollowOptions } from '../bundle/channel.js';
import { AGENT_PATHS } from '../bundle/names.js';
import { extractTar } from '../bundle/tar.js';
import type { Backend, ClaudeInvocation, EngineResource, EngineState, LaunchContext, LaunchResult } from '../types.js';
import { machineExec, type SmolvmClient } from './cli.js';
import { launchSmolvm, type SmolvmEngine, type SmolvmLaunchDeps } from './launch.js';
import { inspectSmolvm, listSmolvmResources, removeSmolvmResource, teardownSmolvm, vmNameOf } from './manage.js';
import { asAgent, copyOut, SmolvmTransport } from './transport.js';

// Launch tunables (tests, ops) plus the env attach reads TERM from.
export interface SmolvmBackendOptions extends Omit<SmolvmLaunchDeps, 'engine' | 'smolvm'> {
  /** Env for attachArgv's TERM/COLORTERM (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

// The pure argv of an interactive claude in the VM, as the agent user (claude refuses
// --dangerously-skip-permissions as root, and `machine exec` runs as root).
export function smolvmAttachArgv(binary: string, vm: string, claude: ClaudeInvocation, env: NodeJS.ProcessEnv = {}): string[] {
  const term = { TERM: env.TERM || 'xterm-256color', ...(env.COLORTERM ? { COLORTERM: env.COLORTERM } : {}) };
  return [binary, ...machineExec({ name: vm, workdir: AGENT_PATHS.workspace, env: term, interactive: true, tty: true, command: asAgent(['claude', ...claude.args]) })];
}

// The bundle is a Docker container: reload and late secrets exactly as for Docker bottles.
export function smolvmControl(engine: () => SmolvmEngine, channel: ControlChannel): BundleControl {
  return containerControl('smolvm', engine, channel);
}

// One instance per engine + smolvm; stateless beyond them, so any process can drive any bottle.
export class SmolvmBackend implements Backend {
  readonly name = 'smolvm' as const;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly engine: SmolvmEngine, private readonly smolvm: SmolvmClient, private readonly options: SmolvmBackendOptions = {}) {
    this.env = options.env ?? process.env;
  }

  launch(plan: BottlePlan, ctx: LaunchContext): Promise<LaunchResult> {
    return launchSmolvm(plan, ctx, { ...this.options, engine: this.engine, smolvm: this.smolvm });
  }

  attachArgv(meta: Metadata, claude: ClaudeInvocation): string[] {
    return smolvmAttachArgv(this.smolvm.binary, vmNameOf(meta), claude, this.env);
  }

  // The VM's exit code is the answer; only a missing binary throws.
  async exec(meta: Metadata, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await this.smolvm.exec({ name: vmNameOf(meta), workdir: AGENT_PATHS.workspace, command: asAgent(argv) });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  async copyOut(meta: Metadata, agentPath: string, dir: string): Promise<{ files: number }> {
    let files = 0;
    await copyOut(this.smolvm, vmNameOf(meta), agentPath, async (archive) => {
      files = (await extractTar(archive, dir)).files;
    });
    return { files };
  }

  async copyIn(meta: Metadata, hostDir: string, agentPath: string): Promise<void> {
    const transport = await SmolvmTransport.open(this.smolvm, vmNameOf(meta));
    try {
      await transport.copyDir(hostDir, agentPath, 'agent');
    } finally {
      await transport.close();
    }
  }

  // The VM alone (its egress only ever reached the bundle, which stays down).
  async wake(meta: Metadata): Promise<void> {
    const vm = vmNameOf(meta);
    const state = (await this.smolvm.list()).find((m) => m.name === vm)?.state;
    if (state === undefined) throw new Error(`VM ${vm} is gone`);
    if (state !== 'running') await this.smolvm.start(vm);
  }

  teardown(meta: Metadata, log: (line: string) => void): Promise<void> {
    return teardownSmolvm(this.engine, this.smolvm, meta, log);
  }

  inspect(metas: Metadata[], signal?: AbortSignal): Promise<Map<string, EngineState>> {
    return inspectSmolvm(this.engine, this.smolvm, metas, signal);
  }

  listResources(): Promise<EngineResource[]> {
    return listSmolvmResources(this.engine, this.smolvm);
  }

  removeResource(resource: EngineResource): Promise<void> {
    return removeSmolvmResource(this.engine, this.smolvm, resource);
  }

  pull(meta: Metadata, paths: BottlePaths, signal?: AbortSignal): Promise<void> {
    return pullContainer(this.engine, meta, paths, signal);
  }

  follow(meta: Metadata, paths: BottlePaths, opts: FollowOptions): Promise<void> {
    return followContainer(this.engine, meta, paths, opts);
  }

  control(meta: Metadata, paths: BottlePaths): BundleControl {
    return smolvmControl(() => this.engine, channelOf(meta, paths));
  }
}
