// BundleControl for the bundle container, which both backends run on Docker, all through the
// engine API (channel.ts): reload = the host's policy dir uploaded into the bundle's, then SIGHUP
// to the bundle (init forwards it to the gateway); a decision = its file uploaded into the
// bundle's decisions dir; new route secrets = an exec in the bundle whose API Env carries the
// values, running `bottle sidecar gateway-secrets NAME...`, which hands them to the gateway.
import { type DockerEngine, type EngineContainer, engineMessage, execIn, statusOf } from '../../docker/api.js';
import { UserError } from '../../errors.js';
import type { BundleControl } from '../../proposals/control.js';
import type { BottlePaths, Metadata } from '../../state/index.js';
import { bundleIds, type Ids, keeperIds } from './archive.js';
import { appendBundleEvent, followBundle, type FollowOptions, pullBundle, pushDecision, pushPolicyDir } from './channel.js';
import { BUNDLE_PATHS, bundleNames } from './names.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bundleProblem(e: unknown, name: string): Error {
  if (statusOf(e) === 404) return new Error(`the bundle container ${name} does not exist`);
  if (statusOf(e) === 409) return new Error(`the bundle container ${name} is not running`);
  return new Error(`${name}: ${engineMessage(e)}`, { cause: e });
}

// The argv the exec runs; names only (values are in the exec's Env).
export function gatewaySecretsArgv(names: string[]): string[] {
  return ['node', BUNDLE_PATHS.app, 'sidecar', 'gateway-secrets', ...names];
}

// How a bundle gets the host's files: uploaded (`paths`: the bottle's state dir; `ids`: their
// owner in the bundle, the keeper: archive.ts keeperIds), or, for a bundle launched before the engine-API
// channel, read by the bundle from its bind mounts of the state dir (`legacy`).
export type ControlChannel = { paths: Pick<BottlePaths, 'policy' | 'superviseDecisions'>; ids: Ids } | 'legacy';

// Launch records this in metadata's backendData.channel for bundles that mount no host path.
export const API_CHANNEL = 'api';

// The channel of a launched bottle, from its metadata.
export function channelOf(meta: Metadata, paths: Pick<BottlePaths, 'policy' | 'superviseDecisions'>): ControlChannel {
  if (meta.backendData?.channel !== API_CHANNEL) return 'legacy';
  return { paths, ids: keeperIds(bundleIds(String(meta.backendData.bundleUser ?? '0:0'))) };
}

// `backend` names the control in messages; `engine` is a thunk, so building a control does not
// connect.
export function containerControl(backend: string, engine: () => DockerEngine, channel: ControlChannel): BundleControl {
  const api = channel === 'legacy' ? undefined : channel;
  const control: BundleControl = {
    name: backend,
    live: true,
    async reload(slug: string): Promise<void> {
      const name = bundleNames(slug).bundle;
      try {
        const bundle = engine().getContainer(name);
        if (api) await pushPolicyDir(bundle, api.paths, api.ids);
        await bundle.kill({ signal: 'HUP' });
      } catch (e) {
        throw bundleProblem(e, name);
      }
    },
    async provideSecrets(slug: string, names: string[], env: NodeJS.ProcessEnv): Promise<void> {
      if (names.length === 0) return;
      const bad = names.find((n) => !ENV_NAME.test(n));
      if (bad) throw new UserError(`${JSON.stringify(bad)} is not an environment variable name`);
      const missing = names.filter((n) => !env[n]);
      if (missing.length > 0) {
        throw new UserError(`host environment ${missing.length > 1 ? 'variables' : 'variable'} ${missing.join(', ')} not set; export ${missing.length > 1 ? 'them' : 'it'} and retry`);
      }
      const name = bundleNames(slug).bundle;
      let r;
      try {
        // User '' = the container's own user, the one the gateway runs as.
        r = await execIn(engine().getContainer(name), gatewaySecretsArgv(names), { user: '', env: names.map((n) => `${n}=${env[n]}`) });
      } catch (e) {
        throw bundleProblem(e, name);
      }
      if (r.exitCode !== 0) {
        const detail = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ');
        throw new Error(`handing ${names.join(', ')} to ${name}'s gateway failed (exit ${r.exitCode})${detail ? `: ${detail}` : ''}`);
      }
    },
  };
  if (!api) return control;
  return {
    ...control,
    async deliverDecision(slug: string, id: string): Promise<void> {
      const name = bundleNames(slug).bundle;
      await pushDecision(engine().getContainer(name), api.paths, id, api.ids).catch((e: unknown) => {
        throw bundleProblem(e, name);
      });
    },
    async appendEvent(slug: string, line: string): Promise<void> {
      const name = bundleNames(slug).bundle;
      await appendBundleEvent(engine().getContainer(name), line).catch((e: unknown) => {
        throw bundleProblem(e, name);
      });
    },
  };
}

// The bundle container of a launched bottle, when its state comes back through the engine API
// (a legacy bundle writes the state dir through its bind mounts: nothing to copy).
function apiBundle(engine: DockerEngine, meta: Metadata): EngineContainer | undefined {
  return meta.backendData?.channel === API_CHANNEL ? engine.getContainer(bundleNames(meta.slug).bundle) : undefined;
}

// Backend.pull for a bundle container.
export async function pullContainer(engine: DockerEngine, meta: Metadata, paths: BottlePaths, signal?: AbortSignal): Promise<void> {
  const bundle = apiBundle(engine, meta);
  if (!bundle) return;
  await pullBundle(bundle, paths, signal).catch((e: unknown) => {
    throw bundleProblem(e, bundleNames(meta.slug).bundle);
  });
}

// Backend.follow for a bundle container (a legacy bundle: nothing to follow, until aborted).
export async function followContainer(engine: DockerEngine, meta: Metadata, paths: BottlePaths, opts: FollowOptions): Promise<void> {
  const bundle = apiBundle(engine, meta);
  if (!bundle) return untilAborted(opts.signal);
  await followBundle(bundle, paths, opts).catch((e: unknown) => {
    throw bundleProblem(e, bundleNames(meta.slug).bundle);
  });
}

const untilAborted = (signal: AbortSignal): Promise<void> =>
  signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
