// Who hears about a notice (the dashboard session's clients and the client the operator used
// last, in any session) and the new-proposal popup: where it goes (that last-used client), what
// it runs (`bottle proposals decide ID`, which shows the risk summary and takes one key) and
// what happens on a tmux without popups (the message alone). Pure, but for showDecision
// (`prefix b p`); notify.ts does the notification's I/O.
import { clip, sanitize } from '../lib/format.js';
import type { PopupOpts } from '../tmux/argv.js';
import type { TmuxClient } from '../tmux/client.js';
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

// A popup on `target` running `command` (tmux 3.2+, a client that draws them: not tmux -C),
// sized to fit it (tmux refuses a popup larger than the client), titled on 3.3+; else a plan for
// a message there.
export function popupOn(target: ClientRecord, version: TmuxVersion, command: readonly string[], o: { width: number; height: number; title?: string }): PopupPlan {
  if (!atLeast(version, '3.2') || target.control) return { kind: 'message', client: target.name };
  const popup: PopupOpts = {
    client: target.name,
    command,
    width: Math.max(1, Math.min(o.width, target.width)),
    height: Math.max(1, Math.min(o.height, target.height)),
    ...(o.title !== undefined && atLeast(version, '3.3') ? { title: o.title } : {}),
  };
  return { kind: 'popup', popup };
}

// Where and how to show a new proposal to the operator: a popup on `target` (tmux 3.2+; the
// title needs 3.3), else a message on it. Sizes never exceed the client (tmux refuses that).
export function planPopup(target: ClientRecord, version: TmuxVersion, subject: PopupSubject, command: readonly string[]): PopupPlan {
  // The host comes from the bundle-written queue file: sanitised and clipped for the border.
  return popupOn(target, version, command, {
    width: POPUP_WIDTH, height: POPUP_HEIGHT,
    title: ` bottle: ${subject.kind} ${clip(subject.host, 60)} from ${sanitize(subject.slug)} `,
  });
}

// A proposal's decision popup on the named client (`prefix b p`): the popup, or on a client
// that cannot show one, a message naming it. Throws when the client is gone.
export async function showDecision(client: TmuxClient, clientName: string, subject: PopupSubject, command: readonly string[]): Promise<void> {
  const target = (await client.clients()).find((c) => c.name === clientName);
  if (!target) throw new Error(`no tmux client ${clientName}`);
  const plan = planPopup(target, await client.serverVersion(), subject, command);
  if (plan.kind === 'popup') await client.popup(plan.popup);
  else await client.message(plan.client, `bottle: ${subject.kind} ${clip(subject.host, 60)} from ${sanitize(subject.slug)} waits: bottle proposals decide ${subject.id}`, 4000);
}
