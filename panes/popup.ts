// Who hears about a notice (the dashboard session's clients and the client the operator used
// last, in any session) and the new-proposal popup: where it goes (that last-used client), what
// it runs (`bottle proposals decide ID`, which shows the risk summary and takes one key) and
// what happens on a tmux without popups (the message alone). Pure; notify.ts does the I/O.
import { clip, sanitize } from '../lib/format.js';
import type { PopupOpts } from '../tmux/argv.js';
import { mostRecentClient, type ClientRecord } from '../tmux/format.js';
import { forwardedEnv } from '../tmux/session.js';
import { atLeast, type TmuxVersion } from '../tmux/version.js';

// Room for the decide screen's summary, reason and key lines; clamped to the client.
export const POPUP_WIDTH = 96;
export const POPUP_HEIGHT = 20;

// Whether BOTTLE_POPUP (default on) allows the popup.
export function popupFromEnv(env: NodeJS.ProcessEnv): boolean {
  return !/^(0|false|no|off)$/i.test(env.BOTTLE_POPUP ?? '');
}

// The proposal a popup is about (a ProposalRow fits).
export interface PopupSubject {
  id: string;
  slug: string;
  kind: string;
  host: string;
}

// The popup's command: the dashboard's own CLI argv, under the variables that steer bottle
// (state dir, config, engine), which the tmux server's environment may lack or have stale.
// forwardedEnv never passes anything that looks like a secret: argv is visible in ps.
export function decideCommand(self: readonly string[], id: string, env: NodeJS.ProcessEnv): string[] {
  const vars = Object.entries(forwardedEnv(env)).map(([k, v]) => `${k}=${v}`);
  return ['env', ...vars, ...self, 'proposals', 'decide', id];
}

// A notice's audience: its message goes to every client of the dashboard's session and to the
// client the operator used last (`latest`, where the popup goes) when that one is in another
// session (the user's own), each client once.
export interface NoticeTargets {
  messages: string[];
  latest?: ClientRecord;
}

export function noticeTargets(clients: readonly ClientRecord[], session: string): NoticeTargets {
  const latest = mostRecentClient(clients, session);
  const messages = new Set(clients.filter((c) => c.session === session).map((c) => c.name));
  if (latest) messages.add(latest.name);
  return { messages: [...messages], ...(latest ? { latest } : {}) };
}

export type PopupPlan =
  | { kind: 'popup'; popup: PopupOpts }
  | { kind: 'message'; client: string };

// Where and how to show a new proposal to the operator: a popup on `target` (tmux 3.2+; the
// title needs 3.3), else only the message it gets anyway (noticeTargets). Sizes never exceed
// the client (tmux refuses that).
export function planPopup(target: ClientRecord, version: TmuxVersion, subject: PopupSubject, command: readonly string[]): PopupPlan {
  if (!atLeast(version, '3.2')) return { kind: 'message', client: target.name };
  const popup: PopupOpts = {
    client: target.name,
    command,
    width: Math.max(1, Math.min(POPUP_WIDTH, target.width)),
    height: Math.max(1, Math.min(POPUP_HEIGHT, target.height)),
    // The host comes from the bundle-written queue file: sanitised and clipped for the border.
    ...(atLeast(version, '3.3') ? { title: ` bottle: ${subject.kind} ${clip(subject.host, 60)} from ${sanitize(subject.slug)} ` } : {}),
  };
  return { kind: 'popup', popup };
}
