// The new-proposal popup through the real dashboard and a real tmux: two operator clients, one
// on the dashboard's session and one on ANOTHER session that was used last; the popup shows on
// the latter with the risk summary, and its keys decide through `bottle proposals decide`
// (approve, the time-boxed grant marked coming, reject with a note, later).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { readDecision } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { makeMostRecent, pollUntil, tmuxSkipReason, type TmuxViewer } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

t.test('a new proposal pops up on the most recently active client, in another session; its keys decide', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { before: async (x) => { slug = await x.startFake('implementer'); } });
  await h.waitFor(new RegExp(slug));
  await h.srv.tmux(['new-session', '-d', '-s', 'work', '-x', '160', '-y', '40', 'cat > /dev/null']);
  const onDashboard = await h.srv.attachViewer({ width: 160, height: 40 });
  const elsewhere = await h.srv.attachViewer({ session: 'work', width: 160, height: 40 });
  t.not(onDashboard.clientName, elsewhere.clientName);
  await makeMostRecent(h.srv, elsewhere);
  const paths = bottlePaths(h.stateDir, slug);
  const screen = (v: TmuxViewer, re: RegExp) => v.server.waitForText(re, SLOW);

  // a approves.
  const started = Date.now();
  const p1 = await h.propose(slug, 'docs.example.org');
  await screen(elsewhere, /bottle: allowlist docs\.example\.org from implementer-/);
  t.comment(`popup frame visible ${Date.now() - started} ms after the proposal file`);
  const shown = await screen(elsewhere, /a approve\s+t approve for a time\s+r reject with a note\s+l later/);
  t.comment(`popup keys visible ${Date.now() - started} ms after the proposal file`);
  t.match(shown, new RegExp(`${slug} asks: allowlist docs\\.example\\.org`));
  t.match(shown, /risk: LOW[\s\S]*policy\s+new: not allowed today[\s\S]*breadth\s+exact host[\s\S]*service\s+not a known paste/);
  t.notMatch(await onDashboard.server.capture(), /a approve/, 'no popup on the other client');
  await elsewhere.server.sendKeys(['a']);
  await pollUntil('the popup to approve', async () => (await readDecision(paths.superviseDecisions, p1.id))?.decision === 'approved', SLOW);
  t.match(readFileSync(policyFilePath(paths), 'utf8'), /docs\.example\.org/, 'the policy file changed');
  const fake = JSON.parse(readFileSync(join(paths.dir, 'fake-engine.json'), 'utf8')) as { controlCalls: string[] };
  t.same(fake.controlCalls, ['reload'], 'the running bundle was told to reload');
  await pollUntil('the popup to close', async () => !/a approve/.test(await elsewhere.server.capture()), SLOW);

  // t offers the grant times (Esc goes back); r takes a note for the agent.
  const p2 = await h.propose(slug, 'abc.ngrok-free.app');
  await screen(elsewhere, /risk: HIGH[\s\S]*known paste\/tunnel\/capture service \(\*\.ngrok-free\.app\)[\s\S]*l later/);
  await elsewhere.server.sendKeys(['t']);
  await screen(elsewhere, /approve abc\.ngrok-free\.app for: 1 10m\s+2 1h\s+3 until stop\s+\(Esc goes back\)/);
  await elsewhere.server.sendKeys(['Escape']);
  // Back at the keys (sent apart: Escape followed at once by r would read as Alt-r).
  await screen(elsewhere, /Esc goes back\)[\s\S]*a approve\s+t approve for a time/);
  await elsewhere.server.sendKeys(['r']);
  await screen(elsewhere, /note to the agent/);
  await elsewhere.server.sendKeys(['use the internal mirror'], { literal: true });
  await screen(elsewhere, /note to the agent[^\n]*use the internal mirror/);
  await elsewhere.server.sendKeys(['Enter']);
  await pollUntil('the popup to reject', async () => (await readDecision(paths.superviseDecisions, p2.id))?.decision === 'rejected', SLOW);
  t.equal((await readDecision(paths.superviseDecisions, p2.id))?.note, 'use the internal mirror');

  // l leaves it pending; a refused wildcard cannot be approved from the popup.
  await pollUntil('the popup to close', async () => !/l later/.test(await elsewhere.server.capture()), SLOW);
  const p3 = await h.propose(slug, '*.github.io');
  await screen(elsewhere, /risk: REFUSED - \*\.github\.io spans every site under the public suffix github\.io[\s\S]*a approve \(refused\)/);
  await elsewhere.server.sendKeys(['a']);
  await screen(elsewhere, /cannot approve: \*\.github\.io spans/);
  await elsewhere.server.sendKeys(['l']);
  await pollUntil('the popup to close', async () => !/l later/.test(await elsewhere.server.capture()), SLOW);
  t.equal(await readDecision(paths.superviseDecisions, p3.id), null, 'still pending');
});

t.test('--no-popup: the proposal rings and shows its message, no popup', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { args: ['--no-popup'], before: async (x) => { slug = await x.startFake('implementer'); } });
  await h.waitFor(new RegExp(slug));
  const viewer = await h.srv.attachViewer({ width: 160, height: 40 });
  await h.propose(slug, 'docs.example.org');
  // The message comes after the popup would have been asked for (TmuxSide.notify).
  await viewer.server.waitForText(/new allowlist proposal from implementer-\w+: docs\.example\.org/, SLOW);
  t.notMatch(await viewer.server.capture(), /bottle: allowlist docs\.example\.org from/, 'no popup');
});
