// RightPane on a real tmux server (private socket per test).
import { existsSync } from 'node:fs';
import t from 'tap';
import { RightPane } from '../../tmux/right-pane.js';
import { pollUntil, startTmuxServer, tmuxSkipReason, type TmuxTestServer } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// A command that prints `text` and then stays up, like a log tail or claude.
const show = (text: string) => ['sh', '-c', `echo ${text}; exec sleep 600`];

async function panesOf(srv: TmuxTestServer) {
  return (await srv.client.listPanes()).filter((p) => p.session === srv.session);
}

// Tears the server down explicitly and checks it left nothing behind.
async function finish(t: { notOk(v: unknown, m: string): unknown; equal(a: unknown, b: unknown, m: string): unknown }, srv: TmuxTestServer) {
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath), 'socket file is gone');
  t.equal((await srv.tmux(['has-session'])).exitCode, 1, 'no server answers');
}

t.test('split then respawn keeps the pane id', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const rp = new RightPane(srv.client, srv.pane);
  const id = await rp.ensure(show('first-command'));
  t.not(id, srv.pane);
  await srv.waitForText(/first-command/, { target: id });
  t.equal(await rp.ensure(show('second-command')), id, 'respawned in place');
  await srv.waitForText(/second-command/, { target: id });
  t.same((await panesOf(srv)).map((p) => p.paneId), [srv.pane, id], 'still two panes');
  t.equal(await srv.client.showOption({ scope: 'window', target: srv.pane, name: '@bottle-right' }), id);
  const width = Number((await srv.client.display('#{pane_width}', id)).trim());
  t.ok(width >= 65 && width <= 75, `about 60% of 120 columns (got ${width})`);
  await finish(t, srv);
});

t.test('after a manual kill-pane, ensure splits a fresh pane', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const rp = new RightPane(srv.client, srv.pane);
  const first = await rp.ensure(show('one'));
  t.equal((await srv.tmux(['kill-pane', '-t', first])).exitCode, 0);
  t.equal(await rp.exists(), false);
  t.equal(rp.paneId, undefined, 'forgot the dead id');
  const second = await rp.ensure(show('two'));
  t.not(second, first);
  await srv.waitForText(/two/, { target: second });
  t.same((await panesOf(srv)).map((p) => p.paneId), [srv.pane, second]);
  await finish(t, srv);
});

t.test('focus moves only when asked', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const rp = new RightPane(srv.client, srv.pane);
  const active = async () => (await panesOf(srv)).filter((p) => p.active).map((p) => p.paneId);
  const id = await rp.ensure(show('a'));
  t.same(await active(), [srv.pane], 'split keeps focus on the dashboard');
  await rp.ensure(show('b'));
  t.same(await active(), [srv.pane], 'respawn keeps focus on the dashboard');
  await rp.ensure(show('c'), { focus: true });
  t.same(await active(), [id], 'focus: true moves it');
  t.equal((await srv.client.display('#{pane_active}', id)).trim(), '1');
  await srv.client.selectPane(srv.pane);
  t.equal(await rp.select(), true);
  t.same(await active(), [id], 'select() moves it');
  await finish(t, srv);
});

t.test('the label shows in the pane border, literally', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 100, height: 20 });
  const viewer = await srv.attachViewer();
  const rp = new RightPane(srv.client, srv.pane);
  // claude sets the pane title with OSC 2; the label must win over it.
  const id = await rp.ensure(['sh', '-c', String.raw`printf '\033]2;claude-title\007'; echo ready; exec sleep 600`], { label: 'agent foo #1 #[fg=red]' });
  await srv.waitForText(/ready/, { target: id });
  t.equal((await srv.client.display('#{pane_title}', id)).trim(), 'claude-title', 'the app did overwrite the title');
  const screen = await viewer.server.waitForText(/agent foo #1 #\[fg=red\]/);
  t.notMatch(screen, /claude-title/, 'title hidden behind the label');
  t.equal((await srv.client.display('#{@bottle_label}', id)).trim(), 'agent foo ##1 ##[fg=red]', 'stored border-escaped');
  t.equal(await rp.label('bringup bar'), true);
  await viewer.server.waitForText(/bringup bar/);
  await rp.label('');
  await viewer.server.waitForText(/claude-title/);
  await finish(t, srv);
});

t.test('remain-on-exit keeps a failed command readable', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const rp = new RightPane(srv.client, srv.pane);
  const screen = async () => `screen of the right pane:\n${await srv.capture(rp.paneId, { history: true }).catch((e: Error) => e.message)}`;
  const dies = (what: string) => pollUntil(what, async () => (await panesOf(srv)).find((p) => p.paneId === rp.paneId && p.dead), { describe: screen });
  // Regression: a command that fails at once on the FIRST split used to take its pane with it
  // before remain-on-exit could be set by a second tmux call.
  const id = await rp.ensure(['sh', '-c', 'echo "boom: cannot start"; exit 3']);
  const dead = await dies('the pane to be dead but kept');
  t.equal(dead.paneId, id);
  // Regression: tmux 3.3a could close the pane before reading what an instant failure printed
  // (about 1 in 40 runs under load), leaving it empty. Visible screen or, after tmux's one-line
  // scroll for "Pane is dead", the scrollback.
  t.match(await srv.capture(id, { history: true }), /boom: cannot start/, 'what the instant failure printed is readable');
  // A command that lives a moment, respawned into the dead pane.
  t.equal(await rp.ensure(['sh', '-c', 'echo "boom: failed later"; sleep 0.3; exit 3']), id, 'respawned in place');
  await srv.waitForText(/boom: failed later/, { target: id });
  await dies('the respawned pane to die');
  t.match(await srv.capture(id, { history: true }), /boom: failed later/, 'what it printed stays readable after it died');
  // Not asserted: #{pane_dead_status} and the "Pane is dead (status 3)" line. tmux 3.3a sometimes
  // sees the pty close but never reaps the child (it stays a zombie), and then shows neither
  // (about 1 in 10 runs under load, with a plain split too). Commands that need their exit code
  // known must record it themselves.
  t.equal(await rp.exists(), true, 'a dead pane still counts: it is respawned, not re-split');
  t.equal(await rp.ensure(show('revived')), id);
  await srv.waitForText(/revived/, { target: id });
  await finish(t, srv);
});

t.test('shell quoting survives tmux: spaces, quotes, dollars, trailing ;', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const rp = new RightPane(srv.client, srv.pane);
  const arg = `it's "quoted" $HOME a;`;
  const id = await rp.ensure(['sh', '-c', 'printf "<%s>\\n" "$1"; exec sleep 600', 'sh', arg]);
  await srv.waitForText(/<it's "quoted" \$HOME a;>/, { target: id });
  t.pass('argument arrived verbatim');
  await finish(t, srv);
});

t.test('a restarted dashboard adopts its right pane; close() removes it', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const id = await new RightPane(srv.client, srv.pane).ensure(show('kept'));
  const again = new RightPane(srv.client, srv.pane);
  t.equal(await again.adopt(), id);
  t.equal(await again.ensure(show('reused')), id, 'no second split');
  t.equal((await panesOf(srv)).length, 2);
  await again.close();
  t.equal(again.paneId, undefined);
  t.same((await panesOf(srv)).map((p) => p.paneId), [srv.pane]);
  t.equal(await srv.client.showOption({ scope: 'window', target: srv.pane, name: '@bottle-right' }), undefined);
  t.equal(await new RightPane(srv.client, srv.pane).adopt(), undefined, 'nothing left to adopt');
  await finish(t, srv);
});
