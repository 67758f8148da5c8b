// Entry point of the smolvm backend, loaded lazily by loadBackend('smolvm') so hosts without
// smolvm never import it. Builds the backend on the engine `env` selects and the `smolvm` on
// its PATH.
import type Docker from 'dockerode';
import { connectDocker } from '../../docker/engine.js';
import { testUpstreamFromEnv } from '../bundle/plan.js';
import { SmolvmBackend, type SmolvmBackendOptions } from './backend.js';
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
