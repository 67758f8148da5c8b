import t from 'tap';
import * as a from '../../tmux/argv.js';
import {
  CLIENT_FORMAT, labelValue, mostRecentClient, PANE_BORDER_FORMAT, PANE_FORMAT, parseClients, parsePaneIds, parsePanes, SEP,
} from '../../tmux/format.js';

t.test('escapeArg: a trailing ";" would end the tmux command', async (t) => {
  t.equal(a.escapeArg('plain'), 'plain');
  t.equal(a.escapeArg('a;'), 'a\\;');
  t.equal(a.escapeArg(';'), '\\;');
  // tmux turns a trailing '\;' into ';', so an intended backslash needs one more.
  t.equal(a.escapeArg('x\\;'), 'x\\\\;');
  t.equal(a.escapeArg('a;b'), 'a;b');
});

t.test('shellCommand quotes argv with shell-quote', async (t) => {
  t.equal(a.shellCommand(['tail', '-F', '/state/my bottle/bringup.log']), "tail -F '/state/my bottle/bringup.log'");
  t.equal(a.shellCommand(['sh', '-c', 'echo "hi"; exit 3']), `sh -c 'echo "hi"; exit 3'`);
  t.equal(a.shellCommand(['echo', "it's", '$HOME']), `echo "it's" \\$HOME`);
  t.throws(() => a.shellCommand([]));
});

t.test('new-session', async (t) => {
  t.same(a.newSession({ name: 'bottle' }), ['new-session', '-d', '-s', 'bottle', '-P', '-F', '#{pane_id}']);
  t.same(
    a.newSession({ name: 'bottle', windowName: 'cockpit', width: 200, height: 50, cwd: '/w', env: { A: '1', B: 'x y' }, command: ['bottle', 'dashboard', '--x', 'a b'] }),
    ['new-session', '-d', '-s', 'bottle', '-n', 'cockpit', '-x', '200', '-y', '50', '-c', '/w', '-e', 'A=1', '-e', 'B=x y',
      '-P', '-F', '#{pane_id}', "bottle dashboard --x 'a b'"],
  );
  t.throws(() => a.newSession({ name: 'a.b' }), /invalid session name/);
  t.throws(() => a.newSession({ name: 'a:b' }), /invalid session name/);
});

t.test('session targets are exact', async (t) => {
  t.same(a.hasSession('bottle'), ['has-session', '-t', '=bottle']);
  t.same(a.attachSession({ session: 'bottle' }), ['attach-session', '-t', '=bottle']);
  t.same(a.attachSession({ session: 'bottle', detachOthers: true }), ['attach-session', '-d', '-t', '=bottle']);
  t.same(a.killSession('bottle'), ['kill-session', '-t', '=bottle']);
  t.equal(a.exactSessionPane('bottle'), '=bottle:');
});

t.test('switch-client', async (t) => {
  t.same(a.switchClient({ target: '%3' }), ['switch-client', '-t', '%3']);
  t.same(a.switchClient({ table: 'bottle' }), ['switch-client', '-T', 'bottle']);
  t.same(a.switchClient({ client: '/dev/pts/3', target: '%0', table: 'bottle' }), ['switch-client', '-c', '/dev/pts/3', '-t', '%0', '-T', 'bottle']);
});

t.test('split-window', async (t) => {
  t.same(
    a.splitWindow({ target: '%0', percent: 60, command: ['docker', 'exec', '-it', 'c', 'claude', '--append-system-prompt', "it's \"quoted\""] }),
    ['split-window', '-h', '-d', '-l', '60%', '-P', '-F', '#{pane_id}', '-t', '%0',
      'docker exec -it c claude --append-system-prompt "it\'s \\"quoted\\""'],
  );
  t.same(
    a.splitWindow({ target: '%2', horizontal: false, detached: false, cwd: '/w', env: { K: 'v' } }),
    ['split-window', '-v', '-c', '/w', '-e', 'K=v', '-P', '-F', '#{pane_id}', '-t', '%2'],
  );
});

t.test('respawn-pane', async (t) => {
  t.same(a.respawnPane({ target: '%4', command: ['tail', '-F', 'a b.log'] }), ['respawn-pane', '-k', '-t', '%4', "tail -F 'a b.log'"]);
  t.same(a.respawnPane({ target: '%4', kill: false }), ['respawn-pane', '-t', '%4']);
  t.same(a.respawnPane({ target: '%4', cwd: '/w', env: { A: 'b' }, command: ['true'] }), ['respawn-pane', '-k', '-c', '/w', '-e', 'A=b', '-t', '%4', 'true']);
  // shell-quote escapes ';' as '\;', which tmux would unescape to ';' (and run `echo x` twice-over).
  t.same(a.respawnPane({ target: '%4', command: ['echo', 'x;'] }), ['respawn-pane', '-k', '-t', '%4', 'echo x\\\\;']);
});

t.test('list-panes and its parser', async (t) => {
  t.same(a.listPanes({ format: '#{pane_id}' }), ['list-panes', '-a', '-F', '#{pane_id}']);
  t.same(a.listPanes({ format: '#{pane_id}', target: '=s:' }), ['list-panes', '-t', '=s:', '-F', '#{pane_id}']);
  t.equal(PANE_FORMAT.split(SEP).length, 10);
  t.match(PANE_FORMAT, /^#\{pane_id\}\x1f#\{session_name\}/);
  const out = [
    ['%0', 'bottle', '@0', '0', '0', '0', '', '1', '123', ''].join(SEP),
    ['%5', 'bottle', '@0', '0', '1', '1', '3', '0', '456', `agent${SEP}odd`].join(SEP),
    '',
  ].join('\n');
  t.same(parsePanes(out), [
    { paneId: '%0', session: 'bottle', windowId: '@0', windowIndex: 0, paneIndex: 0, dead: false, active: true, pid: 123 },
    { paneId: '%5', session: 'bottle', windowId: '@0', windowIndex: 0, paneIndex: 1, dead: true, deadStatus: 3, active: false, pid: 456, label: `agent${SEP}odd` },
  ]);
  t.same(parsePanes(''), []);
  t.throws(() => parsePanes('%0 bottle'), /unexpected line/);
  t.same(parsePaneIds('%0\n%12\n'), ['%0', '%12']);
});

t.test('pane commands', async (t) => {
  t.same(a.selectPane('%1'), ['select-pane', '-t', '%1']);
  t.same(a.killPane('%1'), ['kill-pane', '-t', '%1']);
  t.same(a.killServer(), ['kill-server']);
  t.same(a.sendKeys({ target: '%1', keys: ['j', 'Enter'] }), ['send-keys', '-t', '%1', 'j', 'Enter']);
  t.same(a.sendKeys({ target: '%1', keys: ['a;'], literal: true }), ['send-keys', '-l', '-t', '%1', 'a\\;']);
});

t.test('display-message', async (t) => {
  t.same(a.displayQuery('#{version}'), ['display-message', '-p', '#{version}']);
  t.same(a.displayQuery('#{pane_active}', '%3'), ['display-message', '-p', '-t', '%3', '#{pane_active}']);
  t.same(a.displayMessage({ client: '/dev/pts/1', text: 'bottle: proposal #2;', durationMs: 3000 }),
    ['display-message', '-c', '/dev/pts/1', '-d', '3000', 'bottle: proposal ##2\\;']);
  t.same(a.displayMessage({ client: 'c', text: 'hi' }), ['display-message', '-c', 'c', 'hi']);
});

t.test('options in every scope', async (t) => {
  t.same(a.setOption({ scope: 'pane', target: '%1', name: '@bottle_label', value: 'agent a' }),
    ['set-option', '-p', '-t', '%1', '@bottle_label', 'agent a']);
  t.same(a.setOption({ scope: 'window', target: '%0', name: 'pane-border-status', value: 'top' }),
    ['set-option', '-w', '-t', '%0', 'pane-border-status', 'top']);
  t.same(a.setOption({ scope: 'session', target: '=bottle:', name: '@bottle-dash', value: '%0' }),
    ['set-option', '-t', '=bottle:', '@bottle-dash', '%0']);
  t.same(a.setOption({ scope: 'server', target: 'ignored', name: '@saved', value: 'bind x y' }),
    ['set-option', '-s', '@saved', 'bind x y']);
  t.same(a.setOption({ scope: 'session', global: true, name: 'assume-paste-time', value: '0' }),
    ['set-option', '-g', 'assume-paste-time', '0']);
  t.same(a.setOption({ scope: 'session', global: true, name: 'status-right', value: 'x', append: true, onlyIfUnset: true }),
    ['set-option', '-g', '-a', '-o', 'status-right', 'x']);
  t.same(a.unsetOption({ scope: 'pane', target: '%1', name: '@bottle_label' }), ['set-option', '-p', '-t', '%1', '-u', '@bottle_label']);
  t.same(a.unsetOption({ scope: 'server', name: '@saved' }), ['set-option', '-s', '-u', '@saved']);
  t.same(a.showOptions({ scope: 'window', target: '%0', name: '@bottle-right' }), ['show-options', '-w', '-t', '%0', '-v', '-q', '@bottle-right']);
  t.same(a.showOptions({ scope: 'server', name: '@saved', quiet: false }), ['show-options', '-s', '-v', '@saved']);
  t.same(a.showOptions({ scope: 'session', global: true }), ['show-options', '-g', '-q']);
});

t.test('hooks', async (t) => {
  t.same(a.setHook({ scope: 'pane', target: '%1', hook: 'pane-died', command: 'run-shell "bottle notify #{hook_pane}"' }),
    ['set-hook', '-p', '-t', '%1', 'pane-died', 'run-shell "bottle notify #{hook_pane}"']);
  t.same(a.setHook({ scope: 'global', target: 'x', hook: 'alert-bell', command: 'display hi', append: true }),
    ['set-hook', '-g', '-a', 'alert-bell', 'display hi']);
  t.same(a.setHook({ scope: 'session', target: '=bottle:', hook: 'client-attached', command: 'x' }),
    ['set-hook', '-t', '=bottle:', 'client-attached', 'x']);
  t.same(a.unsetHook({ scope: 'window', target: '%0', hook: 'pane-exited' }), ['set-hook', '-w', '-t', '%0', '-u', 'pane-exited']);
});

t.test('key bindings', async (t) => {
  t.same(a.bindKey({ key: 'b', note: 'bottle: keys', command: ['switch-client', '-T', 'bottle'] }),
    ['bind-key', '-N', 'bottle: keys', '-T', 'prefix', 'b', 'switch-client', '-T', 'bottle']);
  t.same(a.bindKey({ table: 'bottle', key: 'd', command: ['if-shell', '-F', '#{@bottle-dash}', 'run-shell -C "select-pane -t #{@bottle-dash}"', 'display "bottle: not a bottle session"'] }),
    ['bind-key', '-T', 'bottle', 'd', 'if-shell', '-F', '#{@bottle-dash}', 'run-shell -C "select-pane -t #{@bottle-dash}"', 'display "bottle: not a bottle session"']);
  // A ';' in a binding's command list reaches bind-key as ';' only when escaped.
  t.same(a.bindKey({ table: 'bottle', key: ']', repeat: true, command: ['display', 'a', ';', 'display', 'b'] }),
    ['bind-key', '-r', '-T', 'bottle', ']', 'display', 'a', '\\;', 'display', 'b']);
  t.same(a.unbindKey({ key: 'b' }), ['unbind-key', '-q', '-T', 'prefix', 'b']);
  t.same(a.unbindKey({ table: 'bottle', key: ';' }), ['unbind-key', '-q', '-T', 'bottle', '\\;']);
  t.same(a.unbindAll('bottle'), ['unbind-key', '-a', '-q', '-T', 'bottle']);
  t.same(a.listKeys({ table: 'prefix', key: 'b' }), ['list-keys', '-T', 'prefix', 'b']);
  t.same(a.listKeys(), ['list-keys']);
});

t.test('clients, files, capture, wait-for, version, chain', async (t) => {
  t.same(a.listClients({ session: 'bottle' }), ['list-clients', '-F', '#{client_name}', '-t', '=bottle']);
  t.same(a.listClients({ format: '#{client_tty}' }), ['list-clients', '-F', '#{client_tty}']);
  t.same(a.sourceFile('-'), ['source-file', '-']);
  t.same(a.sourceFile('/x/keys.conf', { quiet: true }), ['source-file', '-q', '/x/keys.conf']);
  t.same(a.capturePane({ target: '%1' }), ['capture-pane', '-p', '-J', '-t', '%1']);
  t.same(a.capturePane({ target: '%1', escapes: true, join: false, start: '-', end: 10 }), ['capture-pane', '-p', '-e', '-S', '-', '-E', '10', '-t', '%1']);
  t.same(a.waitFor('done'), ['wait-for', 'done']);
  t.same(a.waitFor('done', 'signal'), ['wait-for', '-S', 'done']);
  t.same(a.version(), ['-V']);
  t.same(a.chain(a.selectPane('%1'), a.killPane('%2')), ['select-pane', '-t', '%1', ';', 'kill-pane', '-t', '%2']);
  t.same(a.chain(), []);
});

t.test('list-sessions, new-window in a session (exact), list-keys -N', async (t) => {
  t.same(a.listSessions({ format: '#{session_name}' }), ['list-sessions', '-F', '#{session_name}']);
  t.same(a.newWindow({ session: 'work', name: 'implementer-k3x7qa', command: ['bottle', 'attach', 'implementer-k3x7qa'] }),
    ['new-window', '-t', '=work:', '-n', 'implementer-k3x7qa', '-P', '-F', '#{pane_id}', 'bottle attach implementer-k3x7qa']);
  t.same(a.newWindow({ session: 'w', name: 'x;', command: ['true'], cwd: '/d', detached: true }),
    ['new-window', '-d', '-t', '=w:', '-n', 'x\\;', '-c', '/d', '-P', '-F', '#{pane_id}', 'true']);
  t.same(a.listKeys({ table: 'prefix', key: 'b', notes: true }), ['list-keys', '-N', '-T', 'prefix', 'b']);
});

t.test('pane labels are stored border-safe', async (t) => {
  t.equal(PANE_BORDER_FORMAT, ' #{?#{@bottle_label},#{@bottle_label},#{pane_title}} ');
  t.equal(labelValue('agent foo'), 'agent foo');
  t.equal(labelValue('#[fg=red] #1'), '##[fg=red] ##1');
  t.equal(labelValue('two\nlines\x1f'), 'two lines ');
});

t.test('display-popup, and run-shell -b that sends it without waiting for the popup to close', async (t) => {
  t.same(a.displayPopup({ client: '/dev/pts/3', command: ['bottle', 'proposals', 'decide', 'a b'], width: 96, height: 20 }),
    ['display-popup', '-c', '/dev/pts/3', '-E', '-w', '96', '-h', '20', "bottle proposals decide 'a b'"]);
  t.same(a.displayPopup({ client: 'c', command: ['x'], width: 10, height: 5, title: ' #1 ' }),
    ['display-popup', '-c', 'c', '-E', '-w', '10', '-h', '5', '-T', ' ##1 ', 'x'], 'the title is a format: # doubled');
  t.same(a.runShellBackground(['tmux', 'display-popup', '-T', '##1', 'x;']),
    ['run-shell', '-b', 'tmux display-popup -T \\##\\##1 x\\; >/dev/null 2>&1 || true'], 'run-shell expands formats once more: ## is one #, and \\# one to sh');
});

t.test('list-clients with activity, and the most recently active client', async (t) => {
  t.same(a.listClients({ format: CLIENT_FORMAT }), ['list-clients', '-F', CLIENT_FORMAT]);
  const line = (activity: number, name: string, session: string, control = '0', w = 120, h = 40) => [activity, w, h, control, name, session].join(SEP);
  const clients = parseClients([line(100, '/dev/pts/1', 'bottle'), line(105, '/dev/pts/2', 'work'), line(109, 'cc', 'ops', '1'), ''].join('\n'));
  t.same(clients[1], { name: '/dev/pts/2', activity: 105, session: 'work', width: 120, height: 40, control: false });
  t.equal(mostRecentClient(clients)?.name, '/dev/pts/2', 'the latest activity; a control-mode client never');
  t.equal(mostRecentClient(parseClients([line(100, '/dev/pts/1', 'bottle'), line(100, '/dev/pts/2', 'work')].join('\n')), 'bottle')?.name, '/dev/pts/2',
    'a tie (activity is in whole seconds) goes to the client outside the dashboard session');
  t.equal(mostRecentClient(parseClients([line(100, '/dev/pts/2', 'work'), line(100, '/dev/pts/1', 'bottle')].join('\n')), 'bottle')?.name, '/dev/pts/2');
  t.equal(mostRecentClient([]), undefined);
  t.throws(() => parseClients('garbage'), /unexpected line/);
});
