// A bottle's budget through the real dashboard: usage events crossing the warning fraction ring
// the bell once and name the bottle; crossing the cap rings again and marks the row
// `paused: budget`; `$` on the row, an amount and Enter raise the cap (budget.json, what the
// gateway reads) and the row is running again, no bell for that; Enter alone changes nothing,
// `off` lifts the cap.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { budgetFilePath } from '../../lib/lifecycle/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { parseBudgetFile } from '../../lib/usage/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// One model answer of 200k input tokens on a model priced $3 per million: $0.60.
const usage = () => `${JSON.stringify({
  type: 'usage', time: new Date().toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5-20250929',
  input: 200_000, output: 0, cacheRead: 0, cacheWrite: 0, requestId: null, path: '/v1/messages', status: 200,
})}\n`;

t.test('budget: warning bell, paused: budget at the cap, $ raises it', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { before: async (x) => { slug = await x.startFake('implementer'); } });
  await h.waitFor(new RegExp(`${slug}.*running`));
  const paths = bottlePaths(h.stateDir, slug);
  writeFileSync(budgetFilePath(paths), `${JSON.stringify({ usd: 1, warnAt: 0.5 })}\n`);
  const bells = join(h.stateDir, '..', 'bells');
  writeFileSync(bells, '');
  await h.srv.tmux(['set-hook', '-g', 'alert-bell', `run-shell "echo bell >> ${bells}"`]);
  const ringCount = () => readFileSync(bells, 'utf8').split('\n').filter(Boolean).length;

  appendFileSync(paths.eventsFile, usage());
  await h.waitFor(new RegExp(`budget: ${slug} at 60% of \\$1\\.00`));
  t.pass('the status line names the bottle and how far it is');
  await h.waitFor(new RegExp(`${slug}.*running.*\\$60%`));
  t.pass('the row flags it');
  await pollUntil('the warning bell', async () => ringCount() === 1, SLOW);

  appendFileSync(paths.eventsFile, usage());
  await h.waitFor(new RegExp(`${slug} paused: budget \\$1\\.00 reached`));
  await h.waitFor(new RegExp(`${slug}.*paused: budget`));
  t.pass('the row reads paused: budget');
  await pollUntil('the pause bell', async () => ringCount() === 2, SLOW);

  await h.keys('$');
  await h.waitFor(/Budget for implementer-\w+/);
  await h.waitFor(/budget \$1\.00: 120% used, paused/);
  await h.keys('Enter');
  await h.waitFor(new RegExp(`budget for ${slug} unchanged`));
  t.same(parseBudgetFile(readFileSync(budgetFilePath(paths), 'utf8')), { usd: 1, warnAt: 0.5 }, 'a stray Enter lifts nothing');
  await h.keys('$');
  await h.waitFor(/Budget for implementer-\w+/);
  await h.keys('5', 'Enter');
  await pollUntil('budget.json with the new cap', () => parseBudgetFile(readFileSync(budgetFilePath(paths), 'utf8')).usd === 5, SLOW);
  t.same(parseBudgetFile(readFileSync(budgetFilePath(paths), 'utf8')), { usd: 5, warnAt: 0.5 }, 'the cap changed, the warning fraction kept');
  await h.waitFor(new RegExp(`budget for ${slug}: \\$5\\.00`));
  await h.waitFor(new RegExp(`${slug}.*running`));
  t.notMatch(await h.srv.capture(), /paused: budget/, 'no longer paused');
  t.equal(ringCount(), 2, 'raising the cap rings nothing');

  await h.keys('$');
  await h.waitFor(/Budget for implementer-\w+/);
  await h.keys('o', 'f', 'f', 'Enter');
  await h.waitFor(new RegExp(`budget for ${slug} lifted`));
  t.same(parseBudgetFile(readFileSync(budgetFilePath(paths), 'utf8')), { warnAt: 0.5 }, 'off lifts the cap');
});
