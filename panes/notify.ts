// The dashboard's tmux surface: announces itself to the session (@bottle-dash, @bottle-ipc, the
// contract with `bottle tmux keys`), keeps its border label counter and the status segment users
// place in their own status line (@bottle-status), and delivers notifications (a new proposal's
// popup on the client the operator used last, in any session; display-message to the session's
// clients and to that client; select-pane to itself; never switch-client, which would yank the
// user out of another window). The bell itself is written by the view. Of the global options it
// sets only its own @bottle* user options, never status-right, status-interval or hooks.
import { chain, setOption, unsetOption } from '../tmux/argv.js';
import { LABEL_OPTION, labelValue, PANE_BORDER_FORMAT, type ClientRecord } from '../tmux/format.js';
import type { TmuxClient } from '../tmux/client.js';
import type { TmuxVersion } from '../tmux/version.js';
import { noticeTargets, planPopup, type PopupSubject } from './popup.js';
import { dashLabel } from './rows.js';

// Session user options read by the key bindings: the dashboard pane and its control socket.
export const DASH_OPTION = '@bottle-dash';
export const IPC_OPTION = '@bottle-ipc';

// Global (session-scope -g, so `#{@bottle-status}` expands in every session's status line) user
// options: the segment (see segment.ts), and the dashboard pane that wrote it last, which alone
// clears it on quit.
export const STATUS_OPTION = '@bottle-status';
export const STATUS_OWNER_OPTION = '@bottle-status-pane';
const GLOBAL = { scope: 'session' as const, global: true };

// How long display-message shows a notification.
export const MESSAGE_MS = 3000;

export interface TmuxSideOptions {
  /** select-pane the dashboard on a notification (BOTTLE_FOCUS_ON_NOTIFY=0 turns it off). */
  focusOnNotify: boolean;
  /** argv a new proposal's popup runs (see decideCommand); unset: no popup (--no-popup, BOTTLE_POPUP=0). */
  popupCommand?: (proposalId: string) => string[];
}

// One dashboard pane's relationship with its tmux session.
export class TmuxSide {
  readonly client: TmuxClient;
  readonly dashPane: string;
  readonly #opts: TmuxSideOptions;
  #label: string | undefined;
  #session: string | undefined;
  #version: TmuxVersion | undefined;
  /** The segment wanted, the one last written, the write in flight (see setStatus). */
  #statusWant: string | undefined;
  #statusWritten: string | undefined;
  #statusBusy: Promise<void> | undefined;
  #closed = false;

  constructor(client: TmuxClient, dashPane: string, opts: TmuxSideOptions) {
    this.client = client;
    this.dashPane = dashPane;
    this.#opts = opts;
  }

  // The session this pane is in (asked by pane id; the active pane may be another one).
  async session(): Promise<string> {
    this.#session ??= (await this.client.display('#{session_name}', this.dashPane)).trim();
    return this.#session;
  }

  // Sets the session options, the border format and the initial label.
  async register(ipcPath?: string): Promise<void> {
    const session = { scope: 'session' as const, target: this.dashPane };
    await this.client.setOption({ ...session, name: DASH_OPTION, value: this.dashPane });
    if (ipcPath) await this.client.setOption({ ...session, name: IPC_OPTION, value: ipcPath });
    const win = { scope: 'window' as const, target: this.dashPane };
    await this.client.setOption({ ...win, name: 'pane-border-status', value: 'top' });
    await this.client.setOption({ ...win, name: 'pane-border-format', value: PANE_BORDER_FORMAT });
    await this.setCounter(0);
  }

  // Removes what register() and setStatus() set, unless another dashboard has taken over meanwhile.
  async unregister(ipcPath?: string): Promise<void> {
    this.#closed = true;
    await this.#statusBusy?.catch(() => undefined);
    if ((await this.client.showOption({ ...GLOBAL, name: STATUS_OWNER_OPTION }))?.trim() === this.dashPane) {
      await this.client.probe(chain(unsetOption({ ...GLOBAL, name: STATUS_OPTION }), unsetOption({ ...GLOBAL, name: STATUS_OWNER_OPTION })));
    }
    const session = { scope: 'session' as const, target: this.dashPane };
    if ((await this.client.showOption({ ...session, name: DASH_OPTION }))?.trim() === this.dashPane) {
      await this.client.probe(unsetOption({ ...session, name: DASH_OPTION }));
    }
    if (ipcPath && (await this.client.showOption({ ...session, name: IPC_OPTION }))?.trim() === ipcPath) {
      await this.client.probe(unsetOption({ ...session, name: IPC_OPTION }));
    }
    await this.client.probe(unsetOption({ scope: 'pane', target: this.dashPane, name: LABEL_OPTION }));
  }

  // The border label with the unseen counter (`bottle (2 new!)`); no tmux call when unchanged.
  async setCounter(unseen: number): Promise<void> {
    const text = dashLabel(unseen);
    if (text === this.#label) return;
    this.#label = text;
    await this.client.setOption({ scope: 'pane', target: this.dashPane, name: LABEL_OPTION, value: labelValue(text) });
  }

  // The status segment into @bottle-status (escaped: it expands inside the user's status-right),
  // owned by this pane. One tmux call per change, none per render; writes never overlap, the
  // latest segment wins. A failed write is retried by the next call.
  setStatus(segment: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#statusWant = segment;
    if (!this.#statusBusy && segment !== this.#statusWritten) this.#statusBusy = this.#flushStatus();
    return this.#statusBusy ?? Promise.resolve();
  }

  // Started only with something to write, so it awaits before its finally: the flag it clears is
  // the one setStatus just set.
  async #flushStatus(): Promise<void> {
    try {
      while (!this.#closed && this.#statusWant !== undefined && this.#statusWant !== this.#statusWritten) {
        const value = this.#statusWant;
        await this.client.exec(chain(
          setOption({ ...GLOBAL, name: STATUS_OPTION, value: labelValue(value) }),
          setOption({ ...GLOBAL, name: STATUS_OWNER_OPTION, value: this.dashPane }),
        ));
        this.#statusWritten = value;
      }
    } finally {
      this.#statusBusy = undefined;
    }
  }

  // The segment back after another dashboard quit and cleared it (it owned the option then), or
  // died without clearing it (its pane is gone): called on the slow engine tick, one
  // show-options (and a list-panes when another pane owns it). Never takes it from a live owner.
  async reclaimStatus(): Promise<void> {
    if (this.#closed || this.#statusWritten === undefined || this.#statusBusy) return;
    const owner = (await this.client.showOption({ ...GLOBAL, name: STATUS_OWNER_OPTION }))?.trim();
    if (owner === this.dashPane || (owner !== undefined && (await this.client.paneExists(owner)))) return;
    this.#statusWritten = undefined;
    if (this.#statusWant !== undefined) await this.setStatus(this.#statusWant);
  }

  // A new proposal's popup on the client the operator used last (first: it is the fastest way to
  // the operator), a transient message on every client of the session and on that one, then (if
  // configured) focus here.
  async notify(text: string, proposal?: PopupSubject): Promise<void> {
    const targets = noticeTargets(await this.client.clients(), await this.session());
    if (proposal && targets.latest) await this.popup(proposal, targets.latest).catch(() => undefined);
    await Promise.all(targets.messages.map((c) => this.client.message(c, text, MESSAGE_MS).catch(() => undefined)));
    if (this.#opts.focusOnNotify) await this.selectSelf();
  }

  // The popup on `target`, whatever session it shows; a tmux without popups: nothing more (the
  // message goes there anyway).
  async popup(proposal: PopupSubject, target: ClientRecord): Promise<void> {
    if (!this.#opts.popupCommand) return;
    this.#version ??= await this.client.serverVersion();
    const plan = planPopup(target, this.#version, proposal, this.#opts.popupCommand(proposal.id));
    if (plan.kind === 'popup') await this.client.popup(plan.popup);
  }

  // Keyboard focus to the dashboard pane (within its window only).
  async selectSelf(): Promise<void> {
    await this.client.selectPane(this.dashPane);
  }
}
