// `bottle usage` and `bottle ls --json`'s usage, in-process over a temp state dir whose bottles'
// events files hold usage events shaped as the gateway writes them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import t from 'tap';
import { formatCost, formatTokens, renderUsage } from '../../commands/usage.js';
import { createBottle } from '../../lib/state/index.js';
import { DEFAULT_PRICES, PRICES_AS_OF, UsageAggregator, costUsd } from '../../lib/usage/index.js';
import { bottleInProcess } from '../helpers/cli.js';
import { fakeBackends } from '../helpers/fake-backend.js';

const usage = (o: Record<string, unknown>): string => `${JSON.stringify({
  type: 'usage', time: new Date().toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5-20250929',
  input: 1000, output: 500, cacheRead: 2000, cacheWrite: 100, requestId: 'req_1', path: '/v1/messages', status: 200, ...o,
})}\n`;

async function state(t: { teardown(fn: () => unknown): void }) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-cli-usage-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, BOTTLE_STATE_DIR: root };
  const add = async (agent: string, prices?: Record<string, unknown>) => {
    const b = await createBottle(root, agent, { backend: 'docker' });
    mkdirSync(dirname(b.paths.eventsFile), { recursive: true });
    if (prices) writeFileSync(b.paths.launchSpec, JSON.stringify({ plan: { agent, prices }, agent: {} }));
    const write = (...lines: string[]) => appendFileSync(b.paths.eventsFile, lines.join(''));
    return { ...b, write };
  };
  return { root, env, add };
}

const run = (args: string[], env: NodeJS.ProcessEnv) => bottleInProcess(args, { env, backends: fakeBackends });
const SONNET = DEFAULT_PRICES['claude-sonnet-4']!;
const round = (n: number) => Math.round(n * 1e6) / 1e6;

t.test('no bottles, then bottles without usage: one clear line each; --json still has every key', async (t) => {
  const s = await state(t);
  let r = await run(['usage'], s.env);
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout, 'no bottles; start one with: bottle start <agent>\n');
  const a = await s.add('implementer');
  a.write('{"type":"agent-idle","time":"2026-03-01T00:00:00Z"}\n');
  r = await run(['usage'], s.env);
  t.equal(r.stdout, 'no model usage recorded yet (the gateway records one usage event per model request)\n');
  r = await run(['usage', 'impl'], s.env);
  t.equal(r.stdout, `no model usage recorded yet for ${a.slug} (the gateway records one usage event per model request)\n`);
  r = await run(['usage', '--json'], s.env);
  const j = JSON.parse(r.stdout) as { bottles: Array<Record<string, unknown>>; total: Record<string, unknown> };
  t.same(Object.keys(j), ['pricesAsOf', 'bottles', 'total']);
  t.same(Object.keys(j.bottles[0]!), ['slug', 'agent', 'requests', 'input', 'output', 'cacheRead', 'cacheWrite', 'usd', 'unpricedRequests', 'unknownModels', 'last5m', 'byModel', 'byDay', 'skipped', 'truncated']);
  t.match(j.bottles[0], { slug: a.slug, agent: 'implementer', requests: 0, usd: 0, byModel: [], byDay: [] });
});

t.test('a table per bottle with a total row; --by model and --by day; --json; a slug prefix; manifest prices from launch.json', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const b = await s.add('reviewer', { 'mystery-model': { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 } });
  a.write(
    usage({ time: '2026-03-01T10:00:00.000Z' }),
    usage({ time: '2026-03-02T10:00:00.000Z', requestId: null }),
    'garbage line\n',
    '{"type":"usage","model":"claude-sonnet-4-5","input":"x"}\n',
    usage({ model: 'unknown-llm', input: 10, output: 10, cacheRead: 0, cacheWrite: 0 }), // now: in the 5-minute window
  );
  b.write(usage({ model: 'mystery-model', input: 1_000_000, output: 0, cacheRead: 0, cacheWrite: 0 }));
  let r = await run(['usage'], s.env);
  t.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const sonnet2 = round(2 * costUsd({ input: 1000, output: 500, cacheRead: 2000, cacheWrite: 100 }, SONNET));
  t.match(lines[0], /^SLUG\s+REQUESTS\s+INPUT\s+OUTPUT\s+CACHE R\/W\s+COST\s+LAST 5 MIN$/);
  t.match(lines[1], new RegExp(`^${a.slug}\\s+3\\s+2\\.01k\\s+1\\.01k\\s+4k/200\\s+\\$${sonnet2.toFixed(2)}\\+\\?\\s+4 tok/min, \\?/h$`));
  t.match(lines[2], new RegExp(`^${b.slug}\\s+1\\s+1M\\s+0\\s+0/0\\s+\\$1\\.00\\s+200k tok/min, \\$12\\.00/h$`), 'launch.json prices price a model the table lacks');
  t.match(lines[3], new RegExp(`^TOTAL\\s+4\\s+1M\\s+1\\.01k\\s+4k/200\\s+\\$${(sonnet2 + 1).toFixed(2)}\\+\\?\\s+200k tok/min, \\$12\\.00/h$`));
  t.match(r.stdout, /no known price for: unknown-llm \(tokens counted, cost "\?"\); set prices: in the manifest/);
  t.match(r.stdout, /1 unreadable usage line\(s\) skipped/);
  t.match(r.stdout, new RegExp(`Cost at list prices as of ${PRICES_AS_OF}`));

  r = await run(['usage', 'impl', '--by', 'model'], s.env);
  t.equal(r.exitCode, 0, r.stderr);
  const m = r.stdout.trim().split('\n');
  t.match(m[0], /^SLUG\s+MODEL\s+REQUESTS\s+INPUT\s+OUTPUT\s+CACHE R\/W\s+COST$/);
  t.match(m[1], new RegExp(`^${a.slug}\\s+claude-sonnet-4-5-20250929\\s+2\\s+2k\\s+1k\\s+4k/200\\s+\\$${sonnet2.toFixed(2)}$`));
  t.match(m[2], new RegExp(`^${a.slug}\\s+unknown-llm\\s+1\\s+10\\s+10\\s+0/0\\s+\\?$`));
  t.match(m[3], /^TOTAL\s+3\s/);
  t.notMatch(r.stdout, new RegExp(b.slug), 'a slug prefix picks one bottle');

  r = await run(['usage', '--by', 'day'], s.env);
  const today = new Date().toISOString().slice(0, 10);
  t.match(r.stdout, new RegExp(`${a.slug}\\s+2026-03-01\\s+1\\s`));
  t.match(r.stdout, new RegExp(`${a.slug}\\s+2026-03-02\\s+1\\s`));
  t.match(r.stdout, new RegExp(`${a.slug}\\s+${today}\\s+1\\s`));
  t.match(r.stdout, /^SLUG\s+DAY \(UTC\)\s+REQUESTS/);

  r = await run(['usage', '--json'], s.env);
  const j = JSON.parse(r.stdout) as { pricesAsOf: string; bottles: Array<Record<string, any>>; total: Record<string, any> };
  t.equal(j.pricesAsOf, PRICES_AS_OF);
  t.match(j.bottles[0], {
    slug: a.slug, requests: 3, input: 2010, output: 1010, cacheRead: 4000, cacheWrite: 200, usd: sonnet2,
    unpricedRequests: 1, unknownModels: ['unknown-llm'], skipped: 1, truncated: false,
    last5m: { windowMinutes: 5, requests: 1, tokensPerMinute: 4, usdPerHour: null },
  });
  t.same(j.bottles[0]!.byModel.map((x: { model: string; usd: number | null }) => [x.model, x.usd]), [['claude-sonnet-4-5-20250929', sonnet2], ['unknown-llm', null]]);
  t.same(j.bottles[0]!.byDay.map((x: { day: string }) => x.day), ['2026-03-01', '2026-03-02', today]);
  t.same(Object.keys(j.total), ['requests', 'input', 'output', 'cacheRead', 'cacheWrite', 'usd', 'unpricedRequests', 'unknownModels', 'last5m']);
  t.match(j.total, { requests: 4, usd: round(sonnet2 + 1), unknownModels: ['unknown-llm'], last5m: { requests: 2, usdPerHour: 12 } });
});

t.test('bad input is one clear line', async (t) => {
  const s = await state(t);
  await s.add('implementer');
  let r = await run(['usage', '--by', 'week'], s.env);
  t.equal(r.exitCode, 1);
  t.equal(r.stderr, 'bottle: --by "week": expected model or day\n');
  r = await run(['usage', 'nosuch'], s.env);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: no bottle named nosuch; bottles: implementer-\S+\n$/);
  r = await run(['usage', 'nosuch', '--json'], s.env);
  t.match(JSON.parse(r.stdout), { ok: false });
  r = await run(['usage', '--help'], s.env);
  t.equal(r.exitCode, 0);
  t.match(r.stdout, /Examples:\n {2}bottle usage\n {2}bottle usage implementer-ab --by model/);
  t.match(r.stdout, /one usage event per model request/);
});

t.test('ls --json: a usage object per bottle next to the existing keys', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const b = await s.add('reviewer');
  a.write(usage({}), usage({ model: 'unknown-llm' }));
  const r = await run(['ls', '--json'], s.env);
  t.equal(r.exitCode, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<Record<string, any>>;
  t.same(Object.keys(rows[0]!), ['slug', 'agent', 'backend', 'state', 'engine', 'dockerHost', 'on', 'unreachable', 'created', 'pendingProposals', 'waitingSince', 'broken', 'stoppedAt', 'saved', 'usage', 'budget']);
  const bySlug = Object.fromEntries(rows.map((x) => [x.slug, x.usage]));
  t.same(bySlug[a.slug], { requests: 2, input: 2000, output: 1000, cacheRead: 4000, cacheWrite: 200, usd: round(costUsd({ input: 1000, output: 500, cacheRead: 2000, cacheWrite: 100 }, SONNET)) });
  t.same(bySlug[b.slug], { requests: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, usd: 0 });
});

t.test('pure formatting', async (t) => {
  t.same([0, 999, 1000, 1234, 12_345, 999_999, 1_000_000, 4_560_000].map(formatTokens), ['0', '999', '1k', '1.23k', '12.3k', '1M', '1M', '4.56M']);
  t.equal(formatCost({ usd: null, unpricedRequests: 1, requests: 1 }), '?');
  t.equal(formatCost({ usd: 0.4249, unpricedRequests: 0, requests: 1 }), '$0.42');
  const agg = new UsageAggregator();
  agg.line(usage({ model: 'evil\u001b[2J' }));
  t.notMatch(renderUsage([{ slug: 's', agent: 'a', report: agg.report() }], 'model'), /\u001b/, 'a model name from the agent cannot drive the terminal');
});
