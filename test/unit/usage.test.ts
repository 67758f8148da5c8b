// Metering on the host: price matching (exact, longest prefix, overrides, unknown), the
// manifest's prices: (validated, positioned) carried into the plan, and aggregation of a
// bottle's events file (whole file, malformed lines, other types, per model/day, 5-minute rate).
import t from 'tap';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssue, parseManifest } from '../../lib/manifest/index.js';
import { preparePlan } from '../../lib/plan/index.js';
import {
  DEFAULT_PRICES, PRICES_AS_OF, UsageAggregator, costUsd, launchPrices, matchPrice, parseUsageLine, priceFor, readUsage, sumRates, sumTotals,
} from '../../lib/usage/index.js';

const ev = (o: Record<string, unknown>): string => JSON.stringify({
  type: 'usage', time: '2026-03-01T12:00:00.000Z', origin: 'gateway', model: 'claude-sonnet-4-5-20250929',
  input: 1000, output: 500, cacheRead: 2000, cacheWrite: 100, requestId: 'req_1', path: '/v1/messages', status: 200, ...o,
});

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-usage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('price table: dated; exact name, else longest prefix, else unknown; overrides first', async (t) => {
  t.match(PRICES_AS_OF, /^\d{4}-\d\d-\d\d$/);
  t.same(priceFor('claude-sonnet-4-5-20250929'), { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }, 'claude-sonnet-4 covers 4-5');
  t.equal(matchPrice('claude-opus-4-5-20251101', DEFAULT_PRICES)?.key, 'claude-opus-4-5', 'the longest prefix wins over claude-opus-4');
  t.equal(matchPrice('claude-opus-4-20250514', DEFAULT_PRICES)?.key, 'claude-opus-4');
  t.equal(matchPrice('claude-haiku-4-5', DEFAULT_PRICES)?.key, 'claude-haiku-4-5', 'exact');
  t.equal(priceFor('gpt-4o'), undefined, 'unknown model: no price');
  const own = { 'claude-sonnet-4': { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 }, 'my-model': { input: 9, output: 9, cacheRead: 9, cacheWrite: 9 } };
  t.same(priceFor('claude-sonnet-4-5-20250929', own), own['claude-sonnet-4'], 'an override matching the model wins over the built-in table');
  t.same(priceFor('my-model-v2', own), own['my-model'], 'overrides match by prefix too');
  t.same(priceFor('claude-3-haiku-20240307', own), DEFAULT_PRICES['claude-3-haiku'], 'the built-in table for what the overrides do not name');
  t.equal(costUsd({ input: 1_000_000, output: 1_000_000, cacheRead: 1_000_000, cacheWrite: 1_000_000 }, DEFAULT_PRICES['claude-sonnet-4']!), 3 + 15 + 0.3 + 3.75);
});

t.test('manifest prices: defaults and per agent reach the plan, the agent\'s over defaults', async (t) => {
  const text = [
    'version: 1',
    'defaults:',
    '  prices:',
    '    claude-sonnet-4: { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 }',
    '    claude-opus-4: { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 }',
    'agents:',
    '  a:',
    '    prices:',
    '      claude-sonnet-4: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 }',
    '  b: {}',
    '',
  ].join('\n');
  const r = parseManifest(text, 'b.yaml');
  t.same(r.issues, []);
  const loaded = { path: '/m/bottle.yaml', manifest: r.manifest! };
  t.same(preparePlan(loaded, 'a').prices, {
    'claude-sonnet-4': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
    'claude-opus-4': { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 },
  });
  t.same(preparePlan(loaded, 'b').prices?.['claude-sonnet-4'], { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 });
  const none = parseManifest('version: 1\nagents: { a: {} }\n', 'b.yaml');
  t.notOk('prices' in preparePlan({ path: '/m/bottle.yaml', manifest: none.manifest! }, 'a'), 'no prices key without prices:');
});

t.test('manifest prices: every problem is one positioned error', async (t) => {
  const text = [
    'version: 1',
    'defaults:',
    '  prices:',
    '    claude-sonnet-4: { input: 3, output: 15, cacheRead: 0.3 }',
    '    "bad key!": { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 }',
    '    claude-opus-4: { input: "3", output: -1, cacheRead: 0.3, cacheWrite: 3.75, extra: 1 }',
    'agents:',
    '  a:',
    '    prices: [1]',
    '  b:',
    '    prices:',
    '      claude-haiku-4-5: 5',
    '',
  ].join('\n');
  t.same(parseManifest(text, 'b.yaml').issues.map(formatIssue), [
    'b.yaml:4:5: defaults.prices.claude-sonnet-4.cacheWrite: required (USD per million cache-write input tokens)',
    'b.yaml:5:5: defaults.prices.bad key!: expected a model name or prefix (e.g. claude-sonnet-4)',
    'b.yaml:6:29: defaults.prices.claude-opus-4.input: expected USD per million tokens (a number such as 3 or 0.3), got a string',
    'b.yaml:6:42: defaults.prices.claude-opus-4.output: expected USD per million tokens from 0 to 100000, got -1',
    'b.yaml:6:80: defaults.prices.claude-opus-4.extra: unknown key; expected one of: input, output, cacheRead, cacheWrite',
    'b.yaml:9:13: agents.a.prices: expected a mapping, got a list',
    'b.yaml:12:25: agents.b.prices.claude-haiku-4-5: expected a mapping, got a number (5)',
  ]);
  t.match(parseManifest('version: 1\ndefaults: { price: {} }\nagents: { a: {} }\n', 'b.yaml').issues.map(formatIssue),
    ['b.yaml:2:13: defaults.price: unknown key; did you mean prices?']);
});

t.test('parseUsageLine: usage events only; a broken usage line is "bad"', async (t) => {
  t.match(parseUsageLine(ev({})), { type: 'usage', model: 'claude-sonnet-4-5-20250929', input: 1000, output: 500, cacheRead: 2000, cacheWrite: 100, requestId: 'req_1' });
  t.equal(parseUsageLine('{"type":"agent-idle","time":"x"}'), undefined, 'other types are not usage');
  t.equal(parseUsageLine('{"type":"allow","note":"usage"}'), undefined, 'a mention of "usage" in another event is not usage');
  t.equal(parseUsageLine('{"type":"usage","model":"m","inp'), 'bad', 'a partial line');
  t.equal(parseUsageLine(ev({ input: 'many' })), 'bad');
  t.equal(parseUsageLine(ev({ output: -1 })), 'bad');
  t.equal(parseUsageLine(ev({ model: '' })), 'bad');
  t.match(parseUsageLine(ev({ cacheRead: undefined, cacheWrite: undefined })), { cacheRead: 0, cacheWrite: 0 }, 'cache counts default to 0');
});

t.test('aggregation: totals, per model, per UTC day, unknown model, the 5-minute rate on an injected clock', async (t) => {
  const now = Date.parse('2026-03-02T00:02:00.000Z');
  const agg = new UsageAggregator({}, now);
  agg.line(ev({ time: '2026-03-01T10:00:00.000Z' }));
  agg.line(ev({ time: '2026-03-01T23:58:00.000Z', model: 'claude-opus-4-5-20251101', input: 100, output: 100, cacheRead: 0, cacheWrite: 0 })); // 4 min ago
  agg.line(ev({ time: '2026-03-01T23:56:59.000Z', input: 7, output: 7, cacheRead: 0, cacheWrite: 0 })); // 5 min 1 s ago: outside
  agg.line(ev({ time: '2026-03-02T00:01:00.000Z', model: 'mystery-model', input: 10, output: 20, cacheRead: 0, cacheWrite: 0 }));
  agg.line('not json at all');
  agg.line('{"type":"usage","broken');
  agg.line('{"type":"agent-waiting","time":"2026-03-02T00:00:00Z"}');
  const r = agg.report();
  const sonnet = costUsd({ input: 1007, output: 507, cacheRead: 2000, cacheWrite: 100 }, DEFAULT_PRICES['claude-sonnet-4']!);
  const opus = (100 * 5 + 100 * 25) / 1e6;
  t.same(r.totals, {
    requests: 4, input: 1117, output: 627, cacheRead: 2000, cacheWrite: 100,
    usd: Math.round((sonnet + opus) * 1e6) / 1e6, unpricedRequests: 1, unknownModels: ['mystery-model'],
  });
  t.equal(r.skipped, 1, 'a broken usage line is skipped and counted; junk without "usage" and other types are ignored');
  t.same(r.byModel.map((m) => [m.model, m.requests, m.usd]), [
    ['claude-opus-4-5-20251101', 1, opus], ['claude-sonnet-4-5-20250929', 2, Math.round(sonnet * 1e6) / 1e6], ['mystery-model', 1, null],
  ], 'unknown price: tokens counted, cost null');
  t.same(r.byDay.map((d) => [d.day, d.requests]), [['2026-03-01', 3], ['2026-03-02', 1]]);
  t.same(r.last5m, { windowMinutes: 5, requests: 2, tokensPerMinute: (200 + 30) / 5, usdPerHour: Math.round(opus * 12 * 1e6) / 1e6 });
  const ahead = new UsageAggregator({}, now);
  ahead.line(ev({ time: '2026-03-02T00:02:03.000Z' }));
  t.equal(ahead.report().last5m.requests, 1, 'an event stamped a little after the host clock still counts as recent');
  t.same(new UsageAggregator({}, now).report().last5m, { windowMinutes: 5, requests: 0, tokensPerMinute: 0, usdPerHour: 0 });
  const onlyUnknown = new UsageAggregator({}, now);
  onlyUnknown.line(ev({ model: 'mystery-model', time: '2026-03-02T00:01:00.000Z' }));
  t.equal(onlyUnknown.report().totals.usd, null, 'nothing priced: usd is null, not 0');
  t.equal(onlyUnknown.report().last5m.usdPerHour, null);
  const priced = new UsageAggregator({ 'mystery-model': { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 } }, now);
  priced.line(ev({ model: 'mystery-model', input: 1e6, output: 0, cacheRead: 0, cacheWrite: 0 }));
  t.equal(priced.report().totals.usd, 1, 'an override prices a model the table lacks');
  t.same(sumTotals([r.totals, onlyUnknown.report().totals]).unknownModels, ['mystery-model']);
  t.equal(sumTotals([onlyUnknown.report().totals, new UsageAggregator().report().totals]).usd, null, 'a sum with nothing priced stays null');
  t.equal(sumRates([onlyUnknown.report().last5m, new UsageAggregator({}, now).report().last5m]).usdPerHour, null);
});

t.test('readUsage: the whole file, line by line, robust to junk; absent, symlinked and capped files', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'events.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) lines.push(ev({ requestId: `req_${i}`, input: 1, output: 1, cacheRead: 0, cacheWrite: 0 }), '{"type":"allow","host":"x"}');
  lines.push('\u0000garbage', 'x'.repeat(100_000), '{"type":"usage"');
  writeFileSync(file, `${lines.join('\n')}\n${ev({ input: 5, output: 5 }).slice(0, 40)}`); // a last line cut mid-write
  const r = await readUsage(file);
  t.equal(r.totals.requests, 5000, 'every usage event of a file far larger than a tail window');
  t.equal(r.totals.input, 5000);
  t.equal(r.skipped, 2, 'the cut usage lines are skipped');
  t.equal(r.truncated, false);
  const capped = await readUsage(file, { maxBytes: 10 * ev({ input: 1, output: 1, cacheRead: 0, cacheWrite: 0 }).length });
  t.ok(capped.truncated && capped.totals.requests < 10, 'over the byte bound: its beginning, flagged');
  t.same((await readUsage(join(dir, 'absent'))).totals.requests, 0);
  symlinkSync(file, join(dir, 'link'));
  t.equal((await readUsage(join(dir, 'link'))).totals.requests, 0, 'a symlink is not followed');
  t.equal((await readUsage(dir)).totals.requests, 0, 'a directory counts nothing');
});

t.test('launchPrices: the plan\'s prices from launch.json; malformed entries left out', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'launch.json');
  t.same(launchPrices(file), {}, 'no launch.json');
  writeFileSync(file, JSON.stringify({ plan: { prices: { a: { input: 1, output: 2, cacheRead: 3, cacheWrite: 4 }, b: { input: 'x' }, c: null } } }));
  t.same(launchPrices(file), { a: { input: 1, output: 2, cacheRead: 3, cacheWrite: 4 } });
  writeFileSync(file, '{not json');
  t.same(launchPrices(file), {});
});

t.test('README: the prices: example parses and prices what it says', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { projectRoot } = await import('../../lib/paths.js');
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Usage and cost'), readme.indexOf('### Life cycle'));
  const example = /`(prices: \{ .* \} \})`/.exec(section.replace(/\n/g, ' '))?.[1];
  t.ok(example, 'the section shows a prices: example');
  const r = parseManifest(`version: 1\ndefaults:\n  ${example}\nagents: { a: {} }\n`, 'README.md');
  t.same(r.issues, []);
  t.same(preparePlan({ path: '/m/bottle.yaml', manifest: r.manifest! }, 'a').prices, { 'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } });
  t.match(section, /`claude-sonnet-4` covers\s+`claude-sonnet-4-5-20250929`/);
  t.equal(matchPrice('claude-sonnet-4-5-20250929', DEFAULT_PRICES)?.key, 'claude-sonnet-4');
});

t.test('the line the gateway writes is the line the reader counts (meter.ts → aggregate.ts)', async (t) => {
  const { usageEvent } = await import('../../lib/usage/meter.js');
  const { parseUsageLine: parse } = await import('../../lib/usage/aggregate.js');
  const written = usageEvent({ model: 'claude-sonnet-4-5', input: 25, output: 42, cacheRead: 300, cacheWrite: 7, messageId: 'msg_1' },
    { requestId: 'req_1', path: '/v1/messages', status: 200, time: new Date('2026-01-02T03:04:05Z') });
  t.same(parse(JSON.stringify(written)), {
    type: 'usage', time: '2026-01-02T03:04:05.000Z', model: 'claude-sonnet-4-5', input: 25, output: 42, cacheRead: 300, cacheWrite: 7, requestId: 'req_1',
  });
  const unknown = usageEvent({ model: undefined, input: 1, output: 2, cacheRead: 0, cacheWrite: 0, messageId: undefined }, { requestId: undefined, path: '/v1/messages', status: 200 });
  t.match(parse(JSON.stringify(unknown)), { model: 'unknown', input: 1, output: 2, requestId: null }, 'a usage without a model is counted under "unknown"');
});
