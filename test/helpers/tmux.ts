// Private tmux servers for real-tmux tests. Each server gets its own socket name
// (`-L bottle-test-<random>`), `-f /dev/null`, a temp HOME and a temp TMUX_TMPDIR, so a test can
// never reach the user's server; teardown kills it, waits until it is gone and removes the socket.
//
//   const skip = await tmuxSkipReason();
//   t.test('...', { skip }, async (t) => {
//     const srv = await startTmuxServer(t, { width: 120, height: 40 });
//     await srv.waitForText(/\$ $/m);
//     ...
//     await srv.teardown();               // optional: t.teardown() does it too
//   });
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { which, type RunResult } from '../../lib/run/index.js';
import { capturePane, exactSession, sendKeys, setOption } from '../../tmux/argv.js';
import { TmuxClient } from '../../tmux/client.js';
import { pollUntil, type PollOptions } from './wait.js';

// Re-exported: the tmux tests have always imported the poll helper from here.
export { pollUntil, type PollOptions };

// What the harness needs from a tap Test: a finalizer hook.
export interface Finalizable {
  teardown(fn: () => unknown): void;
}

export interface TmuxServerOptions {
  width?: number;
  height?: number;
  /** Session name (default `t`). */
  session?: string;
  /** First pane's command (default: /bin/sh). */
  command?: readonly string[];
  /** Extra environment for the server and its panes. */
  env?: Record<string, string>;
  /**
   * `assume-paste-time 0` (default true): keys typed by an attached client in a fast burst are
   * otherwise taken as a paste and do not fire key bindings.
   */
  noPasteDetection?: boolean;
}

export interface TmuxTestServer {
  readonly socketName: string;
  readonly socketPath: string;
  /** Temp dir holding TMUX_TMPDIR and HOME; free for test files (exit codes, logs). */
  readonly dir: string;
  readonly home: string;
  readonly session: string;
  /** The first pane's id. */
  readonly pane: string;
  /** A client bound to this server (socket, config, env). */
  readonly client: TmuxClient;
  /** Environment the server was started with. */
  readonly env: Record<string, string | undefined>;
  /** Runs a tmux command on this server; never throws on a non-zero exit. */
  tmux(sub: readonly string[]): Promise<RunResult>;
  /** The visible screen; `history` prepends the scrollback (capture-pane -S -). */
  capture(target?: string, opts?: { escapes?: boolean; history?: boolean }): Promise<string>;
  /** Polls capture-pane until `pattern` matches; on timeout throws with the last screen. */
  waitForText(pattern: RegExp, opts?: PollOptions & { target?: string; escapes?: boolean }): Promise<string>;
  /** Sends key names one send-keys call each, `spacingMs` apart (default 0). */
  sendKeys(keys: readonly string[], opts?: { target?: string; spacingMs?: number; literal?: boolean }): Promise<void>;
  /**
   * Starts a second private server whose pane runs a tmux client attached to this session (or
   * `session`, another one of this server), so what a user would see (borders, status line,
   * messages, popups) can be captured from the viewer's pane, and keys typed there go through
   * key tables.
   */
  attachViewer(opts?: { width?: number; height?: number; session?: string }): Promise<TmuxViewer>;
  /** Kills the server, waits until it is gone, removes socket and temp dir. Idempotent. */
  teardown(): Promise<void>;
}

export interface TmuxViewer {
  /** The viewer's own private server; its `pane` shows the attached client's screen. */
  readonly server: TmuxTestServer;
  /** The attached client's name on the viewed server (for display-message -c, switch-client -c). */
  readonly clientName: string;
}

// false when tmux is installed, else the reason to pass to `{ skip }`.
export async function tmuxSkipReason(): Promise<string | false> {
  return (await which('tmux')) ? false : 'tmux is not installed (apt-get install tmux / brew install tmux)';
}

export async function startTmuxServer(t: Finalizable, opts: TmuxServerOptions = {}): Promise<TmuxTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-tmux-'));
  const home = join(dir, 'home');
  await mkdir(home);
  const socketName = `bottle-test-${randomBytes(6).toString('hex')}`;
  const socketPath = join(dir, `tmux-${process.getuid?.() ?? 0}`, socketName);
  const env: Record<string, string | undefined> = {
    HOME: home,
    TMUX_TMPDIR: dir,
    SHELL: '/bin/sh',
    PS1: '$ ',
    ENV: undefined,
    // A test run from inside tmux must not inherit the user's session.
    TMUX: undefined,
    TMUX_PANE: undefined,
    ...opts.env,
  };
  const client = new TmuxClient({ socket: { name: socketName }, configFile: '/dev/null', env });
  const session = opts.session ?? 't';
  let serverPid: number | undefined;
  let done = false;
  const viewers: TmuxTestServer[] = [];

  const tmux = (sub: readonly string[]) => client.probe(sub);
  const capture = (target = pane, o: { escapes?: boolean; history?: boolean } = {}) =>
    client.capture({ target, ...(o.escapes ? { escapes: true } : {}), ...(o.history ? { start: '-' as const } : {}) });

  const teardown = async (): Promise<void> => {
    if (done) return;
    done = true;
    const problems: string[] = [];
    for (const v of viewers) await v.teardown().catch((e: Error) => problems.push(`viewer: ${e.message}`));
    // No socket in our private TMUX_TMPDIR: the server never started.
    if (existsSync(socketPath)) {
      await tmux(['kill-server']).catch(() => undefined);
      // kill-server returns before the server has exited: wait until nothing answers.
      const gone = await pollUntil('tmux server exit', async () => (await tmux(['has-session'])).exitCode !== 0, { timeoutMs: 5000 })
        .catch(() => false);
      if (!gone) {
        problems.push(`tmux server on ${socketName} still answering after kill-server`);
        // Only the pid this harness started and recorded.
        if (serverPid) {
          try { process.kill(serverPid, 'SIGKILL'); } catch { /* already gone */ }
        }
      }
    }
    // tmux 3.3 leaves its socket file behind after kill-server.
    await rm(socketPath, { force: true });
    await rm(dir, { recursive: true, force: true });
    if (existsSync(socketPath)) problems.push(`socket ${socketPath} still exists`);
    // Reported after cleanup finished; a test's own failure has already been recorded by tap.
    if (problems.length) throw new Error(`tmux test teardown: ${problems.join('; ')}`);
  };
  t.teardown(teardown);

  const pane = await client.newSession({
    name: session,
    width: opts.width ?? 120,
    height: opts.height ?? 40,
    ...(opts.command ? { command: opts.command } : {}),
  });
  serverPid = Number((await client.display('#{pid}')).trim()) || undefined;
  if (opts.noPasteDetection !== false) {
    await client.exec(setOption({ scope: 'session', global: true, name: 'assume-paste-time', value: '0' }));
  }

  const server: TmuxTestServer = {
    socketName, socketPath, dir, home, session, pane, client, env, tmux, capture, teardown,
    async waitForText(pattern, o = {}) {
      const target = o.target ?? pane;
      let last = '';
      return pollUntil(`${pattern} in pane ${target}`, async () => {
        const r = await tmux(capturePane({ target, ...(o.escapes ? { escapes: true } : {}) }));
        last = r.exitCode === 0 ? r.stdout : `(capture-pane failed: ${r.stderr})`;
        return pattern.test(last) ? last : undefined;
      }, {
        ...o,
        describe: async () => {
          const rec = (await client.listPanes()).find((p) => p.paneId === target);
          const state = rec ? `pid ${rec.pid ?? '?'}${rec.dead ? `, dead (status ${rec.deadStatus ?? '?'})` : ''}` : 'gone';
          return `last screen of ${target} (${state}):\n-----\n${last}\n-----`;
        },
      });
    },
    async sendKeys(keys, o = {}) {
      const target = o.target ?? pane;
      for (const [i, key] of keys.entries()) {
        if (i > 0 && o.spacingMs) await sleep(o.spacingMs);
        await client.exec(sendKeys({ target, keys: [key], ...(o.literal ? { literal: true } : {}) }));
      }
    },
    async attachViewer(o = {}) {
      const target = o.session ?? session;
      const before = new Set(await client.listClients(target));
      const viewer = await startTmuxServer(t, {
        width: o.width ?? opts.width ?? 120,
        height: o.height ?? opts.height ?? 40,
        session: 'viewer',
        // The viewer's pane has TMUX set to the viewer server; tmux refuses to nest with it.
        command: ['env', '-u', 'TMUX', 'tmux', '-S', socketPath, 'attach-session', '-t', exactSession(target)],
        ...(opts.env ? { env: opts.env } : {}),
      });
      viewers.push(viewer);
      const clientName = await pollUntil(`a client attached to ${target}`, async () => (await client.listClients(target)).find((c) => !before.has(c)), {
        describe: async () => `viewer screen:\n${await viewer.capture().catch((e: Error) => e.message)}`,
      });
      return { server: viewer, clientName };
    },
  };
  return server;
}

// Activity is kept in whole seconds: types into `viewer` (its session's pane should swallow
// input, e.g. run cat) until `srv` ranks its client above every other one, so the dashboard's
// popup goes there.
export async function makeMostRecent(srv: TmuxTestServer, viewer: TmuxViewer): Promise<void> {
  await pollUntil(`${viewer.clientName} to be the most recently active client`, async () => {
    await viewer.server.sendKeys(['x']);
    const clients = await srv.client.clients();
    const mine = clients.find((c) => c.name === viewer.clientName);
    return mine !== undefined && clients.every((c) => c === mine || c.activity < mine.activity);
  }, { timeoutMs: 5000, intervalMs: 250, describe: async () => JSON.stringify(await srv.client.clients()) });
}
