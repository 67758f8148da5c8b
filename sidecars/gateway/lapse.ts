// One diag line when a time-boxed allow entry (lib/policy/grants.ts) lapses. Only this log is
// timer-driven: the verdict compares `until` with the clock at request time (evaluate's `now`),
// so a late or lost timer never lets a request through, and no reload is involved.
import { grantsOf, type Policy } from '../../lib/policy/index.js';

// setTimeout's longest delay (~24.8 days); longer waits are chained.
const MAX_DELAY_MS = 2 ** 31 - 1;

// The line a lapse logs (exported for tests and docs).
export function lapseLine(pattern: string, until: string): string {
  return `grant lapsed: ${pattern} (allowed until ${until}); requests to it are blocked from now on`;
}

// Schedules the lapse lines of `policy`'s grants still running at `now`; returns the cancel
// (called when the policy is replaced and at close).
export function scheduleLapses(policy: Policy, diag: (message: string) => void, now = Date.now()): () => void {
  const timers = new Set<NodeJS.Timeout>();
  const at = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (ms > MAX_DELAY_MS) at(ms - MAX_DELAY_MS, fn);
      else fn();
    }, Math.min(ms, MAX_DELAY_MS));
    timer.unref();
    timers.add(timer);
  };
  for (const g of grantsOf(policy, now)) {
    if (g.remainingMs > 0 && g.remainingMs !== Infinity) at(g.remainingMs, () => diag(lapseLine(g.pattern, g.until)));
  }
  return () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
}
