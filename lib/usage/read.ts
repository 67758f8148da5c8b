// A bottle's usage from its events file, read line by line to the end (usage covers the
// bottle's whole life) up to a byte bound, and the per-bottle price overrides from launch.json.
import { closeSync, constants as fsc, createReadStream, fstatSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { PRICE_CLASSES, type PriceRate, type PriceTable } from './prices.js';
import { UsageAggregator, type UsageReport } from './aggregate.js';

// An events file larger than this is counted up to here and reported `truncated` (a usage
// event is ~250 bytes: this is millions of model requests).
export const MAX_EVENTS_BYTES = 512 * 1024 * 1024;
// A line longer than this is not a usage event (they are a few hundred bytes); skipped unparsed.
const MAX_LINE = 64 * 1024;

export interface ReadUsageOptions {
  prices?: Readonly<PriceTable>;
  now?: number;
  maxBytes?: number;
}

// The usage in `eventsFile`; an absent file is no usage. The bundle writes that file: a symlink,
// FIFO or directory in its place counts nothing rather than being followed or waited on.
export async function readUsage(eventsFile: string, opts: ReadUsageOptions = {}): Promise<UsageReport> {
  const agg = new UsageAggregator(opts.prices ?? {}, opts.now ?? Date.now());
  let fd: number;
  try {
    fd = openSync(eventsFile, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return agg.report();
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) { closeSync(fd); return agg.report(); }
    size = st.size;
  } catch {
    closeSync(fd);
    return agg.report();
  }
  const max = opts.maxBytes ?? MAX_EVENTS_BYTES;
  if (size === 0) { closeSync(fd); return agg.report(); }
  const stream = createReadStream('', { fd, start: 0, end: Math.min(size, max) - 1, autoClose: true });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length > MAX_LINE) { if (line.includes('"usage"')) agg.skipped++; continue; }
    agg.line(line);
  }
  agg.truncated = size > max;
  return agg.report();
}

// The bottle's price overrides as start recorded them (launch.json: the plan's `prices`); none
// when it has no launch.json or names none; a malformed entry is left out.
export function launchPrices(launchSpecFile: string): PriceTable {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(launchSpecFile, 'utf8'));
  } catch {
    return {};
  }
  const raw = (spec as { plan?: { prices?: unknown } } | null)?.plan?.prices;
  const out: PriceTable = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [key, rate] of Object.entries(raw as Record<string, unknown>)) {
    if (!rate || typeof rate !== 'object') continue;
    const r = rate as Record<string, unknown>;
    if (PRICE_CLASSES.every((c) => typeof r[c] === 'number' && Number.isFinite(r[c]) && (r[c] as number) >= 0)) {
      out[key] = Object.fromEntries(PRICE_CLASSES.map((c) => [c, r[c]])) as unknown as PriceRate;
    }
  }
  return out;
}
