// TmuxClient and the argv builders against a real tmux (private socket per test), plus the
// tmux behaviours the code relies on, pinned so an upgrade that changes them is noticed.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BinaryNotFoundError } from '../../lib/errors.js';
import * as a from '../../tmux/argv.js';
import { TmuxClient, TmuxError } from '../../tmux/client.js';
import { atLeast, MIN_TMUX_VERSION } from '../../tmux/version.js';
import { pollUntil, startTmuxServer, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

t.test('a missing tmux binary is a BinaryNotFoundError with an install hint', async (t) => {
  const byName = new TmuxClient({ binary: 'bottle-no-such-tmux-binary' });
  const err = await byName.hasSession('bottle').catch((e: unknown) => e);
  t.type(err, BinaryNotFoundError);
  t.match((err as Error).message, /bottle-no-such-tmux-binary: command not found; install tmux \(apt-get install tmux \/ brew install tmux\)/);
  await t.rejects(byName.binaryVersion(), BinaryNotFoundError);

  const emptyDir = await mkdtemp(join(tmpdir(), 'bottle-nopath-'));
  t.teardown(() => rm(emptyDir, { recursive: true, force: true }));
  const noPath = new TmuxClient({ env: { PATH: emptyDir } });
  await t.rejects(noPath.paneExists('%0'), BinaryNotFoundError, 'PATH without tmux');
});

t.test('versions: binary and server', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const bin = await srv.client.binaryVersion();
  const server = await srv.client.serverVersion();
  t.match(bin.raw, /^tmux /);
  t.ok(atLeast(bin, MIN_TMUX_VERSION), `tmux ${bin.raw} >= ${MIN_TMUX_VERSION}`);
  t.equal(server.major, bin.major, 'same binary started the server');
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath));
});

t.test('session targets: -t is a prefix match, =name is exact', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { session: 'bottle-dev' });
  // The gotcha itself: plain -t finds `bottle-dev` when asked for `bottle`.
  t.equal((await srv.tmux(['has-session', '-t', 'bottle'])).exitCode, 0, 'tmux: -t bottle matches bottle-dev');
  t.equal(await srv.client.hasSession('bottle'), false, 'hasSession is exact');
  t.equal(await srv.client.hasSession('bottle-dev'), true);
  // Option commands resolve -t as a pane: `=name` fails there, `=name:` works.
  t.equal((await srv.tmux(['set-option', '-t', '=bottle-dev', '@x', '1'])).exitCode, 1);
  await srv.client.setOption({ scope: 'session', target: a.exactSessionPane('bottle-dev'), name: '@bottle-dash', value: srv.pane });
  t.equal(await srv.client.showOption({ scope: 'session', target: a.exactSessionPane('bottle-dev'), name: '@bottle-dash' }), srv.pane);
  t.equal(await srv.client.showOption({ scope: 'session', target: a.exactSessionPane('bottle-dev'), name: '@unset' }), undefined);
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath));
});

t.test('display -p -t on a gone pane exits 0 and answers for another pane', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const gone = await srv.client.split({ target: srv.pane, command: ['sleep', '600'] });
  await srv.client.killPane(gone);
  const r = await srv.tmux(a.displayQuery('#{pane_id}', gone));
  t.equal(r.exitCode, 0, 'no error from display');
  t.not(r.stdout.trim(), gone, 'and not the pane asked about');
  t.equal(await srv.client.paneExists(gone), false, 'list-panes -a tells the truth');
  t.equal(await srv.client.paneExists(srv.pane), true);
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath));
});

t.test('free text survives: trailing ";" and "#" in values and messages', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  // Without escapeArg tmux would cut the value at the ';' and run an empty second command.
  await srv.client.setOption({ scope: 'pane', target: srv.pane, name: '@v', value: 'a;' });
  t.equal(await srv.client.showOption({ scope: 'pane', target: srv.pane, name: '@v' }), 'a;');
  await srv.client.setOption({ scope: 'pane', target: srv.pane, name: '@v', value: 'x\\;' });
  t.equal(await srv.client.showOption({ scope: 'pane', target: srv.pane, name: '@v' }), 'x\\;');
  t.equal((await srv.client.display('lit;', srv.pane)).trim(), 'lit;');

  const viewer = await srv.attachViewer({ width: 100, height: 10 });
  await srv.client.message(viewer.clientName, 'bottle: proposal #2 #[fg=red] ready;', 5000);
  await viewer.server.waitForText(/bottle: proposal #2 #\[fg=red\] ready;/);
  t.pass('message shown literally on the client');
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath));
  t.notOk(existsSync(viewer.server.socketPath), 'viewer server gone too');
});

t.test('listPanes parses real output; failures are TmuxError', { skip }, async (t) => {
  const srv = await startTmuxServer(t);
  const right = await srv.client.split({ target: srv.pane, percent: 50, command: ['sleep', '600'] });
  await srv.client.setOption({ scope: 'pane', target: right, name: '@bottle_label', value: 'lbl x' });
  const panes = await srv.client.listPanes();
  t.equal(panes.length, 2);
  const [dash, r] = [panes.find((p) => p.paneId === srv.pane), panes.find((p) => p.paneId === right)];
  t.match(dash, { session: 't', active: true, dead: false, paneIndex: 0 });
  t.match(r, { session: 't', active: false, dead: false, paneIndex: 1, label: 'lbl x', windowId: dash?.windowId });
  t.type(r?.pid, 'number');
  const err = await srv.client.selectPane('%999').catch((e: unknown) => e);
  t.type(err, TmuxError);
  t.equal((err as TmuxError).exitCode, 1);
  t.match((err as TmuxError).stderr, /%999/);
  await srv.teardown();
  t.same(await srv.client.listPanes(), [], 'no server: empty, no throw');
  t.notOk(existsSync(srv.socketPath));
});

t.test('key bindings fire for keys typed through an attached client', { skip }, async (t) => {
  const srv = await startTmuxServer(t, { width: 80, height: 10 });
  await srv.client.exec(a.chain(
    a.bindKey({ key: 'b', note: 'bottle: keys', command: ['switch-client', '-T', 'bottle'] }),
    a.bindKey({ table: 'bottle', key: 'd', command: ['set-option', '-s', '@fired', 'd', ';', 'set-option', '-s', '@also', 'yes'] }),
  ));
  t.match((await srv.tmux(a.listKeys({ table: 'prefix', key: 'b' }))).stdout, /switch-client -T bottle/);
  const viewer = await srv.attachViewer();
  // assume-paste-time is 0 on the harness server, so a burst is not mistaken for a paste.
  await viewer.server.sendKeys(['C-b', 'b', 'd']);
  const opt = (name: string) => srv.client.showOption({ scope: 'server', name });
  await pollUntil('@fired set by the binding', async () => (await opt('@fired')) === 'd');
  t.equal(await opt('@also'), 'yes', "';' in a binding chains commands");
  await srv.client.exec(a.chain(a.unbindKey({ key: 'b' }), a.unbindAll('bottle'), a.unbindKey({ key: 'b' })));
  t.equal((await srv.tmux(a.listKeys({ table: 'prefix', key: 'b' }))).exitCode, 1, 'unbound');
  await srv.teardown();
  t.notOk(existsSync(srv.socketPath));
});
