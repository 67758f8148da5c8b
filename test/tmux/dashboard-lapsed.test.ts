// A time-boxed grant that lapsed while the agent still used it, through the real dashboard: the
// gateway's event landing in the bottle's events file rings the bell once (both gateway
// replicas write it; later requests add nothing), names the bottle and host in display-message
// and on the status line, and counts in the border label.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { bottlePaths } from '../../lib/state/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

t.test('a lapsed grant still in use: one bell, the message names bottle and host', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { before: async (x) => { slug = await x.startFake('implementer'); } });
  await h.waitFor(new RegExp(`${slug}.*running`));
  const bells = join(h.stateDir, '..', 'bells');
  writeFileSync(bells, '');
  await h.srv.tmux(['set-hook', '-g', 'alert-bell', `run-shell "echo bell >> ${bells}"`]);
  const ringCount = () => readFileSync(bells, 'utf8').split('\n').filter(Boolean).length;
  const dashWindow = (await h.srv.client.display('#{window_id}', h.dash)).trim();
  // The operator is in another window of the session.
  const viewer = await h.srv.attachViewer({ width: 160, height: 40 });
  await h.srv.tmux(['new-window', '-t', `=${h.srv.session}:`, 'sleep 600']);

  const events = bottlePaths(h.stateDir, slug).eventsFile;
  const until = new Date(Date.now() - 1000).toISOString();
  const lapsed = (time: string) => `${JSON.stringify({ type: 'grant-lapsed-in-use', time, origin: 'gateway', host: 'api.example.test', pattern: 'api.example.test', until })}\n`;
  // One line from each gateway replica.
  appendFileSync(events, lapsed(new Date().toISOString()) + lapsed(new Date().toISOString()));

  await pollUntil('the bell flag on the dashboard window', async () => (await h.srv.client.display('#{window_bell_flag}', dashWindow)).trim() === '1', SLOW);
  const message = new RegExp(`grant lapsed for ${slug}: api\\.example\\.test is blocked again \\(agent still using it\\)`);
  await viewer.server.waitForText(message, SLOW);
  t.pass('display-message names the bottle and the host');
  await h.waitFor(/grant lapsed for implementer-\w+: api\.example\.test is blocked again/);
  t.pass('so does the status line');
  await pollUntil('the border counter', async () => (await h.srv.client.showOption({ scope: 'pane', target: h.dash, name: '@bottle_label' }))?.trim() === 'bottle (1 new!)', SLOW);
  t.equal(ringCount(), 1, 'one bell for two replicas');

  // The agent keeps trying: nothing new to say. The next real news still rings.
  appendFileSync(events, lapsed(new Date().toISOString()));
  await new Promise((r) => setTimeout(r, 1500)); // the reload it triggers (30 ms debounce) has run
  t.equal(ringCount(), 1, 'a later request hitting the same lapsed grant: quiet');
  appendFileSync(events, `${JSON.stringify({ type: 'agent-waiting', time: new Date().toISOString() })}\n`);
  await pollUntil('the waiting agent\'s bell', async () => ringCount() >= 2, SLOW);
  await h.waitFor(new RegExp(`${slug}.*running.*waiting`));
  t.equal(ringCount(), 2, 'the waiting agent did ring');
});
