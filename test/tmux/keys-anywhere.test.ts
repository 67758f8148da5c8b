// The `bottle` keys pressed in the user's OWN session, on a private tmux server that also holds
// the cockpit (the real dashboard on the fake backend): a real client attached to the user's
// session (attachViewer) types prefix b <key>, and each key's effect is read back from tmux's
// state (list-clients, list-windows, pane options, capture) and, for popups, from the screen of
// the attached client (tmux cannot capture a popup; the client draws it). Also: install +
// uninstall leaves every global option, hook and binding exactly as it was.
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { listProposals, readDecision } from '../../lib/proposals/index.js';
import { bottlePaths, listBottles } from '../../lib/state/index.js';
import * as a from '../../tmux/argv.js';
import { SEP } from '../../tmux/format.js';
import { installKeys } from '../../tmux/keys.js';
import { OCCUPANT_OPTION } from '../../panes/right.js';
import { bottleInProcess, fakeBottleArgv } from '../helpers/cli.js';
import { dashboardEnv, SLOW, startDashboard } from '../helpers/dashboard.js';
import { pollUntil, startTmuxServer, tmuxSkipReason, type TmuxTestServer, type TmuxViewer } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();
// A key runs node + tsx + the CLI (and may start a dashboard): allow for a loaded machine.
const KEY = { timeoutMs: 30_000 };

async function press(v: TmuxViewer, key: string): Promise<void> {
  await v.server.sendKeys(['C-b', 'b', key], { spacingMs: 150 });
}

// Where tmux says a client is: its session and that session's active pane.
async function where(srv: TmuxTestServer, client: string): Promise<{ session: string; pane: string } | undefined> {
  const r = await srv.tmux(a.listClients({ format: ['#{client_name}', '#{client_session}', '#{pane_id}'].join(SEP) }));
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${client}${SEP}`));
  if (!line) return undefined;
  const [, session = '', pane = ''] = line.split(SEP);
  return { session, pane };
}

async function windows(srv: TmuxTestServer, session: string): Promise<{ name: string; pane: string }[]> {
  const r = await srv.tmux(['list-windows', '-t', a.exactSession(session), '-F', `#{window_name}${SEP}#{pane_id}`]);
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    const [name = '', pane = ''] = l.split(SEP);
    return { name, pane };
  });
}

function waiting(stateDir: string, slug: string, time: string): void {
  const file = bottlePaths(stateDir, slug).eventsFile;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ type: 'agent-waiting', time })}\n`);
}

t.test('from the user\'s own session: d, p, a, w and n act on the cockpit and this session', { skip }, async (t) => {
  let first = '';
  let second = '';
  const h = await startDashboard(t, {
    width: 160, height: 40,
    before: async (x) => {
      first = await x.startFake('implementer');
      second = await x.startFake('implementer');
      // Waiting since before the dashboard started (no notification); `first` for longer.
      waiting(x.stateDir, second, '2024-01-01T10:05:00.000Z');
      waiting(x.stateDir, first, '2024-01-01T10:00:00.000Z');
      await x.propose(first, 'docs.example.org');
    },
  });
  const srv = h.srv;
  const cockpit = srv.session;
  await h.waitFor(/docs\.example\.org/);
  await srv.tmux(['new-session', '-d', '-s', 'work', '-x', '160', '-y', '40', 'cat > /dev/null']);
  await installKeys(srv.client, fakeBottleArgv());
  const user = await srv.attachViewer({ session: 'work', width: 160, height: 40 });
  const me = user.clientName;
  const screen = (re: RegExp) => user.server.waitForText(re, KEY);
  const back = async () => {
    await srv.client.exec(a.switchClient({ client: me, target: a.exactSession('work') }));
    t.equal((await where(srv, me))?.session, 'work');
  };
  t.equal((await where(srv, me))?.session, 'work', 'the user is in their own session');

  // d: this client goes to the cockpit's dashboard pane.
  await press(user, 'd');
  await pollUntil('the client on the dashboard pane', async () => {
    const w = await where(srv, me);
    return w?.session === cockpit && w.pane === h.dash;
  }, KEY);
  t.pass('d: client switched to the cockpit, dashboard pane active');
  await back();

  // p: the newest pending proposal's decision popup over this pane; its keys decide.
  const proposal = (await listProposals(h.stateDir)).rows.at(-1)!;
  await press(user, 'p');
  const shown = await screen(new RegExp(`${first} asks: allowlist docs\\.example\\.org[\\s\\S]*risk: [\\s\\S]*a approve\\s+t approve for a time\\s+r reject with a note\\s+l later`));
  t.match(shown, /bottle: allowlist docs\.example\.org from implementer-/, 'the popup\'s title');
  t.equal((await where(srv, me))?.session, 'work', 'the client stays where it is');
  await user.server.sendKeys(['a']);
  await pollUntil('the popup to approve', async () => (await readDecision(bottlePaths(h.stateDir, first).superviseDecisions, proposal.id))?.decision === 'approved', KEY);
  await pollUntil('the popup to close', async () => !/a approve/.test(await user.server.capture()), KEY);
  await h.waitFor(/no pending proposals/);
  await press(user, 'p');
  await screen(/bottle: no pending proposals/);
  t.pass('p with nothing pending says so on the status line');

  // a: pick a running agent; its claude session opens in a new window of THIS session.
  await press(user, 'a');
  const picker = await screen(/Attach an agent in a new window of work[\s\S]*Enter pick/);
  t.match(picker, first);
  t.match(picker, second);
  await user.server.sendKeys([second.slice(-6)], { literal: true });
  await user.server.sendKeys(['Enter']);
  const win = await pollUntil(`a window named ${second} in work`, async () => (await windows(srv, 'work')).find((w) => w.name === second), KEY);
  await srv.waitForText(new RegExp(`fake claude for ${second}`), { ...KEY, target: win.pane });
  const now = await where(srv, me);
  t.same(now, { session: 'work', pane: win.pane }, 'the client shows the new window of its own session');
  t.notOk((await windows(srv, cockpit)).some((w) => w.name === second), 'nothing added to the cockpit');
  await srv.tmux(['kill-window', '-t', win.pane]);

  // w: the agent waiting longest takes the cockpit's right pane; the client goes there.
  await press(user, 'w');
  const right = await pollUntil('the right pane', () => h.rightPane(), KEY);
  await pollUntil(`${first} in the right pane`, async () => (await srv.client.showOption({ scope: 'pane', target: right, name: OCCUPANT_OPTION }))?.trim() === first, KEY);
  await h.waitFor(new RegExp(`fake claude for ${first}`), right);
  await pollUntil('the client on the right pane', async () => {
    const w = await where(srv, me);
    return w?.session === cockpit && w.pane === right;
  }, KEY);
  t.pass(`w: ${first} (waiting since 10:00, before ${second}) in the right pane, client there`);
  await back();

  // n: the picker in a popup; the new bottle comes up in the cockpit, the client stays here.
  const before = (await listBottles(h.stateDir)).length;
  await press(user, 'n');
  await screen(/New agent[\s\S]*filter: _[\s\S]*implementer \(2 running\)/);
  await user.server.sendKeys(['impl'], { literal: true });
  await screen(/filter: impl_/);
  await user.server.sendKeys(['Enter']);
  await screen(/Start implementer\?[\s\S]*y start/);
  await user.server.sendKeys(['y']);
  await screen(/bottle: starting implementer; its bring-up, then its claude session, show in the cockpit/);
  const slug = await pollUntil('a third bottle', async () => {
    const all = await listBottles(h.stateDir);
    return all.length > before ? all.map((b) => b.slug).find((s) => s !== first && s !== second) : undefined;
  }, KEY);
  await pollUntil(`${slug} in the right pane`, async () => (await srv.client.showOption({ scope: 'pane', target: right, name: OCCUPANT_OPTION }))?.trim() === slug, KEY);
  await h.waitFor(new RegExp(`fake claude for ${slug}`), right);
  t.equal((await where(srv, me))?.session, 'work', 'n left the client in its own session');
  t.notMatch(await user.server.capture(), /New agent|Start implementer/, 'the popup is closed');
});

t.test('no cockpit yet: d creates it (as bottle tmux would, from the pane\'s directory) and switches there; n\'s picker waits for it', { skip }, async (t) => {
  // A short path: the dashboard's socket lives under it.
  const dir = await mkdtemp(join(tmpdir(), 'bottle-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const srv = await startTmuxServer(t, { session: 'work', width: 160, height: 40, env: dashboardEnv(dir), command: ['sh', '-c', 'cat > /dev/null'] });
  await installKeys(srv.client, fakeBottleArgv());
  const globals = async () => {
    const dump = async (args: string[]) => (await srv.tmux(args)).stdout.split('\n').filter((l) => !l.startsWith('@bottle')).join('\n');
    return { g: await dump(['show-options', '-g']), gw: await dump(['show-options', '-gw']), s: await dump(['show-options', '-s']), hooks: (await srv.tmux(['show-hooks', '-g'])).stdout };
  };
  const before = await globals();
  const user = await srv.attachViewer({ width: 160, height: 40 });
  const me = user.clientName;

  await press(user, 'd');
  const dash = await pollUntil('the cockpit session', async () => (await srv.client.showOption({ scope: 'session', target: a.exactSessionPane('bottle'), name: '@bottle-dash' }))?.trim(), KEY);
  await pollUntil('the client on the new dashboard', async () => {
    const w = await where(srv, me);
    return w?.session === 'bottle' && w.pane === dash;
  }, KEY);
  await srv.waitForText(/Agents \(0\)[\s\S]*no bottles: press n to start one/, { ...SLOW, target: dash });
  t.match(await srv.capture(dash), /example manifest/, 'no ./bottle.yaml where the key was pressed: the built-in example, as bottle tmux');
  const cwd = (await srv.client.display('#{pane_current_path}', dash)).trim();
  t.equal(cwd, (await srv.client.display('#{pane_current_path}', srv.pane)).trim(), 'the dashboard started in the pane\'s directory');

  // w with nobody waiting: one line on the status line, the client stays.
  await srv.client.exec(a.switchClient({ client: me, target: a.exactSession('work') }));
  await press(user, 'w');
  await user.server.waitForText(/bottle: no agent is waiting for input/, KEY);
  t.equal((await where(srv, me))?.session, 'work');

  // The cockpit gone: n brings it up again and its popup waits for the new dashboard.
  await srv.tmux(['kill-session', '-t', a.exactSession('bottle')]);
  await press(user, 'n');
  await user.server.waitForText(/New agent[\s\S]*implementer/, KEY);
  t.ok(await srv.client.hasSession('bottle'), 'the cockpit exists again');
  t.equal((await where(srv, me))?.session, 'work', 'the client stays in its session');
  await user.server.sendKeys(['Escape']);
  await pollUntil('the popup to close', async () => !/New agent/.test(await user.server.capture()), KEY);

  t.same(await globals(), before, 'no global option or hook changed (only @bottle* user options)');
});

t.test('keys install + uninstall leave show-options -g/-gw/-s, hooks and list-keys (-N) exactly as before', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  // A user's setup: options, hooks, a binding on prefix b with a note, another table.
  for (const cmd of [
    ['set-option', '-g', 'status-right', '#H %H:%M'],
    ['set-option', '-g', 'status-interval', '5'],
    ['set-option', '-g', '@user-thing', 'yes'],
    ['set-option', '-gw', 'mode-keys', 'vi'],
    ['set-hook', '-g', 'client-attached', 'display-message hi'],
    ['bind-key', '-N', `user's note`, '-T', 'prefix', 'b', 'display-message', 'hello #{session_name}'],
    ['bind-key', '-T', 'mytable', 'x', 'display-message', 'x'],
  ]) await srv.client.exec(cmd);
  const dump = async () => ({
    g: (await srv.tmux(['show-options', '-g'])).stdout,
    gw: (await srv.tmux(['show-options', '-gw'])).stdout,
    s: (await srv.tmux(['show-options', '-s'])).stdout,
    hooks: (await srv.tmux(['show-hooks', '-g'])).stdout,
    keys: (await srv.tmux(['list-keys'])).stdout,
    notes: (await srv.tmux(['list-keys', '-N', '-a'])).stdout,
  });
  const before = await dump();
  t.match(before.keys, /bind-key\s+-T prefix\s+b\s+display-message/);
  const cli = (args: string[]) => bottleInProcess(['tmux', '--socket', srv.socketName, 'keys', ...args], { env: { ...process.env, ...srv.env } });
  t.equal((await cli(['install'])).exitCode, 0);
  const installed = await dump();
  t.not(installed.keys, before.keys);
  t.equal(installed.g, before.g, 'install changes no global session option');
  t.equal(installed.gw, before.gw, 'nor a window option');
  t.equal(installed.hooks, before.hooks, 'nor a hook');
  t.equal((await cli(['install'])).exitCode, 0, 'twice');
  t.same(await dump(), installed, 'the second install changed nothing');
  const un = await cli(['uninstall']);
  t.equal(un.exitCode, 0, un.stderr);
  t.same(await dump(), before, 'everything exactly as before, the note on prefix b included');
});
