// Picks the backend for a bottle. Backends load lazily so `bottle ls` on a machine without
// smolvm never imports it. BOTTLE_TEST_BACKEND=fake swaps every backend for the fake one
// (UI and lifecycle tests drive the product without an engine).
import { UserError } from '../errors.js';
import type { Backend, BackendName } from './types.js';

export type { Backend, BackendName } from './types.js';

export type BackendLoader = (name: BackendName, env: NodeJS.ProcessEnv) => Promise<Backend>;

// The name a new bottle's backend gets (after the test override).
export function effectiveBackend(requested: string, env: NodeJS.ProcessEnv): BackendName {
  if (env.BOTTLE_TEST_BACKEND === 'fake') return 'fake';
  if (requested === 'docker' || requested === 'smolvm' || requested === 'fake') return requested;
  throw new UserError(`unknown backend "${requested}"; use docker or smolvm`);
}

// Loads a backend by name (each a separate chunk, loaded only when used).
export const loadBackend: BackendLoader = async (name, env) => {
  switch (name) {
    case 'fake': {
      const { FakeBackend } = await import('./fake.js');
      return new FakeBackend(env);
    }
    case 'docker': {
      const mod = (await import('./docker/index.js')) as { createDockerBackend: (env: NodeJS.ProcessEnv) => Backend };
      return mod.createDockerBackend(env);
    }
    case 'smolvm': {
      // A literal specifier: the bundler follows it into dist/ (a computed one was left out).
      const { createSmolvmBackend } = await import('./smolvm/index.js');
      return createSmolvmBackend(env);
    }
  }
};
