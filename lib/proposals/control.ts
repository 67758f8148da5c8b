// How the host tells a running bottle's bundle that its policy changed. Each backend's
// control(meta) returns a BundleControl (the bundle container: SIGHUP to its init via the engine
// API; secrets through an exec whose Env carries the values, never argv or files); a bottle
// whose bundle is gone gets noopControl: the policy file is still updated and applies at the
// next start (lib/lifecycle/control.ts picks which).

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
  /**
   * Tells the bundle about a decision the host just wrote to its decisions dir (the host copy
   * is the record). Absent: the bundle reads the host's dir itself.
   */
  deliverDecision?(slug: string, id: string): Promise<void>;
  /** Appends one host event line to the bundle's events file. Absent: the host's file is the bundle's. */
  appendEvent?(slug: string, line: string): Promise<void>;
}

// For bottles without a running bundle: nothing to signal, the file on disk is the change.
export const noopControl: BundleControl = {
  name: 'none',
  live: false,
  reload: async () => undefined,
  provideSecrets: async () => undefined,
};

// Which control a bottle got, and why it is the noop one (shown to the operator).
export interface ControlChoice {
  control: BundleControl;
  warning?: string;
}
