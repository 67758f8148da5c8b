// The contract between the lifecycle (lib/lifecycle: state, logs, verbs) and a backend that
// makes bottles real (Docker containers, smolvm VMs, or the fake backend used by UI tests).
import type { AgentSpec } from '../manifest/index.js';
import type { BottlePlan } from '../plan/index.js';
import type { BundleControl } from '../proposals/control.js';
import type { FollowOptions } from './bundle/channel.js';
import type { BottlePaths, BottleResources, Metadata } from '../state/index.js';

export type BackendName = 'docker' | 'smolvm' | 'fake';

// What the engine says about one bottle's resources.
export type EngineState =
  | 'running'   // agent and bundle up
  | 'partial'   // some resources up, some missing or exited
  | 'exited'    // resources exist but nothing runs
  | 'missing';  // no resource with the bottle's label

// Everything launch needs besides the plan; secrets are read from `env` at launch only.
export interface LaunchContext {
  slug: string;
  paths: BottlePaths;
  /** The manifest's agent entry (plain env values live here; the plan holds names only). */
  agent: AgentSpec;
  /** Host environment: route header values (${VAR}) are read from it and sent to the bundle only. */
  env: NodeJS.ProcessEnv;
  /** One progress line (written to bringup.log and/or the terminal by the caller). */
  log: (line: string) => void;
  /** Aborted on SIGINT/Ctrl-C: the backend stops, tears down what it made (reverse order), throws. */
  signal: AbortSignal;
}

// What launch made: recorded in metadata.json so stop/cleanup/attach find it from any process.
export interface LaunchResult {
  resources: BottleResources;
  backendData?: Record<string, unknown>;
}

// A labelled engine resource whose bottle has no state dir (or any, with --all).
export interface EngineResource {
  kind: 'container' | 'network' | 'volume' | 'machine';
  name: string;
  slug: string;
  state?: string;
  /** Key of the state root that made it (LABEL_STATE); undefined for unlabelled objects. */
  stateKey?: string;
}

// How claude is started in the agent (the lifecycle decides session id and resume).
export interface ClaudeInvocation {
  /** Arguments after `claude`, e.g. ['--session-id', uuid, '--append-system-prompt-file', p]. */
  args: string[];
}

export interface Backend {
  readonly name: BackendName;
  /**
   * Brings up the bundle and the agent and provisions the agent (CA, gitconfig, MCP, prompt,
   * skills, hooks, workspace). On failure or abort it tears down what it made, in reverse
   * order, before rethrowing: nothing is left behind.
   */
  launch(plan: BottlePlan, ctx: LaunchContext): Promise<LaunchResult>;
  /** argv that runs claude interactively inside the agent (foreground or a tmux pane). */
  attachArgv(meta: Metadata, claude: ClaudeInvocation): string[];
  /** Runs a non-interactive command in the agent as the agent user; returns its exit code and output. */
  exec(meta: Metadata, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /**
   * Copies an agent directory (owned by the agent user) out into the host dir `dir`, through
   * the strict tar extractor (plain files and dirs below `dir`, size-capped): what comes out of
   * the agent is untrusted. Throws when the path is missing or the agent cannot be reached.
   */
  copyOut(meta: Metadata, agentPath: string, dir: string): Promise<{ files: number }>;
  /** Copies a host directory's content into the agent at `agentPath` (created), owned by the agent user. */
  copyIn(meta: Metadata, hostDir: string, agentPath: string): Promise<void>;
  /**
   * Makes a bottle whose agent stopped (engine restart, host reboot, a killed container)
   * reachable for exec and copyOut again, with no network: its work can then be saved.
   * Throws when the agent is gone.
   */
  wake(meta: Metadata): Promise<void>;
  /** Removes every resource of the bottle; idempotent (already-gone resources are fine). */
  teardown(meta: Metadata, log: (line: string) => void): Promise<void>;
  /** Engine view of the given bottles; `signal` drops the request (an engine that does not answer). */
  inspect(metas: Metadata[], signal?: AbortSignal): Promise<Map<string, EngineState>>;
  /** Every labelled resource the engine holds (for cleanup of orphans). */
  listResources(): Promise<EngineResource[]>;
  /** Removes one labelled resource (cleanup). */
  removeResource(resource: EngineResource): Promise<void>;
  /**
   * Copies what the running bundle wrote since the last copy (events, proposals) into the
   * bottle's state dir, the copy every host reader uses. Throws when the bundle cannot be reached.
   */
  pull(meta: Metadata, paths: BottlePaths, signal?: AbortSignal): Promise<void>;
  /** Mirrors the running bundle into the state dir as it writes, until `opts.signal` aborts or the bundle stops. */
  follow(meta: Metadata, paths: BottlePaths, opts: FollowOptions): Promise<void>;
  /** Reload/secrets channel to the running bundle (proposal approval, live edits); `paths` is the bottle's state dir. */
  control(meta: Metadata, paths: BottlePaths): BundleControl;
}
