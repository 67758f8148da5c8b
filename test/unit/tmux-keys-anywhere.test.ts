// The keys pressed outside the cockpit, without a tmux server: argument parsing of `bottle tmux
// key`, which session is the cockpit, bringing it up as `bottle tmux` would, waiting for a
// dashboard that is starting, and which action runs where (against a recording fake tmux and a
// real unix socket for the dashboard).
import { join } from 'node:path';
import t from 'tap';
import type { Runner } from '../../lib/run/index.js';
import { attachCommand } from '../../commands/tmux-pick.js';
import { parseKeyArgs, runKey } from '../../commands/tmux-key.js';
import { TmuxClient } from '../../tmux/client.js';
import { chooseCockpit, dashboardRequest, ensureCockpit, isNotAnswering, parseSessionMarks, SESSION_FORMAT } from '../../tmux/cockpit.js';
import { CLIENT_FORMAT, SEP } from '../../tmux/format.js';
import { recordingSocket } from '../helpers/ipc.js';

// A fake tmux: `answer` gets the argv after the binary; every call is recorded.
function fakeTmux(answer: (sub: string[]) => { stdout?: string; exitCode?: number } | undefined) {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push(sub);
    const r = answer(sub) ?? {};
    const exitCode = r.exitCode ?? 0;
    return { argv: [...argv], exitCode, stdout: r.stdout ?? '', stderr: exitCode ? 'failed' : '', durationMs: 0, failed: exitCode !== 0, timedOut: false };
  };
  return { client: new TmuxClient({ run }), calls };
}

// list-panes -F PANE_FORMAT lines.
function panes(...rows: { id: string; session: string; dead?: boolean }[]): string {
  return rows.map((p) => [p.id, p.session, '@1', '0', '0', p.dead ? '1' : '0', '', '1', '100', ''].join(SEP)).join('\n');
}

const sessions = (...rows: [string, string?, string?][]) => rows.map(([n, d = '', i = '']) => [n, d, i].join(SEP)).join('\n');

t.test('parseKeyArgs: the actions and flags the keys pass, both flag forms; anything else → the full CLI', async (t) => {
  t.same(parseKeyArgs(['waiting-agent', '--session=my work', '--client=/dev/pts/3', '--cwd=/home/u/p q']),
    { action: 'waiting-agent', session: 'my work', client: '/dev/pts/3', cwd: '/home/u/p q' });
  t.same(parseKeyArgs(['attach-agent', '--session', 'a=b', '--socket', 's']), { action: 'attach-agent', session: 'a=b', socket: 's' });
  t.same(parseKeyArgs(['new-agent']), { action: 'new-agent', session: 'bottle' });
  t.same(parseKeyArgs(['focus-dashboard', '--cwd=']), { action: 'focus-dashboard', session: 'bottle', cwd: '' }, 'an empty pane path (no /proc) is passed on, and ignored later');
  t.equal(parseKeyArgs(['agents']), undefined, 'an IPC action is not a key action');
  t.equal(parseKeyArgs(['new-agent', '--help']), undefined);
  t.equal(parseKeyArgs(['new-agent', '--session']), undefined);
  t.equal(parseKeyArgs([]), undefined);
});

t.test('parseSessionMarks and chooseCockpit: the current session, then bottle, then by name; a live dashboard first', async (t) => {
  t.equal(SESSION_FORMAT, ['#{session_name}', '#{@bottle-dash}', '#{@bottle-ipc}'].join(SEP));
  const marks = parseSessionMarks(sessions(['work'], ['bottle', '%1', '/s/1.sock'], ['z', '%5'], ['a', '%7', `/odd${SEP}path`]));
  t.same(marks, [
    { name: 'work' }, { name: 'bottle', dash: '%1', ipc: '/s/1.sock' }, { name: 'z', dash: '%5' }, { name: 'a', dash: '%7', ipc: `/odd${SEP}path` },
  ]);
  const all = new Set(['%1', '%5', '%7']);
  t.same(chooseCockpit(marks, all, 'work'), { session: 'bottle', dash: '%1', ipc: '/s/1.sock', alive: true });
  t.same(chooseCockpit(marks, all, 'z'), { session: 'z', dash: '%5', alive: true }, 'pressed in a cockpit: that one');
  t.same(chooseCockpit(marks, new Set(['%5', '%7']), 'work'), { session: 'a', dash: '%7', ipc: `/odd${SEP}path`, alive: true }, 'bottle\'s dashboard is gone: another live one, by name');
  t.same(chooseCockpit(marks, new Set(), 'work'), { session: 'bottle', dash: '%1', ipc: '/s/1.sock', alive: false }, 'none alive: bottle, to revive');
  t.equal(chooseCockpit([{ name: 'work' }, { name: 'x', dash: 'garbage' }], all), undefined);
});

t.test('ensureCockpit: a live one is used as is', async (t) => {
  const f = fakeTmux((sub) => {
    if (sub[0] === 'list-sessions') return { stdout: sessions(['work'], ['mine', '%1', '/s.sock']) };
    if (sub[0] === 'list-panes') return { stdout: panes({ id: '%0', session: 'work' }, { id: '%1', session: 'mine' }) };
    return undefined;
  });
  t.same(await ensureCockpit(f.client, { self: ['/bin/bottle'], cwd: '/p', env: {}, current: 'work' }), { session: 'mine', dash: '%1', ipc: '/s.sock', alive: true, started: false });
  t.same(f.calls.map((c) => c[0]), ['list-sessions', 'list-panes'], 'nothing created');
});

t.test('ensureCockpit: none → a detached `bottle` session running the dashboard from the pane\'s directory, as bottle tmux --no-attach', async (t) => {
  const f = fakeTmux((sub) => {
    if (sub[0] === 'list-sessions') return { stdout: sessions(['work']) };
    if (sub[0] === 'list-panes') return { stdout: panes({ id: '%0', session: 'work' }) };
    if (sub[0] === 'has-session') return { exitCode: 1 };
    if (sub[0] === 'new-session') return { stdout: '%9' };
    return undefined;
  });
  const c = await ensureCockpit(f.client, { self: ['/bin/bottle'], cwd: '/home/u/proj', env: { BOTTLE_STATE_DIR: '/s', GITHUB_TOKEN: 'secret' }, current: 'work' });
  t.same(c, { session: 'bottle', dash: '%9', alive: true, started: true });
  const spawn = f.calls.find((x) => x[0] === 'new-session')!;
  t.same(spawn, ['new-session', '-d', '-s', 'bottle', '-n', 'bottle', '-x', '200', '-y', '50', '-c', '/home/u/proj', '-e', 'BOTTLE_STATE_DIR=/s', '-P', '-F', '#{pane_id}', '/bin/bottle dashboard']);
  t.ok(f.calls.some((x) => x[0] === 'set-option' && x.includes('@bottle-dash') && x.includes('%9')), 'decorated as bottle tmux does');
  t.notOk(f.calls.some((x) => x.includes('switch-client') || x.includes('attach-session')), 'not entered: the key switches the client itself');
});

t.test('ensureCockpit: a cockpit that lost its dashboard gets it split back in', async (t) => {
  const f = fakeTmux((sub) => {
    if (sub[0] === 'list-sessions') return { stdout: sessions(['work'], ['bottle', '%1']) };
    if (sub[0] === 'list-panes') return { stdout: panes({ id: '%0', session: 'work' }, { id: '%2', session: 'bottle' }) };
    if (sub[0] === 'show-options') return { stdout: '%1' };
    if (sub[0] === 'split-window') return { stdout: '%4' };
    return undefined;
  });
  t.same(await ensureCockpit(f.client, { self: ['/bin/bottle'], cwd: '/p', env: {} }), { session: 'bottle', dash: '%4', alive: true, started: true });
  t.match(f.calls.find((x) => x[0] === 'split-window'), ['split-window', '-f', '-b', '-h']);
});

t.test('dashboardRequest waits for a dashboard that is starting, and gives up with one line', async (t) => {
  const dash = await recordingSocket(t, () => '{"ok":true,"agents":["implementer"]}\n');
  let announced = false;
  setTimeout(() => { announced = true; }, 300);
  const f = fakeTmux((sub) => (sub[0] === 'show-options' ? { stdout: announced ? dash.path : '' } : undefined));
  const r = await dashboardRequest(f.client, 'bottle', { action: 'agents' }, { waitMs: 5000 });
  t.same(r, { ok: true, agents: ['implementer'] });
  t.same(dash.requests, ['{"action":"agents"}']);
  t.ok(f.calls.length > 1, 'asked tmux again until the socket was announced');

  const gone = fakeTmux((sub) => (sub[0] === 'show-options' ? { stdout: join(dash.dir, 'gone.sock') } : undefined));
  const r2 = await dashboardRequest(gone.client, 'bottle', { action: 'agents' }, { waitMs: 200 });
  t.ok(isNotAnswering(r2));
  t.match(r2, { ok: false, error: /^bottle: the dashboard of tmux session bottle is not answering/ });
  t.notOk(isNotAnswering({ ok: false, error: 'bottle: no pending proposals' }));
});

t.test('runKey: in the cockpit the cockpit keys go to its dashboard; the message to the pressing client only', async (t) => {
  const dash = await recordingSocket(t, (line) => (line.includes('newest') ? '{"ok":false,"error":"no pending proposals"}\n' : '{"ok":true}\n'));
  const f = fakeTmux((sub) => {
    if (sub[0] === 'show-options' && sub.includes('@bottle-dash')) return { stdout: '%1' };
    if (sub[0] === 'show-options' && sub.includes('@bottle-ipc')) return { stdout: dash.path };
    return undefined;
  });
  const o = { self: ['/bin/bottle'], env: {}, cwd: '/' };
  t.same(await runKey(f.client, { action: 'new-agent', session: 'bottle', client: '/dev/pts/1' }, o), { ok: true, shownTo: 0 });
  t.same(await runKey(f.client, { action: 'newest-proposal', session: 'bottle', client: '/dev/pts/1' }, o), { ok: false, message: 'bottle: no pending proposals', shownTo: 1 });
  t.same(dash.requests, ['{"action":"new-agent"}', '{"action":"newest-proposal"}']);
  t.same(f.calls.at(-1), ['display-message', '-c', '/dev/pts/1', '-d', '4000', 'bottle: no pending proposals']);
});

t.test('runKey elsewhere: d switches the pressing client to the dashboard pane; ] says where it acts; failures are one line', async (t) => {
  const clients = ['5', '200', '50', '0', '/dev/pts/2', 'work'].join(SEP);
  const f = fakeTmux((sub) => {
    if (sub[0] === 'show-options' && sub.includes('@bottle-dash')) return { stdout: '' };
    if (sub[0] === 'show-options' && sub.includes('@bottle-keys-key')) return { stdout: 'B' };
    if (sub[0] === 'list-sessions') return { stdout: sessions(['work'], ['bottle', '%1', '/s.sock']) };
    if (sub[0] === 'list-panes') return { stdout: panes({ id: '%0', session: 'work' }, { id: '%1', session: 'bottle' }) };
    if (sub[0] === 'list-clients' && sub.includes(CLIENT_FORMAT)) return { stdout: clients };
    if (sub[0] === 'switch-client' && sub.includes('/dev/pts/9')) return { exitCode: 1 };
    return undefined;
  });
  const o = { self: ['/bin/bottle'], env: {}, cwd: '/' };
  t.same(await runKey(f.client, { action: 'focus-dashboard', session: 'work', client: '/dev/pts/2' }, o), { ok: true, shownTo: 0 });
  t.same(f.calls.at(-1), ['switch-client', '-c', '/dev/pts/2', '-t', '%1']);
  t.same(await runKey(f.client, { action: 'focus-dashboard', session: 'work' }, o), { ok: true, shownTo: 0 }, 'no --client: the one used last');
  t.same(f.calls.at(-1), ['switch-client', '-c', '/dev/pts/2', '-t', '%1']);

  t.same(await runKey(f.client, { action: 'next-agent', session: 'work', client: '/dev/pts/2' }, o),
    { ok: false, message: 'bottle: ] and [ act in the cockpit; prefix B d goes there', shownTo: 1 });
  const r = await runKey(f.client, { action: 'focus-dashboard', session: 'work', client: '/dev/pts/9' }, o);
  t.match(r, { ok: false, message: /^bottle: no tmux client \/dev\/pts\/9$/ }, 'an unknown client: one line, no stack');
});

t.test('attachCommand: bottle attach under the forwarded variables, kept open when it fails', async (t) => {
  const argv = attachCommand({ self: ['/bin/bottle'], env: { BOTTLE_STATE_DIR: '/s', GITHUB_TOKEN: 'x' } }, 'implementer-k3x7qa');
  t.same(argv.slice(0, 4), ['env', 'BOTTLE_STATE_DIR=/s', 'sh', '-c']);
  t.same(argv.slice(5), ['sh', '/bin/bottle', 'attach', 'implementer-k3x7qa']);
  t.notOk(argv.join(' ').includes('GITHUB_TOKEN'));
});

t.test('runKey elsewhere: n on a client without popups (tmux -C) switches it to the cockpit and opens the dashboard\'s picker; w switches to the pane the dashboard names; a with nothing running says so', async (t) => {
  const dash = await recordingSocket(t, (line) => (line.includes('show-waiting') ? '{"ok":true,"slug":"implementer-aaaaaa","pane":"%7"}\n' : '{"ok":true}\n'));
  const control = ['5', '200', '50', '1', '/dev/pts/2', 'work'].join(SEP);
  const f = fakeTmux((sub) => {
    if (sub[0] === 'show-options' && sub.includes('@bottle-dash')) return { stdout: sub.includes('=bottle:') ? '%1' : '' };
    if (sub[0] === 'show-options' && sub.includes('@bottle-ipc')) return { stdout: dash.path };
    if (sub[0] === 'list-sessions') return { stdout: sessions(['work'], ['bottle', '%1', dash.path]) };
    if (sub[0] === 'list-panes') return { stdout: panes({ id: '%0', session: 'work' }, { id: '%1', session: 'bottle' }) };
    if (sub[0] === 'list-clients') return { stdout: control };
    if (sub[0] === 'display-message' && sub.includes('-p')) return { stdout: '3.3a' };
    return undefined;
  });
  const o = { self: ['/bin/bottle'], env: { BOTTLE_STATE_DIR: join(dash.dir, 'no-state') }, cwd: '/' };
  t.same(await runKey(f.client, { action: 'new-agent', session: 'work', client: '/dev/pts/2' }, o), { ok: true, shownTo: 0 });
  t.notOk(f.calls.some((c) => c[0] === 'run-shell'), 'no popup');
  t.ok(f.calls.some((c) => c.join(' ') === 'switch-client -c /dev/pts/2 -t %1'));
  t.same(await runKey(f.client, { action: 'waiting-agent', session: 'work', client: '/dev/pts/2' }, o), { ok: true, shownTo: 0 });
  t.same(f.calls.at(-1), ['switch-client', '-c', '/dev/pts/2', '-t', '%7']);
  t.same(dash.requests, ['{"action":"new-agent"}', '{"action":"show-waiting"}']);
  t.same(await runKey(f.client, { action: 'attach-agent', session: 'work', client: '/dev/pts/2' }, o),
    { ok: false, message: 'bottle: no running agents to attach', shownTo: 1 });
});
