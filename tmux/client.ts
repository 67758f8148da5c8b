// The one way bottle talks to tmux: builds argv with ./argv.ts, prepends the binary, socket and
// config flags, and runs it through an injected Runner (tests pass a recording fake).
import { CommandError } from '../lib/errors.js';
import { run as defaultRun, type RunOptions, type RunResult, type Runner } from '../lib/run/index.js';
import * as a from './argv.js';
import type { CaptureOpts, NewSessionOpts, OptionRef, PaneId, PopupOpts, SplitOpts } from './argv.js';
import { CLIENT_FORMAT, PANE_FORMAT, parseClients, parsePaneIds, parsePanes, type ClientRecord, type PaneRecord } from './format.js';
import { parseVersion, type TmuxVersion } from './version.js';

// `-L name` picks a socket in $TMUX_TMPDIR/tmux-UID/, `-S path` an exact socket. Neither →
// tmux uses $TMUX's socket inside tmux (the user's server, which is what the product wants).
export type TmuxSocket = { name: string } | { path: string };

export interface TmuxClientOptions {
  run?: Runner;
  /** Binary name or path (default `tmux`). */
  binary?: string;
  socket?: TmuxSocket;
  /** `-f file`; only read when this call starts the server. Tests pass /dev/null. */
  configFile?: string;
  /** Extra environment for every call (undefined removes a variable, e.g. TMUX). */
  env?: Record<string, string | undefined>;
  /** Per-call timeout so a wedged server cannot hang the dashboard (default 10 s). */
  timeoutMs?: number;
}

export const TMUX_INSTALL_HINT = 'install tmux (apt-get install tmux / brew install tmux)';

// A tmux command that ran and failed; carries {argv, exitCode, stderr}.
export class TmuxError extends CommandError {
  override name = 'TmuxError';
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
}

// Runs tmux commands for one server. Probes return booleans and never throw on a non-zero exit;
// only a missing binary (no exit code to decide on) throws BinaryNotFoundError from them.
export class TmuxClient {
  readonly binary: string;
  readonly socket: TmuxSocket | undefined;
  readonly configFile: string | undefined;
  readonly env: Record<string, string | undefined> | undefined;
  readonly #run: Runner;
  readonly #timeoutMs: number;

  constructor(opts: TmuxClientOptions = {}) {
    this.binary = opts.binary ?? 'tmux';
    this.socket = opts.socket;
    this.configFile = opts.configFile;
    this.env = opts.env;
    this.#run = opts.run ?? defaultRun;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  // The full argv for a builder's output.
  argv(sub: readonly string[]): string[] {
    const socket = !this.socket ? [] : 'name' in this.socket ? ['-L', this.socket.name] : ['-S', this.socket.path];
    return [this.binary, ...socket, ...(this.configFile ? ['-f', this.configFile] : []), ...sub];
  }

  // Runs and returns the result whatever the exit code.
  async probe(sub: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    const runOpts: RunOptions = {
      probe: true,
      installHint: TMUX_INSTALL_HINT,
      timeoutMs: opts.timeoutMs ?? this.#timeoutMs,
      ...(this.env ? { env: this.env } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    };
    return this.#run(this.argv(sub), runOpts);
  }

  // Runs and throws TmuxError unless tmux exits 0.
  async exec(sub: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    const r = await this.probe(sub, opts);
    if (r.failed) throw new TmuxError(r.argv, r.exitCode, r.stderr, r.timedOut);
    return r;
  }

  // `tmux -V`: works without a server.
  async binaryVersion(): Promise<TmuxVersion> {
    return parseVersion((await this.exec(a.version())).stdout);
  }

  // The running server's version, which may be older than the binary.
  async serverVersion(): Promise<TmuxVersion> {
    return parseVersion((await this.exec(a.displayQuery('#{version}'))).stdout);
  }

  async hasSession(name: string): Promise<boolean> {
    return (await this.probe(a.hasSession(name))).exitCode === 0;
  }

  // Returns the first pane's id.
  async newSession(o: NewSessionOpts): Promise<PaneId> {
    return (await this.exec(a.newSession(o))).stdout.trim();
  }

  async killSession(name: string): Promise<void> {
    await this.exec(a.killSession(name));
  }

  // Every pane of the server; [] when no server is running.
  async listPanes(): Promise<PaneRecord[]> {
    const r = await this.probe(a.listPanes({ format: PANE_FORMAT }));
    return r.exitCode === 0 ? parsePanes(r.stdout) : [];
  }

  // Ids of every pane; [] when no server is running.
  async paneIds(): Promise<PaneId[]> {
    const r = await this.probe(a.listPanes({ format: '#{pane_id}' }));
    return r.exitCode === 0 ? parsePaneIds(r.stdout) : [];
  }

  // Existence via list-panes -a, never `display -p -t` (exits 0 and falls back to another pane).
  async paneExists(id: PaneId): Promise<boolean> {
    return (await this.paneIds()).includes(id);
  }

  // Returns the new pane's id.
  async split(o: SplitOpts): Promise<PaneId> {
    const id = (await this.exec(a.splitWindow(o))).stdout.trim();
    if (!/^%\d+$/.test(id)) throw new TmuxError(this.argv(a.splitWindow(o)), 0, `split-window printed ${JSON.stringify(id)}, not a pane id`);
    return id;
  }

  async respawn(o: Parameters<typeof a.respawnPane>[0]): Promise<void> {
    await this.exec(a.respawnPane(o));
  }

  async selectPane(id: PaneId): Promise<void> {
    await this.exec(a.selectPane(id));
  }

  async killPane(id: PaneId): Promise<void> {
    await this.exec(a.killPane(id));
  }

  async killServer(): Promise<void> {
    await this.exec(a.killServer());
  }

  // Expands a format; give `target` for anything pane-related (see displayQuery).
  async display(format: string, target?: string): Promise<string> {
    return (await this.exec(a.displayQuery(format, target))).stdout;
  }

  // Transient status-line message on one client (text is literal).
  async message(client: string, text: string, durationMs?: number): Promise<void> {
    await this.exec(a.displayMessage({ client, text, ...(durationMs !== undefined ? { durationMs } : {}) }));
  }

  async setOption(o: OptionRef & { value: string }): Promise<void> {
    await this.exec(a.setOption(o));
  }

  async unsetOption(o: OptionRef): Promise<void> {
    await this.exec(a.unsetOption(o));
  }

  // One option's value; undefined when unset (or the target is gone).
  async showOption(o: OptionRef): Promise<string | undefined> {
    const r = await this.probe(a.showOptions({ ...o, valueOnly: true, quiet: true }));
    return r.exitCode === 0 && r.stdout !== '' ? r.stdout : undefined;
  }

  async capture(o: CaptureOpts): Promise<string> {
    return (await this.exec(a.capturePane(o))).stdout;
  }

  // Names of the clients attached to a session ([] when none, or no such session).
  async listClients(session: string): Promise<string[]> {
    const r = await this.probe(a.listClients({ session }));
    return r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean) : [];
  }

  // Every client of the server, in any session ([] when no server is running).
  async clients(): Promise<ClientRecord[]> {
    const r = await this.probe(a.listClients({ format: CLIENT_FORMAT }));
    return r.exitCode === 0 ? parseClients(r.stdout) : [];
  }

  // Asks the server to open a popup on one client and returns at once: the display-popup runs
  // in a server job (run-shell -b), since the tmux that sends it waits for the popup to close.
  // The job reaches this server through $TMUX, which tmux sets for it, or this client's socket.
  async popup(o: PopupOpts): Promise<void> {
    await this.exec(a.runShellBackground(this.argv(a.displayPopup(o))));
  }
}
