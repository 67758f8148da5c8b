// The status segment a user places in their own status line (`#{@bottle-status}` in
// status-right): what needs them, in a few characters, from the dashboard's state. Pure; the
// dashboard's TmuxSide keeps the option current (notify.ts).
import { stateText } from './rows.js';
import { isResting, type AppState } from './state.js';

export const STATUS_MARK = '⛁';

export interface SegmentCounts {
  /** Live bottles: anything not stopped, down or broken (claimed, launching, running, stopping…). */
  live: number;
  /** Proposals waiting for a decision (auto-approved ones are done). */
  pending: number;
  /** Live bottles whose agent waits for input. */
  waiting: number;
}

export function segmentCounts(state: Pick<AppState, 'bottles' | 'proposals'>): SegmentCounts {
  const live = state.bottles.filter((b) => !b.broken && !isResting({ state: stateText(b) }));
  return {
    live: live.length,
    pending: state.proposals.filter((p) => p.status === 'pending').length,
    waiting: live.filter((b) => b.waitingSince).length,
  };
}

// `⛁ 3 · 1 proposal · 2 waiting`; the parts after the bottle count only when non-zero. Idle —
// no live bottle and no pending proposal — is the empty string, so the user's status line shows
// nothing of bottle while there is nothing to see (stopped bottles alone are idle). Counts only:
// no slug or other agent-chosen text, so nothing in it can restyle the user's status line.
export function statusSegment(state: Pick<AppState, 'bottles' | 'proposals'>): string {
  const c = segmentCounts(state);
  if (c.live === 0 && c.pending === 0) return '';
  const parts = [`${STATUS_MARK} ${c.live}`];
  if (c.pending > 0) parts.push(`${c.pending} proposal${c.pending === 1 ? '' : 's'}`);
  if (c.waiting > 0) parts.push(`${c.waiting} waiting`);
  return parts.join(' · ');
}
