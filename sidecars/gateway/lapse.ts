// One diag line when a time-boxed allow entry (lib/policy/grants.ts) lapses, and one event when
// a request first hits a lapsed one (the agent still uses it: the operator's dashboard rings).
// Only the first is timer-driven, the second follows a decision already made: the verdict
// compares `until` with the clock at request time (evaluate's `now`), so a late or lost timer
// never lets a request through, and nothing here can turn a block into anything else.
import { GRANT_LAPSED_EVENT, grantsOf, lapsedGrantFor, type GrantLapsedEvent, type Policy } from '../../lib/policy/index.js';
import type { Outcome } from './flow.js';
import { loggedTarget, WITHHELD } from './log.js';

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

// The line logged when a request first hits a lapsed grant (exported for tests and docs).
export function inUseLine(ev: Pick<GrantLapsedEvent, 'host' | 'pattern' | 'until'>): string {
  const grant = ev.pattern === ev.host ? '' : ` (grant ${ev.pattern})`;
  return `grant lapsed but still in use: ${ev.host}${grant} was allowed until ${ev.until}; blocked, the operator is told`;
}

// What a decision says about lapsed grants: for an allowlist block of `host`, the grant of
// `policy` that would have admitted it before it lapsed (host as the decision log shows it, the
// pattern when the log withholds the name); undefined for anything else. Pure.
export function lapsedInUse(policy: Policy, host: string, outcome: Outcome, now: number): Omit<GrantLapsedEvent, 'type' | 'time' | 'origin'> | undefined {
  if (outcome.verdict !== 'block' || outcome.stage !== 'allowlist') return undefined;
  const grant = lapsedGrantFor(policy, host, now);
  if (!grant) return undefined;
  const shown = loggedTarget(host, '', outcome).host;
  return { host: shown === WITHHELD ? grant.pattern : shown, ...grant };
}

// Reports each lapsed grant (pattern and until: a renewed grant is a new one) once per gateway
// process, however many requests hit it; init runs two replicas, so a reader may see it twice.
export class LapseReporter {
  readonly #reported = new Set<string>();

  constructor(private readonly emit: (ev: GrantLapsedEvent) => void, private readonly now: () => number = Date.now) {}

  // Called with every recorded decision; never throws (a lost event must not break a flow).
  decided(policy: Policy, host: string, outcome: Outcome): void {
    if (outcome.stage !== 'allowlist') return; // the common case, allows included: nothing to do
    try {
      const now = this.now();
      const hit = lapsedInUse(policy, host, outcome, now);
      if (!hit) return;
      const key = `${hit.pattern}\n${hit.until}`;
      if (this.#reported.has(key)) return;
      this.#reported.add(key);
      this.emit({ type: GRANT_LAPSED_EVENT, time: new Date(now).toISOString(), origin: 'gateway', ...hit });
    } catch { /* reporting only */ }
  }
}
