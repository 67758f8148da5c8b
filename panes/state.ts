// The dashboard's state and the pure reducers over it: data arriving (with the notification
// decision: what is new enough to ring), focus and cursor moves, the fresh-highlight clock.
// Nothing here does I/O, so every rule is unit-tested without a terminal.
import type { BottleStatus } from '../lib/lifecycle/index.js';
import { describeAutoApproval, type AutoApproval, type ProposalRow } from '../lib/proposals/index.js';
import type { Modal } from './modal.js';

export type PaneName = 'agents' | 'proposals';

// The selected row by identity (slug / proposal id), with its index as the fallback when the
// row goes away (an approved proposal: the cursor stays at the same height).
export interface Cursor {
  key?: string;
  index: number;
}

export interface Status {
  text: string;
  level: 'info' | 'error';
}

export interface AppState {
  bottles: readonly BottleStatus[];
  /** Pending and auto-approved proposals of every bottle, oldest first (ids sort by creation time). */
  proposals: readonly ProposalRow[];
  focus: PaneName;
  cursors: Record<PaneName, Cursor>;
  /** The bottle whose session or log is in the right pane. */
  occupant?: string;
  /** A bottle launched here but not listed yet: the agents cursor goes to it when it is. */
  follow?: string;
  /** Proposal id → time (ms) its green highlight ends. */
  fresh: ReadonlyMap<string, number>;
  /** Every proposal id this dashboard has shown: only unseen ids notify. */
  seenProposals: ReadonlySet<string>;
  /** Slugs currently known to wait for input: only a transition into waiting notifies. */
  waiting: ReadonlySet<string>;
  /** Lapsed grants still in use already known (lapseKey): each notifies once. */
  seenLapses: ReadonlySet<string>;
  /** slug → the budget level last seen, with its cap (`warn $10.00`): a rise notifies once. */
  budgetLevels: ReadonlyMap<string, string>;
  /** False until the first load: what exists at startup never rings. */
  loaded: { bottles: boolean; proposals: boolean };
  /** Notifications since the operator last pressed a key here (the border counter). */
  unseen: number;
  modal?: Modal;
  status?: Status;
}

// How long a new proposal stays green.
export const FRESH_MS = 10_000;

// What the latest data brought that the operator should hear about (one bell per Notice).
export interface Notice {
  proposals: ProposalRow[];
  /** Slugs that started waiting for input. */
  waiting: string[];
  /** Grants that lapsed while their agent still used them (the gateway refused it since). */
  lapsed?: LapsedNotice[];
  /** Bottles whose usage reached their budget's warning or cap. */
  budget?: BudgetNotice[];
}

// A bottle past its budget's warning fraction, or paused at its cap.
export interface BudgetNotice { slug: string; level: 'warn' | 'paused'; fraction: number; cap: string }

// One lapsed grant still in use, of one bottle.
export interface LapsedNotice {
  slug: string;
  host: string;
  pattern: string;
  until: string;
}

export function initialState(): AppState {
  return {
    bottles: [], proposals: [], focus: 'agents',
    cursors: { agents: { index: 0 }, proposals: { index: 0 } },
    fresh: new Map(), seenProposals: new Set(), waiting: new Set(), seenLapses: new Set(), budgetLevels: new Map(),
    loaded: { bottles: false, proposals: false }, unseen: 0,
  };
}

function keysOf(state: AppState, pane: PaneName): string[] {
  return pane === 'agents' ? state.bottles.map((b) => b.slug) : state.proposals.map((p) => p.id);
}

// The cursor's row index in `pane` (-1 when the pane is empty).
export function cursorIndex(state: AppState, pane: PaneName): number {
  const keys = keysOf(state, pane);
  if (keys.length === 0) return -1;
  const c = state.cursors[pane];
  const at = c.key !== undefined ? keys.indexOf(c.key) : -1;
  return at >= 0 ? at : Math.min(Math.max(0, c.index), keys.length - 1);
}

// Re-pins both cursors to a key after the rows changed.
function settleCursors(state: AppState): AppState {
  const pin = (pane: PaneName): Cursor => {
    const i = cursorIndex(state, pane);
    return i < 0 ? { index: 0 } : { key: keysOf(state, pane)[i], index: i };
  };
  return { ...state, cursors: { agents: pin('agents'), proposals: pin('proposals') } };
}

export function selectedAgent(state: AppState): BottleStatus | undefined {
  return state.bottles[cursorIndex(state, 'agents')];
}

export function selectedProposal(state: AppState): ProposalRow | undefined {
  return state.proposals[cursorIndex(state, 'proposals')];
}

// Puts the cursor of `pane` on `key` (and focus there when asked).
export function pointAt(state: AppState, pane: PaneName, key: string, focus = false): AppState {
  const index = keysOf(state, pane).indexOf(key);
  if (index < 0) return focus ? { ...state, focus: pane } : state;
  return { ...state, ...(focus ? { focus: pane } : {}), cursors: { ...state.cursors, [pane]: { key, index } } };
}

// A bottle launched from this dashboard gets the agents cursor, now or, when the list does not
// have it yet (its state is read after the launch), as soon as it does.
export function launched(state: AppState, slug: string): AppState {
  return keysOf(state, 'agents').includes(slug) ? pointAt(state, 'agents', slug) : { ...state, follow: slug };
}

// j/k and arrows: moves the focused pane's cursor, clamped.
export function moveCursor(state: AppState, delta: number): AppState {
  const keys = keysOf(state, state.focus);
  if (keys.length === 0) return state;
  const index = Math.min(keys.length - 1, Math.max(0, cursorIndex(state, state.focus) + delta));
  return { ...state, cursors: { ...state.cursors, [state.focus]: { key: keys[index], index } } };
}

export function switchFocus(state: AppState): AppState {
  return { ...state, focus: state.focus === 'agents' ? 'proposals' : 'agents' };
}

// New bottle list: notices agents that started waiting (not at startup, not twice in a row) and
// grants that lapsed while their agent still used them (once each; the status line says so too).
export function withBottles(state: AppState, bottles: readonly BottleStatus[]): { state: AppState; notice?: Notice } {
  const nowWaiting = new Set(bottles.filter((b) => b.waitingSince).map((b) => b.slug));
  const started = state.loaded.bottles ? [...nowWaiting].filter((s) => !state.waiting.has(s)) : [];
  const { lapsed, seenLapses } = newLapses(state, bottles);
  const { budget, budgetLevels } = budgetRises(state, bottles);
  let next = settleCursors({ ...state, bottles, waiting: nowWaiting, seenLapses, budgetLevels, loaded: { ...state.loaded, bottles: true } });
  if (next.occupant !== undefined && !bottles.some((b) => b.slug === next.occupant)) next = { ...next, occupant: undefined };
  const follow = next.follow;
  if (follow !== undefined && bottles.some((b) => b.slug === follow)) next = pointAt({ ...next, follow: undefined }, 'agents', follow);
  if (started.length === 0 && lapsed.length === 0 && budget.length === 0) return { state: next };
  next = pointAt({ ...next, unseen: next.unseen + started.length + lapsed.length + budget.length }, 'agents', started[0] ?? lapsed[0]?.slug ?? budget[0]!.slug);
  if (lapsed.length > 0) next = { ...next, status: { text: lapsedText(lapsed), level: 'info' } };
  if (budget.length > 0) next = { ...next, status: { text: budgetNoticeText(budget), level: budget.some((b) => b.level === 'paused') ? 'error' : 'info' } };
  return { state: next, notice: { proposals: [], waiting: started, ...(lapsed.length > 0 ? { lapsed } : {}), ...(budget.length > 0 ? { budget } : {}) } };
}

const BUDGET_RANK = { ok: 0, warn: 1, paused: 2 } as const;

// Bottles whose budget level rose since the last list (ok → warn → paused), or whose cap changed
// while past the warning: each rise rings once. Quiet at startup and for a bottle seen for the
// first time (an old overrun is not news); a cap raised back to ok rearms the bell.
function budgetRises(state: AppState, bottles: readonly BottleStatus[]): { budget: BudgetNotice[]; budgetLevels: ReadonlyMap<string, string> } {
  const levels = new Map<string, string>();
  const budget: BudgetNotice[] = [];
  for (const b of bottles) {
    const s = b.budget;
    if (!s || isResting(b)) continue;
    const key = `${s.level} ${s.cap}`;
    levels.set(b.slug, key);
    const before = state.budgetLevels.get(b.slug);
    if (s.level === 'ok' || before === key || !state.loaded.bottles || !state.bottles.some((x) => x.slug === b.slug)) continue;
    const rank = before === undefined ? 0 : BUDGET_RANK[before.split(' ')[0] as keyof typeof BUDGET_RANK] ?? 0;
    if (BUDGET_RANK[s.level] > rank || before?.split(' ').slice(1).join(' ') !== s.cap) budget.push({ slug: b.slug, level: s.level, fraction: s.fraction, cap: s.cap });
  }
  return { budget, budgetLevels: levels };
}

// `budget: implementer-ab12 at 85% of $10.00` / `implementer-ab12 paused: budget $10.00 reached ($ raises it)`.
export function budgetNoticeText(list: readonly BudgetNotice[]): string {
  if (list.length > 1) return `budget: ${list.map((b) => `${b.slug} ${b.level === 'paused' ? 'paused' : `at ${Math.floor(b.fraction * 100)}%`}`).join(', ')} ($ on a bottle changes its budget)`;
  const b = list[0]!;
  return b.level === 'paused'
    ? `${b.slug} paused: budget ${b.cap} reached, model requests refused ($ raises it)`
    : `budget: ${b.slug} at ${Math.floor(b.fraction * 100)}% of ${b.cap}`;
}

// A lapsed grant's identity: a renewed grant that lapses again is news again.
const lapseKey = (slug: string, pattern: string, until: string): string => `${slug}\n${pattern}\n${until}`;

// The lapsed grants still in use this dashboard has not reported, and every one now known. Quiet
// at startup and for a bottle whose events it had not read before (a resumed bottle's old
// lapses are not news); the gateway's replicas each report a lapse, the reader merges them.
function newLapses(state: AppState, bottles: readonly BottleStatus[]): { lapsed: LapsedNotice[]; seenLapses: ReadonlySet<string> } {
  const read = new Set(state.bottles.filter((b) => !isResting(b) && !b.broken).map((b) => b.slug));
  const seen = new Set(state.seenLapses);
  const lapsed: LapsedNotice[] = [];
  for (const b of bottles) {
    for (const l of b.lapsedInUse ?? []) {
      const key = lapseKey(b.slug, l.pattern, l.until);
      if (seen.has(key)) continue;
      seen.add(key);
      if (state.loaded.bottles && read.has(b.slug)) lapsed.push({ slug: b.slug, host: l.host, pattern: l.pattern, until: l.until });
    }
  }
  return { lapsed, seenLapses: seen.size === state.seenLapses.size ? state.seenLapses : seen };
}

// `grant lapsed for implementer-ab12: api.example.com is blocked again (agent still using it)`.
export function lapsedText(lapsed: readonly LapsedNotice[]): string {
  if (lapsed.length > 1) return `${lapsed.length} lapsed grants still in use (${[...new Set(lapsed.map((l) => l.slug))].join(', ')}): blocked again`;
  const l = lapsed[0]!;
  const grant = l.pattern === l.host ? '' : ` (grant ${l.pattern})`;
  return `grant lapsed for ${l.slug}: ${l.host}${grant} is blocked again (agent still using it)`;
}

// New proposal rows, for every bottle or (with `slug`) for one bottle; notices unseen ids.
// On a notice the proposals pane takes the dashboard's focus, cursor on the earliest new one.
export function withProposals(state: AppState, rows: readonly ProposalRow[], now: number, slug?: string): { state: AppState; notice?: Notice } {
  const merged = slug === undefined ? [...rows] : [...state.proposals.filter((p) => p.slug !== slug), ...rows];
  merged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const arrived = state.loaded.proposals ? merged.filter((p) => !state.seenProposals.has(p.id)) : [];
  const seen = new Set(state.seenProposals);
  for (const p of merged) seen.add(p.id);
  let next = settleCursors({ ...state, proposals: merged, seenProposals: seen, loaded: { ...state.loaded, proposals: true } });
  const live = new Set(merged.map((p) => p.id));
  const fresh = new Map([...next.fresh].filter(([id]) => live.has(id)));
  if (arrived.length === 0) return { state: { ...next, fresh } };
  for (const p of arrived) fresh.set(p.id, now + FRESH_MS);
  next = pointAt({ ...next, fresh, unseen: next.unseen + arrived.length }, 'proposals', arrived[0]!.id, true);
  return { state: next, notice: { proposals: arrived, waiting: [] } };
}

// Drops bottles (and their proposals) that are gone from state, e.g. right after a `D`.
export function withoutBottle(state: AppState, slug: string): AppState {
  return settleCursors({
    ...state,
    bottles: state.bottles.filter((b) => b.slug !== slug),
    proposals: state.proposals.filter((p) => p.slug !== slug),
    ...(state.occupant === slug ? { occupant: undefined } : {}),
  });
}

// A decided proposal leaves the pane at once (the reload that follows reads the same from disk).
export function withoutProposal(state: AppState, id: string): AppState {
  return settleCursors({ ...state, proposals: state.proposals.filter((p) => p.id !== id) });
}

// Two notices from one batch of changes make one bell.
export function mergeNotices(a: Notice | undefined, b: Notice | undefined): Notice | undefined {
  if (!a) return b;
  if (!b) return a;
  const lapsed = [...(a.lapsed ?? []), ...(b.lapsed ?? [])];
  const budget = [...(a.budget ?? []), ...(b.budget ?? [])];
  return {
    proposals: [...a.proposals, ...b.proposals], waiting: [...a.waiting, ...b.waiting],
    ...(lapsed.length > 0 ? { lapsed } : {}), ...(budget.length > 0 ? { budget } : {}),
  };
}

// The operator pressed a key in the dashboard: the counter has been seen.
export function acknowledge(state: AppState): AppState {
  return state.unseen === 0 ? state : { ...state, unseen: 0 };
}

// Removes highlights whose time is up.
export function expireFresh(state: AppState, now: number): AppState {
  const fresh = new Map([...state.fresh].filter(([, until]) => until > now));
  return fresh.size === state.fresh.size ? state : { ...state, fresh };
}

// When the next highlight ends (to schedule one repaint, not a poll), or undefined.
export function nextExpiry(state: AppState): number | undefined {
  let min: number | undefined;
  for (const until of state.fresh.values()) if (min === undefined || until < min) min = until;
  return min;
}

// Pending proposals per slug, for the agents pane's PROP column (auto-approved ones are done).
export function pendingBySlug(state: AppState): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of state.proposals) if (p.status === 'pending') counts.set(p.slug, (counts.get(p.slug) ?? 0) + 1);
  return counts;
}

// The status line after the auto_approve rules ran: the last approval, or a match that stays
// pending (and why) as an error; unchanged when the sweep did nothing.
export function withAutoApprovals(state: AppState, approvals: readonly AutoApproval[]): AppState {
  const last = approvals.at(-1);
  if (!last) return state;
  const more = approvals.length > 1 ? ` (+${approvals.length - 1} more)` : '';
  return { ...state, status: { text: `${describeAutoApproval(last)}${more}`, level: approvals.some((a) => a.error) ? 'error' : 'info' } };
}

// The one-line text for display-message (agent-supplied text is sanitised by the caller).
export function noticeText(n: Notice): string {
  const parts: string[] = [];
  const auto = n.proposals.filter((p) => p.auto).length;
  if (n.proposals.length === 1) {
    const p = n.proposals[0]!;
    parts.push(p.auto ? `auto-approved ${p.kind} ${p.host} for ${p.slug} (rule ${p.auto.rule})` : `new ${p.kind} proposal from ${p.slug}: ${p.host}`);
  } else if (n.proposals.length > 1) {
    parts.push(`${n.proposals.length} new proposals${auto > 0 ? ` (${auto} auto-approved)` : ''}`);
  }
  if (n.waiting.length === 1) parts.push(`${n.waiting[0]} is waiting for input`);
  else if (n.waiting.length > 1) parts.push(`${n.waiting.length} agents are waiting for input`);
  if (n.lapsed?.length) parts.push(lapsedText(n.lapsed));
  if (n.budget?.length) parts.push(budgetNoticeText(n.budget));
  return `bottle: ${parts.join('; ')}`;
}

// A stopped or down bottle: listed (dimmed, after the live ones) with its saved work, resumed
// by Enter, never a candidate for the right pane.
export function isResting(b: Pick<BottleStatus, 'state'>): boolean {
  return b.state === 'stopped' || b.state === 'down';
}

// The agents pane's order: live bottles first, then the resting ones, each in state order.
export function liveFirst(bottles: readonly BottleStatus[]): BottleStatus[] {
  return [...bottles.filter((b) => !isResting(b)), ...bottles.filter(isResting)];
}

// Agents whose claude session can take the right pane, in pane order.
export function attachable(state: AppState): BottleStatus[] {
  return state.bottles.filter((b) => b.state === 'running' && !b.broken);
}

// The agent after (or before) `from` among attachable ones, wrapping; for ]/[ and after a stop.
export function cycleAgent(state: AppState, from: string | undefined, step: 1 | -1, exclude?: string): BottleStatus | undefined {
  const all = state.bottles;
  const ok = new Set(attachable(state).filter((b) => b.slug !== exclude).map((b) => b.slug));
  if (ok.size === 0) return undefined;
  const at = from === undefined ? -1 : all.findIndex((b) => b.slug === from);
  const start = at >= 0 ? at : step === 1 ? -1 : all.length;
  for (let i = 1; i <= all.length; i++) {
    const b = all[(((start + step * i) % all.length) + all.length) % all.length]!;
    if (ok.has(b.slug)) return b;
  }
  return undefined;
}
