// Time-boxed allow entries ("grants"): an allow entry may carry `until`, an instant (ISO 8601)
// or `stop` (until the bottle stops). On disk an allow item is then a mapping,
//   allow:
//     - registry.npmjs.org                                   # permanent
//     - { host: api.example.com, until: "2026-12-07T14:00:00.000Z" }
//     - { host: "*.cdn.example.com", until: stop }
// and in memory the pattern stays in Policy.allow with its expiry in Policy.allowUntil. The
// gateway compares `until` with the clock at request time (evaluate's `now`): no reload, no
// race. A `stop` grant is honoured while the bottle runs and dropped when it stops (stop.ts).
import type { Policy } from './types.js';

// The `until` value of a grant that lasts until the bottle stops.
export const UNTIL_STOP = 'stop';

// The longest `--for`: anything longer is a permanent decision and should look like one.
const MAX_FOR_MS = 30 * 24 * 3600_000;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000 };

// The durations the popup's `t` and the dashboard's approve box offer, by key.
export const GRANT_CHOICES: ReadonlyArray<{ key: string; label: string; for: string }> = [
  { key: '1', label: '10m', for: '10m' },
  { key: '2', label: '1h', for: '1h' },
  { key: '3', label: 'until stop', for: 'until-stop' },
];

// `--for` text (`90s`, `10m`, `1h`, `2d`, `until-stop`) as the `until` to record.
export function parseGrantFor(text: string, now: Date): { until: string } | { error: string } {
  const t = text.trim().toLowerCase();
  if (t === 'until-stop' || t === 'stop') return { until: UNTIL_STOP };
  const m = /^(\d{1,7})(s|m|h|d)$/.exec(t);
  const bad = `--for ${JSON.stringify(text)} is not a duration; give e.g. 10m, 1h, 2d or until-stop`;
  if (!m) return { error: bad };
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms <= 0) return { error: `${bad} (it must be more than zero)` };
  if (ms > MAX_FOR_MS) return { error: `--for ${text} is longer than 30d; approve without --for for a permanent grant` };
  return { until: new Date(now.getTime() + ms).toISOString() };
}

// A policy `until` value as loaded: a canonical ISO instant or `stop`; undefined if invalid.
// Only full timestamps with a zone are accepted (a local time would move with the host's TZ).
export function normalizeUntil(raw: string): string | undefined {
  if (raw === UNTIL_STOP) return UNTIL_STOP;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

// The instant a grant lapses, in ms since the epoch; Infinity for `stop` (the bottle's stop
// removes it) and for a permanent entry.
export function untilMs(until: string | undefined): number {
  return until === undefined || until === UNTIL_STOP ? Infinity : Date.parse(until);
}

// `pattern` allowed with `until` (undefined: permanently). Never narrows a permanent entry
// into a timed one: an approval for a time of a host already allowed for good changes nothing.
export function setAllowUntil(p: Policy, pattern: string, until: string | undefined): Policy {
  const had = p.allow.includes(pattern);
  const current = p.allowUntil?.[pattern];
  if (had && (current === undefined || current === until)) return p;
  const allow = had ? p.allow : [...p.allow, pattern];
  const rest = Object.fromEntries(Object.entries(p.allowUntil ?? {}).filter(([k]) => k !== pattern));
  const allowUntil = until === undefined ? rest : { ...rest, [pattern]: until };
  return withAllowUntil({ ...p, allow }, allowUntil);
}

function withAllowUntil(p: Policy, allowUntil: Record<string, string>): Policy {
  const { allowUntil: _drop, ...base } = p;
  return Object.keys(allowUntil).length > 0 ? { ...base, allowUntil } : base;
}

// The policy without its until-stop grants (what a stopped bottle keeps).
export function dropUntilStop(p: Policy): Policy {
  const stops = Object.entries(p.allowUntil ?? {}).filter(([, u]) => u === UNTIL_STOP).map(([k]) => k);
  if (stops.length === 0) return p;
  const allowUntil = Object.fromEntries(Object.entries(p.allowUntil!).filter(([, u]) => u !== UNTIL_STOP));
  return withAllowUntil({ ...p, allow: p.allow.filter((a) => !stops.includes(a)) }, allowUntil);
}

// One time-boxed entry as the dashboard and the gateway's lapse log see it.
export interface Grant {
  pattern: string;
  until: string;
  /** ms left (Infinity for `stop`, <= 0 once lapsed). */
  remainingMs: number;
}

// The policy's time-boxed entries at `now`, soonest to lapse first.
export function grantsOf(p: Pick<Policy, 'allowUntil'>, now: number): Grant[] {
  return Object.entries(p.allowUntil ?? {})
    .map(([pattern, until]) => ({ pattern, until, remainingMs: untilMs(until) - now }))
    .sort((a, b) => a.remainingMs - b.remainingMs);
}

// The events-file line (BOTTLE_EVENTS_FILE) the gateway appends the first time a request hits a
// grant that has lapsed: the agent is still using it, so the operator's dashboard rings once
// (a grant lapsing unused rings nothing). `host` is the requested name, or the pattern when the
// name itself looked like it carried a secret (the decision log withholds such names too).
export const GRANT_LAPSED_EVENT = 'grant-lapsed-in-use';
export interface GrantLapsedEvent {
  type: typeof GRANT_LAPSED_EVENT;
  time: string;
  origin: 'gateway';
  host: string;
  pattern: string;
  until: string;
}

// `42m`, `1h05m`, `30s`, `until stop`, `lapsed`: a grant's remaining time, compact.
export function formatRemaining(ms: number): string {
  if (ms === Infinity) return 'until stop';
  if (ms <= 0) return 'lapsed';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d`;
}
