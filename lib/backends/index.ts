// Which backends a process uses. The CLI's are docker and smolvm, loaded lazily so `bottle ls`
// on a machine without smolvm never imports it. Tests inject their own set (a fake backend) as
// a dependency: nothing in the environment switches a backend.
import { UserError } from '../errors.js';
import type { Backend, BackendName } from './types.js';

export type { Backend, BackendName } from './types.js';

// The backends a lifecycle operation may use.
export interface Backends {
  /** The backend a new bottle gets for the manifest's or --backend's `requested` (recorded in its metadata). */
  choose(requested: string): BackendName;
  /** The backend that runs a bottle recorded with `name`. */
  load(name: BackendName, env: NodeJS.ProcessEnv): Promise<Backend>;
  /** The engines cleanup lists orphaned resources from. */
  readonly engines: readonly BackendName[];
}

// Loads a backend by name (each a separate chunk, loaded only when used).
export async function loadBackend(name: BackendName, env: NodeJS.ProcessEnv): Promise<Backend> {
  switch (name) {
    case 'docker': {
      const { createDockerBackend } = await import('./docker/index.js');
      return createDockerBackend(env);
    }
    case 'smolvm': {
      // A literal specifier: the bundler follows it into dist/ (a computed one was left out).
      const { createSmolvmBackend } = await import('./smolvm/index.js');
      return createSmolvmBackend(env);
    }
    default:
      throw new UserError(`this bottle was made by the "${name}" backend, which this bottle CLI does not have; remove its state with bottle cleanup`);
  }
}

// The real engines: what the CLI and the dashboard use.
export const engineBackends: Backends = {
  choose(requested) {
    if (requested === 'docker' || requested === 'smolvm') return requested;
    throw new UserError(`unknown backend "${requested}"; use docker or smolvm`);
  },
  load: loadBackend,
  engines: ['docker', 'smolvm'],
};
