// Pure row renderers: a bottle or a proposal in, one fixed-width StyledLine out. Columns drop out
// by priority when the pane is narrow, so a row never wraps (a wrapped row would shift the cursor).
import { formatAge, sanitize } from '../lib/format.js';
import { formatRemaining, grantsOf } from '../lib/policy/index.js';
import { displayState, type BottleStatus } from '../lib/lifecycle/index.js';
import type { ProposalRow } from '../lib/proposals/index.js';
import { allTokens, rateOf, sumTotals, type UsageTotals } from '../lib/usage/index.js';
import { isResting } from './state.js';
import type { StyledLine } from './view.js';

// Exactly `width` columns: truncated with an ellipsis, or padded.
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return text.padEnd(width);
}

// Like fit, but the ellipsis goes in the middle: slugs share their agent's prefix and differ at
// the end (the minted suffix, or the last word of a long agent name), so the end stays visible.
export function fitMiddle(text: string, width: number): string {
  if (text.length <= width || width < 5) return fit(text, width);
  const tail = Math.ceil((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(-tail)}`;
}

// A column: fixed `width`, or `flex` (min width, grows up to `max` with what is left). Lower
// priority drops first when the pane is too narrow.
export interface Column {
  key: string;
  title: string;
  width?: number;
  flex?: number;
  max?: number;
  priority: number;
}

// Which columns fit into `total` columns and how wide each is (one space between columns).
// Spare room is shared evenly by flex columns, each capped at its max; the rest stays blank.
export function layout(columns: readonly Column[], total: number): Map<string, number> {
  let chosen = [...columns];
  const need = (cols: Column[]) => cols.reduce((n, c) => n + (c.width ?? c.flex ?? 0), 0) + Math.max(0, cols.length - 1);
  while (need(chosen) > total && chosen.length > 1) {
    const lowest = chosen.reduce((lo, c) => (c.priority < lo.priority ? c : lo));
    chosen = chosen.filter((c) => c !== lowest);
  }
  const widths = new Map<string, number>(chosen.map((c) => [c.key, c.width ?? c.flex ?? 0]));
  let spare = Math.max(0, total - need(chosen));
  for (;;) {
    const open = chosen.filter((c) => c.flex !== undefined && (c.max === undefined || widths.get(c.key)! < c.max));
    if (spare === 0 || open.length === 0) break;
    const share = Math.max(1, Math.floor(spare / open.length));
    for (const c of open) {
      const add = Math.min(share, spare, c.max === undefined ? share : c.max - widths.get(c.key)!);
      widths.set(c.key, widths.get(c.key)! + add);
      spare -= add;
      if (spare === 0) break;
    }
  }
  return new Map(columns.filter((c) => widths.has(c.key)).map((c) => [c.key, widths.get(c.key)!]));
}

// Slug cells keep their distinguishing end when cut (fitMiddle); the rest cut at the end.
function joinCells(widths: Map<string, number>, cells: Record<string, string>): string {
  return [...widths].map(([key, w]) => (key === 'slug' ? fitMiddle : fit)(cells[key] ?? '', w)).join(' ');
}

export const AGENT_COLUMNS: readonly Column[] = [
  { key: 'mark', title: '', width: 1, priority: 100 },
  { key: 'slug', title: 'SLUG', flex: 18, max: 28, priority: 99 },
  { key: 'state', title: 'STATE', width: 9, priority: 98 },
  { key: 'waiting', title: '', width: 7, priority: 97 },
  { key: 'pending', title: 'PROP', width: 4, priority: 5 },
  { key: 'age', title: 'AGE', width: 4, priority: 4 },
  { key: 'agent', title: 'AGENT', flex: 8, max: 16, priority: 3 },
  { key: 'backend', title: 'BACKEND', width: 7, priority: 2 },
  { key: 'on', title: 'ON', flex: 8, max: 22, priority: 2.5 },
  { key: 'grant', title: 'GRANT', width: 5, priority: 1 },
  { key: 'usage', title: 'USAGE', width: 12, priority: 4.5 },
  { key: 'rate', title: 'RATE', width: 7, priority: 0.5 },
];

const AGENT_ORDER = ['mark', 'slug', 'agent', 'backend', 'state', 'age', 'pending', 'waiting'];

// With time-boxed grants in any listed bottle, the GRANT column (countdown) joins at the end;
// with model usage in any, USAGE (the bottle's life) and RATE (the last 5 minutes) after it.
// With a bottle paused at its budget, STATE widens to say `paused: budget`. With a bottle on
// another engine than this machine's default (or an engine that did not answer), ON follows
// BACKEND.
function agentColumns(grants: boolean, usage: boolean, paused = false, engines = false): Column[] {
  const base = engines ? AGENT_ORDER.flatMap((k) => (k === 'backend' ? [k, 'on'] : [k])) : AGENT_ORDER;
  const order = [...base, ...(grants ? ['grant'] : []), ...(usage ? ['usage', 'rate'] : [])];
  return order.map((k) => {
    const c = AGENT_COLUMNS.find((x) => x.key === k)!;
    return paused && k === 'state' ? { ...c, width: PAUSED.length } : c;
  });
}

const PAUSED = 'paused: budget';

// Whether a listed live bottle is paused at its budget (the wide STATE column).
export function hasPaused(bottles: readonly BottleStatus[]): boolean {
  return bottles.some((b) => b.budget?.level === 'paused' && !isResting(b));
}

// Whether the agents pane needs its ON column: a bottle on another engine, or one whose engine
// did not answer.
export function hasEngines(bottles: readonly BottleStatus[]): boolean {
  return bottles.some((b) => b.on !== undefined || b.unreachable !== undefined);
}

// The ON cell: the engine's name (`local` for this machine's default), and `unreachable` when it
// did not answer when last asked.
export function onCell(b: BottleStatus): string {
  const name = b.on ?? 'local';
  return b.unreachable ? `${name}: unreachable` : name;
}

// Column header of the agents pane.
export function agentHeader(width: number, grants = false, usage = false, paused = false, engines = false): string {
  const cols = agentColumns(grants, usage, paused, engines);
  return joinCells(layout(cols, width), Object.fromEntries(cols.map((c) => [c.key, c.title]))).trimEnd();
}

export interface AgentRowOptions {
  now: number;
  width: number;
  /** The bottle whose session (or log) is in the right pane: `*` and bold. */
  occupant?: string;
  pending: number;
  /** Show the GRANT column (some listed bottle has a time-boxed grant; see hasGrants). */
  grants?: boolean;
  /** Show the USAGE and RATE columns (some listed bottle has model usage; see hasUsage). */
  usage?: boolean;
  /** Some listed bottle is paused at its budget (see hasPaused): STATE is wider. */
  paused?: boolean;
  /** Show the ON column (some listed bottle runs on another engine; see hasEngines). */
  engines?: boolean;
}

// Whether the agents pane needs its GRANT column.
export function hasGrants(bottles: readonly BottleStatus[]): boolean {
  return bottles.some((b) => b.grants !== undefined && Object.keys(b.grants).length > 0);
}

// Whether the agents pane needs its USAGE and RATE columns.
export function hasUsage(bottles: readonly BottleStatus[]): boolean {
  return bottles.some((b) => (b.usage?.requests ?? 0) > 0);
}

// Tokens in at most 5 columns: 950, 12k, 1.2M.
export function compactTokens(n: number): string {
  if (n < 1000) return String(Math.round(n));
  if (n < 99_950) return `${(n / 1000).toFixed(n < 9_950 ? 1 : 0).replace(/\.0$/, '')}k`;
  if (n < 999_500) return `${Math.round(n / 1000)}k`;
  if (n < 99_950_000) return `${(n / 1e6).toFixed(n < 9_950_000 ? 1 : 0).replace(/\.0$/, '')}M`;
  return `${Math.round(n / 1e6)}M`;
}

// Dollars compactly: $3.40 (cents up to $100), $240, $1.2k.
export function compactUsd(usd: number): string {
  if (usd < 99.995) return `$${usd.toFixed(2)}`;
  if (usd < 999.5) return `$${Math.round(usd)}`;
  return `$${(usd / 1000).toFixed(1)}k`;
}

// A bottle's cost over its life: $3.40, `$?` when no request had a known price, `$3.40+?` when
// some had none.
export function costText(t: Pick<UsageTotals, 'usd' | 'unpricedRequests'>): string {
  if (t.usd === null) return '$?';
  return `${compactUsd(t.usd)}${t.unpricedRequests > 0 ? '+?' : ''}`;
}

// The USAGE cell: tokens and dollars over the bottle's life (`1.2M $3.40`); `—` without usage.
export function usageCell(b: BottleStatus): string {
  if (!b.usage || b.usage.requests === 0) return '—';
  return `${compactTokens(allTokens(b.usage))} ${costText(b.usage)}`;
}

// The RATE cell: dollars per hour over the last 5 minutes at `now` (`$1.2/h`, `$?/h` unpriced);
// empty when the bottle made no request in that window.
export function rateCell(b: BottleStatus, now: number): string {
  const r = rateOf(b.usageRecent ?? [], now);
  if (r.requests === 0) return '';
  if (r.usdPerHour === null) return '$?/h';
  const v = r.usdPerHour;
  return `$${v < 9.95 ? v.toFixed(1) : v < 999.5 ? Math.round(v) : `${(v / 1000).toFixed(1)}k`}/h`;
}

// The total across these bottles for the agents pane's border (`$12.40 total`); empty when none
// has usage.
export function usageTotalText(bottles: readonly BottleStatus[]): string {
  const list = bottles.flatMap((b) => (b.usage && b.usage.requests > 0 ? [b.usage] : []));
  return list.length === 0 ? '' : `${costText(sumTotals(list))} total`;
}

// The countdown of a bottle's soonest-lapsing grant (`42m`, `1h05m`; `stop` when its only
// grants last until it stops); empty when none is in force.
export function grantCell(b: BottleStatus, now: number): string {
  const live = grantsOf({ allowUntil: b.grants ?? {} }, now).filter((g) => g.remainingMs > 0);
  if (live.length === 0) return '';
  return live[0]!.remainingMs === Infinity ? 'stop' : formatRemaining(live[0]!.remainingMs);
}

// The state cell: what lib/lifecycle's displayState makes of the recorded state and the engine's
// view (a running bottle whose containers died reads `down`).
export function stateText(b: BottleStatus): string {
  return b.broken ? 'broken' : displayState(b.state, b.engine);
}

// One agents-pane row. Stopped and down bottles are dimmed (gray): listed, resumable, not live.
export function agentRow(b: BottleStatus, o: AgentRowOptions): StyledLine {
  const cols = agentColumns(o.grants === true, o.usage === true, o.paused === true, o.engines === true);
  const occupant = b.slug === o.occupant;
  const state = stateText(b);
  const live = !isResting({ state }) && state !== 'broken';
  const budget = live ? b.budget : undefined;
  const text = joinCells(layout(cols, o.width), {
    mark: occupant ? '*' : '',
    slug: sanitize(b.slug),
    agent: sanitize(b.agent),
    backend: sanitize(b.backend),
    on: o.engines ? sanitize(onCell(b)) : '',
    state: budget?.level === 'paused' ? PAUSED : state,
    age: b.created ? formatAge(b.created, o.now) : '',
    pending: o.pending > 0 ? String(o.pending) : '',
    waiting: b.waitingSince ? 'waiting' : budget?.level === 'warn' ? `$${Math.min(99, Math.floor(budget.fraction * 100))}%` : '',
    grant: o.grants && !isResting({ state }) ? grantCell(b, o.now) : '',
    usage: o.usage ? usageCell(b) : '',
    rate: o.usage ? rateCell(b, o.now) : '',
  });
  const fg = state === 'broken' || budget?.level === 'paused' ? 'red' : isResting({ state }) ? 'gray' : b.waitingSince || budget?.level === 'warn' ? 'yellow' : undefined;
  return { text, ...(occupant ? { bold: true } : {}), ...(fg ? { fg } : {}) };
}

export const PROPOSAL_COLUMNS: readonly Column[] = [
  { key: 'slug', title: 'BOTTLE', flex: 12, max: 24, priority: 99 },
  { key: 'kind', title: 'KIND', width: 9, priority: 98 },
  { key: 'host', title: 'HOST', flex: 20, max: 40, priority: 97 },
  { key: 'age', title: 'AGE', width: 4, priority: 5 },
  { key: 'stale', title: '', width: 5, priority: 90 },
  { key: 'reason', title: 'REASON', flex: 10, priority: 3 },
];

const PROPOSAL_ORDER = ['slug', 'kind', 'host', 'age', 'stale', 'reason'];

// Column header of the proposals pane.
export function proposalHeader(width: number): string {
  const cols = PROPOSAL_ORDER.map((k) => PROPOSAL_COLUMNS.find((c) => c.key === k)!);
  return joinCells(layout(cols, width), Object.fromEntries(cols.map((c) => [c.key, c.title]))).trimEnd();
}

export interface ProposalRowOptions {
  now: number;
  width: number;
  /** Arrived within the highlight window: green and bold. */
  fresh: boolean;
}

// One proposals-pane row.
export function proposalRow(p: ProposalRow, o: ProposalRowOptions): StyledLine {
  const cols = PROPOSAL_ORDER.map((k) => PROPOSAL_COLUMNS.find((c) => c.key === k)!);
  const text = joinCells(layout(cols, o.width), {
    slug: sanitize(p.slug),
    kind: p.kind,
    host: sanitize(p.host),
    age: formatAge(p.created, o.now),
    stale: p.auto ? 'auto' : p.stale ? 'stale' : '',
    reason: p.auto ? `rule ${sanitize(p.auto.rule)}: ${sanitize(p.reason)}` : sanitize(p.reason),
  });
  if (o.fresh) return { text, fg: 'green', bold: true };
  return p.auto ? { text, fg: 'cyan' } : { text };
}

// Border label of the agents pane, with the usage total across the listed bottles when given.
export function agentsLabel(count: number, total = ''): string {
  return `Agents (${count})${total ? ` · ${total}` : ''}`;
}

// Border label of the proposals pane; `(new!)` while something arrived unacknowledged.
export function proposalsLabel(count: number, isNew: boolean): string {
  return `Proposals (${count})${isNew ? ' (new!)' : ''}`;
}

// The dashboard pane's tmux border label: `bottle`, or `bottle (2 new!)` with a counter.
export function dashLabel(unseen: number): string {
  return unseen > 0 ? `bottle (${unseen} new!)` : 'bottle';
}

// The first row of a list window of `height` rows that keeps `cursor` visible.
export function scrollTop(cursor: number, total: number, height: number): number {
  if (height <= 0 || total <= height || cursor < height) return 0;
  return Math.min(cursor - height + 1, total - height);
}
