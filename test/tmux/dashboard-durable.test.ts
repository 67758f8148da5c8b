// Durable bottles in the dashboard (issue 14), on a real tmux server (private socket) and the fake
// backend: a stopped bottle stays listed, dimmed, after the running ones; Enter asks, then
// resumes it (the right pane tails its bring-up, then shows the resumed claude session); D asks
// with what is lost, then removes it for good.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { bottlePaths } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST, SLOW, startDashboard, type DashboardHarness } from '../helpers/dashboard.js';
import { fakeAgentRoot } from '../helpers/fake-backend.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();
const SESSION = '33333333-3333-4333-8333-333333333333';
// blessed's grey foreground as tmux re-emits it (bright black).
const DIM = '\u001b[90m';

// The dashboard's screen line that lists `slug`, with its escapes (colours).
async function rowOf(h: DashboardHarness, slug: string): Promise<string> {
  const screen = await h.srv.capture(undefined, { escapes: true });
  return screen.split('\n').find((l) => l.includes(slug)) ?? '';
}

// Polls until the screen no longer matches (a modal went away), dumping it on timeout.
async function waitGone(h: DashboardHarness, re: RegExp): Promise<void> {
  let last = '';
  await pollUntil(`${re} to disappear`, async () => !re.test((last = await h.srv.capture())), { ...SLOW, describe: () => last });
}

async function rightPaneId(h: DashboardHarness): Promise<string> {
  return pollUntil('a right pane', () => h.rightPane(), SLOW);
}

async function lsState(h: DashboardHarness, slug: string): Promise<string | undefined> {
  const r = await bottleProcess(['ls', '--json'], { env: { ...process.env, ...h.env }, fake: true });
  return (JSON.parse(r.stdout) as { slug: string; state: string }[]).find((x) => x.slug === slug)?.state;
}

// A fake bottle with one claude session in its agent, stopped (its work saved), then a running
// one started after it: the list order must come from the state, not from creation.
async function stoppedAndRunning(t: Parameters<typeof startDashboard>[0], env: Record<string, string> = {}) {
  let stopped = '';
  let running = '';
  const h = await startDashboard(t, {
    env,
    before: async (x) => {
      stopped = await x.startFake('implementer');
      const projects = join(fakeAgentRoot({ ...process.env, ...x.env }, stopped), 'home/node/.claude/projects/-workspace');
      mkdirSync(projects, { recursive: true });
      writeFileSync(join(projects, `${SESSION}.jsonl`), '{"type":"user","message":{"role":"user","content":"hi"}}\n');
      await x.stopFake(stopped);
      running = await x.startFake('reviewer');
    },
  });
  return { h, stopped, running };
}

t.test('a stopped bottle is listed dimmed, as stopped, after the running one; x on it is a hint', { skip }, async (t) => {
  const { h, stopped, running } = await stoppedAndRunning(t);
  const screen = await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*${running}\\s.*running[\\s\\S]*${stopped}\\s.*stopped[\\s\\S]*q quit`));
  t.match(screen, /D remove/, 'the hint bar names D');
  t.ok((await rowOf(h, stopped)).includes(`${DIM}  ${stopped}`), 'the stopped row is dimmed');
  t.notOk((await rowOf(h, running)).includes(DIM), 'the running row is not');
  await h.keys('j', 'x');
  await h.waitFor(new RegExp(`${stopped} is stopped; Enter resumes it, D removes it for good`));
  t.notMatch(await h.srv.capture(), /Stop implementer/, 'no stop question for a stopped bottle');
});

t.test('Enter on a stopped bottle asks, then resumes it: bring-up in the right pane, then its last claude session', { skip }, async (t) => {
  const { h, stopped, running } = await stoppedAndRunning(t);
  await h.waitFor(new RegExp(`${stopped}\\s.*stopped`));
  await h.keys('j', 'Enter');
  const ask = await h.waitFor(new RegExp(`Resume ${stopped}\\?[\\s\\S]*y yes\\s+N/Esc no`));
  t.match(ask, /Its saved work: 0 unpushed commits, 0 uncommitted files, 1 claude session\./);
  t.match(ask, /attach resumes its last claude session/);
  t.equal(await h.rightPane(), undefined, 'nothing started before the answer');
  await h.keys('n');
  await waitGone(h, new RegExp(`Resume ${stopped}\\?`));
  t.equal(await lsState(h, stopped), 'stopped', 'n keeps it stopped');

  await h.keys('Enter');
  await h.waitFor(new RegExp(`Resume ${stopped}\\?`));
  await h.keys('y');
  const right = await rightPaneId(h);
  await h.waitFor(new RegExp(`resuming ${stopped}: implementer on fake with 0 unpushed commits, 0 uncommitted files, 1 claude session[\\s\\S]*\\[fake\\] creating networks`), right);
  await h.waitFor(new RegExp(`fake claude for ${stopped}: --resume ${SESSION}`), right);
  t.equal(await h.rightPane(), right, 'the same pane went from the log to the session');
  const screen = await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*\\* ${stopped}\\s.*running[\\s\\S]*${stopped} is back`));
  t.match(screen, new RegExp(`${running}\\s.*running`));
  t.notOk((await rowOf(h, stopped)).includes(DIM), 'no longer dimmed');
  t.equal(await lsState(h, stopped), 'running');
});

t.test('D asks, naming what is lost, then removes the bottle for good', { skip }, async (t) => {
  const { h, stopped, running } = await stoppedAndRunning(t);
  await h.waitFor(new RegExp(`${stopped}\\s.*stopped`));
  await h.keys('G', 'D');
  const ask = await h.waitFor(new RegExp(`Remove ${stopped} for good\\?[\\s\\S]*y yes\\s+N/Esc no`));
  t.match(ask, /This loses the saved 0 unpushed commits, 0 uncommitted files, 1 claude session\./);
  t.match(ask, new RegExp(`bottle export ${stopped} keeps the work first`));
  await h.keys('Escape');
  await waitGone(h, new RegExp(`Remove ${stopped}`));
  t.ok(existsSync(bottlePaths(h.stateDir, stopped).dir), 'Esc keeps it');

  await h.keys('D');
  await h.waitFor(new RegExp(`Remove ${stopped} for good\\?`));
  await h.keys('y');
  const screen = await h.waitFor(new RegExp(`Agents \\(1\\)[\\s\\S]*${running}[\\s\\S]*${stopped} removed`));
  t.notMatch(screen.split('Proposals')[0], new RegExp(`${stopped}`), 'gone from the list');
  t.notOk(existsSync(bottlePaths(h.stateDir, stopped).dir), 'its state (saved work included) is gone');
  t.equal(await lsState(h, stopped), undefined);
});

t.test('resume reads route values as a start does: none in the dashboard says the fix; handed over by bottle tmux, the bottle gets them', { skip }, async (t) => {
  // As in a tmux server started before the user exported anything.
  const { h, stopped } = await stoppedAndRunning(t, { ANTHROPIC_API_KEY: '', GITHUB_TOKEN: '' });
  await h.waitFor(new RegExp(`${stopped}\\s.*stopped`));
  await h.keys('j', 'Enter');
  await h.waitFor(new RegExp(`cannot resume ${stopped}: no value for ANTHROPIC_API_KEY, GITHUB_TOKEN in the dashboard's environment; name a source in`));
  t.notMatch(await h.srv.capture(), /Resume implementer/, 'not asked: it could not come back');

  const shell: NodeJS.ProcessEnv = { ...process.env, ...h.srv.env, ...h.env, ANTHROPIC_API_KEY: 'sk-resume-from-the-shell', GITHUB_TOKEN: 'ghp-resume-from-the-shell' };
  delete shell.TMUX;
  const r = await bottleProcess(['tmux', '--socket', h.srv.socketName, '--session', h.srv.session, '--no-attach', '--manifest', EXAMPLE_MANIFEST], { env: shell });
  t.equal(r.exitCode, 0, r.stderr);
  await h.waitFor(/credentials handed over from your shell: ANTHROPIC_API_KEY, GITHUB_TOKEN/);
  await h.keys('Enter');
  await h.waitFor(new RegExp(`Resume ${stopped}\\?`));
  await h.keys('y');
  await h.waitFor(new RegExp(`fake claude for ${stopped}: --resume ${SESSION}`), await rightPaneId(h));
  const rec = JSON.parse(readFileSync(join(h.stateDir, stopped, 'fake-engine.json'), 'utf8')) as { routeValues: Record<string, string> };
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  t.same(rec.routeValues, { ANTHROPIC_API_KEY: sha('sk-resume-from-the-shell'), GITHUB_TOKEN: sha('ghp-resume-from-the-shell') }, 'the resumed bottle got the shell\'s values');
});
