// `bottle tmux keys install|uninstall` on real tmux servers (private sockets), and key presses
// typed through a real attached client (attachViewer) so the prefix → bottle table → if-shell →
// run-shell → `bottle tmux key` → IPC chain runs for real.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import * as a from '../../tmux/argv.js';
import { installKeys, NOT_RUNNING_MESSAGE, uninstallKeys } from '../../tmux/keys.js';
import { bottleInProcess } from '../helpers/cli.js';
import { recordingSocket } from '../helpers/ipc.js';
import { pollUntil, startTmuxServer, tmuxSkipReason, type TmuxTestServer } from '../helpers/tmux.js';

// The bindings must call this checkout's source (dist/ may be stale while developing).

const skip = await tmuxSkipReason();
// A key binding runs node + tsx + the whole CLI: allow for a loaded machine.
const KEY_TIMEOUT = { timeoutMs: 20_000 };

function bottle(srv: TmuxTestServer, args: string[]) {
  return bottleInProcess(['tmux', '--socket', srv.socketName, ...args], { env: { ...process.env, ...srv.env } });
}

async function listKeys(srv: TmuxTestServer, table: string, key?: string): Promise<string> {
  const r = await srv.tmux(a.listKeys({ table, ...(key ? { key } : {}) }));
  return r.exitCode === 0 ? r.stdout : `(exit ${r.exitCode}: ${r.stderr})`;
}

// Presses prefix, b, then `key` in the viewer, spaced so tmux does not take them for a paste.
async function press(viewer: TmuxTestServer, key: string): Promise<void> {
  await viewer.sendKeys(['C-b', 'b', key], { spacingMs: 150 });
}

// A stand-in dashboard: a unix socket that records request lines and answers {"ok":true}.
const fakeDashboard = (t: { teardown(fn: () => unknown): void }) => recordingSocket(t, () => '{"ok":true}\n');

async function makeBottleSession(srv: TmuxTestServer, ipc: string): Promise<void> {
  const target = a.exactSessionPane(srv.session);
  await srv.client.setOption({ scope: 'session', target, name: '@bottle-dash', value: srv.pane });
  await srv.client.setOption({ scope: 'session', target, name: '@bottle-ipc', value: ipc });
}

t.test('install prints the table; installing twice changes nothing; uninstall removes it', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  t.equal(await listKeys(srv, 'prefix', 'b'), '(exit 1: unknown key: b)', 'tmux binds nothing to prefix b by default');
  const first = await bottle(srv, ['keys', 'install']);
  t.equal(first.exitCode, 0, first.stderr);
  t.match(first.stdout, /server-wide/);
  t.match(first.stdout, /prefix b n +start a new agent/);
  t.match(first.stdout, /prefix b w +the agent waiting longest/);
  const table1 = await listKeys(srv, 'bottle');
  const prefix1 = await listKeys(srv, 'prefix', 'b');
  t.equal(prefix1, 'bind-key -T prefix b switch-client -T bottle');
  t.equal(table1.split('\n').length, 7, table1);
  t.match(table1, /bind-key -T bottle n run-shell -b ".*tmux key new-agent --session=#\{q:session_name\} --client=#\{q:client_name\} --cwd=#\{q:pane_current_path\}/);
  t.match(await srv.tmux(['list-keys', '-N', '-T', 'bottle']), { stdout: /d +bottle: the cockpit's dashboard/ });

  const second = await bottle(srv, ['keys', 'install']);
  t.equal(second.exitCode, 0);
  t.equal(second.stdout.trim(), 'bottle: keys already installed on prefix b (bindings refreshed); `bottle tmux keys uninstall` removes them', 'one line, not the table again');
  t.equal(await listKeys(srv, 'bottle'), table1, 'bottle table identical');
  t.equal(await listKeys(srv, 'prefix', 'b'), prefix1, 'prefix b identical');

  const un = await bottle(srv, ['keys', 'uninstall']);
  t.equal(un.exitCode, 0, un.stderr);
  t.match(un.stdout, /prefix b is unbound again/);
  t.match(await listKeys(srv, 'bottle'), /table bottle doesn't exist/);
  t.equal(await listKeys(srv, 'prefix', 'b'), '(exit 1: unknown key: b)');
  t.equal((await srv.tmux(a.showOptions({ scope: 'server' }))).stdout.includes('@bottle'), false, 'no bottle server options left');
});

t.test('uninstall restores the user binding that install replaced', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  await srv.client.exec(['bind-key', '-T', 'prefix', 'b', 'display-message', 'hello $HOME #{session_name}']);
  const before = await listKeys(srv, 'prefix', 'b');
  t.match(before, /^bind-key -T prefix b display-message/);
  t.equal((await bottle(srv, ['keys', 'install'])).exitCode, 0);
  t.equal((await bottle(srv, ['keys', 'install'])).exitCode, 0, 'a second install must not save our own binding');
  t.not(await listKeys(srv, 'prefix', 'b'), before);
  const un = await bottle(srv, ['keys', 'uninstall']);
  t.match(un.stdout, /restored: bind-key -T prefix b display-message/);
  t.equal(await listKeys(srv, 'prefix', 'b'), before, 'identical list-keys output');
});

t.test('outside the cockpit ] and [ say where they act', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 100, height: 12 });
  t.equal((await bottle(srv, ['keys', 'install'])).exitCode, 0);
  const viewer = await srv.attachViewer();
  await press(viewer.server, ']');
  await viewer.server.waitForText(/bottle: \] and \[ act in the cockpit; prefix b d goes there/, KEY_TIMEOUT);
  t.pass('status line says so');
});

t.test('in a bottle session: n reaches the dashboard over IPC, d focuses its pane', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 100, height: 12 });
  const dash = await fakeDashboard(t);
  await makeBottleSession(srv, dash.path);
  const right = await srv.client.split({ target: srv.pane, command: ['sleep', '600'] });
  await srv.client.selectPane(right);
  t.equal((await bottle(srv, ['keys', 'install'])).exitCode, 0);
  const viewer = await srv.attachViewer();

  await press(viewer.server, 'n');
  await pollUntil('the new-agent request', async () => dash.requests.length >= 1, { ...KEY_TIMEOUT, describe: () => viewer.server.capture() });
  t.same(dash.requests, ['{"action":"new-agent"}']);
  t.equal((await srv.client.display('#{pane_id}', right)).trim(), right);
  const active = async () => (await srv.tmux(a.listPanes({ target: a.exactSessionPane(srv.session), format: '#{pane_active}#{pane_id}' }))).stdout;
  t.match(await active(), `1${right}`, 'n leaves focus alone');

  await press(viewer.server, 'd');
  await pollUntil('the dashboard pane to be active', async () => (await active()).includes(`1${srv.pane}`), KEY_TIMEOUT);
  await pollUntil('the focus-dashboard request', async () => dash.requests.length >= 2, KEY_TIMEOUT);
  t.same(dash.requests, ['{"action":"new-agent"}', '{"action":"focus-dashboard"}']);

  for (const [key, action] of [[']', 'next-agent'], ['[', 'prev-agent'], ['p', 'newest-proposal']] as const) {
    await press(viewer.server, key);
    await pollUntil(`the ${action} request`, async () => dash.requests.at(-1) === `{"action":"${action}"}`, KEY_TIMEOUT);
  }
  t.pass('] [ p send their actions');
});

t.test('a bottle session whose dashboard is gone: the key explains on the status line', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 110, height: 12 });
  await makeBottleSession(srv, join(srv.dir, 'no-such-dashboard.sock'));
  t.equal((await bottle(srv, ['keys', 'install'])).exitCode, 0);
  const viewer = await srv.attachViewer();
  await press(viewer.server, 'n');
  await viewer.server.waitForText(new RegExp(NOT_RUNNING_MESSAGE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), KEY_TIMEOUT);
  t.pass('status line shows the not-running message');
});

t.test('quoting survives tmux and sh: a path with space, quote and #; such a session name', { skip }, async (t) => {
  const session = `it's a b#x`;
  const srv = await startTmuxServer(t, { session, width: 100, height: 12 });
  const dir = join(srv.dir, `my 'odd' #dir`);
  await mkdir(dir);
  const script = join(dir, 'rec.sh');
  await writeFile(script, '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/args.txt"\n');
  await chmod(script, 0o755);
  await makeBottleSession(srv, join(srv.dir, 'unused.sock'));
  // The pane's directory is passed too (a cockpit the key creates starts there).
  await srv.client.respawn({ target: srv.pane, cwd: dir, command: ['sleep', '600'] });
  await installKeys(srv.client, ['/bin/sh', script]);
  const viewer = await srv.attachViewer();
  await press(viewer.server, 'n');
  const args = await pollUntil('the recorder script to run', async () => readFile(join(dir, 'args.txt'), 'utf8').catch(() => undefined), KEY_TIMEOUT);
  t.same(args.split('\n'), ['tmux', 'key', 'new-agent', `--session=${session}`, `--client=${viewer.clientName}`, `--cwd=${dir}`, '']);
  await uninstallKeys(srv.client);
});
