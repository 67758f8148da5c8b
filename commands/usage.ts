// `bottle usage [slug] [--json] [--by model|day]`: what each bottle's model requests used and cost,
// from the usage events the gateway appends to its events file.
import type { Command } from 'commander';
import { clip, formatTokens } from '../lib/format.js';
import { cliDeps, findBottle, pullBundles } from '../lib/lifecycle/index.js';
import { bottlePaths, listBottles, type Metadata } from '../lib/state/index.js';
import {
  PRICES_AS_OF, launchPrices, readUsage, sumRates, sumTotals, type UsageRate, type UsageReport, type UsageTotals,
} from '../lib/usage/index.js';
import { UserError } from '../lib/errors.js';
import type { Ctx, Outcome } from '../lib/cli.js';

export { formatTokens };

export interface BottleUsage { slug: string; agent: string; report: UsageReport }

const BY = ['model', 'day'] as const;
type By = (typeof BY)[number];

// $0.42; "?" when nothing could be priced; "+?" when some requests have no known price.
export function formatCost(t: Pick<UsageTotals, 'usd' | 'unpricedRequests' | 'requests'>): string {
  if (t.usd === null) return '?';
  const usd = `$${t.usd.toFixed(2)}`;
  return t.unpricedRequests > 0 ? `${usd}+?` : usd;
}

export function formatRate(r: UsageRate): string {
  if (r.requests === 0) return '-';
  return `${formatTokens(r.tokensPerMinute)} tok/min, ${r.usdPerHour === null ? '?' : `$${r.usdPerHour.toFixed(2)}`}/h`;
}

function cells(t: UsageTotals): string[] {
  return [String(t.requests), formatTokens(t.input), formatTokens(t.output),
    `${formatTokens(t.cacheRead)}/${formatTokens(t.cacheWrite)}`, formatCost(t)];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

// The human table (pure; tested as strings): a row per bottle (or per bottle and model/day) and a total row.
export function renderUsage(list: readonly BottleUsage[], by?: By): string {
  const totals = sumTotals(list.map((b) => b.report.totals));
  const rate = sumRates(list.map((b) => b.report.last5m));
  const head = ['REQUESTS', 'INPUT', 'OUTPUT', 'CACHE R/W', 'COST'];
  let rows: string[][];
  if (!by) {
    rows = [['SLUG', ...head, 'LAST 5 MIN'], ...list.map((b) => [b.slug, ...cells(b.report.totals), formatRate(b.report.last5m)])];
    if (list.length > 1) rows.push(['TOTAL', ...cells(totals), formatRate(rate)]);
  } else {
    const key = by === 'model' ? 'MODEL' : 'DAY (UTC)';
    rows = [['SLUG', key, ...head]];
    for (const b of list) {
      const parts = by === 'model' ? b.report.byModel.map((m) => [clip(m.model, 60), m] as const) : b.report.byDay.map((d) => [d.day, d] as const);
      for (const [name, t] of parts) rows.push([b.slug, name, ...cells(t)]);
    }
    rows.push(['TOTAL', '', ...cells(totals)]);
  }
  const out = [table(rows)];
  if (totals.unknownModels.length > 0) {
    out.push('', `no known price for: ${totals.unknownModels.map((m) => clip(m, 60)).join(', ')} (tokens counted, cost "?"); set prices: in the manifest`);
  }
  const skipped = list.reduce((n, b) => n + b.report.skipped, 0);
  if (skipped > 0) out.push(`${skipped} unreadable usage line(s) skipped`);
  const truncated = list.filter((b) => b.report.truncated).map((b) => b.slug);
  if (truncated.length > 0) out.push(`events file too large, counted its beginning only: ${truncated.join(', ')}`);
  out.push(`Cost at list prices as of ${PRICES_AS_OF} unless the manifest's prices: overrides them.`);
  return out.join('\n');
}

// `--json` (stable keys): every bottle with its totals, per model, per day and last-5-minute rate, and the sum.
export function usageJson(list: readonly BottleUsage[]): Record<string, unknown> {
  return {
    pricesAsOf: PRICES_AS_OF,
    bottles: list.map((b) => ({
      slug: b.slug, agent: b.agent, ...b.report.totals, last5m: b.report.last5m,
      byModel: b.report.byModel, byDay: b.report.byDay, skipped: b.report.skipped, truncated: b.report.truncated,
    })),
    total: { ...sumTotals(list.map((b) => b.report.totals)), last5m: sumRates(list.map((b) => b.report.last5m)) },
  };
}

async function usageOf(root: string, metas: readonly Pick<Metadata, 'slug' | 'agent'>[], now: number): Promise<BottleUsage[]> {
  return Promise.all(metas.map(async (m) => {
    const paths = bottlePaths(root, m.slug);
    return { slug: m.slug, agent: m.agent, report: await readUsage(paths.eventsFile, { prices: launchPrices(paths.launchSpec), now }) };
  }));
}

export function registerUsage(program: Command, ctx: Ctx, _outcome: Outcome): void {
  program
    .command('usage')
    .description('model tokens and cost per bottle over its life, and the rate over the last 5 minutes')
    .argument('[slug]', 'one bottle (see bottle ls); a unique prefix works; default: every bottle')
    .option('--json', 'print {pricesAsOf, bottles: [{slug, agent, requests, input, output, cacheRead, cacheWrite, usd, unpricedRequests, unknownModels, last5m, byModel, byDay, skipped, truncated}], total}')
    .option('--by <what>', 'break the table down by model or by day (UTC)')
    .addHelpText('after', [
      '',
      'The gateway records one usage event per model request in the bottle\'s events file; this',
      'adds them up. Tokens are input, output and cache read/write; COST uses the built-in list',
      `prices (as of ${PRICES_AS_OF}; they may be stale) unless the manifest sets prices: (defaults or`,
      'per agent, USD per million tokens, by model name or prefix). A model with no known price',
      'counts its tokens and shows cost "?". usd is null in JSON when nothing could be priced.',
      '',
      'Examples:',
      '  bottle usage',
      '  bottle usage implementer-ab --by model',
      '  bottle usage --by day --json',
    ].join('\n'))
    .action(async (slug: string | undefined, opts: { json?: boolean; by?: string }) => {
      if (opts.by !== undefined && !(BY as readonly string[]).includes(opts.by)) {
        throw new UserError(`--by ${JSON.stringify(opts.by)}: expected model or day`);
      }
      const deps = cliDeps(ctx);
      const metas = slug !== undefined
        ? [await findBottle(deps, slug)]
        : (await listBottles(deps.root)).filter((e): e is Extract<typeof e, { ok: true }> => e.ok).map((e) => e.metadata);
      await pullBundles(deps, metas.filter((m) => m.state === 'running'));
      const list = await usageOf(deps.root, metas, Date.now());
      if (opts.json) { ctx.out(JSON.stringify(usageJson(list), null, 2)); return; }
      if (list.length === 0) { ctx.out('no bottles; start one with: bottle start <agent>'); return; }
      if (list.every((b) => b.report.totals.requests === 0 && b.report.skipped === 0)) {
        ctx.out(`no model usage recorded yet${slug !== undefined ? ` for ${list[0]!.slug}` : ''} (the gateway records one usage event per model request)`);
        return;
      }
      ctx.out(renderUsage(list, opts.by as By | undefined));
    });
}
