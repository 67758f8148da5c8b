// The agents pane's USAGE and RATE columns and the border's total, asserted as strings; and the
// dashboard's data source reading a bottle's usage on from where it stopped.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import type { UsageTotals } from '../../lib/usage/index.js';
import { createBottle } from '../../lib/state/index.js';
import { viewModel } from '../../panes/model.js';
import { DataSource } from '../../panes/data.js';
import {
  agentHeader, agentRow, compactTokens, compactUsd, costText, hasUsage, rateCell, usageCell, usageTotalText,
} from '../../panes/rows.js';
import { initialState, withBottles } from '../../panes/state.js';
import type { Dims } from '../../panes/view.js';
import { fakeBackends } from '../helpers/fake-backend.js';
import { lifecycleDeps, type BottleStatus } from '../../lib/lifecycle/index.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const bottle = (slug: string, over: Partial<BottleStatus> = {}): BottleStatus =>
  ({ slug, agent: slug.split('-')[0]!, backend: 'fake', state: 'running', engine: 'running', created: new Date(NOW - 180_000).toISOString(), pendingProposals: 0, ...over });
const totals = (over: Partial<UsageTotals> = {}): UsageTotals => ({
  requests: 3, input: 1_000_000, output: 150_000, cacheRead: 50_000, cacheWrite: 0, usd: 3.4, unpricedRequests: 0, unknownModels: [], ...over,
});

t.test('compact numbers', async (t) => {
  t.same([0, 950, 1234, 9_949, 12_345, 99_949, 450_000, 999_499, 1_200_000, 12_340_000, 123_400_000].map(compactTokens),
    ['0', '950', '1.2k', '9.9k', '12k', '100k', '450k', '999k', '1.2M', '12M', '123M']);
  t.same([0, 3.4, 99.99, 240.4, 1234].map(compactUsd), ['$0.00', '$3.40', '$99.99', '$240', '$1.2k']);
  t.equal(costText({ usd: null, unpricedRequests: 2 }), '$?');
  t.equal(costText({ usd: 3.4, unpricedRequests: 1 }), '$3.40+?');
});

t.test('USAGE cell: tokens and dollars over the life; — without usage; $? unpriced', async (t) => {
  t.equal(usageCell(bottle('a-aaaaaa', { usage: totals() })), '1.2M $3.40');
  t.equal(usageCell(bottle('a-aaaaaa')), '—');
  t.equal(usageCell(bottle('a-aaaaaa', { usage: totals({ usd: null, unpricedRequests: 3 }) })), '1.2M $?');
});

t.test('RATE cell: the last 5 minutes per hour at render time; blank once the window moved on', async (t) => {
  const b = bottle('a-aaaaaa', { usage: totals(), usageRecent: [{ at: NOW - 60_000, tokens: 1000, usd: 0.1 }] });
  t.equal(rateCell(b, NOW), '$1.2/h');
  t.equal(rateCell(b, NOW + 5 * 60_000), '', 'six minutes later: nothing recent');
  t.equal(rateCell(bottle('a-aaaaaa', { usageRecent: [{ at: NOW, tokens: 5, usd: undefined }] }), NOW), '$?/h');
  t.equal(rateCell(bottle('a-aaaaaa', { usageRecent: [{ at: NOW, tokens: 5, usd: 2 }] }), NOW), '$24/h');
});

t.test('the columns appear only when some bottle has usage, and drop first when narrow', async (t) => {
  const used = bottle('implementer-k3x7qa', { usage: totals(), usageRecent: [{ at: NOW - 60_000, tokens: 1000, usd: 0.1 }] });
  const none = bottle('reviewer-abcdef');
  t.ok(hasUsage([none, used]));
  t.notOk(hasUsage([none, bottle('x-aaaaaa', { usage: totals({ requests: 0 }) })]));
  t.match(agentHeader(120, false, true), /PROP\s+USAGE\s+RATE$/);
  t.match(agentHeader(120, true, true), /GRANT\s+USAGE\s+RATE$/);
  t.notMatch(agentHeader(120), /USAGE/, 'no usage anywhere: no column');
  t.match(agentRow(used, { now: NOW, width: 120, pending: 0, usage: true }).text, /running\s+3m\s+1\.2M \$3\.40\s+\$1\.2\/h\s*$/);
  t.match(agentRow(none, { now: NOW, width: 120, pending: 0, usage: true }).text, /running\s+3m\s+—\s*$/);
  const mid = agentRow(used, { now: NOW, width: 70, pending: 0, usage: true }).text;
  t.ok(mid.length <= 70);
  t.match(mid, /1\.2M \$3\.40/, 'USAGE outlasts AGENT and BACKEND');
  t.notMatch(mid, /\/h/, 'RATE drops first');
  t.ok(agentRow(used, { now: NOW, width: 45, pending: 0, usage: true }).text.length <= 45);
});

t.test('the Agents border: the total across listed bottles', async (t) => {
  const dims: Dims = { width: 120, agentsRows: 10, proposalsRows: 5, modalWidth: 60, modalRows: 20 };
  const a = bottle('implementer-k3x7qa', { usage: totals({ usd: 10 }) });
  const b = bottle('reviewer-abcdef', { state: 'stopped', engine: 'missing', usage: totals({ usd: 2.4 }) });
  t.equal(usageTotalText([a, b, bottle('x-aaaaaa')]), '$12.40 total');
  t.equal(usageTotalText([bottle('x-aaaaaa')]), '');
  t.equal(usageTotalText([a, bottle('y-bbbbbb', { usage: totals({ usd: null, unpricedRequests: 3 }) })]), '$10.00+? total');
  const vm = viewModel(withBottles(initialState(), [a, b]).state, dims, { now: NOW, inTmux: false });
  t.equal(vm.agents.label, 'Agents (2) · $12.40 total');
  t.match(vm.agents.header, /USAGE/);
  const plain = viewModel(withBottles(initialState(), [bottle('x-aaaaaa')]).state, dims, { now: NOW, inTmux: false });
  t.equal(plain.agents.label, 'Agents (1)');
  t.notMatch(plain.agents.header, /USAGE/);
});

t.test('DataSource: the usage of a bottle read on from the last offset, priced from launch.json read once', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-panes-usage-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  mkdirSync(dirname(b.paths.eventsFile), { recursive: true });
  writeFileSync(b.paths.launchSpec, JSON.stringify({ plan: { agent: 'implementer', prices: { 'm-': { input: 1, output: 0, cacheRead: 0, cacheWrite: 0 } } }, agent: {} }));
  const line = (input: number) => `${JSON.stringify({ type: 'usage', time: new Date().toISOString(), model: 'm-1', input, output: 0 })}\n`;
  const data = new DataSource(lifecycleDeps({ BOTTLE_STATE_DIR: root }, { backends: fakeBackends }));
  let [s] = await data.bottles();
  t.equal(s!.usage, undefined, 'no events: no usage');
  writeFileSync(b.paths.eventsFile, line(1_000_000));
  [s] = await data.bottles();
  t.match(s!.usage, { requests: 1, input: 1_000_000, usd: 1 }, 'priced from launch.json');
  t.equal(s!.usageRecent?.length, 1);
  appendFileSync(b.paths.eventsFile, line(500_000) + line(500_000).slice(0, 20));
  [s] = await data.bottles();
  t.match(s!.usage, { requests: 2, usd: 1.5 }, 'the partial line waits');
  // Prices are read once: a launch.json changed later does not re-price.
  writeFileSync(b.paths.launchSpec, '{}');
  appendFileSync(b.paths.eventsFile, line(500_000).slice(20));
  [s] = await data.bottles();
  t.match(s!.usage, { requests: 3, usd: 2 });
});
