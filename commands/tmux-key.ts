// `bottle tmux key <action>`: what a key of the `bottle` table does. In the cockpit (the
// session's @bottle-dash is set) the cockpit keys go to its dashboard as they always did; in
// any other session this acts from here: d switches the client to the cockpit (bringing it up
// when there is none), n opens the new-agent picker in a popup over the current pane, p the
// newest proposal's decision popup, a a picker of running agents whose choice attaches in a new
// window of this session, w puts the agent waiting longest in the cockpit's right pane and
// switches there. A failure is one display-message line on the client that pressed the key.
//
// On the key-press path: commands/main.ts runs it without loading the other verbs; anything
// beyond tmux/ and the popup's pure parts is imported where an action needs it.
import * as a from '../tmux/argv.js';
import type { TmuxClient } from '../tmux/client.js';
import { dashboardRequest, ensureCockpit, findCockpit, isNotAnswering } from '../tmux/cockpit.js';
import { mostRecentClient, type ClientRecord } from '../tmux/format.js';
import {
  INSTALLED_KEY_OPTION, isKeyAction, runKeyAction, showFailure, DEFAULT_PREFIX_KEY,
  type DashboardAction, type KeyAction, type KeyActionResult,
} from '../tmux/keys.js';
import { DASH_OPTION, DEFAULT_SESSION } from '../tmux/session.js';
import { decideCommand, popupOn, showDecision } from '../panes/popup.js';
import { paneCommand } from '../panes/right.js';

export interface KeyArgs {
  action: KeyAction;
  /** The session the key was pressed in. */
  session: string;
  /** The client that pressed it (#{client_name}); absent: the most recently active one. */
  client?: string;
  /** The directory of the pane it was pressed in: a cockpit brought up here starts there. */
  cwd?: string;
  /** tmux -L name (tests); pickers in popups get it too. */
  socket?: string;
}

// `bottle tmux key ACTION [--session S] [--client C] [--cwd D] [--socket N]` (`--x=v` or
// `--x v`); undefined when the arguments are anything else (help, an unknown flag), which the
// full CLI then handles.
export function parseKeyArgs(args: readonly string[]): KeyArgs | undefined {
  const [action, ...rest] = args;
  if (!action || !isKeyAction(action)) return undefined;
  const k: KeyArgs = { action, session: DEFAULT_SESSION };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const eq = arg.indexOf('=');
    const [flag, inline] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = inline ?? rest[++i];
    if (value === undefined) return undefined;
    if (flag === '--session') k.session = value;
    else if (flag === '--client') k.client = value;
    else if (flag === '--cwd') k.cwd = value;
    else if (flag === '--socket') k.socket = value;
    else return undefined;
  }
  return k;
}

// The cockpit keys a cockpit's own dashboard handles (a and w act the same everywhere).
const IN_COCKPIT: ReadonlySet<KeyAction> = new Set(['focus-dashboard', 'new-agent', 'next-agent', 'prev-agent', 'newest-proposal']);

// How long a key waits for a dashboard it just started (tsx from source is the slow case).
const START_WAIT_MS = 30_000;

// What the popups of n and a open with: room for the plan dialog, clamped to the client.
export const PICKER_WIDTH = 100;
export const PICKER_HEIGHT = 24;

export interface KeyContext {
  /** argv that runs the bottle CLI (dashboards and popups run it). */
  self: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Fallback directory when the key did not pass one. */
  cwd: string;
}

// Runs a key's action; on failure the message is on the pressing client's status line (else
// the session's clients'), `shownTo` says whether anyone saw it.
export async function runKey(tmux: TmuxClient, k: KeyArgs, o: KeyContext): Promise<KeyActionResult> {
  const inCockpit = (await tmux.showOption({ scope: 'session', target: a.exactSessionPane(k.session), name: DASH_OPTION })) !== undefined;
  if (inCockpit && IN_COCKPIT.has(k.action)) return runKeyAction(tmux, k.session, k.action as DashboardAction, undefined, k.client);
  let message: string | undefined;
  try {
    message = await elsewhere(tmux, k, o);
  } catch (e) {
    message = ((e as Error)?.message ?? String(e)).split('\n')[0];
  }
  if (message === undefined) return { ok: true, shownTo: 0 };
  const text = message.startsWith('bottle:') ? message : `bottle: ${message}`;
  return { ok: false, message: text, shownTo: await showFailure(tmux, text, { session: k.session, ...(k.client ? { client: k.client } : {}) }) };
}

// The client a popup or a switch is for: the one that pressed the key, else the one used last.
async function targetClient(tmux: TmuxClient, name: string | undefined): Promise<ClientRecord> {
  const clients = await tmux.clients();
  const c = name !== undefined ? clients.find((x) => x.name === name) : mostRecentClient(clients);
  if (!c) throw new Error(name !== undefined ? `no tmux client ${name}` : 'no tmux client to act on');
  return c;
}

// `bottle tmux <verb> ...` as a popup's command, under the variables that steer bottle (the
// popup gets the tmux server's environment).
function cliCommand(k: KeyArgs, o: KeyContext, args: readonly string[]): string[] {
  return paneCommand([...o.self, 'tmux', ...args, ...(k.socket ? [`--socket=${k.socket}`] : [])], o.env);
}

// Opens a picker popup on the client; false when the client cannot show one (tmux -C, < 3.2).
async function pickerPopup(tmux: TmuxClient, target: ClientRecord, command: readonly string[], title: string): Promise<boolean> {
  const plan = popupOn(target, await tmux.serverVersion(), command, { width: PICKER_WIDTH, height: PICKER_HEIGHT, title });
  if (plan.kind !== 'popup') return false;
  await tmux.popup(plan.popup);
  return true;
}

// Moves the client to a pane (its session, window and the pane itself: switch-client -t %N).
async function switchTo(tmux: TmuxClient, client: string, pane: string): Promise<void> {
  await tmux.exec(a.switchClient({ client, target: pane }));
}

// What a key does outside the cockpit; a message when it did nothing.
async function elsewhere(tmux: TmuxClient, k: KeyArgs, o: KeyContext): Promise<string | undefined> {
  const cockpit = () => ensureCockpit(tmux, { self: o.self, cwd: k.cwd || o.cwd, env: o.env, current: k.session });
  switch (k.action) {
    case 'focus-dashboard': {
      const target = await targetClient(tmux, k.client);
      await switchTo(tmux, target.name, (await cockpit()).dash);
      return undefined;
    }
    case 'new-agent': {
      const target = await targetClient(tmux, k.client);
      const c = await cockpit();
      const picker = cliCommand(k, o, ['pick-agent', `--session=${c.session}`, `--client=${target.name}`]);
      if (await pickerPopup(tmux, target, picker, ' bottle: new agent ')) return undefined;
      // No popup on this client: the dashboard's own picker, in the cockpit.
      await switchTo(tmux, target.name, c.dash);
      const r = await dashboardRequest(tmux, c.session, { action: 'new-agent' }, { waitMs: START_WAIT_MS });
      return r.ok ? undefined : r.error;
    }
    case 'next-agent':
    case 'prev-agent': {
      const key = (await tmux.showOption({ scope: 'server', name: INSTALLED_KEY_OPTION }))?.trim() || DEFAULT_PREFIX_KEY;
      return `] and [ act in the cockpit; prefix ${key} d goes there`;
    }
    case 'newest-proposal': {
      const target = await targetClient(tmux, k.client);
      const c = await findCockpit(tmux, k.session);
      if (c) {
        const r = await dashboardRequest(tmux, c.session, { action: 'popup-proposal', client: target.name }, { timeoutMs: 5000 });
        if (r.ok) return undefined;
        if (!isNotAnswering(r)) return r.error;
      }
      // No dashboard: the state dir says which one is newest.
      const { listProposals } = await import('../lib/proposals/index.js');
      const { stateRoot } = await import('../lib/state/index.js');
      const { lifecycleDeps, pullAllBundles } = await import('../lib/lifecycle/index.js');
      await pullAllBundles(lifecycleDeps(o.env));
      const newest = (await listProposals(stateRoot(o.env))).rows.filter((r) => r.status === 'pending' && !r.auto).at(-1);
      if (!newest) return 'no pending proposals';
      await showDecision(tmux, target.name, newest, decideCommand(o.self, newest.id, o.env));
      return undefined;
    }
    case 'attach-agent': {
      const target = await targetClient(tmux, k.client);
      if ((await runningSlugs(o.env)).length === 0) return 'no running agents to attach';
      const picker = cliCommand(k, o, ['pick-bottle', `--session=${k.session}`]);
      if (await pickerPopup(tmux, target, picker, ' bottle: attach an agent here ')) return undefined;
      return 'this tmux client shows no popups (tmux -C, or tmux < 3.2); use bottle attach SLUG';
    }
    case 'waiting-agent': {
      const target = await targetClient(tmux, k.client);
      const c = await cockpit();
      const r = await dashboardRequest(tmux, c.session, { action: 'show-waiting' }, { waitMs: START_WAIT_MS, timeoutMs: 15_000 });
      if (!r.ok) return r.error;
      await switchTo(tmux, target.name, r.pane ?? c.dash);
      return undefined;
    }
  }
}

// Slugs of the bottles recorded as running, by name (what `a` offers; the state dir is read,
// the engine is not asked: that is the slow part of `bottle ls`).
export async function runningSlugs(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { listBottles, stateRoot } = await import('../lib/state/index.js');
  return (await listBottles(stateRoot(env))).flatMap((e) => (e.ok && e.metadata.state === 'running' ? [e.slug] : []));
}
