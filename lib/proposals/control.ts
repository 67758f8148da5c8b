// How the host tells a running bottle's bundle that its policy changed. The backends implement
// BundleControl (Docker: SIGHUP to the bundle's init via the engine API; secrets through an
// exec whose Env carries the values, never argv or files); a bottle whose bundle is gone gets
// noopControl: the policy file is still updated and applies at the next start.
import type { Metadata } from '../state/index.js';

// The two things approval or a live edit needs from a running bundle.
export interface BundleControl {
  /** Short name for messages ("docker", "none"). */
  readonly name: string;
  /** false when nothing is running to reload: the change applies at next start. */
  readonly live: boolean;
  /** Makes the gateway re-read policy/policy.yaml (in-flight connections are kept). */
  reload(slug: string): Promise<void>;
  /**
   * Hands the gateway the values of `names` (route header env vars) taken from `env`. Values
   * travel only in-process to the engine API; implementations never put them in argv or files.
   */
  provideSecrets(slug: string, names: string[], env: NodeJS.ProcessEnv): Promise<void>;
}

// For bottles without a running bundle: nothing to signal, the file on disk is the change.
export const noopControl: BundleControl = {
  name: 'none',
  live: false,
  reload: async () => undefined,
  provideSecrets: async () => undefined,
};

// Builds a bottle's control from its metadata; undefined when its bundle is not running.
export type ControlFactory = (metadata: Metadata) => BundleControl | undefined;

// Which control a bottle got, and why it is the noop one (shown to the operator).
export interface ControlChoice {
  control: BundleControl;
  warning?: string;
}

// Backends register a factory under their name (metadata.backend); a registry object rather
// than a module global so tests and the dashboard can hold their own.
export class ControlRegistry {
  private readonly factories = new Map<string, ControlFactory>();

  // Returns an unregister function (for tests, or a backend that is unloaded).
  register(backend: string, factory: ControlFactory): () => void {
    this.factories.set(backend, factory);
    return () => {
      if (this.factories.get(backend) === factory) this.factories.delete(backend);
    };
  }

  has(backend: string): boolean {
    return this.factories.has(backend);
  }

  // The bottle's control; noop with a warning when the backend is unknown or the bundle is gone.
  resolve(metadata: Metadata | undefined): ControlChoice {
    if (!metadata) return { control: noopControl, warning: 'no metadata for this bottle: the policy file is updated, the change applies at next start' };
    const factory = this.factories.get(metadata.backend);
    if (!factory) {
      return {
        control: noopControl,
        warning: `cannot signal ${metadata.backend} bottles from this build: the policy file is updated, the change applies when ${metadata.slug} next starts`,
      };
    }
    const control = factory(metadata);
    if (!control) return { control: noopControl, warning: `${metadata.slug}'s bundle is not running: the policy file is updated, the change applies at next start` };
    return { control };
  }
}

// The registry the CLI and dashboard use; backends add themselves to it when loaded.
export const defaultControls = new ControlRegistry();

// Shorthand for defaultControls.resolve (or another registry's).
export function controlFor(metadata: Metadata | undefined, registry: ControlRegistry = defaultControls): ControlChoice {
  return registry.resolve(metadata);
}
