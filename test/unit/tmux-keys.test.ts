// The `bottle` key table: exact binding argv, quoting, the saved-binding logic, and the
// `bottle tmux key` IPC client — against a recording fake tmux and a real unix socket.
import { join } from 'node:path';
import t from 'tap';
import { run, type Runner } from '../../lib/run/index.js';
import { recordingSocket } from '../helpers/ipc.js';
import { TmuxClient } from '../../tmux/client.js';
import {
  COCKPIT_KEYS, formatKeyTable, installArgv, installKeys, isOurBinding, keyActionCommand, keyActionShell, NOT_RUNNING_MESSAGE,
  planSave, prefixBinding, runKeyAction, savedBindingOption, sendDashboardAction, sendDashboardRequest, tableBinding, tmuxQuote,
  UNBOUND_MARKER, uninstallKeys, withNote,
} from '../../tmux/keys.js';

const SELF = ['/usr/bin/node', '/home/u/my tools/bottle/dist/commands/main.js'];

t.test('tmuxQuote: single quotes, an embedded quote closed-escaped-reopened', async (t) => {
  t.equal(tmuxQuote('a b $HOME "x"'), `'a b $HOME "x"'`);
  t.equal(tmuxQuote(`it's`), `'it'\\''s'`);
});

t.test('the shell string run-shell gets: quoted argv, # doubled for format expansion, session, client, cwd via q:', async (t) => {
  const where = '--session=#{q:session_name} --client=#{q:client_name} --cwd=#{q:pane_current_path}';
  t.equal(
    keyActionShell(SELF, 'new-agent'),
    `/usr/bin/node '/home/u/my tools/bottle/dist/commands/main.js' tmux key new-agent ${where} || [ $? -eq 1 ]`,
  );
  // '#' in a path would start a format in run-shell's argument: doubled, then expanded back.
  t.equal(keyActionShell(['/opt/#1/node'], 'next-agent'), `/opt/\\##1/node tmux key next-agent ${where} || [ $? -eq 1 ]`);
});

t.test('the shell string absorbs exit 1 (already reported) and keeps other failures', async (t) => {
  // run-shell shows a non-zero exit in view mode over the user's pane: only for the unexpected.
  const status = async (code: number) => (await run(['sh', '-c', keyActionShell(['sh', '-c', `exit ${code}`, 'x'], 'new-agent')], { probe: true })).exitCode;
  t.equal(await status(0), 0);
  t.equal(await status(1), 0, 'exit 1: the CLI already showed the message');
  t.equal(await status(127), 1, 'node or bottle missing: tmux should show it');
});

t.test('exact binding argv', async (t) => {
  t.same(prefixBinding('b'), ['bind-key', '-N', 'bottle: keys (then d n p a w ] [)', '-T', 'prefix', 'b', 'switch-client', '-T', 'bottle']);
  const n = COCKPIT_KEYS.find((k) => k.key === 'n')!;
  // Every key runs in every session (no guard): the CLI decides what it means there.
  t.same(tableBinding(SELF, n), [
    'bind-key', '-N', 'bottle: start a new agent (picker; a popup outside the cockpit)', '-T', 'bottle', 'n',
    `run-shell -b '/usr/bin/node '\\''/home/u/my tools/bottle/dist/commands/main.js'\\'' tmux key new-agent `
      + `--session=#{q:session_name} --client=#{q:client_name} --cwd=#{q:pane_current_path} || [ $? -eq 1 ]'`,
  ]);
  // d runs the CLI first, then, in the cockpit, focuses the pane natively (window, then pane).
  t.equal(
    keyActionCommand(['/bin/bottle'], 'focus-dashboard'),
    `run-shell -b '/bin/bottle tmux key focus-dashboard --session=#{q:session_name} --client=#{q:client_name} --cwd=#{q:pane_current_path} || [ $? -eq 1 ]' ; `
      + `if-shell -F '#{@bottle-dash}' 'run-shell -C '\\''select-window -t #{@bottle-dash} ; select-pane -t #{@bottle-dash}'\\'''`,
  );
  t.same(COCKPIT_KEYS.map((k) => `${k.key}=${k.action}`), [
    'd=focus-dashboard', 'n=new-agent', 'p=newest-proposal', 'a=attach-agent', 'w=waiting-agent', ']=next-agent', '[=prev-agent',
  ]);
});

t.test('withNote: a saved binding keeps its note (list-keys leaves notes out)', async (t) => {
  t.equal(withNote('bind-key -T prefix b display-message hi', undefined), 'bind-key -T prefix b display-message hi');
  t.equal(withNote('bind-key -r -T prefix b display-message hi', `it's mine`), `bind-key -N 'it'\\''s mine' -r -T prefix b display-message hi`);
});

t.test('installArgv: one call; saves only when asked; no unbind -a in the list', async (t) => {
  const argv = installArgv(['/bin/bottle'], 'b', 'bind-key -T prefix b display-message hi');
  t.same(argv.slice(0, 10), [
    'set-option', '-s', '@bottle-saved-prefix-b', 'bind-key -T prefix b display-message hi', ';',
    'set-option', '-s', '@bottle-keys-key', 'b', ';',
  ]);
  // Regression: `unbind -a -q -T bottle` on a missing table silently aborted the rest of the list.
  t.notOk(argv.includes('unbind-key'), 'the table is dropped by a separate call');
  t.equal(argv.filter((x) => x === 'bind-key').length, 1 + COCKPIT_KEYS.length);
  t.notOk(installArgv(['/bin/bottle'], 'b', undefined).includes('@bottle-saved-prefix-b'));
});

t.test('saved-binding option names survive any key name', async (t) => {
  t.equal(savedBindingOption('b'), '@bottle-saved-prefix-b');
  t.equal(savedBindingOption('C-b'), '@bottle-saved-prefix-C-b');
  t.equal(savedBindingOption(']'), '@bottle-saved-prefix-_5d');
});

t.test('planSave: save once, never our own binding', async (t) => {
  const user = 'bind-key -T prefix b display-message hello';
  const ours = 'bind-key -T prefix b switch-client -T bottle';
  t.ok(isOurBinding(ours));
  t.notOk(isOurBinding(user));
  t.notOk(isOurBinding('bind-key -T prefix b switch-client -T bottle-other'));
  t.notOk(isOurBinding(undefined));
  t.equal(planSave(user, undefined), user, 'first install saves the user binding');
  t.equal(planSave(undefined, undefined), UNBOUND_MARKER, 'an unbound key is recorded as such');
  t.equal(planSave(ours, user), undefined, 'second install keeps the first save');
  t.equal(planSave(ours, undefined), UNBOUND_MARKER, 'ours without a saved copy: the original is unknown');
  t.match(UNBOUND_MARKER, /^#/, 'the marker is a config comment: sourcing it does nothing');
});

// A fake tmux server for the install/uninstall logic: bindings and server options in maps.
function fakeServer(init: { prefix?: Record<string, string>; options?: Record<string, string> } = {}) {
  const prefix: Record<string, string> = { ...init.prefix };
  const options: Record<string, string> = { ...init.options };
  const calls: string[][] = [];
  const run: Runner = async (argv, opts) => {
    const sub = argv.slice(1);
    calls.push(sub);
    let stdout = '';
    let exitCode = 0;
    const cmds: string[][] = [[]];
    for (const x of sub) x === ';' ? cmds.push([]) : cmds.at(-1)!.push(x);
    for (const c of cmds) {
      if (c[0] === 'list-keys' && c.includes('-N')) {
        exitCode = 1; // no notes here: tmux says "unknown key"
      } else if (c[0] === 'list-keys') {
        const b = prefix[c.at(-1)!];
        if (b === undefined) exitCode = 1; else stdout = b;
      } else if (c[0] === 'show-options') stdout = options[c.at(-1)!] ?? '';
      else if (c[0] === 'set-option' && c.includes('-u')) delete options[c.at(-1)!];
      else if (c[0] === 'set-option') options[c[2]!] = c[3]!;
      else if (c[0] === 'bind-key' && c.includes('prefix')) prefix[c[c.indexOf('prefix') + 1]!] = `bind-key -T prefix ${c[c.indexOf('prefix') + 1]} ${c.slice(c.indexOf('prefix') + 2).join(' ')}`;
      else if (c[0] === 'unbind-key' && c.includes('prefix')) delete prefix[c.at(-1)!];
      else if (c[0] === 'source-file') {
        const m = /^bind-key -T prefix (\S+)/.exec(opts?.input ?? '');
        if (m) prefix[m[1]!] = opts!.input!.trim();
      }
    }
    return { argv: [...argv], exitCode, stdout, stderr: '', durationMs: 0, failed: exitCode !== 0, timedOut: false };
  };
  return { client: new TmuxClient({ run }), prefix, options, calls };
}

t.test('install twice, uninstall: the user binding comes back and the options are gone', async (t) => {
  const user = 'bind-key -T prefix b display-message hello';
  const f = fakeServer({ prefix: { b: user } });
  const r1 = await installKeys(f.client, ['/bin/bottle']);
  t.same(r1, { key: 'b', saved: user, already: false });
  t.ok(isOurBinding(f.prefix.b));
  const r2 = await installKeys(f.client, ['/bin/bottle']);
  t.same(r2, { key: 'b', saved: user, already: true }, 'the second install still reports the first save, and that it was there');
  t.equal(f.options['@bottle-saved-prefix-b'], user, 'not overwritten with our own binding');
  const u = await uninstallKeys(f.client);
  t.same(u, { key: 'b', restored: user });
  t.equal(f.prefix.b, user);
  t.same(f.options, {}, 'saved copy and installed key forgotten');
  t.ok(f.calls.some((c) => c.join(' ') === 'unbind-key -a -q -T bottle'));
});

t.test('moving the install to another key restores the old one first', async (t) => {
  const f = fakeServer();
  await installKeys(f.client, ['/bin/bottle'], 'b');
  const r = await installKeys(f.client, ['/bin/bottle'], 'B');
  t.equal(r.movedFrom, 'b');
  t.equal(f.prefix.b, undefined, 'prefix b unbound again');
  t.ok(isOurBinding(f.prefix.B));
  t.equal(f.options['@bottle-keys-key'], 'B');
  t.equal(f.options['@bottle-saved-prefix-b'], undefined);
});

t.test('uninstall leaves a binding the user made after install alone', async (t) => {
  const f = fakeServer();
  await installKeys(f.client, ['/bin/bottle']);
  f.prefix.b = 'bind-key -T prefix b display-message mine-now';
  const u = await uninstallKeys(f.client);
  t.equal(u.keptForeign, 'bind-key -T prefix b display-message mine-now');
  t.equal(f.prefix.b, 'bind-key -T prefix b display-message mine-now');
  t.same(f.options, {});
});

t.test('formatKeyTable lists every key and says server-wide', async (t) => {
  const s = formatKeyTable('b');
  t.match(s, /server-wide/);
  for (const k of COCKPIT_KEYS) t.match(s, `prefix b ${k.key}`);
});

t.test('sendDashboardAction: one JSON line each way', async (t) => {
  const srv = await recordingSocket(t, (line) => (line.includes('newest-proposal') ? '{"ok":false,"error":"no pending proposals"}\n' : '{"ok":true}\n'));
  t.same(await sendDashboardAction(srv.path, 'new-agent'), { ok: true });
  t.same(await sendDashboardAction(srv.path, 'newest-proposal'), { ok: false, error: 'bottle: no pending proposals' });
  t.same(srv.requests, ['{"action":"new-agent"}', '{"action":"newest-proposal"}']);
});

t.test('sendDashboardAction: nobody listening, silence, garbage', async (t) => {
  const srv = await recordingSocket(t, (line) => (line.includes('prev') ? 'not json\n' : line.includes('next') ? undefined : ''));
  t.same(await sendDashboardAction(join(srv.dir, 'gone.sock'), 'new-agent'), { ok: false, error: NOT_RUNNING_MESSAGE });
  const slow = await sendDashboardAction(srv.path, 'focus-dashboard', 200);
  t.match(slow, { ok: false, error: /did not answer within 200 ms/ });
  t.match(await sendDashboardAction(srv.path, 'next-agent'), { ok: false, error: /closed the connection/ });
  t.match(await sendDashboardAction(srv.path, 'prev-agent'), { ok: false, error: /unexpected reply.*not json/ });
});

t.test('runKeyAction: no @bottle-ipc → the message goes to every client of the session', async (t) => {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push(sub);
    const stdout = sub[0] === 'list-clients' ? '/dev/pts/3\n/dev/pts/4' : '';
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', durationMs: 0, failed: false, timedOut: false };
  };
  const r = await runKeyAction(new TmuxClient({ run }), 'bottle', 'new-agent');
  t.same(r, { ok: false, message: NOT_RUNNING_MESSAGE, shownTo: 2 });
  t.same(calls, [
    ['show-options', '-t', '=bottle:', '-v', '-q', '@bottle-ipc'],
    ['list-clients', '-F', '#{client_name}', '-t', '=bottle'],
    ['display-message', '-c', '/dev/pts/3', '-d', '4000', NOT_RUNNING_MESSAGE],
    ['display-message', '-c', '/dev/pts/4', '-d', '4000', NOT_RUNNING_MESSAGE],
  ]);
});

t.test('runKeyAction: a live dashboard answers and nothing is displayed', async (t) => {
  const ipc = await recordingSocket(t, () => '{"ok":true}\n');
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push(argv.slice(1));
    const stdout = argv[1] === 'show-options' ? ipc.path : '';
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', durationMs: 0, failed: false, timedOut: false };
  };
  t.same(await runKeyAction(new TmuxClient({ run }), 'bottle', 'prev-agent'), { ok: true, shownTo: 0 });
  t.same(ipc.requests, ['{"action":"prev-agent"}']);
  t.equal(calls.length, 1, 'one tmux call on the happy path');
});

t.test('runKeyAction with the pressing client: the message goes to that client only', async (t) => {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push(argv.slice(1));
    return { argv: [...argv], exitCode: 0, stdout: '', stderr: '', durationMs: 0, failed: false, timedOut: false };
  };
  t.same(await runKeyAction(new TmuxClient({ run }), 'bottle', 'new-agent', undefined, '/dev/pts/9'), { ok: false, message: NOT_RUNNING_MESSAGE, shownTo: 1 });
  t.same(calls.slice(1), [['display-message', '-c', '/dev/pts/9', '-d', '4000', NOT_RUNNING_MESSAGE]], 'no list-clients');
});

t.test('sendDashboardRequest: the argument goes out, typed data comes back, anything else is dropped', async (t) => {
  const srv = await recordingSocket(t, () => `${JSON.stringify({
    ok: true, agents: ['a', 'b'], bottles: [{ slug: 'a-x', agent: 'a', state: 'running', extra: 1 }, { slug: 3 }],
    lines: ['l1'], blocked: 'no', slug: 's', pane: '%3', junk: { x: 1 }, agentsWrong: [1],
  })}\n`);
  const r = await sendDashboardRequest(srv.path, { action: 'plan', agent: 'implementer' });
  t.same(r, { ok: true, agents: ['a', 'b'], bottles: [{ slug: 'a-x', agent: 'a', state: 'running' }], lines: ['l1'], blocked: 'no', slug: 's', pane: '%3' });
  t.same(srv.requests, ['{"action":"plan","agent":"implementer"}']);
});
