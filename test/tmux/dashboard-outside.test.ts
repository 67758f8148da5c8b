// `bottle dashboard` outside tmux (TMUX unset; still drawn in a private tmux pane so the test
// can type and read): attach hands the terminal over and the dashboard redraws afterwards;
// bring-up and teardown show in a log view inside the dashboard.
import t from 'tap';
import { startDashboard } from '../helpers/dashboard.js';
import { tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

t.test('outside tmux: foreground attach, log views, redraw on return', { skip }, async (t) => {
  let first = '';
  const h = await startDashboard(t, {
    outsideTmux: true,
    before: async (x) => { first = await x.startFake('implementer'); },
  });
  await h.waitFor(new RegExp(first));
  t.equal(await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-ipc' }), undefined, 'no tmux integration without $TMUX');

  await h.keys('Enter');
  await h.waitFor(new RegExp(`fake claude for ${first}`));
  t.notMatch(await h.srv.capture(), /Agents \(/, 'claude has the whole terminal');
  await h.keys('C-c');
  await h.waitFor(/Agents \(1\)[\s\S]*bottle attach .* exited|Agents \(1\)[\s\S]*left /);
  t.equal((await h.srv.client.listPanes()).length, 1, 'no pane was split');

  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('r', 'e', 'v', 'Enter');
  await h.waitFor(/Start reviewer\?/);
  await h.keys('y');
  await h.waitFor(/Starting reviewer-[a-z2-7]{6}[\s\S]*\[fake\] creating networks/);
  const up = await h.waitFor(/fake claude for (reviewer-[a-z2-7]{6})/);
  const second = /fake claude for (reviewer-[a-z2-7]{6})/.exec(up)![1]!;
  await h.keys('C-c');
  await h.waitFor(/Agents \(2\)/);

  await h.keys('G', 'x');
  await h.waitFor(new RegExp(`Stop ${second}\\?`));
  await h.keys('y');
  await h.waitFor(new RegExp(`Stopping ${second}[\\s\\S]*\\[fake\\] stopping agent[\\s\\S]*${second} stopped`));
  await h.keys('Escape');
  await h.waitFor(/Agents \(1\)/);
  await h.keys('q');
  t.equal(await h.exitCode(), 0);
});
