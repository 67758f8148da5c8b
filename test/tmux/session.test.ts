// `bottle tmux` against real tmux servers (private sockets). The dashboard is replaced by a
// recognisable stand-in ($BOTTLE_TMUX_DASHBOARD_CMD) so these tests do not depend on panes/.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../lib/paths.js';
import * as a from '../../tmux/argv.js';
import { TmuxClient } from '../../tmux/client.js';
import { bottleInProcess, tsxArgv } from '../helpers/cli.js';
import { pollUntil, startTmuxServer, tmuxSkipReason, type TmuxTestServer } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();
const STANDIN = 'echo DASHBOARD-STANDIN state=$BOTTLE_STATE_DIR; exec sleep 600';

function standinEnv(srv: { env: Record<string, string | undefined> }): NodeJS.ProcessEnv {
  return { ...process.env, ...srv.env, BOTTLE_TMUX_DASHBOARD_CMD: STANDIN, BOTTLE_STATE_DIR: '/state/from-caller' };
}

function bottle(srv: TmuxTestServer, args: string[], cwd?: string) {
  return bottleInProcess(['tmux', '--socket', srv.socketName, ...args], { env: standinEnv(srv), ...(cwd ? { cwd } : {}) });
}

// argv that runs this checkout's CLI from source (for panes: a real process with a real tty).
function cliArgv(args: string[]): string[] {
  return [process.execPath, ...tsxArgv(), join(projectRoot(), 'commands', 'main.ts'), ...args];
}

async function sessions(srv: TmuxTestServer): Promise<string[]> {
  return (await srv.tmux(['list-sessions', '-F', '#{session_name}'])).stdout.split('\n').sort();
}

const dashOf = (srv: TmuxTestServer) => srv.client.showOption({ scope: 'session', target: a.exactSessionPane('bottle'), name: '@bottle-dash' });

t.test('creates the session with the dashboard, @bottle-dash and border labels; a second run creates nothing', { skip }, async (t) => {
  // `bottle-2` is the prefix-match trap: `has-session -t bottle` would find it.
  const srv = await startTmuxServer(t, { session: 'bottle-2' });
  const cwd = await mkdtemp(join(tmpdir(), 'bottle-cwd-'));
  t.teardown(() => rm(cwd, { recursive: true, force: true }));
  const r = await bottle(srv, ['--no-attach'], cwd);
  t.equal(r.exitCode, 0, r.stderr);
  const m = /^bottle: created tmux session bottle \(dashboard pane (%\d+)\)$/m.exec(r.stdout);
  t.ok(m, r.stdout);
  const pane = m?.[1] ?? '';
  t.same(await sessions(srv), ['bottle', 'bottle-2']);
  t.equal(await dashOf(srv), pane, '@bottle-dash is the new pane');
  const panes = (await srv.client.listPanes()).filter((p) => p.session === 'bottle');
  t.same(panes.map((p) => [p.paneId, p.windowIndex, p.paneIndex]), [[pane, 0, 0]], 'the dashboard is pane 0');
  await srv.waitForText(/DASHBOARD-STANDIN state=\/state\/from-caller/, { target: pane });
  t.pass('the stand-in runs, with the caller\'s BOTTLE_STATE_DIR although the server was started without it');
  t.equal((await srv.client.display('#{pane_current_path}', pane)).trim(), cwd);
  t.equal(await srv.client.showOption({ scope: 'window', target: pane, name: 'pane-border-status' }), 'top');
  t.match(await srv.client.showOption({ scope: 'window', target: pane, name: 'pane-border-format' }), /@bottle_label/);
  t.equal(await srv.client.showOption({ scope: 'pane', target: pane, name: '@bottle_label' }), 'bottle');

  const again = await bottle(srv, ['--no-attach'], cwd);
  t.equal(again.exitCode, 0, again.stderr);
  t.match(again.stdout, /^bottle: found tmux session bottle$/m);
  t.same(await sessions(srv), ['bottle', 'bottle-2'], 'no second session');
  t.equal(await dashOf(srv), pane);
});

t.test('the session outlived its dashboard: a new one is split in on the left', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const first = await bottle(srv, ['--no-attach']);
  const old = (await dashOf(srv)) ?? '';
  const right = await srv.client.split({ target: old, command: ['sleep', '600'] });
  await srv.client.killPane(old);
  const r = await bottle(srv, ['--no-attach']);
  t.equal(r.exitCode, 0, `${first.stderr}${r.stderr}`);
  t.match(r.stdout, /restarted the dashboard in tmux session bottle/);
  const dash = (await dashOf(srv)) ?? '';
  t.not(dash, old);
  const panes = (await srv.client.listPanes()).filter((p) => p.session === 'bottle');
  t.same(panes.map((p) => p.paneId).sort(), [dash, right].sort());
  t.equal((await srv.client.display('#{pane_left}', dash)).trim(), '0', 'on the left');
  await srv.waitForText(/DASHBOARD-STANDIN/, { target: dash });
});

t.test('inside tmux: switches the current client instead of nesting', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 100, height: 20 });
  t.equal((await bottle(srv, ['--no-attach'])).exitCode, 0);
  const viewer = await srv.attachViewer();
  const clientSession = async () => (await srv.tmux(['list-clients', '-F', '#{client_session}'])).stdout.trim();
  t.equal(await clientSession(), srv.session);
  // Run from a pane of the viewed session: $TMUX and $TMUX_PANE point at this server.
  await srv.client.split({ target: srv.pane, command: cliArgv(['tmux', '--socket', srv.socketName]) });
  await pollUntil('the client to switch to bottle', async () => (await clientSession()) === 'bottle', {
    timeoutMs: 20_000, describe: () => viewer.server.capture(),
  });
  t.same(await sessions(srv), ['bottle', srv.session]);
  t.equal((await srv.client.listClients(srv.session)).length, 0);
});

t.test('regression: inside a detached tmux session (no client to switch) it attaches instead of failing', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 100, height: 20 });
  t.equal((await bottle(srv, ['--no-attach'])).exitCode, 0);
  t.equal((await srv.client.listClients(srv.session)).length, 0, 'nobody is attached: switch-client has no current client');
  // The pane has a terminal and $TMUX of this server, but the server has no client at all.
  const pane = await srv.client.split({ target: srv.pane, command: cliArgv(['tmux', '--socket', srv.socketName]) });
  await pollUntil('a client on session bottle', async () => (await srv.client.listClients('bottle')).length === 1, {
    timeoutMs: 20_000, describe: () => srv.capture(pane),
  });
  t.same(await sessions(srv), ['bottle', srv.session], 'attached, nothing created');
});

t.test('outside tmux: attaches a real terminal to the existing session', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  t.equal((await bottle(srv, ['--no-attach'])).exitCode, 0);
  // The outer server only provides a terminal; its pane has $TMUX of the OUTER server, which
  // is not the --socket server, so bottle attaches (with TMUX removed) instead of switching.
  const outer = await startTmuxServer(t, {
    width: 100, height: 20,
    command: ['env', `TMUX_TMPDIR=${srv.dir}`, ...cliArgv(['tmux', '--socket', srv.socketName])],
  });
  await pollUntil('a client on session bottle', async () => (await srv.client.listClients('bottle')).length === 1, {
    timeoutMs: 20_000, describe: () => outer.capture(),
  });
  await outer.waitForText(/DASHBOARD-STANDIN/, { timeoutMs: 10_000 });
  t.same(await sessions(srv), ['bottle', srv.session], 'attached, nothing created');
});

t.test('no server running: bottle tmux starts one on the chosen socket only', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-tmux-fresh-'));
  const socketName = `bottle-test-fresh-${process.pid}`;
  const env = { ...process.env, HOME: dir, TMUX_TMPDIR: dir, TMUX: undefined, TMUX_PANE: undefined, BOTTLE_TMUX_DASHBOARD_CMD: STANDIN };
  const client = new TmuxClient({ socket: { name: socketName }, env });
  const socketPath = join(dir, `tmux-${process.getuid?.() ?? 0}`, socketName);
  t.teardown(async () => {
    // The server was started by `bottle tmux` itself, not by the harness: stop it here.
    if (existsSync(socketPath)) {
      await client.probe(a.killServer());
      await pollUntil('the fresh server to exit', async () => (await client.probe(['has-session'])).exitCode !== 0);
    }
    await rm(dir, { recursive: true, force: true });
  });
  const r = await bottleInProcess(['tmux', '--socket', socketName, '--no-attach'], { env });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /created tmux session bottle/);
  t.equal(await client.hasSession('bottle'), true);
  t.ok(existsSync(socketPath), 'socket in the private TMUX_TMPDIR');
});
