// Pure argv builders for every tmux call bottle makes. Each returns the arguments that follow
// `tmux [-L name | -S path] [-f file]`; TmuxClient prepends those and runs them, tests compare
// arrays. Free text (messages, option values, shell strings) goes through escapeArg().
import { quote } from 'shell-quote';

// A tmux pane id, `%N`. Pane ids are unique for the server's lifetime and never reused.
export type PaneId = string;

// tmux splits its argv into commands at every argument that ENDS in ';', not only at a lone ';':
// `tmux display -p 'a;'` prints "a" and runs an empty second command. A trailing '\;' is turned
// into a literal ';'. So every builder escapes a trailing ';' (and chain() adds the real ones).
export function escapeArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

function finish(args: string[]): string[] {
  return args.map(escapeArg);
}

// Several tmux commands in one invocation (one round-trip; tmux stops at the first that fails).
export function chain(...commands: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const c of commands) {
    if (out.length > 0) out.push(';');
    out.push(...c);
  }
  return out;
}

// The one place a shell string is made: tmux runs a single command argument with `sh -c`.
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('tmux: empty command argv');
  return quote(argv);
}

// `-t name` is a PREFIX match for sessions (`-t bottle` finds `bottle-dev` when `bottle` is
// gone); `-t =name` is exact. Use this for every session target.
export function exactSession(name: string): string {
  return `=${name}`;
}

// Commands that resolve -t as a pane (set-option, show-options, display) reject `=name`
// ("no such session: =name"); `=name:` is the same exact session, its current window and pane.
export function exactSessionPane(name: string): string {
  return `=${name}:`;
}

// tmux silently rewrites ':' and '.' in session names to '_', after which exact targets miss.
export function assertSessionName(name: string): void {
  if (!name || /[:.]/.test(name)) throw new Error(`tmux: invalid session name ${JSON.stringify(name)} (no ':' or '.')`);
}

function envFlags(env: Readonly<Record<string, string>> | undefined): string[] {
  // `-e` puts values on tmux's argv (visible in `ps`): never pass secrets here.
  return Object.entries(env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
}

function commandArg(command: readonly string[] | undefined): string[] {
  return command && command.length > 0 ? [shellCommand(command)] : [];
}

export interface NewSessionOpts {
  name: string;
  width?: number;
  height?: number;
  windowName?: string;
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** argv of the first pane's command; omitted → the default shell. */
  command?: readonly string[];
}

// Detached, so it works from scripts and inside another tmux; prints the first pane's id.
export function newSession(o: NewSessionOpts): string[] {
  assertSessionName(o.name);
  return finish([
    'new-session', '-d', '-s', o.name,
    ...(o.windowName ? ['-n', o.windowName] : []),
    ...(o.width !== undefined ? ['-x', String(o.width)] : []),
    ...(o.height !== undefined ? ['-y', String(o.height)] : []),
    ...(o.cwd ? ['-c', o.cwd] : []),
    ...envFlags(o.env),
    '-P', '-F', '#{pane_id}',
    ...commandArg(o.command),
  ]);
}

// Hands the terminal to tmux (outside tmux); use switchClient from inside.
export function attachSession(o: { session: string; detachOthers?: boolean }): string[] {
  return finish(['attach-session', ...(o.detachOthers ? ['-d'] : []), '-t', exactSession(o.session)]);
}

// Moves a client to a target, or (with only `table`) into a key table for its next key.
export function switchClient(o: { target?: string; table?: string; client?: string }): string[] {
  return finish([
    'switch-client',
    ...(o.client ? ['-c', o.client] : []),
    ...(o.target ? ['-t', o.target] : []),
    ...(o.table ? ['-T', o.table] : []),
  ]);
}

export interface SplitOpts {
  /** Pane to split: the dashboard's own `$TMUX_PANE`, never the implicit active pane. */
  target: PaneId;
  /** Size of the new pane as a percent of the target pane (`-l N%`, tmux 3.1+). */
  percent?: number;
  /** Side by side (`-h`, default) or stacked. */
  horizontal?: boolean;
  /** Keep focus where it is (`-d`, default). */
  detached?: boolean;
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  command?: readonly string[];
}

// Always `-P -F '#{pane_id}'`: the bare `-P` output is `session:window.pane`, which shifts.
export function splitWindow(o: SplitOpts): string[] {
  return finish([
    'split-window',
    ...(o.horizontal === false ? ['-v'] : ['-h']),
    ...(o.detached === false ? [] : ['-d']),
    ...(o.percent !== undefined ? ['-l', `${o.percent}%`] : []),
    ...(o.cwd ? ['-c', o.cwd] : []),
    ...envFlags(o.env),
    '-P', '-F', '#{pane_id}',
    '-t', o.target,
    ...commandArg(o.command),
  ]);
}

// Replaces a pane's process and keeps its id. Without `-k` it fails on a live pane
// ("pane %N still active"); without a command it reruns the pane's previous one.
export function respawnPane(o: { target: PaneId; kill?: boolean; cwd?: string; env?: Readonly<Record<string, string>>; command?: readonly string[] }): string[] {
  return finish([
    'respawn-pane',
    ...(o.kill === false ? [] : ['-k']),
    ...(o.cwd ? ['-c', o.cwd] : []),
    ...envFlags(o.env),
    '-t', o.target,
    ...commandArg(o.command),
  ]);
}

// Machine-readable pane listing. `-a` covers every session, which is how pane existence is
// checked: `display -p -t %N` on a gone pane exits 0 and reports ANOTHER pane instead.
export function listPanes(o: { format: string; target?: string }): string[] {
  return finish(['list-panes', ...(o.target ? ['-t', o.target] : ['-a']), '-F', o.format]);
}

// Probe: exit 0 iff the session exists (exact name, see exactSession).
export function hasSession(name: string): string[] {
  return finish(['has-session', '-t', exactSession(name)]);
}

// Changes the active pane within its window only; it does not move a client to another window.
export function selectPane(target: PaneId): string[] {
  return finish(['select-pane', '-t', target]);
}

// Note: kill-pane fires neither the pane-died nor the pane-exited hook.
export function killPane(target: PaneId): string[] {
  return finish(['kill-pane', '-t', target]);
}

export function killSession(name: string): string[] {
  return finish(['kill-session', '-t', exactSession(name)]);
}

// Returns before the server is gone and leaves the socket file behind: wait on has-session.
export function killServer(): string[] {
  return ['kill-server'];
}

// A query. Pass `target` whenever the answer is about a pane: without -t tmux answers for the
// ACTIVE pane, which may not be the caller's (use $TMUX_PANE). Without a server target (e.g.
// '#{version}') it is fine.
export function displayQuery(format: string, target?: string): string[] {
  return finish(['display-message', '-p', ...(target ? ['-t', target] : []), format]);
}

// Literal text for a message or status/border string: '#' starts a format (and `#[...]` a
// style), so it is doubled.
export function escapeFormat(text: string): string {
  return text.replace(/#/g, '##');
}

// A transient message on one client's status line (`-d`: tmux 3.2+). `text` is literal.
export function displayMessage(o: { client: string; text: string; durationMs?: number }): string[] {
  return finish([
    'display-message', '-c', o.client,
    ...(o.durationMs !== undefined ? ['-d', String(o.durationMs)] : []),
    escapeFormat(o.text),
  ]);
}

export interface PopupOpts {
  client: string;
  /** argv of the popup's command (one shell string for tmux, built by shellCommand). */
  command: readonly string[];
  width: number;
  height: number;
  /** Border title, literal (`-T`: tmux 3.3+; leave it out for 3.2). */
  title?: string;
}

// A popup over one client's screen running `command` (tmux 3.2+); `-E` closes it when the
// command exits. `-w`/`-h` larger than the client fail ("width too large"): clamp first. The
// tmux that sends it waits until the popup closes (run it through runShellBackground), and a
// client that has a popup open ignores a second one (exit 0).
export function displayPopup(o: PopupOpts): string[] {
  return finish([
    'display-popup', '-c', o.client, '-E',
    '-w', String(o.width), '-h', String(o.height),
    ...(o.title !== undefined ? ['-T', escapeFormat(o.title)] : []),
    shellCommand(o.command),
  ]);
}

// Runs `command` from the server without waiting for it (`run-shell -b`). Its output and a
// failure are discarded: tmux would show them in view mode over the operator's pane. run-shell
// expands formats in its argument, so '#' is escaped.
export function runShellBackground(command: readonly string[]): string[] {
  return finish(['run-shell', '-b', escapeFormat(`${shellCommand(command)} >/dev/null 2>&1 || true`)]);
}

export type OptionScope = 'server' | 'session' | 'window' | 'pane';

export interface OptionRef {
  scope: OptionScope;
  /** Pane id / window / `exactSessionPane(name)`; ignored for the server scope. */
  target?: string;
  /** `-g`: the global value for the scope (session and window scopes). */
  global?: boolean;
  /** Option name; user options start with '@'. */
  name: string;
}

function scopeArgs(o: Omit<OptionRef, 'name'>): string[] {
  const flag = { server: ['-s'], session: [], window: ['-w'], pane: ['-p'] }[o.scope];
  return [
    ...flag,
    ...(o.global ? ['-g'] : []),
    ...(o.scope !== 'server' && o.target ? ['-t', o.target] : []),
  ];
}

// Sets an option. The value is stored verbatim (not format-expanded: that would need -F).
export function setOption(o: OptionRef & { value: string; append?: boolean; onlyIfUnset?: boolean }): string[] {
  return finish([
    'set-option', ...scopeArgs(o),
    ...(o.append ? ['-a'] : []),
    ...(o.onlyIfUnset ? ['-o'] : []),
    o.name, o.value,
  ]);
}

// Removes an option at this level, so the parent scope's value shows through again.
export function unsetOption(o: OptionRef): string[] {
  return finish(['set-option', ...scopeArgs(o), '-u', o.name]);
}

// `-v` prints just the value; `-q` makes an unset user option print nothing and exit 0 instead
// of failing with "invalid option: @name".
export function showOptions(o: Omit<OptionRef, 'name'> & { name?: string; valueOnly?: boolean; quiet?: boolean }): string[] {
  return finish([
    'show-options', ...scopeArgs(o),
    ...((o.valueOnly ?? o.name !== undefined) ? ['-v'] : []),
    ...(o.quiet === false ? [] : ['-q']),
    ...(o.name ? [o.name] : []),
  ]);
}

export type HookScope = 'global' | 'session' | 'window' | 'pane';

function hookScopeArgs(scope: HookScope, target?: string): string[] {
  const flag = { global: ['-g'], session: [], window: ['-w'], pane: ['-p'] }[scope];
  return [...flag, ...(scope !== 'global' && target ? ['-t', target] : [])];
}

// `command` is a tmux command string. In pane hooks (pane-died, pane-exited) refer to the pane
// as #{hook_pane}: #{pane_id} is the active pane there. `-p` hooks need tmux 3.2.
export function setHook(o: { scope: HookScope; target?: string; hook: string; command: string; append?: boolean }): string[] {
  return finish(['set-hook', ...hookScopeArgs(o.scope, o.target), ...(o.append ? ['-a'] : []), o.hook, o.command]);
}

export function unsetHook(o: { scope: HookScope; target?: string; hook: string }): string[] {
  return finish(['set-hook', ...hookScopeArgs(o.scope, o.target), '-u', o.hook]);
}

// Bindings are server-wide and bind-key overwrites, so installing twice is idempotent.
// `command` is a tmux command as argv; a ';' element separates commands in the binding
// (escapeArg passes it as '\;', which bind-key receives as ';').
export function bindKey(o: { key: string; command: readonly string[]; table?: string; note?: string; repeat?: boolean }): string[] {
  return finish([
    'bind-key',
    ...(o.note !== undefined ? ['-N', o.note] : []),
    ...(o.repeat ? ['-r'] : []),
    '-T', o.table ?? 'prefix',
    o.key,
    ...o.command,
  ]);
}

// `-q`: no error when the key is not bound (tmux 3.2+).
export function unbindKey(o: { key: string; table?: string }): string[] {
  return finish(['unbind-key', '-q', '-T', o.table ?? 'prefix', o.key]);
}

export function unbindAll(table: string): string[] {
  return finish(['unbind-key', '-a', '-q', '-T', table]);
}

// Output is valid config syntax: save it in a server option, restore via `source-file -`.
// `notes` (-N) lists the notes instead, which the bindings' output leaves out.
export function listKeys(o: { table?: string; key?: string; notes?: boolean } = {}): string[] {
  return finish(['list-keys', ...(o.notes ? ['-N'] : []), ...(o.table ? ['-T', o.table] : []), ...(o.key ? [o.key] : [])]);
}

export function listClients(o: { session?: string; format?: string } = {}): string[] {
  return finish([
    'list-clients', '-F', o.format ?? '#{client_name}',
    ...(o.session ? ['-t', exactSession(o.session)] : []),
  ]);
}

// Machine-readable session listing (every session of the server).
export function listSessions(o: { format: string }): string[] {
  return finish(['list-sessions', '-F', o.format]);
}

// A new window in `session` (exact), named `name` (which also turns automatic-rename off for
// it), running `command`; it becomes the session's current window unless `detached`.
export function newWindow(o: { session: string; name: string; command: readonly string[]; cwd?: string; detached?: boolean }): string[] {
  return finish([
    'new-window', ...(o.detached ? ['-d'] : []),
    '-t', exactSessionPane(o.session),
    '-n', o.name,
    ...(o.cwd ? ['-c', o.cwd] : []),
    '-P', '-F', '#{pane_id}',
    shellCommand(o.command),
  ]);
}

// `path` may be '-' to read commands from stdin.
export function sourceFile(path: string, o: { quiet?: boolean } = {}): string[] {
  return finish(['source-file', ...(o.quiet ? ['-q'] : []), path]);
}

export interface CaptureOpts {
  target: PaneId;
  /** `-J`: join wrapped lines and keep trailing spaces (default on). */
  join?: boolean;
  /** `-e`: keep SGR colour/attribute escapes, to assert highlighting. */
  escapes?: boolean;
  /** First/last line (negative = history); default: the visible screen. */
  start?: number | '-';
  end?: number | '-';
}

// The pane's contents only: borders and the status line are drawn by clients, not captured.
export function capturePane(o: CaptureOpts): string[] {
  return finish([
    'capture-pane', '-p',
    ...(o.join === false ? [] : ['-J']),
    ...(o.escapes ? ['-e'] : []),
    ...(o.start !== undefined ? ['-S', String(o.start)] : []),
    ...(o.end !== undefined ? ['-E', String(o.end)] : []),
    '-t', o.target,
  ]);
}

// Without a mode this blocks until the channel is signalled (`-S`); pass a timeout to the runner.
export function waitFor(channel: string, mode: 'wait' | 'signal' | 'lock' | 'unlock' = 'wait'): string[] {
  const flag = { wait: [], signal: ['-S'], lock: ['-L'], unlock: ['-U'] }[mode];
  return finish(['wait-for', ...flag, channel]);
}

// Keys go straight to the pane, bypassing key tables (bindings do not fire in tmux 3.3).
// `literal` (-l) sends the strings as text instead of key names.
export function sendKeys(o: { target: PaneId; keys: readonly string[]; literal?: boolean }): string[] {
  return finish(['send-keys', ...(o.literal ? ['-l'] : []), '-t', o.target, ...o.keys]);
}

// The binary's version; the running server may be older (see displayQuery('#{version}')).
export function version(): string[] {
  return ['-V'];
}
