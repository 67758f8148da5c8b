// `bottle dashboard` on a real tmux server (private socket) with the fake backend: the operator's
// day (SPEC §1) driven through send-keys and read back with capture-pane.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bottleProcess } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST, SLOW, startDashboard, type DashboardHarness } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

async function panes(h: DashboardHarness) {
  return (await h.srv.client.listPanes()).filter((p) => p.session === h.srv.session);
}

async function activePane(h: DashboardHarness): Promise<string | undefined> {
  return (await panes(h)).find((p) => p.active)?.paneId;
}

// Polls until the screen no longer matches (a modal went away), dumping it on timeout.
async function waitGone(h: DashboardHarness, re: RegExp): Promise<void> {
  let last = '';
  await pollUntil(`${re} to disappear`, async () => !re.test((last = await h.srv.capture())), { ...SLOW, describe: () => last });
}

async function rightPaneId(h: DashboardHarness): Promise<string> {
  return pollUntil('a right pane', () => h.rightPane(), SLOW);
}

t.test('n: picker filters, preflight shows the plan, y brings the agent up in the right pane', { skip }, async (t) => {
  const h = await startDashboard(t);
  await h.waitFor(/Agents \(0\)/);
  await h.keys('n');
  await h.waitFor(/New agent[\s\S]*implementer[\s\S]*reviewer/);
  await h.keys('R', 'E', 'v');
  // Whole frames only: a capture can catch blessed's output half-drawn, so wait for the last part too.
  const filtered = await h.waitFor(/filter: REv_[\s\S]*reviewer[\s\S]*Enter pick/);
  t.notMatch(filtered, /implementer/, 'substring, case-insensitive filter');
  t.match(filtered, /reviewer/);
  await h.keys('Escape');
  await h.waitFor(/filter: _[\s\S]*implementer/);
  await h.keys('Escape');
  // Regression (predecessor): a closed modal stayed on screen until the next tick.
  await waitGone(h, /New agent/);

  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('i', 'm', 'p', 'Enter');
  const plan = await h.waitFor(/Start implementer\?[\s\S]*y start\s+N\/Esc cancel/);
  t.match(plan, /routes\s+api\.github\.com\s+Authorization ← \$GITHUB_TOKEN/, 'the preflight shows the plan');
  t.match(plan, /y start\s+N\/Esc cancel/);
  await h.keys('y');
  await waitGone(h, /Start implementer\?/);

  const right = await rightPaneId(h);
  await h.waitFor(/\[fake\] creating networks \(implementer\)/, right);
  t.equal(await activePane(h), h.dash, 'focus stays in the dashboard during bring-up');
  const session = await h.waitFor(/fake claude for (implementer-[a-z2-7]{6})/, right);
  const slug = /fake claude for (implementer-[a-z2-7]{6})/.exec(session)![1]!;
  t.equal(await h.rightPane(), right, 'the same pane went from the log to the session');
  await pollUntil('focus in the right pane', async () => (await activePane(h)) === right, SLOW);
  await h.waitFor(new RegExp(`\\* ${slug}`));
  t.match((await panes(h)).find((p) => p.paneId === right)?.label, new RegExp(`implementer ${slug}`), 'the pane label names the agent');
  t.equal((await panes(h)).length, 2, 'no pane left behind');
});

t.test('Enter respawns the same pane; x stops (the bottle stays listed, stopped) and slides to the next running agent, then closes the pane', { skip }, async (t) => {
  let first = '';
  let second = '';
  const h = await startDashboard(t, {
    before: async (x) => {
      first = await x.startFake('implementer');
      second = await x.startFake('reviewer');
    },
  });
  await h.waitFor(new RegExp(`${first}[\\s\\S]*${second}`));
  await h.keys('Enter');
  const right = await rightPaneId(h);
  await h.waitFor(new RegExp(`fake claude for ${first}: --session-id`), right);
  await h.keys('j', 'Enter');
  await h.waitFor(new RegExp(`fake claude for ${second}`), right);
  t.equal(await h.rightPane(), right, 'Enter on another row respawned the same pane id');
  t.equal((await panes(h)).length, 2);
  await h.waitFor(new RegExp(`\\* ${second}`));

  // The operator closes the right pane by hand: the next use re-creates it.
  t.equal((await h.srv.tmux(['kill-pane', '-t', right])).exitCode, 0);
  await h.keys('Enter');
  const again = await pollUntil('a new right pane', async () => {
    const id = await h.rightPane();
    return id && id !== right && (await panes(h)).some((p) => p.paneId === id) ? id : undefined;
  }, SLOW);
  await h.waitFor(new RegExp(`fake claude for ${second}`), again);

  await h.keys('x');
  const ask = await h.waitFor(new RegExp(`Stop ${second}\\?[\\s\\S]*y yes`));
  t.match(ask, /Its work is saved: claude sessions, unpushed commits,[^a-z]+uncommitted changes\.[\s\S]*bottle resume/, 'the question says the work is kept and how it comes back');
  await h.keys('y');
  await h.waitFor(/\[fake\] stopping agent/, again);
  await h.waitFor(new RegExp(`fake claude for ${first}`), again);
  t.equal(await h.rightPane(), again, 'the next running agent took the same pane');
  // Issue 14: the stopped bottle stays listed, as stopped, after the running one.
  const screen = await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*\\* ${first}\\s.*running[\\s\\S]*│  ${second}\\s.*stopped[\\s\\S]*Proposals`));
  t.match(screen, new RegExp(`\\* ${first}`), 'the next agent is the occupant');

  await h.keys('x');
  await h.waitFor(new RegExp(`Stop ${first}\\?`));
  await h.keys('y');
  await pollUntil('the right pane to close', async () => (await panes(h)).length === 1 && (await h.rightPane()) === undefined, SLOW);
  const after = await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*│  ${first}\\s.*stopped[\\s\\S]*│  ${second}\\s.*stopped`));
  t.notMatch(after, /│\*/, 'no running agent left: nobody occupies the closed pane');
});

t.test('a failed bring-up keeps its log in the right pane and says so', { skip }, async (t) => {
  const h = await startDashboard(t, { env: { BOTTLE_FAKE_FAIL: 'launch' } });
  await h.waitFor(/Agents \(0\)/);
  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('r', 'e', 'v', 'Enter');
  await h.waitFor(/Start reviewer\?/);
  await h.keys('y');
  const right = await rightPaneId(h);
  await h.waitFor(/bring-up failed: fake launch failure/, right);
  await h.waitFor(/start of reviewer-[a-z2-7]{6} failed: fake launch failure/);
  t.ok((await panes(h)).some((p) => p.paneId === right), 'the log stays readable');
  t.equal(await activePane(h), h.dash, 'focus did not move to a session that never came');
});

t.test('q exits 0 and leaves every bottle running, even one still coming up', { skip }, async (t) => {
  let existing = '';
  const h = await startDashboard(t, {
    env: { BOTTLE_FAKE_STEP_MS: '600' },
    before: async (x) => { existing = await x.startFake('implementer'); },
  });
  await h.waitFor(new RegExp(existing));
  const ipc = (await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-ipc' }))?.trim();
  t.match(ipc, /ipc\/dashboard-\d+\.sock$/);
  t.equal((await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-dash' }))?.trim(), h.dash);
  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('r', 'e', 'v', 'Enter');
  await h.waitFor(/Start reviewer\?/);
  await h.keys('y');
  await h.waitFor(/\[fake\] creating networks/, await rightPaneId(h));
  // Regression: the new row did not get the cursor (inverse video) when another bottle was listed.
  await h.srv.waitForText(/\u001b\[[\d;]*7m(\u001b\[[\d;]*m)*\* reviewer-[a-z2-7]{6}/, { ...SLOW, escapes: true });
  await h.keys('q');
  t.equal(await h.exitCode(), 0);
  t.equal(await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-ipc' }), undefined, 'the IPC option is removed');
  t.equal(await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-dash' }), undefined);
  const env = { ...process.env, ...h.env };
  const states = await pollUntil('both bottles running after q', async () => {
    const r = await bottleProcess(['ls', '--json'], { env, fake: true });
    const rows = JSON.parse(r.stdout) as { slug: string; agent: string; state: string; engine: string }[];
    return rows.length === 2 && rows.every((x) => x.state === 'running' && x.engine === 'running') ? rows : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500 });
  t.same(states.map((x) => x.agent).sort(), ['implementer', 'reviewer'], 'the bring-up finished after the dashboard quit');

  // The next dashboard finds the bottles and adopts the right pane with its occupant.
  const right = await rightPaneId(h);
  const reviewer = states.find((x) => x.agent === 'reviewer')!.slug;
  await h.restart();
  await h.waitFor(new RegExp(`Agents \\(2\\)[\\s\\S]*\\* ${reviewer}`));
  await h.keys('Enter');
  await h.waitFor(new RegExp(`fake claude for ${existing}`), right);
  t.equal(await h.rightPane(), right, 'the adopted pane was reused, not split again');
  t.equal((await panes(h)).length, 2);
});

t.test('credentials the dashboard\'s environment lacks: a source in credentials.yaml starts the bottle; without one the preflight names the fix', { skip }, async (t) => {
  const config = mkdtempSync(join(tmpdir(), 'bottle-dash-cred-'));
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  mkdirSync(join(config, 'bottle'));
  // As in a tmux server started before the user exported anything: the variables are empty here.
  const h = await startDashboard(t, { env: { ANTHROPIC_API_KEY: '', GITHUB_TOKEN: '', XDG_CONFIG_HOME: config } });
  await h.waitFor(/Agents \(0\)/);
  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('i', 'm', 'p', 'Enter');
  // No Claude credential at all (auth: auto): the preflight says how to get one.
  const blocked = await h.waitFor(/cannot start: no Claude credential on this host:[\s\S]*claude setup-token[\s\S]*credentials\.yaml[\s\S]*Esc close/);
  t.notMatch(blocked, /restart the dashboard|export before launch/, 'no advice that cannot help');
  await h.keys('Escape');
  await waitGone(h, /Start implementer\?/);

  writeFileSync(join(config, 'bottle', 'credentials.yaml'), 'ANTHROPIC_API_KEY: { command: "printf sk-from-a-helper-command" }\nGITHUB_TOKEN: { command: "printf ghp-from-a-helper-command" }\n');
  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('i', 'm', 'p', 'Enter');
  const plan = await h.waitFor(/Start implementer\?[\s\S]*y start\s+N\/Esc cancel/);
  t.notMatch(plan, /cannot start|host env not set/, 'sources count as available');
  await h.keys('y');
  const right = await rightPaneId(h);
  await h.waitFor(/fake claude for implementer-[a-z2-7]{6}/, right);
});

t.test('bottle tmux from a shell that has the values hands them to a dashboard that lacks them (never through tmux)', { skip }, async (t) => {
  const h = await startDashboard(t, { env: { ANTHROPIC_API_KEY: '', GITHUB_TOKEN: '' } });
  await h.waitFor(/Agents \(0\)/);
  const shell: NodeJS.ProcessEnv = { ...process.env, ...h.srv.env, ...h.env, ANTHROPIC_API_KEY: 'sk-handed-over-from-the-shell', GITHUB_TOKEN: 'ghp-handed-over-from-the-shell' };
  delete shell.TMUX;
  const r = await bottleProcess(['tmux', '--socket', h.srv.socketName, '--session', h.srv.session, '--no-attach', '--manifest', EXAMPLE_MANIFEST], { env: shell });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stderr, /bottle: handed ANTHROPIC_API_KEY, GITHUB_TOKEN from this shell to the dashboard/);
  await h.waitFor(/credentials handed over from your shell: ANTHROPIC_API_KEY, GITHUB_TOKEN/);
  t.notOk(existsSync(join(h.stateDir, '.credential-handoff.json')), 'the handoff file is gone once read');
  const tmuxEnv = (await h.srv.tmux(['show-environment', '-g'])).stdout + (await h.srv.tmux(['show-environment', '-t', h.srv.session])).stdout;
  t.notMatch(tmuxEnv, /handed-over/, 'the values are in no tmux environment');

  await h.keys('n');
  await h.waitFor(/New agent/);
  await h.keys('i', 'm', 'p', 'Enter');
  const plan = await h.waitFor(/Start implementer\?[\s\S]*y start\s+N\/Esc cancel/);
  t.notMatch(plan, /cannot start/);
  await h.keys('y');
  const right = await rightPaneId(h);
  const session = await h.waitFor(/fake claude for (implementer-[a-z2-7]{6})/, right);
  const slug = /fake claude for (implementer-[a-z2-7]{6})/.exec(session)![1]!;
  const rec = JSON.parse(readFileSync(join(h.stateDir, slug, 'fake-engine.json'), 'utf8')) as { routeValues: Record<string, string> };
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  t.same(rec.routeValues, { ANTHROPIC_API_KEY: sha('sk-handed-over-from-the-shell'), GITHUB_TOKEN: sha('ghp-handed-over-from-the-shell') }, 'the bottle got the shell\'s values');
});
