// The `bottle tmux` launcher's decisions as exact argv, and its execution against a recording
// fake tmux; plus the version gate through the CLI with a fake runner.
import t from 'tap';
import { runCli } from '../../commands/cli.js';
import type { Ctx } from '../../lib/cli.js';
import type { RunResult, Runner } from '../../lib/run/index.js';
import { TmuxClient } from '../../tmux/client.js';
import { PANE_BORDER_FORMAT } from '../../tmux/format.js';
import {
  dashboardCommand, decorateDashboard, forwardedEnv, insideTmuxServer, launchSession, planTmuxSession, type PlanOptions,
} from '../../tmux/session.js';

const OPTS: PlanOptions = {
  session: 'bottle',
  dashboard: ['/usr/bin/node', '/opt/my bottle/dist/commands/main.js', 'dashboard'],
  cwd: '/work/proj',
  width: 200,
  height: 50,
  env: { BOTTLE_STATE_DIR: '/s' },
  attach: true,
};

const NEW_SESSION = [
  'new-session', '-d', '-s', 'bottle', '-n', 'bottle', '-x', '200', '-y', '50', '-c', '/work/proj',
  '-e', 'BOTTLE_STATE_DIR=/s', '-P', '-F', '#{pane_id}',
  `/usr/bin/node '/opt/my bottle/dist/commands/main.js' dashboard`,
];

t.test('no session: create, then attach (outside tmux) or switch (inside)', async (t) => {
  const gone = { exists: false, dashboardAlive: false };
  t.same(planTmuxSession(gone, false, OPTS), {
    action: 'create', spawn: NEW_SESSION, enter: { mode: 'attach', argv: ['attach-session', '-t', '=bottle'] },
  });
  t.same(planTmuxSession(gone, true, OPTS), {
    action: 'create', spawn: NEW_SESSION, enter: { mode: 'switch', argv: ['switch-client', '-t', '=bottle'] },
  });
  t.same(planTmuxSession(gone, false, { ...OPTS, attach: false }), { action: 'create', spawn: NEW_SESSION });
});

t.test('session with a live dashboard: only attach/switch, exact target (not a prefix match)', async (t) => {
  const live = { exists: true, dashboardAlive: true };
  t.same(planTmuxSession(live, false, OPTS), { action: 'attach', enter: { mode: 'attach', argv: ['attach-session', '-t', '=bottle'] } });
  t.same(planTmuxSession(live, true, { ...OPTS, session: 'bottle-2' }), {
    action: 'attach', enter: { mode: 'switch', argv: ['switch-client', '-t', '=bottle-2'] },
  });
  t.same(planTmuxSession(live, true, { ...OPTS, attach: false }), { action: 'attach' });
});

t.test('session without its dashboard: a full-height pane split in on the left', async (t) => {
  t.same(planTmuxSession({ exists: true, dashboardAlive: false }, false, OPTS).spawn, [
    'split-window', '-f', '-b', '-h', '-l', '40%', '-c', '/work/proj', '-e', 'BOTTLE_STATE_DIR=/s',
    '-P', '-F', '#{pane_id}', '-t', '=bottle:', `/usr/bin/node '/opt/my bottle/dist/commands/main.js' dashboard`,
  ]);
});

t.test('session names tmux would rewrite are refused', async (t) => {
  t.throws(() => planTmuxSession({ exists: false, dashboardAlive: false }, false, { ...OPTS, session: 'a.b' }), /invalid session name/);
});

t.test('decorateDashboard: one call sets @bottle-dash, border labels and the pane label', async (t) => {
  t.same(decorateDashboard('bottle', '%7'), [
    'set-option', '-t', '=bottle:', '@bottle-dash', '%7', ';',
    'set-option', '-w', '-t', '%7', 'pane-border-status', 'top', ';',
    'set-option', '-w', '-t', '%7', 'pane-border-format', PANE_BORDER_FORMAT, ';',
    'set-option', '-p', '-t', '%7', '@bottle_label', 'bottle',
  ]);
});

t.test('dashboardCommand: self argv + dashboard, manifest made absolute, env override', async (t) => {
  const self = ['/usr/bin/node', '/opt/b/main.js'];
  t.same(dashboardCommand(self, { cwd: '/w', env: {} }), [...self, 'dashboard']);
  t.same(dashboardCommand(self, { manifest: 'conf/bottle.yaml', cwd: '/w', env: {} }), [...self, 'dashboard', '--manifest', '/w/conf/bottle.yaml']);
  t.same(dashboardCommand(self, { cwd: '/w', env: { BOTTLE_TMUX_DASHBOARD_CMD: 'echo hi; sleep 9' } }), ['sh', '-c', 'echo hi; sleep 9']);
});

t.test('forwardedEnv: what steers bottle, never secrets', async (t) => {
  t.same(forwardedEnv({
    BOTTLE_STATE_DIR: '/s', DOCKER_HOST: 'tcp://x:2376', XDG_CONFIG_HOME: '/c', PATH: '/bin',
    HOME: '/h', ANTHROPIC_API_KEY: 'sk-ant-x', BOTTLE_GITHUB_TOKEN: 'ghp_x', GITHUB_TOKEN: 'ghp_y', TMUX: '/tmp/x,1,0',
  }), { BOTTLE_STATE_DIR: '/s', DOCKER_HOST: 'tcp://x:2376', XDG_CONFIG_HOME: '/c', PATH: '/bin' });
});

t.test('insideTmuxServer: $TMUX, and with -L only the server of that name', async (t) => {
  t.equal(insideTmuxServer({}), false);
  t.equal(insideTmuxServer({ TMUX: '/tmp/tmux-1000/default,123,0' }), true);
  t.equal(insideTmuxServer({ TMUX: '/tmp/tmux-1000/default,123,0' }, 'bottle-test-1'), false, 'another server: attach, not switch');
  t.equal(insideTmuxServer({ TMUX: '/tmp/tmux-1000/bottle-test-1,123,0' }, 'bottle-test-1'), true);
});

function recorder(reply: (sub: string[]) => Partial<RunResult> = () => ({})) {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push([...argv]);
    const r = reply(sub);
    const exitCode = r.exitCode ?? 0;
    return { argv: [...argv], exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '', durationMs: 0, failed: exitCode !== 0, timedOut: false };
  };
  return { run, calls };
}

t.test('launchSession: spawn, decorate the reported pane, then hand the terminal over', async (t) => {
  const f = recorder((sub) => (sub.includes('new-session') ? { stdout: '%3\n' } : {}));
  const client = new TmuxClient({ run: f.run, socket: { name: 'x' } });
  const attached: string[][] = [];
  const plan = planTmuxSession({ exists: false, dashboardAlive: false }, false, OPTS);
  const r = await launchSession(client, plan, 'bottle', async (argv) => { attached.push(argv); return 0; });
  t.equal(r.pane, '%3');
  t.equal(r.attachExitCode, 0);
  t.same(f.calls, [['tmux', '-L', 'x', ...NEW_SESSION], ['tmux', '-L', 'x', ...decorateDashboard('bottle', '%3')]]);
  t.same(attached, [['tmux', '-L', 'x', 'attach-session', '-t', '=bottle']], 'attach runs outside the client, with the full argv');
});

t.test('launchSession: switch-client is an ordinary call; a garbled pane id is an error', async (t) => {
  const f = recorder();
  const client = new TmuxClient({ run: f.run });
  await launchSession(client, planTmuxSession({ exists: true, dashboardAlive: true }, true, OPTS), 'bottle', async () => t.fail('no attach') as never);
  t.same(f.calls, [['tmux', 'switch-client', '-t', '=bottle']]);
  const bad = recorder(() => ({ stdout: 'bottle:0.0' }));
  await t.rejects(
    launchSession(new TmuxClient({ run: bad.run }), planTmuxSession({ exists: false, dashboardAlive: false }, true, OPTS), 'bottle', async () => 0),
    /did not report the dashboard's pane id/,
  );
});

t.test('regression: switch-client with no current client (a detached session) attaches instead, or says how', async (t) => {
  const noClient = () => recorder((sub) => (sub.includes('switch-client') ? { exitCode: 1, stderr: 'no current client' } : {}));
  const f = noClient();
  const attached: string[][] = [];
  const plan = planTmuxSession({ exists: true, dashboardAlive: true }, true, OPTS);
  const r = await launchSession(new TmuxClient({ run: f.run }), plan, 'bottle', async (argv) => { attached.push(argv); return 0; });
  t.same(f.calls, [['tmux', 'switch-client', '-t', '=bottle']]);
  t.same(attached, [['tmux', 'attach-session', '-t', '=bottle']]);
  t.ok(r.switchFellBack);
  await t.rejects(launchSession(new TmuxClient({ run: noClient().run }), plan, 'bottle', undefined),
    { name: 'UserError', message: /no tmux client to switch \(no current client\) and no terminal to attach; run: tmux attach -t bottle/ });
});

function ctxWith(run: Runner, env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const ctx: Ctx = { env, cwd: '/w', run, out: (s) => { out += s; }, err: (s) => { err += s; }, isTTY: false };
  return { ctx, out: () => out, err: () => err };
}

t.test('bottle tmux refuses an old tmux with a fix, before touching the server', async (t) => {
  const f = recorder((sub) => (sub[0] === '-V' ? { stdout: 'tmux 3.1c' } : {}));
  const c = ctxWith(f.run);
  t.equal(await runCli(['tmux', '--no-attach'], c.ctx), 1);
  t.match(c.err(), /tmux is 3\.1c, bottle needs tmux ≥ 3\.2 .*; upgrade tmux/);
  t.same(f.calls, [['tmux', '-V']]);

  const old = recorder((sub) => (sub[0] === '-V' ? { stdout: 'tmux 3.4' } : sub[0] === 'display-message' ? { stdout: '3.0a' } : {}));
  const c2 = ctxWith(old.run);
  t.equal(await runCli(['tmux', '--no-attach'], c2.ctx), 1);
  t.match(c2.err(), /the running tmux server is 3\.0a.*restart the server/);
});

t.test('bottle tmux without a terminal and outside tmux says to use --no-attach', async (t) => {
  const f = recorder((sub) => (sub[0] === '-V' ? { stdout: 'tmux 3.3a' } : { exitCode: 1 }));
  const c = ctxWith(f.run);
  t.equal(await runCli(['tmux'], c.ctx), 1);
  t.match(c.err(), /not a terminal, cannot attach.*--no-attach/);
  t.notOk(f.calls.some((a) => a[1] === 'new-session'), 'nothing created');
});

t.test('bottle tmux key: unknown action and keys install without a server are one-line errors', async (t) => {
  const f = recorder(() => ({ exitCode: 1, stderr: 'no server running' }));
  const c = ctxWith(f.run);
  t.equal(await runCli(['tmux', 'key', 'explode'], c.ctx), 1);
  t.match(c.err(), /unknown action "explode"; expected one of focus-dashboard, new-agent/);
  const c2 = ctxWith(f.run);
  t.equal(await runCli(['tmux', 'keys', 'install'], c2.ctx), 1);
  t.match(c2.err(), /no tmux server is running/);
  const c3 = ctxWith(f.run);
  t.equal(await runCli(['tmux', 'keys', 'install', '--key', 'a b'], c3.ctx), 1);
});

t.test('--help says the bindings are server-wide', async (t) => {
  const c = ctxWith(recorder().run);
  await runCli(['tmux', 'keys', 'install', '--help'], c.ctx);
  t.match(c.out(), /SERVER-WIDE/);
  t.match(c.out(), /--key <key>/);
  const c2 = ctxWith(recorder().run);
  await runCli(['tmux', '--help'], c2.ctx);
  t.match(c2.out(), /--manifest <file>/);
  t.notMatch(c2.out(), /--socket/, 'the testing option stays hidden');
});
