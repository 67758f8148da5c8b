// A bottle's usage events (one per model request, appended by the gateway) → totals, per model,
// per UTC day, and the rate over the last five minutes. Pure: the reader feeds lines in.
import type { UsageEvent } from './meter.js';
import { costUsd, priceFor, type PriceTable, type TokenCounts } from './prices.js';

// What the reader keeps of one usage event (meter.ts UsageEvent is the line the gateway writes;
// origin, path and status are not needed to count).
export type UsageRecord = Pick<UsageEvent, 'type' | 'time' | 'model' | 'input' | 'output' | 'cacheRead' | 'cacheWrite'> & { requestId?: string | null };

export interface UsageTotals extends TokenCounts {
  requests: number;
  /** Priced requests' cost; null when there were requests and none had a known price. */
  usd: number | null;
  /** Requests whose model has no known price (their tokens are counted, their cost is not). */
  unpricedRequests: number;
  /** Models without a known price, sorted. */
  unknownModels: string[];
}

export interface UsageRate {
  windowMinutes: number;
  requests: number;
  tokensPerMinute: number;
  /** The window's priced cost, per hour; null when it had requests and none was priced. */
  usdPerHour: number | null;
}

export interface UsageReport {
  totals: UsageTotals;
  /** Sorted by model name. */
  byModel: Array<{ model: string } & UsageTotals>;
  /** Sorted by day (YYYY-MM-DD, UTC); events without a readable time under "unknown". */
  byDay: Array<{ day: string } & UsageTotals>;
  last5m: UsageRate;
  /** Lines skipped: unparsable JSON, or a usage event missing a field. */
  skipped: number;
  /** The file was larger than the reader reads; what is counted is its beginning. */
  truncated: boolean;
}

export const RATE_WINDOW_MS = 5 * 60_000;

// A usage event from one events-file line, or undefined for other types; 'bad' for a usage
// line that does not parse or lacks a field.
export function parseUsageLine(line: string): UsageRecord | 'bad' | undefined {
  if (!line.includes('"usage"')) return undefined;
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch {
    return 'bad';
  }
  if (!ev || typeof ev !== 'object' || (ev as { type?: unknown }).type !== 'usage') return undefined;
  const e = ev as Record<string, unknown>;
  const count = (v: unknown, optional: boolean): number | undefined =>
    v === undefined && optional ? 0 : typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
  const input = count(e.input, false);
  const output = count(e.output, false);
  const cacheRead = count(e.cacheRead, true);
  const cacheWrite = count(e.cacheWrite, true);
  if (typeof e.model !== 'string' || e.model === '' || input === undefined || output === undefined
    || cacheRead === undefined || cacheWrite === undefined) return 'bad';
  return {
    type: 'usage', time: typeof e.time === 'string' ? e.time : '', model: e.model, input, output, cacheRead, cacheWrite,
    ...(typeof e.requestId === 'string' || e.requestId === null ? { requestId: e.requestId } : {}),
  };
}

interface Acc extends TokenCounts { requests: number; usd: number; priced: number; unknown: Set<string> }

const newAcc = (): Acc => ({ requests: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, usd: 0, priced: 0, unknown: new Set() });

function add(acc: Acc, ev: UsageRecord, usd: number | undefined): void {
  acc.requests++;
  acc.input += ev.input;
  acc.output += ev.output;
  acc.cacheRead += ev.cacheRead;
  acc.cacheWrite += ev.cacheWrite;
  if (usd === undefined) acc.unknown.add(ev.model);
  else { acc.usd += usd; acc.priced++; }
}

function totalsOf(acc: Acc): UsageTotals {
  return {
    requests: acc.requests, input: acc.input, output: acc.output, cacheRead: acc.cacheRead, cacheWrite: acc.cacheWrite,
    usd: acc.requests > 0 && acc.priced === 0 ? null : roundUsd(acc.usd),
    unpricedRequests: acc.requests - acc.priced, unknownModels: [...acc.unknown].sort(),
  };
}

// Cents are what people read; micro-dollars keep sums of many small requests honest.
function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

// Folds usage events as they are read; `report()` at the end (or at any time).
export class UsageAggregator {
  private readonly total = newAcc();
  private readonly models = new Map<string, Acc>();
  private readonly days = new Map<string, Acc>();
  private readonly window = newAcc();
  skipped = 0;
  truncated = false;

  constructor(private readonly prices: Readonly<PriceTable> = {}, private readonly now: number = Date.now()) {}

  line(line: string): void {
    const ev = parseUsageLine(line);
    if (ev === 'bad') this.skipped++;
    else if (ev) this.event(ev);
  }

  event(ev: UsageRecord): void {
    const rate = priceFor(ev.model, this.prices);
    const usd = rate ? costUsd(ev, rate) : undefined;
    add(this.total, ev, usd);
    const at = Date.parse(ev.time);
    const day = Number.isFinite(at) ? new Date(at).toISOString().slice(0, 10) : 'unknown';
    for (const [map, key] of [[this.models, ev.model], [this.days, day]] as const) {
      let acc = map.get(key);
      if (!acc) map.set(key, acc = newAcc());
      add(acc, ev, usd);
    }
    // No upper bound: a gateway clock a little ahead of the host's still counts as recent.
    if (Number.isFinite(at) && at > this.now - RATE_WINDOW_MS) add(this.window, ev, usd);
  }

  report(): UsageReport {
    const w = this.window;
    const minutes = RATE_WINDOW_MS / 60_000;
    const sorted = (m: Map<string, Acc>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      totals: totalsOf(this.total),
      byModel: sorted(this.models).map(([model, acc]) => ({ model, ...totalsOf(acc) })),
      byDay: sorted(this.days).map(([day, acc]) => ({ day, ...totalsOf(acc) })),
      last5m: {
        windowMinutes: minutes,
        requests: w.requests,
        tokensPerMinute: (w.input + w.output + w.cacheRead + w.cacheWrite) / minutes,
        usdPerHour: w.requests > 0 && w.priced === 0 ? null : roundUsd(w.usd * (60 / minutes)),
      },
      skipped: this.skipped,
      truncated: this.truncated,
    };
  }
}

// Every token of a set, whatever its class.
export function allTokens(t: TokenCounts): number {
  return t.input + t.output + t.cacheRead + t.cacheWrite;
}

// Several bottles' totals as one (the total row of `bottle usage`).
export function sumTotals(list: readonly UsageTotals[]): UsageTotals {
  const t: UsageTotals = { requests: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, usd: 0, unpricedRequests: 0, unknownModels: [] };
  const unknown = new Set<string>();
  for (const u of list) {
    t.requests += u.requests;
    t.input += u.input;
    t.output += u.output;
    t.cacheRead += u.cacheRead;
    t.cacheWrite += u.cacheWrite;
    t.usd = t.usd! + (u.usd ?? 0);
    t.unpricedRequests += u.unpricedRequests;
    for (const m of u.unknownModels) unknown.add(m);
  }
  t.usd = t.requests > 0 && t.unpricedRequests === t.requests ? null : roundUsd(t.usd!);
  t.unknownModels = [...unknown].sort();
  return t;
}

// Several bottles' last-5-minute rates as one.
export function sumRates(list: readonly UsageRate[]): UsageRate {
  const requests = list.reduce((n, r) => n + r.requests, 0);
  const priced = list.filter((r) => r.requests > 0 && r.usdPerHour !== null);
  return {
    windowMinutes: RATE_WINDOW_MS / 60_000,
    requests,
    tokensPerMinute: list.reduce((n, r) => n + r.tokensPerMinute, 0),
    usdPerHour: requests > 0 && priced.length === 0 ? null : roundUsd(priced.reduce((n, r) => n + r.usdPerHour!, 0)),
  };
}
