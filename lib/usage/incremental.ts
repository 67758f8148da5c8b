// A bottle's usage kept up to date as its events file grows (the dashboard reloads a bottle on
// every change of that file, i.e. on every model request): the whole file once at first sight,
// then only the bytes appended since (complete lines; a partial last line waits for its end).
// A file that shrank or was replaced (another inode) is read again from the start.
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { costUsd, priceFor, type PriceTable } from './prices.js';
import { RATE_WINDOW_MS, UsageAggregator, allTokens, parseUsageLine, type UsageRate, type UsageTotals } from './aggregate.js';
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

const CHUNK = 1024 * 1024;
// A line longer than this is not a usage event; skipped unparsed (as read.ts does).
const MAX_LINE = 64 * 1024;

export interface IncrementalUsageOptions {
  prices?: Readonly<PriceTable>;
  /** Milliseconds since the epoch (injectable for tests). */
  clock?: () => number;
  maxBytes?: number;
}

export class IncrementalUsage {
  readonly #file: string;
  readonly #prices: Readonly<PriceTable>;
  readonly #clock: () => number;
  readonly #maxBytes: number;
  #agg!: UsageAggregator;
  #offset = 0;
  #ino: number | undefined;
  #tail: Buffer = Buffer.alloc(0);
  #skipping = false;
  #recent: UsageMoment[] = [];
  #totals: UsageTotals | undefined;

  constructor(eventsFile: string, opts: IncrementalUsageOptions = {}) {
    this.#file = eventsFile;
    this.#prices = opts.prices ?? {};
    this.#clock = opts.clock ?? Date.now;
    this.#maxBytes = opts.maxBytes ?? MAX_EVENTS_BYTES;
    this.#reset();
  }

  #reset(): void {
    this.#agg = new UsageAggregator(this.#prices, 0);
    this.#offset = 0;
    this.#ino = undefined;
    this.#tail = Buffer.alloc(0);
    this.#skipping = false;
    this.#recent = [];
    this.#totals = undefined;
  }

  /** Bytes of the file read so far (complete lines and the held partial one). */
  get offset(): number {
    return this.#offset;
  }

  // Reads what was appended since the last call. Returns whether the usage changed. An absent
  // file (or a symlink, FIFO, directory in its place) is no usage.
  update(): boolean {
    let fd: number;
    try {
      fd = openSync(this.#file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch {
      return this.#clear();
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return this.#clear();
      let changed = false;
      if (this.#ino !== undefined && (st.ino !== this.#ino || st.size < this.#offset)) {
        changed = this.#agg.report().totals.requests > 0;
        this.#reset();
      }
      this.#ino = st.ino;
      const end = Math.min(st.size, this.#maxBytes);
      this.#agg.truncated = st.size > this.#maxBytes;
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, end - this.#offset)));
      while (this.#offset < end) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - this.#offset), this.#offset);
        if (n <= 0) break;
        this.#offset += n;
        if (this.#chunk(buf.subarray(0, n))) changed = true;
      }
      if (changed) this.#totals = undefined;
      return changed;
    } catch {
      return false;
    } finally {
      closeSync(fd);
    }
  }

  #clear(): boolean {
    const had = this.#ino !== undefined && this.#agg.report().totals.requests > 0;
    this.#reset();
    return had;
  }

  // Complete lines of `data` (after the held tail) into the aggregator; the rest is held.
  #chunk(data: Buffer): boolean {
    let changed = false;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = data.subarray(start, nl);
      start = nl + 1;
      if (this.#skipping) { this.#skipping = false; this.#tail = Buffer.alloc(0); continue; }
      const line = this.#tail.length > 0 ? Buffer.concat([this.#tail, piece]) : piece;
      this.#tail = Buffer.alloc(0);
      if (line.length > MAX_LINE) continue;
      if (this.#line(line.toString('utf8'))) changed = true;
    }
    if (start < data.length && !this.#skipping) {
      const rest = data.subarray(start);
      if (this.#tail.length + rest.length > MAX_LINE) { this.#skipping = true; this.#tail = Buffer.alloc(0); }
      else this.#tail = Buffer.concat([this.#tail, rest]);
    }
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
