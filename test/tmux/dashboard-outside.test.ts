// `bottle dashboard` outside tmux (TMUX unset; still drawn in a private tmux pane so the test
// can type and read): attach hands the terminal over and the dashboard redraws afterwards;
// bring-up and teardown show in a log view inside the dashboard.
import t from 'tap';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

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
  // Issue 14: the stopped bottle stays listed, as stopped, after the running one.
  await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*${first}\\s.*running[\\s\\S]*${second}\\s.*stopped`));
  await h.keys('q');
  t.equal(await h.exitCode(), 0);
});

// Regression (issue 20): the dashboard stayed on screen under claude's first line (blessed
// muted its output before the buffered leave-alternate-screen was written) and nothing moved
// while claude started. The fake claude takes 3.5 s, then the terminal, then draws one line.
t.test('outside tmux: attach clears the dashboard, shows progress until claude draws, redraws on return', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, {
    outsideTmux: true, env: { BOTTLE_FAKE_ATTACH_MS: '3500' },
    before: async (x) => { slug = await x.startFake('implementer'); },
  });
  await h.waitFor(new RegExp(`Agents \\(1\\)[\\s\\S]*${slug}`));
  await h.keys('Enter');
  const progress = new RegExp(`^starting claude in ${slug}… (\\d+)s$`, 'm');
  let screen = '';
  const seconds = async (): Promise<number | undefined> => {
    screen = await h.srv.capture();
    const m = progress.exec(screen);
    return m ? Number(m[1]) : undefined;
  };
  const first = await pollUntil('the progress line with the time elapsed', seconds, { ...SLOW, describe: () => screen });
  t.notMatch(screen, /Agents \(|Proposals \(|[│┌└]/, 'no dashboard rows are left while claude starts');
  await pollUntil('the elapsed time to move on', async () => ((await seconds()) ?? 0) > first, { ...SLOW, describe: () => screen });

  await pollUntil('claude\'s first line, the progress line gone', async () => {
    screen = await h.srv.capture();
    return screen.includes(`fake claude for ${slug}`) && !/starting claude in/.test(screen);
  }, { ...SLOW, describe: () => screen });
  t.notMatch(screen, /Agents \(|Proposals \(|[│┌└]/, 'claude has a clean terminal');

  await h.keys('C-c');
  const back = new RegExp(`Agents \\(1\\)[\\s\\S]*Proposals \\(0\\)[\\s\\S]*left ${slug}[\\s\\S]*q quit`);
  await pollUntil('the dashboard, fully redrawn, saying claude was left', async () => back.test(screen = await h.srv.capture()), { ...SLOW, describe: () => screen });
  t.notMatch(screen, /fake claude|starting claude/, 'nothing of the hand-off is left');
  await h.keys('q');
  t.equal(await h.exitCode(), 0);
});
