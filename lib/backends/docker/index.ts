// The Docker backend (SPEC §6): the Backend contract over the Docker Engine API. The engine is
// injected (dockerode, or a fake in tests); the docker CLI appears only in attachArgv, for the
// interactive `docker exec -it`, told which engine on its command line.
//
// The bundle mounts no host path (the engine may be remote): its files are uploaded and what it
// writes is copied back (bundle/channel.ts). It runs as the host user that owns the bottle's
// state dir (uid:gid of this process; container root under rootless Docker; an operator who is
// root gets a capability-less root bundle), the owner of what is uploaded, so that a git remote
// whose upstream is a local path (the one host path it mounts) is pushed to as its owner.
// The agent mounts nothing either: it gets ca.crt by copy, and nothing else from the state dir.
import { type DockerEngine, engineMessage, execIn, fromDockerode, statusOf } from '../../docker/api.js';
import { connectDocker, dockerCliFlags, resolveDockerEndpoint } from '../../docker/engine.js';
import type { BottlePlan } from '../../plan/index.js';
import type { BundleControl } from '../../proposals/control.js';
import type { BottlePaths, Metadata } from '../../state/index.js';
import { channelOf, containerControl, followContainer, pullContainer } from '../bundle/control.js';
import type { FollowOptions } from '../bundle/channel.js';
import type { BundleLaunchDeps } from '../bundle/launch.js';
import { listDockerResources, removeDockerResource } from '../bundle/manage.js';
import { AGENT_PATHS } from '../bundle/names.js';
import { testUpstreamFromEnv } from '../bundle/plan.js';
import { extractTar } from '../bundle/tar.js';
import type { Backend, ClaudeInvocation, EngineResource, EngineState, LaunchContext, LaunchResult } from '../types.js';
import { launchDocker } from './launch.js';
import { DockerTransport } from './transport.js';
import { inspectDocker, teardownDocker } from './manage.js';
import { dockerNames } from './names.js';

export { BUNDLE_ALIASES, dockerNames, type DockerNames } from './names.js';
export { agentEnv, DOCKER_WIRING, type DockerPlan, dockerPlan } from './plan.js';

// Launch tunables (tests, ops) plus the env attach reads TERM from.
export interface DockerBackendOptions extends Omit<BundleLaunchDeps, 'engine'> {
  /** Env for attachArgv's TERM/COLORTERM (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

// The pure argv of an interactive claude in the agent (a pane or the foreground terminal).
// The engine is named on the command line (-H, TLS flags) unless it is this machine's default
// socket: the pane that runs it may have another DOCKER_HOST, or none.
export function dockerAttachArgv(slug: string, claude: ClaudeInvocation, env: NodeJS.ProcessEnv = {}): string[] {
  const term = ['-e', `TERM=${env.TERM || 'xterm-256color'}`, ...(env.COLORTERM ? ['-e', `COLORTERM=${env.COLORTERM}`] : [])];
  return ['docker', ...dockerCliFlags(resolveDockerEndpoint(env)), 'exec', '-it', '-u', AGENT_PATHS.user, '-w', AGENT_PATHS.workspace, ...term, dockerNames(slug).agent, 'claude', ...claude.args];
}

// One instance per engine; stateless beyond it, so any process can drive any bottle.
export class DockerBackend implements Backend {
  readonly name = 'docker' as const;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly engine: DockerEngine, private readonly options: DockerBackendOptions = {}) {
    this.env = options.env ?? process.env;
  }

  launch(plan: BottlePlan, ctx: LaunchContext): Promise<LaunchResult> {
    return launchDocker(plan, ctx, { ...this.options, engine: this.engine });
  }

  attachArgv(meta: Metadata, claude: ClaudeInvocation): string[] {
    return dockerAttachArgv(meta.slug, claude, this.env);
  }

  async exec(meta: Metadata, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const name = dockerNames(meta.slug).agent;
    try {
      return await execIn(this.engine.getContainer(name), argv, { user: AGENT_PATHS.user, workdir: AGENT_PATHS.workspace });
    } catch (e) {
      const why = statusOf(e) === 404 ? 'does not exist' : statusOf(e) === 409 ? 'is not running' : engineMessage(e);
      throw new Error(`exec in ${name}: the container ${why}`, { cause: e });
    }
  }

  async copyOut(meta: Metadata, agentPath: string, dir: string): Promise<{ files: number }> {
    const name = dockerNames(meta.slug).agent;
    try {
      const archive = await this.engine.getContainer(name).getArchive({ path: agentPath });
      const r = await extractTar(archive as AsyncIterable<Buffer>, dir);
      return { files: r.files };
    } catch (e) {
      const why = statusOf(e) === 404 ? `no ${agentPath} in ${name} (or no ${name})` : engineMessage(e);
      throw new Error(`copying ${agentPath} out of ${name}: ${why}`, { cause: e });
    }
  }

  async copyIn(meta: Metadata, hostDir: string, agentPath: string): Promise<void> {
    const transport = DockerTransport.open(this.engine.getContainer(dockerNames(meta.slug).agent), AGENT_PATHS.user);
    await transport.copyDir(hostDir, agentPath, 'agent');
  }

  // The agent alone: it is on the internal network only, and with the bundle down that leads nowhere.
  async wake(meta: Metadata): Promise<void> {
    const name = dockerNames(meta.slug).agent;
    await this.engine.getContainer(name).start().catch((e: unknown) => {
      if (statusOf(e) === 304) return; // already running
      throw new Error(`starting ${name}: ${statusOf(e) === 404 ? 'the container is gone' : engineMessage(e)}`, { cause: e });
    });
  }

  teardown(meta: Metadata, log: (line: string) => void): Promise<void> {
    return teardownDocker(this.engine, meta, log);
  }

  inspect(metas: Metadata[], signal?: AbortSignal): Promise<Map<string, EngineState>> {
    return inspectDocker(this.engine, metas, signal);
  }

  listResources(): Promise<EngineResource[]> {
    return listDockerResources(this.engine);
  }

  removeResource(resource: EngineResource): Promise<void> {
    return removeDockerResource(this.engine, resource);
  }

  pull(meta: Metadata, paths: BottlePaths, signal?: AbortSignal): Promise<void> {
    return pullContainer(this.engine, meta, paths, signal);
  }

  follow(meta: Metadata, paths: BottlePaths, opts: FollowOptions): Promise<void> {
    return followContainer(this.engine, meta, paths, opts);
  }

  control(meta: Metadata, paths: BottlePaths): BundleControl {
    return containerControl('docker', () => this.engine, channelOf(meta, paths));
  }
}

// The backend on the engine `env` selects (DOCKER_HOST, context, default socket).
export function createDockerBackend(env: NodeJS.ProcessEnv = process.env, options: DockerBackendOptions = {}): DockerBackend {
  const testUpstream = testUpstreamFromEnv(env);
  return new DockerBackend(fromDockerode(connectDocker(env).docker), { env, ...(testUpstream ? { testUpstream } : {}), ...options });
}

