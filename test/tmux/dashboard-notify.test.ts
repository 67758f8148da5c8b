// Notifications and proposals through the real dashboard: the bell flag on the dashboard's window
// while the operator is elsewhere, (new!), the label counter, focus, display-message; approve
// and reject from the keyboard; the IPC actions the tmux key table uses.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { readDecision } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { sendDashboardAction } from '../../tmux/keys.js';
import { SLOW, startDashboard, type DashboardHarness } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

async function display(h: DashboardHarness, format: string, target: string): Promise<string> {
  return (await h.srv.client.display(format, target)).trim();
}

async function activePaneOfDashWindow(h: DashboardHarness): Promise<string | undefined> {
  const dash = (await h.srv.client.listPanes()).find((p) => p.paneId === h.dash)!;
  return (await h.srv.client.listPanes()).find((p) => p.windowId === dash.windowId && p.active)?.paneId;
}

async function label(h: DashboardHarness): Promise<string | undefined> {
  return (await h.srv.client.showOption({ scope: 'pane', target: h.dash, name: '@bottle_label' }))?.trim();
}

t.test('a new proposal while the operator is in another window: bell flag, (new!), counter, focus, message', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, {
    before: async (x) => {
      slug = await x.startFake('implementer');
      await x.propose(slug, 'old.example.com');
    },
  });
  await h.waitFor(/old\.example\.com/);
  // Count every bell tmux sees from now on.
  const bells = join(h.stateDir, '..', 'bells');
  writeFileSync(bells, '');
  await h.srv.tmux(['set-hook', '-g', 'alert-bell', `run-shell "echo bell >> ${bells}"`]);
  const dashWindow = await display(h, '#{window_id}', h.dash);
  t.equal(await display(h, '#{window_bell_flag}', dashWindow), '0', 'a proposal present at startup does not ring (no client: any bell would flag)');
  t.equal(await label(h), 'bottle');

  // The operator: in the agent's session (right pane), then in another window of the session.
  await h.keys('Enter');
  const right = await pollUntil('right pane', () => h.rightPane(), SLOW);
  await h.waitFor(/fake claude for/, right);
  const viewer = await h.srv.attachViewer({ width: 160, height: 40 });
  await h.srv.tmux(['new-window', '-t', `=${h.srv.session}:`, 'sleep 600']);
  t.not(await display(h, '#{window_id}', `=${h.srv.session}:`), dashWindow, 'the operator is elsewhere');
  t.equal(await activePaneOfDashWindow(h), right);

  const p = await h.propose(slug, 'new.example.com');
  await pollUntil('the bell flag on the dashboard window', async () => (await display(h, '#{window_bell_flag}', dashWindow)) === '1', SLOW);
  await h.waitFor(/Proposals \(2\) \(new!\)[\s\S]*new\.example\.com/);
  await pollUntil('the border counter', async () => (await label(h)) === 'bottle (1 new!)', SLOW);
  await pollUntil('focus on the dashboard pane', async () => (await activePaneOfDashWindow(h)) === h.dash, SLOW);
  t.not(await display(h, '#{window_id}', `=${h.srv.session}:`), dashWindow, 'select-pane only: the operator was not moved to the window (no switch-client)');
  await viewer.server.waitForText(/new allowlist proposal from implementer-\w+: new\.example\.com/, SLOW);
  // The new row is green (SGR 32) and the cursor is on it (inverse, SGR 7).
  await h.srv.waitForText(/\x1b\[[0-9;]*7[0-9;]*m[^\n]*new\.example\.com/, { ...SLOW, escapes: true });
  t.pass('cursor (inverse) on the new proposal');
  t.equal(readFileSync(bells, 'utf8').split('\n').filter(Boolean).length, 1, 'one bell');

  // The same proposal written again is not news.
  const file = join(bottlePaths(h.stateDir, slug).superviseQueue, `${p.id}.json`);
  writeFileSync(file, readFileSync(file));
  await h.propose(slug, 'third.example.com');
  await h.waitFor(/third\.example\.com/);
  await pollUntil('the second bell', async () => readFileSync(bells, 'utf8').split('\n').filter(Boolean).length >= 2, SLOW);
  t.equal(readFileSync(bells, 'utf8').split('\n').filter(Boolean).length, 2, 'the rewrite did not ring; the new one did');

  // a: the diff first, then y writes the decision and the policy.
  await h.keys('k'); // cursor was on third.example.com (earliest new): up to new.example.com
  await h.keys('a');
  await h.waitFor(/Approve allowlist new\.example\.com\?[\s\S]*\+ allow new\.example\.com/);
  await pollUntil('a key in the dashboard clears the counter', async () => (await label(h)) === 'bottle', SLOW);
  await h.keys('y');
  await h.waitFor(/approved allowlist new\.example\.com/);
  const paths = bottlePaths(h.stateDir, slug);
  t.equal((await readDecision(paths.superviseDecisions, p.id))?.decision, 'approved');
  t.match(readFileSync(policyFilePath(paths), 'utf8'), /new\.example\.com/, 'the policy file changed');
  const fake = JSON.parse(readFileSync(join(paths.dir, 'fake-engine.json'), 'utf8')) as { controlCalls: string[] };
  t.same(fake.controlCalls, ['reload'], 'the running bundle was told to reload');
  await pollUntil('the approved one to leave the pane', async () => !/│[^│\n]*allowlist\s+new\.example\.com/.test(await h.srv.capture()), SLOW);
});

t.test('route approval asks for the header; r rejects; IPC actions', { skip }, async (t) => {
  let slug = '';
  let other = '';
  const h = await startDashboard(t, {
    args: ['--no-focus-on-notify'],
    before: async (x) => {
      slug = await x.startFake('implementer');
      other = await x.startFake('reviewer');
    },
  });
  await h.waitFor(new RegExp(other));
  const ipc = await pollUntil('@bottle-ipc', async () => (await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-ipc' }))?.trim(), SLOW);
  t.ok(existsSync(ipc));

  t.same(await sendDashboardAction(ipc, 'next-agent'), { ok: true });
  const right = await pollUntil('right pane', () => h.rightPane(), SLOW);
  await h.waitFor(new RegExp(`fake claude for ${slug}`), right);
  t.same(await sendDashboardAction(ipc, 'next-agent'), { ok: true });
  await h.waitFor(new RegExp(`fake claude for ${other}`), right);
  t.same(await sendDashboardAction(ipc, 'prev-agent'), { ok: true });
  await h.waitFor(new RegExp(`fake claude for ${slug}`), right);
  t.equal(await activePaneOfDashWindow(h), right);

  const route = await h.propose(slug, 'api.example.com', 'route');
  await h.waitFor(/api\.example\.com/);
  t.equal(await activePaneOfDashWindow(h), right, '--no-focus-on-notify: focus stays where the operator is');
  t.same(await sendDashboardAction(ipc, 'focus-dashboard'), { ok: true });
  await pollUntil('dashboard focused', async () => (await activePaneOfDashWindow(h)) === h.dash, SLOW);

  t.same(await sendDashboardAction(ipc, 'newest-proposal'), { ok: true });
  await h.keys('a');
  await h.waitFor(/Approve route[\s\S]*value\s+Bearer \$\{EXAMPLE_TOKEN\}_/);
  await h.keys('C-u');
  await h.srv.sendKeys(['Bearer ${GITHUB_TOKEN}'], { literal: true });
  await h.waitFor(/value\s+Bearer \$\{GITHUB_TOKEN\}_/);
  await h.keys('Enter');
  // (The modal wraps long lines in the narrow dashboard pane.)
  const diff = await h.waitFor(/Approve route api\.example\.com\?[\s\S]*\+ route api\.example\.com[\s\S]*handed \$GITHUB_TOKEN/);
  t.match(diff, /\(Authorization: Bearer[^$]*\$\{GITHUB_TOKEN\}\)/, 'the diff names the header and the variable');
  await h.keys('y');
  await h.waitFor(/approved route api\.example\.com/);
  const paths = bottlePaths(h.stateDir, slug);
  t.equal((await readDecision(paths.superviseDecisions, route.id))?.decision, 'approved');
  t.match(readFileSync(policyFilePath(paths), 'utf8'), /api\.example\.com[\s\S]*GITHUB_TOKEN/);
  t.notMatch(readFileSync(policyFilePath(paths), 'utf8'), /ghp-test-dummy/, 'the policy names the variable, never its value');
  const fake = JSON.parse(readFileSync(join(paths.dir, 'fake-engine.json'), 'utf8')) as { controlCalls: string[] };
  t.same(fake.controlCalls, ['secrets:GITHUB_TOKEN', 'reload']);

  const nope = await h.propose(other, 'evil.example.com');
  await h.waitFor(/evil\.example\.com/);
  t.same(await sendDashboardAction(ipc, 'newest-proposal'), { ok: true });
  await h.keys('r');
  await h.waitFor(/Reject allowlist evil\.example\.com\?/);
  await h.keys('Enter'); // the rejection takes an optional note, so y would be note text
  await h.waitFor(/rejected allowlist evil\.example\.com/);
  t.equal((await readDecision(bottlePaths(h.stateDir, other).superviseDecisions, nope.id))?.decision, 'rejected');
  t.same(await sendDashboardAction(ipc, 'newest-proposal'), { ok: false, error: 'bottle: no pending proposals' });

  // An agent starts waiting for input (Claude Code Notification hook, relayed by supervise).
  appendFileSync(bottlePaths(h.stateDir, other).eventsFile, `${JSON.stringify({ type: 'agent-waiting', time: new Date().toISOString() })}\n`);
  await h.waitFor(new RegExp(`${other}.*running.*waiting`));
  await h.waitFor(/Agents \(2\)[\s\S]*waiting/);
  await pollUntil('the counter counts the waiting agent', async () => (await label(h)) === 'bottle (1 new!)', SLOW);

  t.same(await sendDashboardAction(ipc, 'new-agent'), { ok: true });
  await h.waitFor(/New agent/);
});
