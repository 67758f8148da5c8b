// The dashboard's right pane: one pane, tracked by id, that shows whatever the dashboard points it
// at (a bring-up log tail, an agent's claude). Reused with respawn-pane while it exists, split
// again when the operator closed it.
//
// Restart story: the right pane's id is also stored in a user option of the dashboard's window,
// `@bottle-right` (see RIGHT_PANE_OPTION). A restarted dashboard calls adopt() and finds its
// pane again. Pane ids are unique for a server's lifetime, so a stored id cannot alias a
// different pane; adopt() still checks the pane is alive, in this window, and not the dashboard.
import { UserError } from '../lib/errors.js';
import * as a from './argv.js';
import type { PaneId } from './argv.js';
import type { TmuxClient } from './client.js';
import { isPaneId, LABEL_OPTION, labelValue, PANE_BORDER_FORMAT } from './format.js';

// Window user option holding the right pane's id.
export const RIGHT_PANE_OPTION = '@bottle-right';

// What the first split runs until the real command is respawned into it (see ensure()).
const PLACEHOLDER = ['sleep', '86400'];

// Runs "$@", then exits with its status once tmux has read all it printed. On SIGCHLD, tmux 3.3a
// reaps every exited child and closes a dead pane at once, even with output still unread in its
// pty: a command that fails at once (`docker: not found`) could leave an empty pane (about 1 in
// 40 runs under load). tmux answers the question CSI 6n (cursor position) only after parsing all
// output before it; with no answer within 2 s (not a tmux pane) the wrapper exits anyway.
// `trap :` keeps the wrapper through a Ctrl-C meant for the command, which gets the default back.
const KEEP_OUTPUT_SCRIPT = [
  'trap : INT QUIT',
  '"$@"',
  'rc=$?',
  'if [ -t 0 ] && [ -t 1 ] && stty -echo -icanon min 0 time 20 2>/dev/null; then',
  '  printf "\\033[6n"',
  '  while c=$(dd bs=1 count=1 2>/dev/null) && [ -n "$c" ] && [ "$c" != R ]; do :; done',
  'fi',
  'exit "$rc"',
].join('\n');

// `argv` wrapped so that its last output reaches the pane before the pane dies (see above).
export function keepOutput(argv: readonly string[]): string[] {
  return ['sh', '-c', KEEP_OUTPUT_SCRIPT, 'sh', ...argv];
}

export interface RightPaneOptions {
  /** Width of the right pane, percent of the dashboard pane (default 60). */
  widthPercent?: number;
}

export interface EnsureOptions {
  /** Border label; omitted → the current label stays. */
  label?: string;
  /** Move keyboard focus to the pane (default: focus stays in the dashboard). */
  focus?: boolean;
  cwd?: string;
}

// The dashboard's own pane id: $TMUX_PANE. `display -p '#{pane_id}'` without -t would report
// the ACTIVE pane, which is not ours once focus moved to the right pane.
export function dashboardPaneFromEnv(env: NodeJS.ProcessEnv = process.env): PaneId {
  const id = env.TMUX_PANE;
  if (!isPaneId(id)) throw new UserError('not inside a tmux pane ($TMUX_PANE is not set); run `bottle tmux`');
  return id;
}

// State machine for the right pane. Calls are serialised: overlapping ensure()s from fast key
// presses must not both split.
export class RightPane {
  readonly dashPane: PaneId;
  readonly widthPercent: number;
  readonly #client: TmuxClient;
  #id: PaneId | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(client: TmuxClient, dashPane: PaneId, opts: RightPaneOptions = {}) {
    if (!isPaneId(dashPane)) throw new Error(`RightPane: dashboard pane must be a pane id like %3, got ${JSON.stringify(dashPane)}`);
    this.#client = client;
    this.dashPane = dashPane;
    this.widthPercent = opts.widthPercent ?? 60;
  }

  // The tracked pane id (may be stale until exists()/ensure() re-checks it).
  get paneId(): PaneId | undefined {
    return this.#id;
  }

  // Whether the tracked pane is still there; forgets the id when it is not.
  exists(): Promise<boolean> {
    return this.#serial(() => this.#exists());
  }

  // Takes over `paneId`, or the one recorded in the dashboard window's @bottle-right option.
  // Returns the adopted id, or undefined when there is nothing alive to adopt.
  adopt(paneId?: PaneId): Promise<PaneId | undefined> {
    return this.#serial(async () => {
      const candidate = paneId ?? (await this.#client.showOption({ scope: 'window', target: this.dashPane, name: RIGHT_PANE_OPTION }));
      if (!isPaneId(candidate) || candidate === this.dashPane) return undefined;
      const panes = await this.#client.listPanes();
      const dash = panes.find((p) => p.paneId === this.dashPane);
      const right = panes.find((p) => p.paneId === candidate);
      if (!dash || !right || right.windowId !== dash.windowId) return undefined;
      this.#id = candidate;
      await this.#client.exec(a.chain(...this.#decorate(candidate)));
      return candidate;
    });
  }

  // Runs `argv` in the right pane: respawned in place if the pane exists (same id), otherwise
  // in a fresh split from the dashboard pane. Returns the pane id.
  ensure(argv: readonly string[], opts: EnsureOptions = {}): Promise<PaneId> {
    return this.#serial(async () => {
      if (argv.length === 0) throw new Error('RightPane.ensure: empty argv');
      const label = (id: PaneId) => (opts.label !== undefined ? [this.#labelArgv(id, opts.label)] : []);
      const respawn = (id: PaneId) => a.respawnPane({ target: id, command: keepOutput(argv), ...(opts.cwd ? { cwd: opts.cwd } : {}) });
      let id = this.#id;
      if (id && (await this.#exists())) {
        await this.#client.exec(a.chain(...label(id), respawn(id)));
      } else {
        // remain-on-exit can only be set once the pane exists, and a command that fails at once
        // (`docker: not found`) would take its pane with it before a second tmux call arrives.
        // So split with a placeholder, set the options, then respawn the real command, which
        // keeps the id. (A chained `split-window ; set -p` targets the old pane, not the new one.)
        id = await this.#client.split({ target: this.dashPane, percent: this.widthPercent, command: PLACEHOLDER });
        this.#id = id;
        try {
          await this.#client.exec(a.chain(...this.#decorate(id), ...label(id), respawn(id)));
        } catch (err) {
          await this.#client.probe(a.killPane(id));
          this.#id = undefined;
          throw err;
        }
      }
      if (opts.focus) await this.#client.selectPane(id);
      return id;
    });
  }

  // Moves keyboard focus to the right pane. False when there is none.
  select(): Promise<boolean> {
    return this.#serial(async () => {
      if (!this.#id || !(await this.#exists())) return false;
      await this.#client.selectPane(this.#id);
      return true;
    });
  }

  // Kills the right pane if it is there and forgets it (also in the window option).
  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#id && (await this.#exists())) await this.#client.probe(a.killPane(this.#id));
      this.#id = undefined;
      await this.#client.probe(a.unsetOption({ scope: 'window', target: this.dashPane, name: RIGHT_PANE_OPTION }));
    });
  }

  // Sets the border label of the right pane; '' clears it (the pane title shows again).
  // False when there is no pane.
  label(text: string): Promise<boolean> {
    return this.#serial(async () => {
      if (!this.#id || !(await this.#exists())) return false;
      await this.#client.exec(this.#labelArgv(this.#id, text));
      return true;
    });
  }

  async #exists(): Promise<boolean> {
    if (!this.#id) return false;
    if (await this.#client.paneExists(this.#id)) return true;
    this.#id = undefined;
    return false;
  }

  #labelArgv(id: PaneId, text: string): string[] {
    return text === ''
      ? a.unsetOption({ scope: 'pane', target: id, name: LABEL_OPTION })
      : a.setOption({ scope: 'pane', target: id, name: LABEL_OPTION, value: labelValue(text) });
  }

  // Pane and window settings for a (new or adopted) right pane, as one chain.
  #decorate(id: PaneId): string[][] {
    const win = { scope: 'window' as const, target: this.dashPane };
    return [
      // Keeps a failed command's output on screen instead of closing the pane. The "Pane is dead
      // (status N)" line and #{pane_dead_status} are NOT reliable in tmux 3.3a (a fast-exiting
      // child is sometimes never reaped); #{pane_dead} is. Record exit codes in the command.
      a.setOption({ scope: 'pane', target: id, name: 'remain-on-exit', value: 'on' }),
      a.setOption({ ...win, name: RIGHT_PANE_OPTION, value: id }),
      a.setOption({ ...win, name: 'pane-border-status', value: 'top' }),
      a.setOption({ ...win, name: 'pane-border-format', value: PANE_BORDER_FORMAT }),
    ];
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
