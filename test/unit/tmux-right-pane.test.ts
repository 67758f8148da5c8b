// The right-pane state machine against a scripted fake tmux: the exact calls it makes.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { Runner } from '../../lib/run/index.js';
import { shellCommand } from '../../tmux/argv.js';
import { TmuxClient, TmuxError } from '../../tmux/client.js';
import { PANE_BORDER_FORMAT, SEP } from '../../tmux/format.js';
import { dashboardPaneFromEnv, keepOutput, RightPane } from '../../tmux/right-pane.js';

// A tiny model of one tmux server: the panes that exist (id → window) and window options.
function fakeTmux(panes: Record<string, string> = { '%0': '@0' }) {
  const calls: string[][] = [];
  let next = Math.max(...Object.keys(panes).map((p) => Number(p.slice(1)))) + 1;
  const winOpts: Record<string, string> = {};
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push(sub);
    let stdout = '';
    let exitCode = 0;
    const cmd = sub[0];
    if (cmd === 'list-panes' && sub[3] === '#{pane_id}') stdout = Object.keys(panes).join('\n');
    else if (cmd === 'list-panes') {
      stdout = Object.entries(panes).map(([id, w]) => [id, 's', w, '0', '0', '0', '', '0', '1', ''].join(SEP)).join('\n');
    } else if (cmd === 'split-window') {
      const id = `%${next++}`;
      panes[id] = panes[sub[sub.indexOf('-t') + 1] ?? ''] ?? '@?';
      stdout = id;
    } else if (cmd === 'show-options') stdout = winOpts[sub.at(-1) ?? ''] ?? '';
    else if (cmd === 'kill-pane') delete panes[sub[2] ?? ''];
    else if (sub.some((s) => s.endsWith(' fail-me'))) exitCode = 1;
    for (let i = 0; i < sub.length; i++) {
      if (sub[i] === 'set-option' && sub[i + 1] === '-w' && sub[i + 4] === '@bottle-right') winOpts['@bottle-right'] = sub[i + 5] ?? '';
    }
    return { argv: [...argv], exitCode, stdout, stderr: exitCode ? 'boom' : '', durationMs: 0, failed: exitCode !== 0, timedOut: false };
  };
  return { client: new TmuxClient({ run }), calls, panes, winOpts };
}

const LIST_IDS = ['list-panes', '-a', '-F', '#{pane_id}'];

t.test('first ensure splits with a placeholder, decorates, then respawns the command', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0');
  t.equal(await rp.ensure(['tail', '-F', '/s/a b/bringup.log'], { label: 'bringup a' }), '%1');
  t.equal(rp.paneId, '%1');
  t.same(f.calls, [
    ['split-window', '-h', '-d', '-l', '60%', '-P', '-F', '#{pane_id}', '-t', '%0', 'sleep 86400'],
    [
      'set-option', '-p', '-t', '%1', 'remain-on-exit', 'on', ';',
      'set-option', '-w', '-t', '%0', '@bottle-right', '%1', ';',
      'set-option', '-w', '-t', '%0', 'pane-border-status', 'top', ';',
      'set-option', '-w', '-t', '%0', 'pane-border-format', PANE_BORDER_FORMAT, ';',
      'set-option', '-p', '-t', '%1', '@bottle_label', 'bringup a', ';',
      'respawn-pane', '-k', '-t', '%1', shellCommand(keepOutput(['tail', '-F', '/s/a b/bringup.log'])),
    ],
  ]);
});

t.test('the command runs under a wrapper that keeps its status and, in a terminal, waits for tmux to read it', async (t) => {
  const w = keepOutput(['docker', 'run', 'it\'s "x"']);
  t.same(w.slice(0, 2), ['sh', '-c']);
  t.same(w.slice(3), ['sh', 'docker', 'run', 'it\'s "x"'], 'argv passed through as "$@", untouched');
  t.match(w[2], /\\033\[6n/, 'asks tmux for the cursor position');
  t.match(w[2], /time 20/, 'and waits 2 s at most for the answer');
  // Outside a terminal there is nobody to ask: output and exit status pass straight through.
  const r = spawnSync(w[0]!, [...w.slice(1, 4), 'sh', '-c', 'echo "boom: cannot start"; exit 3'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(r.stdout, 'boom: cannot start\n');
  t.equal(r.status, 3);
});

t.test('second ensure respawns the same pane; focus moves only when asked', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0', { widthPercent: 50 });
  await rp.ensure(['a']);
  f.calls.length = 0;
  t.equal(await rp.ensure(['claude', '--resume', 'x y'], { label: 'agent #1', focus: true }), '%1');
  t.same(f.calls, [
    LIST_IDS,
    ['set-option', '-p', '-t', '%1', '@bottle_label', 'agent ##1', ';', 'respawn-pane', '-k', '-t', '%1', shellCommand(keepOutput(['claude', '--resume', 'x y']))],
    ['select-pane', '-t', '%1'],
  ]);
  f.calls.length = 0;
  await rp.ensure(['b']);
  t.same(f.calls, [LIST_IDS, ['respawn-pane', '-k', '-t', '%1', shellCommand(keepOutput(['b']))]], 'no label change, no focus');
});

t.test('a pane closed behind our back is replaced by a fresh split', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0');
  await rp.ensure(['a']);
  delete f.panes['%1'];
  f.calls.length = 0;
  t.equal(await rp.ensure(['b']), '%2');
  t.same(f.calls[0], LIST_IDS);
  t.equal(f.calls[1]?.[0], 'split-window');
  t.equal(f.winOpts['@bottle-right'], '%2');
});

t.test('if decorating the new pane fails, the placeholder pane is killed and forgotten', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0');
  await t.rejects(rp.ensure(['fail-me']), TmuxError);
  t.equal(rp.paneId, undefined);
  t.same(f.calls.at(-1), ['kill-pane', '-t', '%1']);
  t.same(Object.keys(f.panes), ['%0']);
});

t.test('select, label, close', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0');
  t.equal(await rp.select(), false, 'nothing to select yet');
  t.equal(await rp.label('x'), false);
  await rp.ensure(['a']);
  f.calls.length = 0;
  t.equal(await rp.select(), true);
  t.equal(await rp.label(''), true);
  await rp.close();
  t.same(f.calls, [
    LIST_IDS, ['select-pane', '-t', '%1'],
    LIST_IDS, ['set-option', '-p', '-t', '%1', '-u', '@bottle_label'],
    LIST_IDS, ['kill-pane', '-t', '%1'],
    ['set-option', '-w', '-t', '%0', '-u', '@bottle-right'],
  ]);
  t.equal(rp.paneId, undefined);
  t.equal(await rp.exists(), false);
});

t.test('adopt takes the pane recorded in @bottle-right, if alive and in this window', async (t) => {
  const f = fakeTmux({ '%0': '@0', '%4': '@0', '%5': '@1' });
  f.winOpts['@bottle-right'] = '%4';
  const rp = new RightPane(f.client, '%0');
  t.equal(await rp.adopt(), '%4');
  t.same(f.calls[0], ['show-options', '-w', '-t', '%0', '-v', '-q', '@bottle-right']);
  t.equal(rp.paneId, '%4');
  t.equal(f.calls.at(-1)?.[0], 'set-option', 'decorates the adopted pane');
  t.equal(await new RightPane(f.client, '%0').adopt('%5'), undefined, 'pane in another window');
  t.equal(await new RightPane(f.client, '%0').adopt('%0'), undefined, 'the dashboard itself');
  t.equal(await new RightPane(f.client, '%0').adopt('%9'), undefined, 'gone');
  f.winOpts['@bottle-right'] = 'garbage';
  t.equal(await new RightPane(f.client, '%0').adopt(), undefined, 'not a pane id');
});

t.test('overlapping ensure calls split only once', async (t) => {
  const f = fakeTmux();
  const rp = new RightPane(f.client, '%0');
  const ids = await Promise.all([rp.ensure(['a']), rp.ensure(['b']), rp.ensure(['c'])]);
  t.same(ids, ['%1', '%1', '%1']);
  t.equal(f.calls.filter((c) => c[0] === 'split-window').length, 1);
});

t.test('arguments are checked', async (t) => {
  t.throws(() => new RightPane(new TmuxClient(), 'bottle:0.0'), /pane id/);
  await t.rejects(new RightPane(fakeTmux().client, '%0').ensure([]), /empty argv/);
  t.equal(dashboardPaneFromEnv({ TMUX_PANE: '%12' }), '%12');
  t.throws(() => dashboardPaneFromEnv({}), /not inside a tmux pane/);
});
