// How init turns its children's endings into its own exit code (pure).
import { constants } from 'node:os';
import type { ChildExit } from '../../lib/run/spawn.js';

// Shell convention: a signal-terminated child counts as 128 + signal number.
export function exitCodeOf(ending: ChildExit): number {
  if (ending.signal) return 128 + (constants.signals[ending.signal] ?? 0);
  return ending.exitCode ?? 0;
}

// Init's exit code: the first non-zero ending among the children, in the order they ended; 0 if all clean.
export function combinedExitCode(endings: readonly ChildExit[]): number {
  for (const e of endings) {
    const code = exitCodeOf(e);
    if (code !== 0) return code;
  }
  return 0;
}
