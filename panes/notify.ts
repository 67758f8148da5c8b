// The dashboard's tmux surface: announces itself to the session (@bottle-dash, @bottle-ipc, the
// contract with `bottle tmux keys`), keeps its border label counter, and delivers notifications
// (a new proposal's popup on the client the operator used last, in any session; display-message
// to the session's clients; select-pane to itself; never switch-client, which would yank the
// user out of another window). The bell itself is written by the view.
import { unsetOption } from '../tmux/argv.js';
import { LABEL_OPTION, labelValue, mostRecentClient, PANE_BORDER_FORMAT } from '../tmux/format.js';
import type { TmuxClient } from '../tmux/client.js';
import type { TmuxVersion } from '../tmux/version.js';
import { planPopup, type PopupSubject } from './popup.js';
import { dashLabel } from './rows.js';

// Session user options read by the key bindings: the dashboard pane and its control socket.
export const DASH_OPTION = '@bottle-dash';
export const IPC_OPTION = '@bottle-ipc';

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

  // Removes what register() set, unless another dashboard has taken over meanwhile.
  async unregister(ipcPath?: string): Promise<void> {
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

  // A new proposal's popup (first: it is the fastest way to the operator), a transient message on
  // every client of the session, then (if configured) focus here.
  async notify(text: string, proposal?: PopupSubject): Promise<void> {
    const clients = await this.client.listClients(await this.session());
    if (proposal && this.#opts.popupCommand) await this.popup(proposal, text, clients).catch(() => undefined);
    await Promise.all(clients.map((c) => this.client.message(c, text, MESSAGE_MS).catch(() => undefined)));
    if (this.#opts.focusOnNotify) await this.selectSelf();
  }

  // The popup on the client with the latest activity, whatever session it shows; on a tmux
  // without popups, the message there too when it is outside this session.
  async popup(proposal: PopupSubject, text: string, sessionClients: readonly string[]): Promise<void> {
    const target = mostRecentClient(await this.client.clients(), await this.session());
    if (!target || !this.#opts.popupCommand) return;
    this.#version ??= await this.client.serverVersion();
    const plan = planPopup(target, this.#version, proposal, this.#opts.popupCommand(proposal.id));
    if (plan.kind === 'popup') await this.client.popup(plan.popup);
    else if (!sessionClients.includes(plan.client)) await this.client.message(plan.client, text, MESSAGE_MS);
  }

  // Keyboard focus to the dashboard pane (within its window only).
  async selectSelf(): Promise<void> {
    await this.client.selectPane(this.dashPane);
  }
}
