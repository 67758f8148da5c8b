// `bottle tmux keys install|uninstall`, the key table's bindings, and the client side of the
// dashboard's IPC.
//
// prefix + b enters a `bottle` key table, server-wide. Every key runs `bottle tmux key <action>`
// with the session, client and directory it was pressed in: inside the cockpit (a session whose
// @bottle-dash is set) the action goes to that session's dashboard over its unix socket
// (@bottle-ipc), one JSON line; in any other session the CLI acts there (commands/tmux-key.ts:
// switch to the cockpit, a popup over the current pane, a new window in this session).
//
// This module is on the key-press path: keep its imports to node:net and tmux/.
import { createConnection } from 'node:net';
import * as a from './argv.js';
import type { TmuxClient } from './client.js';
import { DASH_OPTION, IPC_OPTION } from './session.js';

export const KEY_TABLE = 'bottle';
export const DEFAULT_PREFIX_KEY = 'b';
// Server option: which prefix key the current install uses (so uninstall needs no --key).
export const INSTALLED_KEY_OPTION = '@bottle-keys-key';
// Saved instead of a binding when the prefix key was unbound; a config comment, so restoring
// it with source-file is a no-op.
export const UNBOUND_MARKER = '# (no binding before bottle tmux keys install)';
export const NOT_RUNNING_MESSAGE = 'bottle: the dashboard is not running in this session; run bottle tmux';

// What the dashboard does on request (panes/ipc.ts serves them, panes/app.ts and panes/remote.ts
// act): the first five are the cockpit keys; the rest serve the keys pressed elsewhere (the
// new-agent popup's picker asks for `agents` and `plan`, then `start-agent`; `p` asks for
// `popup-proposal` on its client; `w` for `show-waiting`).
export const DASHBOARD_ACTIONS = [
  'focus-dashboard', 'new-agent', 'next-agent', 'prev-agent', 'newest-proposal',
  'agents', 'plan', 'start-agent', 'show-waiting', 'popup-proposal',
] as const;
export type DashboardAction = (typeof DASHBOARD_ACTIONS)[number];

export function isDashboardAction(v: unknown): v is DashboardAction {
  return typeof v === 'string' && (DASHBOARD_ACTIONS as readonly string[]).includes(v);
}

// One request line: the action and, for some, its argument.
export interface DashboardRequest {
  action: DashboardAction;
  /** plan, start-agent: the manifest agent. */
  agent?: string;
  /** plan, start-agent: the engine chosen for it (a manifest engines: name, or local). */
  engine?: string;
  /** popup-proposal: the tmux client (client_name) to open the popup on. */
  client?: string;
}

// What `bottle tmux key <action>` accepts: what the keys run.
export const KEY_ACTIONS = [
  'focus-dashboard', 'new-agent', 'next-agent', 'prev-agent', 'newest-proposal', 'attach-agent', 'waiting-agent',
] as const;
export type KeyAction = (typeof KEY_ACTIONS)[number];

export function isKeyAction(v: unknown): v is KeyAction {
  return typeof v === 'string' && (KEY_ACTIONS as readonly string[]).includes(v);
}

// The `bottle` table: key → action; `note` shows in `list-keys -N` and the install summary.
export const COCKPIT_KEYS: readonly { key: string; action: KeyAction; note: string }[] = [
  { key: 'd', action: 'focus-dashboard', note: 'the cockpit\'s dashboard (switches there; creates the cockpit if missing)' },
  { key: 'n', action: 'new-agent', note: 'start a new agent (picker; a popup outside the cockpit)' },
  { key: 'p', action: 'newest-proposal', note: 'the newest pending proposal (a popup outside the cockpit)' },
  { key: 'a', action: 'attach-agent', note: 'attach a running agent in a new window of this session' },
  { key: 'w', action: 'waiting-agent', note: 'the agent waiting longest for input (cockpit, right pane)' },
  { key: ']', action: 'next-agent', note: 'next agent in the right pane (cockpit)' },
  { key: '[', action: 'prev-agent', note: 'previous agent in the right pane (cockpit)' },
];

// Server option holding the user's binding of `prefix <key>` from before the first install.
export function savedBindingOption(key: string): string {
  // Option names: keep letters, digits, '-', '_'; anything else (C-], F1 are fine) as _hex.
  return `@bottle-saved-prefix-${key.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
}

// Quotes a string for tmux's command parser (if-shell/run-shell arguments are parsed again):
// single quotes keep '$', '~', '"' and '\' literal; an embedded ' is closed, escaped, reopened
// (tmux concatenates adjacent quoted parts like sh does).
export function tmuxQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// The shell string run-shell runs for an action. run-shell format-expands its argument, so
// the quoted argv has '#' doubled, and the session, client and the pane's directory come from
// #{q:...} (q: escapes shell metacharacters). `|| [ $? -eq 1 ]`: exit 1 means "failed and
// already told the user via display-message"; any other failure (exit 127: node or bottle
// moved) stays non-zero so tmux shows it.
export function keyActionShell(self: readonly string[], action: KeyAction): string {
  return `${a.escapeFormat(a.shellCommand([...self, 'tmux', 'key', action]))} --session=#{q:session_name} --client=#{q:client_name} --cwd=#{q:pane_current_path} || [ $? -eq 1 ]`;
}

// The tmux command string a key runs. `-b`: tmux does not wait for node to start. In the
// cockpit `d` also focuses the pane directly, after starting the notification so a stale
// @bottle-dash (select fails, the rest of the list is skipped) still gets the dashboard's
// "not running" message. -t is not format-expanded in tmux 3.3, hence run-shell -C (3.2+);
// select-window first: select-pane alone does not leave another window.
export function keyActionCommand(self: readonly string[], action: KeyAction): string {
  const notify = `run-shell -b ${tmuxQuote(keyActionShell(self, action))}`;
  if (action !== 'focus-dashboard') return notify;
  const focus = `select-window -t #{${DASH_OPTION}} ; select-pane -t #{${DASH_OPTION}}`;
  return `${notify} ; if-shell -F '#{${DASH_OPTION}}' ${tmuxQuote(`run-shell -C ${tmuxQuote(focus)}`)}`;
}

// `bind -T bottle <key> <command>`: one argument, which bind-key parses as a command list.
export function tableBinding(self: readonly string[], k: (typeof COCKPIT_KEYS)[number]): string[] {
  return a.bindKey({ table: KEY_TABLE, key: k.key, note: `bottle: ${k.note}`, command: [keyActionCommand(self, k.action)] });
}

// prefix + key → the next key is looked up in the `bottle` table.
export function prefixBinding(key: string): string[] {
  return a.bindKey({ table: 'prefix', key, note: `bottle: keys (then ${COCKPIT_KEYS.map((k) => k.key).join(' ')})`, command: ['switch-client', '-T', KEY_TABLE] });
}

// Whether a `list-keys -T prefix <key>` line is the binding installed here.
export function isOurBinding(listKeysLine: string | undefined): boolean {
  return listKeysLine !== undefined && new RegExp(`\\sswitch-client -T ${KEY_TABLE}\\s*$`).test(listKeysLine.trim());
}

// What to save before installing: nothing when a previous install already saved (installing
// twice must not save our own binding as the user's); the marker when the key was unbound or
// is already ours (an install whose saved option was lost: the original is unknowable).
export function planSave(current: string | undefined, alreadySaved: string | undefined): string | undefined {
  if (alreadySaved !== undefined) return undefined;
  if (current === undefined || current.trim() === '' || isOurBinding(current)) return UNBOUND_MARKER;
  return current.trim();
}

// One tmux call: save (if needed), record the key, bind everything. bind-key overwrites, so
// the result is the same however often it runs. The old table is dropped by a SEPARATE call
// before (so keys of an older bottle version do not linger): `unbind -a -q -T bottle` on a
// table that does not exist fails silently — tmux still exits 0 — and skips every command
// after it in the same list.
export function installArgv(self: readonly string[], key: string, save: string | undefined): string[] {
  return a.chain(
    ...(save !== undefined ? [a.setOption({ scope: 'server', name: savedBindingOption(key), value: save })] : []),
    a.setOption({ scope: 'server', name: INSTALLED_KEY_OPTION, value: key }),
    prefixBinding(key),
    ...COCKPIT_KEYS.map((k) => tableBinding(self, k)),
  );
}

// `list-keys -T prefix <key>`: the line, or undefined when unbound (tmux exits 1).
export async function currentBinding(client: TmuxClient, key: string, table = 'prefix'): Promise<string | undefined> {
  const r = await client.probe(a.listKeys({ table, key }));
  return r.exitCode === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

// A list-keys line with its note put back: list-keys leaves notes out, and a binding restored
// without one would change `list-keys -N`.
export function withNote(line: string, note: string | undefined): string {
  return note ? line.replace(/^bind-key\s/, `bind-key -N ${tmuxQuote(note)} `) : line;
}

// The user's binding of `prefix <key>` as config text (note included), for saving.
async function userBinding(client: TmuxClient, key: string): Promise<string | undefined> {
  const line = await currentBinding(client, key);
  if (line === undefined || isOurBinding(line)) return line;
  // `list-keys -N -T prefix b` prints `b <note>`; a key without a note is an error (exit 1).
  const r = await client.probe(a.listKeys({ table: 'prefix', key, notes: true }));
  const note = r.exitCode === 0 ? /^\S+\s+(.*)$/.exec(r.stdout.trim())?.[1] : undefined;
  return withNote(line, note);
}

export interface InstallReport {
  key: string;
  /** What is now saved for uninstall (the user's old binding, or UNBOUND_MARKER). */
  saved: string | undefined;
  /** A previous install on another prefix key that was undone first. */
  movedFrom?: string;
  /** The table was already installed on this key (it was refreshed, nothing else changed). */
  already: boolean;
}

// Installs (or re-installs) the bindings on the client's server.
export async function installKeys(client: TmuxClient, self: readonly string[], key = DEFAULT_PREFIX_KEY): Promise<InstallReport> {
  const previous = await client.showOption({ scope: 'server', name: INSTALLED_KEY_OPTION });
  let movedFrom: string | undefined;
  if (previous !== undefined && previous !== key) {
    await restorePrefix(client, previous);
    movedFrom = previous;
  }
  const alreadySaved = await client.showOption({ scope: 'server', name: savedBindingOption(key) });
  const save = planSave(await userBinding(client, key), alreadySaved);
  await client.exec(a.unbindAll(KEY_TABLE));
  await client.exec(installArgv(self, key, save));
  return { key, saved: save ?? alreadySaved, already: previous === key, ...(movedFrom !== undefined ? { movedFrom } : {}) };
}

export interface RestoreReport {
  key: string;
  /** The user's binding put back (undefined: the key was unbound before, or nothing saved). */
  restored?: string;
  /** prefix <key> was rebound by someone else after install: left as it is. */
  keptForeign?: string;
}

// Puts `prefix <key>` back as it was before install and forgets the saved copy. A binding that
// is not ours any more (the user rebound the key since) is left alone.
async function restorePrefix(client: TmuxClient, key: string): Promise<RestoreReport> {
  const current = await currentBinding(client, key);
  const saved = await client.showOption({ scope: 'server', name: savedBindingOption(key) });
  const report: RestoreReport = { key };
  if (current !== undefined && !isOurBinding(current)) {
    report.keptForeign = current;
  } else {
    if (current !== undefined) await client.exec(a.unbindKey({ table: 'prefix', key }));
    if (saved !== undefined && saved !== UNBOUND_MARKER) {
      // list-keys output is config syntax; source-file - reads it from our stdin (tmux 3.2+).
      await client.exec(a.sourceFile('-'), { input: `${saved}\n` });
      report.restored = saved;
    }
  }
  if (saved !== undefined) await client.exec(a.unsetOption({ scope: 'server', name: savedBindingOption(key) }));
  return report;
}

// Removes the `bottle` table and restores `prefix <key>` (default: the installed key).
export async function uninstallKeys(client: TmuxClient, key?: string): Promise<RestoreReport> {
  const installed = await client.showOption({ scope: 'server', name: INSTALLED_KEY_OPTION });
  const which = key ?? installed ?? DEFAULT_PREFIX_KEY;
  const report = await restorePrefix(client, which);
  await client.exec(a.unbindAll(KEY_TABLE));
  if (installed !== undefined) await client.exec(a.unsetOption({ scope: 'server', name: INSTALLED_KEY_OPTION }));
  return report;
}

// The summary printed after install.
export function formatKeyTable(key: string): string {
  const rows = COCKPIT_KEYS.map((k) => `  prefix ${key} ${k.key.padEnd(3)} ${k.note}`);
  return [
    'bottle key bindings (server-wide: every session of this tmux server):',
    ...rows,
  ].join('\n');
}

// What a reply carries besides `ok` (agents: agents + bottles; plan: lines + blocked, or the
// engines to choose from first; show-waiting: slug + pane, the right pane now showing it).
export interface ReplyData {
  agents?: string[];
  engines?: { name: string; where: string; isDefault: boolean }[];
  bottles?: { slug: string; agent: string; state: string }[];
  lines?: string[];
  blocked?: string;
  slug?: string;
  pane?: string;
}

export type IpcReply = ({ ok: true } & ReplyData) | { ok: false; error: string };

// Error codes meaning nobody listens on the socket (stale path after the dashboard quit).
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'ECONNRESET', 'EPIPE']);

// One request to the dashboard: `{"action": ...}\n` → one reply line `{"ok": ...}`.
export function sendDashboardRequest(socketPath: string, request: DashboardRequest, timeoutMs = 3000): Promise<IpcReply> {
  return new Promise((resolve) => {
    let buf = '';
    let settled = false;
    const sock = createConnection(socketPath);
    const finish = (r: IpcReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `bottle: the dashboard did not answer within ${timeoutMs} ms` }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(parseReply(buf.slice(0, nl)));
    });
    sock.on('end', () => finish(buf.trim() ? parseReply(buf) : { ok: false, error: 'bottle: the dashboard closed the connection without answering' }));
    sock.on('error', (e: NodeJS.ErrnoException) => finish({
      ok: false,
      error: NOT_LISTENING.has(e.code ?? '') ? NOT_RUNNING_MESSAGE : `bottle: cannot reach the dashboard at ${socketPath}: ${e.message}`,
    }));
  });
}

// A request without an argument.
export function sendDashboardAction(socketPath: string, action: DashboardAction, timeoutMs = 3000): Promise<IpcReply> {
  return sendDashboardRequest(socketPath, { action }, timeoutMs);
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

// The reply's data, each field only when it has the expected type.
function replyData(r: Record<string, unknown>): ReplyData {
  const d: ReplyData = {};
  if (isStrings(r.agents)) d.agents = r.agents;
  if (Array.isArray(r.bottles)) {
    d.bottles = r.bottles.filter((b): b is { slug: string; agent: string; state: string } =>
      typeof b?.slug === 'string' && typeof b?.agent === 'string' && typeof b?.state === 'string')
      .map((b) => ({ slug: b.slug, agent: b.agent, state: b.state }));
  }
  if (isStrings(r.lines)) d.lines = r.lines;
  if (Array.isArray(r.engines)) {
    d.engines = r.engines.filter((e): e is { name: string; where: string; isDefault: boolean } =>
      typeof e?.name === 'string' && typeof e?.where === 'string' && typeof e?.isDefault === 'boolean')
      .map((e) => ({ name: e.name, where: e.where, isDefault: e.isDefault }));
  }
  for (const k of ['blocked', 'slug', 'pane'] as const) if (typeof r[k] === 'string') d[k] = r[k];
  return d;
}

function parseReply(line: string): IpcReply {
  try {
    const r = JSON.parse(line) as Record<string, unknown> | null;
    if (r?.ok === true) return { ok: true, ...replyData(r) };
    if (r?.ok === false) {
      const why = typeof r.error === 'string' && r.error ? r.error : 'the dashboard refused';
      return { ok: false, error: why.startsWith('bottle:') ? why : `bottle: ${why}` };
    }
  } catch { /* fall through */ }
  return { ok: false, error: `bottle: unexpected reply from the dashboard: ${JSON.stringify(line.slice(0, 200))}` };
}

export interface KeyActionResult {
  ok: boolean;
  /** The message shown to the user on failure. */
  message?: string;
  /** How many clients saw it (0: print it instead). */
  shownTo: number;
}

// Shows a failure on one client's status line (the one that pressed the key), else on every
// client of the session; how many saw it.
export async function showFailure(client: TmuxClient, text: string, o: { client?: string; session?: string }): Promise<number> {
  const targets = o.client ? [o.client] : o.session ? await client.listClients(o.session) : [];
  let shownTo = 0;
  for (const c of targets) {
    const r = await client.probe(a.displayMessage({ client: c, text, durationMs: 4000 }));
    if (r.exitCode === 0) shownTo += 1;
  }
  return shownTo;
}

// A key pressed in the cockpit: look up the session's dashboard socket, send the action, show a
// failure on the status line of the client that pressed it (without one: the session's clients).
export async function runKeyAction(client: TmuxClient, session: string, action: DashboardAction, timeoutMs?: number, clientName?: string): Promise<KeyActionResult> {
  const ipc = await client.showOption({ scope: 'session', target: a.exactSessionPane(session), name: IPC_OPTION });
  const reply: IpcReply = ipc === undefined ? { ok: false, error: NOT_RUNNING_MESSAGE } : await sendDashboardAction(ipc, action, timeoutMs);
  if (reply.ok) return { ok: true, shownTo: 0 };
  const shownTo = await showFailure(client, reply.error, { session, ...(clientName ? { client: clientName } : {}) });
  return { ok: false, message: reply.error, shownTo };
}
