import t from 'tap';
import { BinaryNotFoundError, CommandError } from '../../lib/errors.js';
import type { RunOptions, RunResult, Runner } from '../../lib/run/index.js';
import { SEP } from '../../tmux/format.js';
import { TMUX_INSTALL_HINT, TmuxClient, TmuxError } from '../../tmux/client.js';

interface Call { argv: string[]; opts: RunOptions | undefined }
type Reply = Partial<Pick<RunResult, 'exitCode' | 'stdout' | 'stderr'>>;

// A Runner that records argv and answers from `reply` (default: exit 0, no output).
function fakeRunner(reply: (argv: string[]) => Reply = () => ({})): { run: Runner; calls: Call[] } {
  const calls: Call[] = [];
  const run: Runner = async (argv, opts) => {
    calls.push({ argv: [...argv], opts });
    const r = reply([...argv]);
    const exitCode = r.exitCode ?? 0;
    return { argv: [...argv], exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '', durationMs: 1, failed: exitCode !== 0, timedOut: false };
  };
  return { run, calls };
}

t.test('prepends binary, socket and config to every call', async (t) => {
  const f = fakeRunner();
  await new TmuxClient({ run: f.run }).selectPane('%1');
  await new TmuxClient({ run: f.run, socket: { name: 'bottle-test-x' }, configFile: '/dev/null' }).selectPane('%1');
  await new TmuxClient({ run: f.run, socket: { path: '/run/t.sock' }, binary: '/opt/tmux' }).killPane('%2');
  t.same(f.calls.map((c) => c.argv), [
    ['tmux', 'select-pane', '-t', '%1'],
    ['tmux', '-L', 'bottle-test-x', '-f', '/dev/null', 'select-pane', '-t', '%1'],
    ['/opt/tmux', '-S', '/run/t.sock', 'kill-pane', '-t', '%2'],
  ]);
});

t.test('passes env, install hint, timeout; runs as a probe and decides itself', async (t) => {
  const f = fakeRunner();
  const env = { TMUX: undefined, TMUX_TMPDIR: '/tmp/x' };
  await new TmuxClient({ run: f.run, env, timeoutMs: 1234 }).killServer();
  t.same(f.calls[0]?.opts, { probe: true, installHint: TMUX_INSTALL_HINT, timeoutMs: 1234, env });
  t.match(TMUX_INSTALL_HINT, /apt-get install tmux/);
  t.match(TMUX_INSTALL_HINT, /brew install tmux/);
});

t.test('failures become TmuxError with argv, exit code and stderr', async (t) => {
  const f = fakeRunner(() => ({ exitCode: 1, stderr: "can't find pane: %9" }));
  const err = await new TmuxClient({ run: f.run, socket: { name: 's' } }).selectPane('%9').catch((e: unknown) => e);
  t.type(err, TmuxError);
  t.type(err, CommandError);
  const te = err as TmuxError;
  t.same(te.argv, ['tmux', '-L', 's', 'select-pane', '-t', '%9']);
  t.equal(te.exitCode, 1);
  t.equal(te.stderr, "can't find pane: %9");
  t.match(te.message, /select-pane -t %9: exited 1: can't find pane: %9/);
});

t.test('probes decide on the exit code and never throw for it', async (t) => {
  const up = fakeRunner(() => ({ exitCode: 0 }));
  const down = fakeRunner(() => ({ exitCode: 1, stderr: 'no server running on /tmp/tmux-0/default' }));
  t.equal(await new TmuxClient({ run: up.run }).hasSession('bottle'), true);
  t.equal(await new TmuxClient({ run: down.run }).hasSession('bottle'), false);
  t.same(up.calls[0]?.argv, ['tmux', 'has-session', '-t', '=bottle']);
  t.equal(await new TmuxClient({ run: down.run }).paneExists('%1'), false);
  t.same(await new TmuxClient({ run: down.run }).listPanes(), []);
  t.same(await new TmuxClient({ run: down.run }).listClients('bottle'), []);
  t.equal(await new TmuxClient({ run: down.run }).showOption({ scope: 'window', target: '%0', name: '@x' }), undefined);
});

t.test('a missing binary surfaces as BinaryNotFoundError, also from probes', async (t) => {
  const run: Runner = async (argv, opts) => { throw new BinaryNotFoundError(argv[0] ?? '', argv, opts?.installHint); };
  const err = await new TmuxClient({ run }).hasSession('bottle').catch((e: unknown) => e);
  t.type(err, BinaryNotFoundError);
  t.match((err as Error).message, /^tmux: command not found; install tmux \(apt-get install tmux/);
});

t.test('paneExists asks list-panes -a, never display -p', async (t) => {
  const f = fakeRunner(() => ({ stdout: '%0\n%3' }));
  const c = new TmuxClient({ run: f.run });
  t.equal(await c.paneExists('%3'), true);
  t.equal(await c.paneExists('%4'), false);
  t.equal(await c.paneExists('%'), false);
  for (const call of f.calls) t.same(call.argv, ['tmux', 'list-panes', '-a', '-F', '#{pane_id}']);
});

t.test('methods return new objects by id and parse machine output', async (t) => {
  const f = fakeRunner((argv) => {
    if (argv.includes('split-window') || argv.includes('new-session')) return { stdout: '%7' };
    if (argv.includes('list-panes')) return { stdout: ['%0', 's', '@1', '0', '0', '0', '', '1', '10', ''].join(SEP) };
    if (argv.includes('-V')) return { stdout: 'tmux 3.3a' };
    if (argv.includes('#{version}')) return { stdout: '3.2a' };
    if (argv.includes('list-clients')) return { stdout: '/dev/pts/1\n/dev/pts/2' };
    if (argv.includes('show-options')) return { stdout: '%7' };
    return {};
  });
  const c = new TmuxClient({ run: f.run });
  t.equal(await c.split({ target: '%0', percent: 60, command: ['true'] }), '%7');
  t.equal(await c.newSession({ name: 's' }), '%7');
  t.same((await c.listPanes())[0], { paneId: '%0', session: 's', windowId: '@1', windowIndex: 0, paneIndex: 0, dead: false, active: true, pid: 10 });
  t.same(await c.listClients('s'), ['/dev/pts/1', '/dev/pts/2']);
  t.equal((await c.binaryVersion()).raw, 'tmux 3.3a');
  t.same(await c.serverVersion(), { major: 3, minor: 2, patch: 'a', channel: 'release', raw: '3.2a' });
  t.equal(await c.showOption({ scope: 'window', target: '%0', name: '@bottle-right' }), '%7');
  await c.message('/dev/pts/1', '#1 new', 3000);
  t.same(f.calls.map((x) => x.argv.slice(1)), [
    ['split-window', '-h', '-d', '-l', '60%', '-P', '-F', '#{pane_id}', '-t', '%0', 'true'],
    ['new-session', '-d', '-s', 's', '-P', '-F', '#{pane_id}'],
    ['list-panes', '-a', '-F', f.calls[2]?.argv[4] ?? ''],
    ['list-clients', '-F', '#{client_name}', '-t', '=s'],
    ['-V'],
    ['display-message', '-p', '#{version}'],
    ['show-options', '-w', '-t', '%0', '-v', '-q', '@bottle-right'],
    ['display-message', '-c', '/dev/pts/1', '-d', '3000', '##1 new'],
  ]);
});

t.test('split rejects output that is not a pane id', async (t) => {
  const f = fakeRunner(() => ({ stdout: 'bottle:0.1' }));
  await t.rejects(new TmuxClient({ run: f.run }).split({ target: '%0' }), TmuxError);
});

t.test('clients of every session; a popup is sent from a server job so the call returns at once', async (t) => {
  const f = fakeRunner((argv) => (argv.includes('list-clients') ? { stdout: ['1700000000', '120', '40', '0', '/dev/pts/3', 'work'].join(SEP) } : {}));
  const c = new TmuxClient({ run: f.run, socket: { name: 'bottle-test-x' }, configFile: '/dev/null' });
  t.same(await c.clients(), [{ name: '/dev/pts/3', activity: 1700000000, session: 'work', width: 120, height: 40, control: false }]);
  await c.popup({ client: '/dev/pts/3', command: ['bottle', 'proposals', 'decide', 'X'], width: 96, height: 20 });
  t.same(f.calls[1]?.argv, [
    'tmux', '-L', 'bottle-test-x', '-f', '/dev/null', 'run-shell', '-b',
    "tmux -L bottle-test-x -f /dev/null display-popup -c /dev/pts/3 -E -w 96 -h 20 'bottle proposals decide X' >/dev/null 2>&1 || true",
  ]);
  const down = fakeRunner(() => ({ exitCode: 1, stderr: 'no server running' }));
  t.same(await new TmuxClient({ run: down.run }).clients(), []);
});
