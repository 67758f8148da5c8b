// Where bottle keeps per-bottle state on the host (SPEC §5), resolved from an explicit env.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

// BOTTLE_STATE_DIR, else $XDG_STATE_HOME/bottle, else ~/.local/state/bottle. Env is a
// parameter so tests and in-process CLI runs never read the real process environment.
export function stateRoot(env: NodeJS.ProcessEnv, home: string = env.HOME || homedir()): string {
  if (env.BOTTLE_STATE_DIR) return resolve(env.BOTTLE_STATE_DIR);
  // The XDG spec says relative XDG_* values are invalid and must be ignored.
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'bottle');
  return join(home, '.local', 'state', 'bottle');
}
