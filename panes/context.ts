// What the dashboard's effects (actions.ts, flows.ts) get to work with, injected by app.ts.
import type { LifecycleDeps } from '../lib/lifecycle/index.js';
import type { LoadedManifest } from '../lib/manifest/index.js';
import type { RightDirector } from './right.js';
import type { AppState } from './state.js';
import type { View } from './view.js';

// The app state holder: read it, or replace it through a reducer (which schedules a repaint).
export interface Store {
  get(): AppState;
  update(fn: (s: AppState) => AppState): void;
}

export interface ActionContext {
  store: Store;
  deps: LifecycleDeps;
  cwd: string;
  /** Reads the manifest in use (the --manifest flag, else the usual lookup), fresh each time. */
  manifest(): LoadedManifest;
  /** The bottle CLI as argv (selfArgv()). */
  bottleArgv: readonly string[];
  /** Present inside tmux: the right pane. Absent: foreground handoff and modal log views. */
  right?: RightDirector;
  view: View;
  /** Re-reads everything (after an action whose result the watchers may be slow to report). */
  reload(): void;
  quit(): void;
}

// Sets the status line.
export function say(ctx: ActionContext, text: string, level: 'info' | 'error' = 'info'): void {
  ctx.store.update((s) => ({ ...s, status: { text, level } }));
}

// First line of an error, for the status line.
export function errorText(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0]!;
}
