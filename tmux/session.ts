// The `bottle tmux` launcher: decide (pure) whether to create the cockpit session, bring its
// dashboard back, or just attach; then carry the plan out through a TmuxClient.
//
// Contract with the dashboard (panes/): the session user option @bottle-dash holds the
// dashboard's pane id (set here right after the pane is made, and again by the dashboard on
// startup), @bottle-ipc the path of the unix socket the dashboard listens on (set by it).
import { basename, resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import * as a from './argv.js';
import type { PaneId } from './argv.js';
import type { TmuxClient } from './client.js';
import { isPaneId, LABEL_OPTION, labelValue, PANE_BORDER_FORMAT } from './format.js';
import { atLeast, formatVersion, MIN_TMUX_VERSION, type TmuxVersion } from './version.js';

// Session user option: the dashboard's pane id. Also the guard of the `bottle` key table.
export const DASH_OPTION = '@bottle-dash';
// Session user option: the dashboard's IPC socket path (written by the dashboard).
export const IPC_OPTION = '@bottle-ipc';
export const DEFAULT_SESSION = 'bottle';
// Size of a session created without a terminal to measure (tmux resizes it on attach).
export const DEFAULT_SIZE = { width: 200, height: 50 } as const;
// Replaces the dashboard command (a shell string): development and tests run a stand-in.
export const DASHBOARD_CMD_ENV = 'BOTTLE_TMUX_DASHBOARD_CMD';
// Width of a dashboard pane split back into an existing session.
const REVIVE_PERCENT = 40;

// What the launcher needs to know about the server before deciding.
export interface SessionFacts {
  exists: boolean;
  /** @bottle-dash names a live pane of this session. */
  dashboardAlive: boolean;
}

export interface PlanOptions {
  session: string;
  /** argv of the dashboard pane's command. */
  dashboard: readonly string[];
  cwd: string;
  width: number;
  height: number;
  /** Environment handed to the new pane with `-e` (never secrets: argv is visible in ps). */
  env: Readonly<Record<string, string>>;
  /** false → leave the session detached (scripts, tests). */
  attach: boolean;
}

export type SessionAction = 'create' | 'revive' | 'attach';

export interface SessionPlan {
  action: SessionAction;
  /** new-session (create) or split-window (revive); both print the dashboard's pane id. */
  spawn?: string[];
  /** How the terminal gets to the session: attach-session (outside tmux) or switch-client. */
  enter?: { mode: 'attach' | 'switch'; argv: string[] };
}

// Decides every tmux call of `bottle tmux` from the facts; the argv are exact so tests compare.
export function planTmuxSession(facts: SessionFacts, insideTmux: boolean, o: PlanOptions): SessionPlan {
  a.assertSessionName(o.session);
  const enter = !o.attach ? undefined
    // Inside tmux a nested attach would put tmux in tmux: move this client instead.
    : insideTmux ? { mode: 'switch' as const, argv: a.switchClient({ target: a.exactSession(o.session) }) }
    : { mode: 'attach' as const, argv: a.attachSession({ session: o.session }) };
  const withEnter = <T extends object>(p: T): T & Pick<SessionPlan, 'enter'> => (enter ? { ...p, enter } : p);
  if (!facts.exists) {
    return withEnter({
      action: 'create' as const,
      spawn: a.newSession({
        name: o.session, windowName: o.session, width: o.width, height: o.height,
        cwd: o.cwd, env: o.env, command: o.dashboard,
      }),
    });
  }
  if (!facts.dashboardAlive) return withEnter({ action: 'revive' as const, spawn: reviveDashboard(o) });
  return withEnter({ action: 'attach' as const });
}

// The session outlived its dashboard (the operator quit it; agents still run in the right
// pane): a full-height pane on the left of the session's current window runs it again.
function reviveDashboard(o: PlanOptions): string[] {
  return [
    'split-window', '-f', '-b', '-h', '-l', `${REVIVE_PERCENT}%`,
    '-c', o.cwd,
    ...Object.entries(o.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    '-P', '-F', '#{pane_id}',
    // split-window -t is a pane target: `=name` alone is rejected, `=name:` is exact.
    '-t', a.exactSessionPane(o.session),
    a.shellCommand(o.dashboard),
  ].map(a.escapeArg);
}

// One tmux call that marks a pane as the session's dashboard and turns on border labels.
export function decorateDashboard(session: string, pane: PaneId): string[] {
  return a.chain(
    a.setOption({ scope: 'session', target: a.exactSessionPane(session), name: DASH_OPTION, value: pane }),
    a.setOption({ scope: 'window', target: pane, name: 'pane-border-status', value: 'top' }),
    a.setOption({ scope: 'window', target: pane, name: 'pane-border-format', value: PANE_BORDER_FORMAT }),
    a.setOption({ scope: 'pane', target: pane, name: LABEL_OPTION, value: labelValue('bottle') }),
  );
}

// The dashboard's argv: `bottle dashboard [--manifest ABS] [--no-popup]`, or the
// $BOTTLE_TMUX_DASHBOARD_CMD shell string. The manifest path is made absolute: the pane may
// start elsewhere.
export function dashboardCommand(self: readonly string[], o: { manifest?: string; popup?: boolean; cwd: string; env: NodeJS.ProcessEnv }): string[] {
  const override = o.env[DASHBOARD_CMD_ENV];
  if (override) return ['sh', '-c', override];
  return [...self, 'dashboard', ...(o.manifest ? ['--manifest', resolve(o.cwd, o.manifest)] : []), ...(o.popup === false ? ['--no-popup'] : [])];
}

const FORWARDED = /^(BOTTLE_\w+|XDG_CONFIG_HOME|XDG_STATE_HOME|DOCKER_HOST|DOCKER_CONTEXT|DOCKER_CONFIG|DOCKER_CERT_PATH|DOCKER_TLS_VERIFY|PATH)$/;
const SECRETISH = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|CREDENTIAL|PRIVATE)/i;

// A pane gets the tmux SERVER's environment, not the caller's: when the server was started
// earlier (another shell, another DOCKER_HOST) the dashboard would see stale values. So the
// variables that steer bottle are passed with `-e` — and only those, never anything that looks
// like a secret (tmux's argv is visible in ps).
export function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && FORWARDED.test(k) && !SECRETISH.test(k)) out[k] = v;
  }
  return out;
}

// Whether this process runs inside a pane of the server we are about to use: $TMUX is
// "socket-path,pid,session". With `-L name` only a server with that socket name counts.
export function insideTmuxServer(env: NodeJS.ProcessEnv, socketName?: string): boolean {
  const tmux = env.TMUX;
  if (!tmux) return false;
  if (socketName === undefined) return true;
  return basename(tmux.split(',')[0] ?? '') === socketName;
}

// Fails with a fix when the tmux binary or the running server is older than MIN_TMUX_VERSION.
export function assertVersion(v: TmuxVersion, what: 'binary' | 'server'): void {
  if (atLeast(v, MIN_TMUX_VERSION)) return;
  const which = what === 'binary' ? 'tmux' : 'the running tmux server';
  const fix = what === 'binary' ? 'upgrade tmux' : 'upgrade tmux, then restart the server (tmux kill-server)';
  throw new UserError(`${which} is ${formatVersion(v)}, bottle needs tmux ≥ ${MIN_TMUX_VERSION} (run-shell -C, display -d, unbind -q); ${fix}`);
}

// The running server's version, or undefined when no server is running (not an error here).
export async function runningServerVersion(client: TmuxClient): Promise<TmuxVersion | undefined> {
  const r = await client.probe(a.displayQuery('#{version}'));
  return r.exitCode === 0 ? client.serverVersion() : undefined;
}

// Checks the binary and, when one is running, the server.
export async function checkTmuxVersions(client: TmuxClient): Promise<void> {
  assertVersion(await client.binaryVersion(), 'binary');
  const server = await runningServerVersion(client);
  if (server) assertVersion(server, 'server');
}

// Reads the facts planTmuxSession decides on.
export async function sessionFacts(client: TmuxClient, session: string): Promise<SessionFacts> {
  if (!(await client.hasSession(session))) return { exists: false, dashboardAlive: false };
  const dash = await client.showOption({ scope: 'session', target: a.exactSessionPane(session), name: DASH_OPTION });
  // Existence via list-panes -a (display -p -t %N falls back to another pane when %N is gone).
  const alive = isPaneId(dash) && (await client.listPanes()).some((p) => p.paneId === dash && p.session === session && !p.dead);
  return { exists: true, dashboardAlive: alive };
}

export interface LaunchResult {
  plan: SessionPlan;
  /** The dashboard pane made by this run (create / revive). */
  pane?: PaneId;
  /** Exit code of `tmux attach-session` when the terminal was handed over. */
  attachExitCode?: number;
  /** switch-client found no client (a detached session's pane, a script): attached instead. */
  switchFellBack?: boolean;
}

// Carries out a plan. `attach` runs the full attach argv with the terminal handed over (the
// caller owns that process boundary; undefined when there is no terminal); switch-client is an
// ordinary call, and when this tmux has no client to switch, attaching is the fallback.
export async function launchSession(
  client: TmuxClient,
  plan: SessionPlan,
  session: string,
  attach: ((argv: string[]) => Promise<number>) | undefined,
): Promise<LaunchResult> {
  const result: LaunchResult = { plan };
  if (plan.spawn) {
    const pane = (await client.exec(plan.spawn)).stdout.trim();
    if (!isPaneId(pane)) throw new UserError(`tmux did not report the dashboard's pane id (got ${JSON.stringify(pane)})`);
    await client.exec(decorateDashboard(session, pane));
    result.pane = pane;
  }
  if (plan.enter?.mode === 'switch') {
    const r = await client.probe(plan.enter.argv);
    if (r.exitCode !== 0) {
      const why = r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`;
      if (!attach) {
        throw new UserError(`tmux session ${session} is ready, but there is no tmux client to switch (${why}) and no terminal to attach; run: tmux attach -t ${session}`);
      }
      result.switchFellBack = true;
      result.attachExitCode = await attach(client.argv(a.attachSession({ session })));
    }
  }
  if (plan.enter?.mode === 'attach') {
    if (!attach) throw new UserError(`bottle tmux: not a terminal, cannot attach; run it from a terminal, or pass --no-attach`);
    result.attachExitCode = await attach(client.argv(plan.enter.argv));
  }
  return result;
}
