// Model usage in the real dashboard: usage events landing in a bottle's events file (as the
// gateway appends them) bring the USAGE and RATE columns and the Agents border's total, and
// each appended line updates them.
import { appendFileSync } from 'node:fs';
import t from 'tap';
import { bottlePaths } from '../../lib/state/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// 1M input tokens of claude-sonnet-4 at the built-in $3/M: $3.00 per line.
const usage = (): string => `${JSON.stringify({
  type: 'usage', time: new Date().toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5', input: 1_000_000, output: 0,
  cacheRead: 0, cacheWrite: 0, requestId: 'req_1', path: '/v1/messages', status: 200,
})}\n`;

t.test('usage lines bring the USAGE column and the header total, and update them', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { before: async (x) => { slug = await x.startFake('implementer'); } });
  await h.waitFor(new RegExp(`${slug}.*running`));
  const before = await h.waitFor(/Agents \(1\)/);
  t.notMatch(before, /USAGE/, 'no usage yet: no column');

  const events = bottlePaths(h.stateDir, slug).eventsFile;
  appendFileSync(events, usage());
  await h.waitFor(/Agents \(1\) · \$3\.00 total/);
  const first = await h.waitFor(new RegExp(`${slug}.*running.*1M \\$3\\.00\\s+\\$36/h`));
  t.match(first, /USAGE\s+RATE/, 'the column headers');
  t.pass('the row shows tokens, dollars and the 5-minute rate');

  appendFileSync(events, usage() + usage());
  await h.waitFor(/Agents \(1\) · \$9\.00 total/);
  await h.waitFor(new RegExp(`${slug}.*running.*3M \\$9\\.00\\s+\\$108/h`));
  t.pass('appended lines update the row and the total');
});
