// The cockpit seen from any session: which session it is (the one whose @bottle-dash names a
// live pane), bringing it up as `bottle tmux --no-attach` would when there is none, and asking
// its dashboard something while it may still be starting.
//
// On the key-press path (commands/tmux-key.ts): node builtins and tmux/ only.
import { setTimeout as sleep } from 'node:timers/promises';
import * as a from './argv.js';
import type { PaneId } from './argv.js';
import type { TmuxClient } from './client.js';
import { isPaneId, SEP } from './format.js';
import { NOT_RUNNING_MESSAGE, sendDashboardRequest, type DashboardRequest, type IpcReply } from './keys.js';
import {
  DASH_OPTION, dashboardCommand, DEFAULT_SESSION, DEFAULT_SIZE, forwardedEnv, IPC_OPTION, launchSession, planTmuxSession,
  sessionFacts,
} from './session.js';

// One session with the options the cockpit sets (empty when unset).
export interface SessionMarks {
  name: string;
  dash?: string;
  ipc?: string;
}

// The -F format matching parseSessionMarks(): the socket path last (free text).
export const SESSION_FORMAT = ['#{session_name}', `#{${DASH_OPTION}}`, `#{${IPC_OPTION}}`].join(SEP);

export function parseSessionMarks(stdout: string): SessionMarks[] {
  return stdout.split('\n').filter(Boolean).map((line) => {
    const [name = '', dash = '', ...ipc] = line.split(SEP);
    const path = ipc.join(SEP);
    return { name, ...(dash ? { dash } : {}), ...(path ? { ipc: path } : {}) };
  });
}

export interface CockpitChoice {
  session: string;
  dash: PaneId;
  ipc?: string;
  /** The dashboard pane is alive; false: the session outlived its dashboard (revive it). */
  alive: boolean;
}

// Which session is the cockpit: among the sessions marked with @bottle-dash, the current one,
// then `bottle`, then the others by name; one whose dashboard pane is alive before any other.
export function chooseCockpit(sessions: readonly SessionMarks[], alive: ReadonlySet<string>, current?: string): CockpitChoice | undefined {
  const rank = (s: SessionMarks): number => (s.name === current ? 0 : s.name === DEFAULT_SESSION ? 1 : 2);
  const marked = sessions.filter((s) => isPaneId(s.dash))
    .sort((x, y) => rank(x) - rank(y) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const pick = marked.find((s) => alive.has(s.dash!)) ?? marked[0];
  if (!pick) return undefined;
  return { session: pick.name, dash: pick.dash!, ...(pick.ipc ? { ipc: pick.ipc } : {}), alive: alive.has(pick.dash!) };
}

async function survey(client: TmuxClient, current?: string): Promise<CockpitChoice | undefined> {
  const r = await client.probe(a.listSessions({ format: SESSION_FORMAT }));
  if (r.exitCode !== 0) return undefined;
  const live = new Set((await client.listPanes()).filter((p) => !p.dead).map((p) => p.paneId));
  return chooseCockpit(parseSessionMarks(r.stdout), live, current);
}

// The cockpit with a live dashboard, if there is one.
export async function findCockpit(client: TmuxClient, current?: string): Promise<CockpitChoice | undefined> {
  const c = await survey(client, current);
  return c?.alive ? c : undefined;
}

export interface EnsureCockpitOptions {
  /** argv that runs the bottle CLI (the dashboard's command). */
  self: readonly string[];
  /** Where the dashboard starts, which decides its manifest as for `bottle tmux` (./bottle.yaml). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The session the key was pressed in (preferred when it is a cockpit). */
  current?: string;
}

// The cockpit, brought up when needed exactly as `bottle tmux --no-attach` would from `cwd`:
// a new detached `bottle` session, or the dashboard split back into a cockpit that lost it.
export async function ensureCockpit(client: TmuxClient, o: EnsureCockpitOptions): Promise<CockpitChoice & { started: boolean }> {
  const found = await survey(client, o.current);
  if (found?.alive) return { ...found, started: false };
  const session = found?.session ?? DEFAULT_SESSION;
  const plan = planTmuxSession(await sessionFacts(client, session), false, {
    session, dashboard: dashboardCommand(o.self, { cwd: o.cwd, env: o.env }), cwd: o.cwd, ...DEFAULT_SIZE,
    env: forwardedEnv(o.env), attach: false,
  });
  const r = await launchSession(client, plan, session, undefined);
  const dash = r.pane ?? (await client.showOption({ scope: 'session', target: a.exactSessionPane(session), name: DASH_OPTION }))?.trim();
  if (!isPaneId(dash)) throw new Error(`tmux session ${session} has no dashboard pane`);
  return { session, dash, alive: true, started: r.pane !== undefined };
}

const NOT_ANSWERING = 'is not answering';

// Whether dashboardRequest gave up on reaching the dashboard (as opposed to its answer).
export function isNotAnswering(r: IpcReply): boolean {
  return !r.ok && r.error.includes(NOT_ANSWERING);
}

// Asks the session's dashboard, waiting up to `waitMs` for one that is still starting (its
// socket not announced yet, or not listening yet).
export async function dashboardRequest(
  client: TmuxClient, session: string, request: DashboardRequest, o: { waitMs?: number; timeoutMs?: number } = {},
): Promise<IpcReply> {
  const deadline = Date.now() + (o.waitMs ?? 0);
  for (;;) {
    const ipc = await client.showOption({ scope: 'session', target: a.exactSessionPane(session), name: IPC_OPTION });
    if (ipc !== undefined) {
      const r = await sendDashboardRequest(ipc.trim(), request, o.timeoutMs);
      if (r.ok || r.error !== NOT_RUNNING_MESSAGE) return r;
    }
    if (Date.now() >= deadline) {
      return { ok: false, error: `bottle: the dashboard of tmux session ${session} ${NOT_ANSWERING}; \`bottle tmux\` brings it back` };
    }
    await sleep(100);
  }
}
