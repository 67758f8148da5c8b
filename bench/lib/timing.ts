// Shared timing for every bench/*.bench.ts: one sampling loop and one percentile
// definition, so numbers from different benches mean the same thing.
import { performance } from 'node:perf_hooks';

// How many calls to make; warmup calls are not timed.
export interface TimeItOptions {
  warmup?: number; // untimed calls first (JIT, caches); default 0
  iterations: number; // timed calls, one sample each
}

// Calls `fn` warmup + iterations times and returns one duration per timed call, in ms.
// A function returning a promise is awaited (and its time includes the await).
export function timeIt(fn: () => Promise<unknown>, options: TimeItOptions): Promise<number[]>;
export function timeIt(fn: () => unknown, options: TimeItOptions): number[];
export function timeIt(fn: () => unknown, options: TimeItOptions): number[] | Promise<number[]> {
  const { warmup = 0, iterations } = options;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be >= 1, got ${iterations}`);
  // The first call (warmup or timed) tells whether fn is async.
  const start = performance.now();
  const first = fn();
  if (isThenable(first)) return timeAsync(fn as () => Promise<unknown>, first, start, warmup, iterations);
  const samples: number[] = warmup === 0 ? [performance.now() - start] : [];
  for (let i = 1; i < warmup; i++) fn();
  while (samples.length < iterations) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

async function timeAsync(
  fn: () => Promise<unknown>,
  first: PromiseLike<unknown>,
  start: number,
  warmup: number,
  iterations: number,
): Promise<number[]> {
  await first;
  const samples: number[] = warmup === 0 ? [performance.now() - start] : [];
  for (let i = 1; i < warmup; i++) await fn();
  while (samples.length < iterations) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

// Nearest-rank percentile (p in 0..100) of unsorted samples; p50 of [1,2,3,4] is 2.
export function percentile(samples: readonly number[], p: number): number {
  return nearestRank([...samples].sort((a, b) => a - b), p);
}

function nearestRank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

// The usual row of a bench table.
export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

// Everything a bench table row usually needs, from one sort.
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    mean: sorted.reduce((sum, s) => sum + s, 0) / sorted.length,
    min: nearestRank(sorted, 0),
    p50: nearestRank(sorted, 50),
    p99: nearestRank(sorted, 99),
    max: nearestRank(sorted, 100),
  };
}
