// A bottle's usage kept up to date as its events file grows (the dashboard reloads a bottle on
// every change of that file, i.e. on every model request): the whole file once at first sight,
// then only the bytes appended since (complete lines; a partial last line waits for its end).
// A file that shrank or was replaced (another inode) is read again from the start.
import { costUsd, priceFor, type PriceTable } from './prices.js';
import { RATE_WINDOW_MS, UsageAggregator, allTokens, parseUsageLine, type UsageRate, type UsageTotals } from './aggregate.js';
import { LineTail } from './lines.js';
import { MAX_EVENTS_BYTES } from './read.js';

// One recent request, as the rate needs it: when, how many tokens, what it cost (undefined: no price).
export interface UsageMoment { at: number; tokens: number; usd: number | undefined }

// The rate over the RATE_WINDOW_MS before `now` of these requests (same rule as the aggregator's
// last5m: a request stamped a little in the future still counts).
export function rateOf(recent: readonly UsageMoment[], now: number): UsageRate {
  const minutes = RATE_WINDOW_MS / 60_000;
  let requests = 0;
  let tokens = 0;
  let usd = 0;
  let priced = 0;
  for (const m of recent) {
    if (m.at <= now - RATE_WINDOW_MS) continue;
    requests++;
    tokens += m.tokens;
    if (m.usd !== undefined) { usd += m.usd; priced++; }
  }
  return {
    windowMinutes: minutes, requests, tokensPerMinute: tokens / minutes,
    usdPerHour: requests > 0 && priced === 0 ? null : Math.round(usd * (60 / minutes) * 1e6) / 1e6,
  };
}

// A line longer than this is not a usage event; skipped unparsed (as read.ts does).
const MAX_LINE = 64 * 1024;

export interface IncrementalUsageOptions {
  prices?: Readonly<PriceTable>;
  /** Milliseconds since the epoch (injectable for tests). */
  clock?: () => number;
  maxBytes?: number;
}

export class IncrementalUsage {
  readonly #prices: Readonly<PriceTable>;
  readonly #clock: () => number;
  readonly #lines: LineTail;
  #agg!: UsageAggregator;
  #recent: UsageMoment[] = [];
  #totals: UsageTotals | undefined;

  constructor(eventsFile: string, opts: IncrementalUsageOptions = {}) {
    this.#prices = opts.prices ?? {};
    this.#clock = opts.clock ?? Date.now;
    this.#lines = new LineTail(eventsFile, { maxBytes: opts.maxBytes ?? MAX_EVENTS_BYTES, maxLine: MAX_LINE });
    this.#reset();
  }

  #reset(): void {
    this.#agg = new UsageAggregator(this.#prices, 0);
    this.#recent = [];
    this.#totals = undefined;
  }

  /** Bytes of the file read so far (complete lines and the held partial one). */
  get offset(): number {
    return this.#lines.offset;
  }

  // Reads what was appended since the last call. Returns whether the usage changed. An absent
  // file (or a symlink, FIFO, directory in its place) is no usage.
  update(): boolean {
    let changed = false;
    this.#lines.read((line) => { if (this.#line(line)) changed = true; }, () => {
      if (this.#agg.report().totals.requests > 0) changed = true;
      this.#reset();
    });
    this.#agg.truncated = this.#lines.truncated;
    if (changed) this.#totals = undefined;
    return changed;
  }

  #line(line: string): boolean {
    const ev = parseUsageLine(line);
    if (ev === undefined) return false;
    if (ev === 'bad') { this.#agg.skipped++; return false; }
    this.#agg.event(ev);
    const at = Date.parse(ev.time);
    if (Number.isFinite(at) && at > this.#clock() - RATE_WINDOW_MS) {
      const rate = priceFor(ev.model, this.#prices);
      this.#recent.push({ at, tokens: allTokens(ev), usd: rate ? costUsd(ev, rate) : undefined });
    }
    return true;
  }

  /** The bottle's life so far (the lines read up to the last update). */
  totals(): UsageTotals {
    return this.#totals ??= this.#agg.report().totals;
  }

  /** The requests inside the rate window at the clock's now (older ones are dropped). */
  recent(): UsageMoment[] {
    const from = this.#clock() - RATE_WINDOW_MS;
    if (this.#recent.some((m) => m.at <= from)) this.#recent = this.#recent.filter((m) => m.at > from);
    return [...this.#recent];
  }

  /** The last five minutes' rate at the clock's now (moves on without new lines). */
  rate(): UsageRate {
    return rateOf(this.recent(), this.#clock());
  }
}
