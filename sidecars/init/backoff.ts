// Restart pacing for a daemon that keeps dying: pure, so it is tested without processes or clocks.

// The knobs, injectable so tests can shrink them.
export interface BackoffPolicy {
  /** Delay before the first restart, and after a daemon has been healthy for `healthyMs`. */
  initialMs: number;
  /** Ceiling for the doubling. */
  maxMs: number;
  /** Uptime after which a death counts as fresh (the delay resets). */
  healthyMs: number;
}

// The bundle's pacing: quick first retry, bounded so a crash loop cannot spin the CPU.
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 5000, healthyMs: 60_000 };

// What the supervisor remembers about a daemon's current run.
export interface RestartHistory {
  /** When the current (now dead) process was started, ms since the epoch. */
  startedAt: number;
  /** The delay that preceded that start, or null if it was the first start. */
  lastDelayMs: number | null;
}

// How long to wait, at `now`, before restarting a daemon that just died:
// 0.2 s, doubling per quick death up to 5 s; back to 0.2 s after 60 s of healthy uptime.
export function nextDelay(history: RestartHistory, now: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const uptime = now - history.startedAt;
  if (history.lastDelayMs === null || uptime >= policy.healthyMs) return policy.initialMs;
  return Math.min(policy.maxMs, Math.max(policy.initialMs, history.lastDelayMs * 2));
}
