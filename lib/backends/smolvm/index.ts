// Entry point of the smolvm backend, loaded lazily by loadBackend('smolvm') so hosts without
// smolvm never import it. Builds the backend on the engine `env` selects and the `smolvm` on
// its PATH, and registers the bundle control for smolvm bottles.
import type Docker from 'dockerode';
import { connectDocker } from '../../docker/engine.js';
import { defaultControls } from '../../proposals/control.js';
import { testUpstreamFromEnv } from '../docker/plan.js';
import { SmolvmBackend, type SmolvmBackendOptions, smolvmControl } from './backend.js';
import { SmolvmClient } from './cli.js';
import type { SmolvmEngine } from './launch.js';

export { SmolvmBackend, type SmolvmBackendOptions, smolvmAttachArgv, smolvmControl } from './backend.js';
export { launchSmolvm, type SmolvmEngine, type SmolvmLaunchDeps } from './launch.js';
export { bundleUrls, smolvmNames, smolvmPlan, type SmolvmPlan, vmEnv } from './plan.js';
export { asAgent, SmolvmTransport } from './transport.js';

// dockerode's class, seen through the smolvm backend's engine interface.
export function smolvmEngine(docker: Docker): SmolvmEngine {
  return docker;
}

// The backend on the engine and the smolvm binary `env` selects (PATH, DOCKER_HOST, context).
export function createSmolvmBackend(env: NodeJS.ProcessEnv = process.env, options: SmolvmBackendOptions = {}): SmolvmBackend {
  const testUpstream = testUpstreamFromEnv(env);
  const smolvm = new SmolvmClient({ env });
  return new SmolvmBackend(smolvmEngine(connectDocker(env).docker), smolvm, { env, ...(testUpstream ? { testUpstream } : {}), ...options });
}

// Registered when this module is loaded, so approvals and live edits can signal smolvm bottles'
// bundles. Connects lazily (first reload), on the engine process.env selects.
let lazyEngine: SmolvmEngine | undefined;
defaultControls.register('smolvm', () => smolvmControl(() => (lazyEngine ??= smolvmEngine(connectDocker(process.env).docker))));
