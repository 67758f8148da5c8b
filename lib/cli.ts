// The contract between the CLI and every verb, below both commands/ and sidecars/: a daemon's
// subcommand registers against these types without importing the CLI that hosts it.
import type { Backends } from './backends/index.js';
import type { Runner } from './run/index.js';

// What a command needs from the outside world, injected so tests can run verbs in-process.
export interface Ctx {
  env: NodeJS.ProcessEnv;
  cwd: string;
  run: Runner;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stdout is a terminal (progress and colour decisions). */
  isTTY: boolean;
  /** The backends bottles run on (default: the engines, docker and smolvm). */
  backends?: Backends;
  /** argv that runs this CLI again, for the dashboard's children and tmux bindings (default: selfArgv()). */
  self?: readonly string[];
}

// A verb's action sets the exit code here instead of calling process.exit (only main.ts exits).
export interface Outcome { exitCode: number }
