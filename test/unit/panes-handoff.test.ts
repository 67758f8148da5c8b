// The outside-tmux hand-off's progress line (issue 20: nothing moved while claude started): its
// text, the bytes that rewrite the first row, and when it stops being written.
import t from 'tap';
import { firstRow, HandoffProgress, progressText, sttyMode, type ProgressDeps } from '../../panes/handoff.js';

t.test('progressText: whole seconds elapsed, none in the first', async (t) => {
  t.equal(progressText('starting claude in a-abcdef…', 999), 'starting claude in a-abcdef…');
  t.equal(progressText('starting claude in a-abcdef…', 1000), 'starting claude in a-abcdef… 1s');
  t.equal(progressText('starting claude in a-abcdef…', 61_500), 'starting claude in a-abcdef… 61s');
});

t.test('firstRow: saves the cursor, rewrites row 1 cut short of the width, restores the cursor', async (t) => {
  t.equal(firstRow('abcdef', 80), '\x1b7\x1b[1;1H\x1b[2Kabcdef\x1b8');
  t.equal(firstRow('abcdef', 4), '\x1b7\x1b[1;1H\x1b[2Kabc\x1b8', 'never the last column: no wrap into the child\'s row');
  t.equal(firstRow('', 80), '\x1b7\x1b[1;1H\x1b[2K\x1b8', 'empty clears the row');
});

// A terminal whose settings are `mode` and a clock at `clock`, both moved by the test.
function fakeTerminal(mode: string | undefined) {
  const out: string[] = [];
  const term = { mode, clock: 0 };
  const deps: ProgressDeps = {
    write: (s) => { out.push(s); },
    columns: () => 80,
    ttyMode: async () => term.mode,
    now: () => term.clock,
    everyMs: 0,
  };
  return { out, term, deps };
}

t.test('the line ticks while the terminal is as it was, and is cleared once the child takes it', async (t) => {
  const { out, term, deps } = fakeTerminal('cooked');
  const p = new HandoffProgress('starting claude in a-abcdef…', deps);
  await p.begin();
  t.same(out, ['starting claude in a-abcdef…\r\n'], 'printed at the cursor, which ends below it');
  term.clock = 500;
  await p.tick();
  t.equal(out.length, 1, 'nothing written while the text is the same');
  term.clock = 1200;
  await p.tick();
  t.equal(out.at(-1), firstRow('starting claude in a-abcdef… 1s', 80));
  term.mode = 'raw';
  term.clock = 2200;
  await p.tick();
  t.equal(out.at(-1), firstRow('', 80), 'the child took the terminal: the row is cleared');
  const n = out.length;
  term.clock = 9000;
  await p.tick();
  t.equal(out.length, n, 'and never written again');
});

t.test('settings that cannot be read: the line is printed once and never rewritten', async (t) => {
  const { out, term, deps } = fakeTerminal(undefined);
  const p = new HandoffProgress('starting claude in a-abcdef…', deps);
  await p.begin();
  term.clock = 5000;
  await p.tick();
  t.same(out, ['starting claude in a-abcdef…\r\n']);
});

t.test('end(): the child exited; nothing more is written (the dashboard repaints)', async (t) => {
  const { out, term, deps } = fakeTerminal('cooked');
  const p = new HandoffProgress('x', deps);
  await p.begin();
  p.end();
  term.clock = 5000;
  await p.tick();
  t.equal(out.length, 1);
});

// tap gives test files a stdin that is not a terminal, where stty fails.
t.test('sttyMode without a terminal on stdin is undefined, not an error', { skip: process.stdin.isTTY ? 'stdin is a terminal here' : false }, async (t) => {
  t.equal(await sttyMode(), undefined);
});
