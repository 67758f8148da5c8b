// Presentation helpers shared by the CLI's tables, the dashboard's rows and the daemons' events:
// one spelling of an age, one rule for agent-supplied text on the operator's terminal.

// Characters that could rewrite the operator's terminal or disguise text: C0/C1 controls, bidi overrides.
export const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE_TEXT.source, 'g');

// Compact age for a cell (42s, 5m, 47h, 2d); clock skew shows as 0s, an unparsable time as '?'.
export function formatAge(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '?';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// Agent-supplied text goes to the operator's terminal: every unsafe character becomes '?'.
export function sanitize(text: string): string {
  return text.replace(UNSAFE_ALL, '?');
}

// Sanitized and at most `max` characters, the last one an ellipsis when cut (one table cell).
export function clip(text: string, max: number): string {
  const t = sanitize(text);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

// The gist of a prose sentence for one line: its first clause (up to `,` `;` `:` or `.` before a
// space), cut at a word within `max` characters with an ellipsis when still longer.
export function firstClause(text: string, max = 60): string {
  const clause = text.trim().split(/[,;:.](?:\s|$)/)[0]!.trim();
  if (clause.length <= max) return clause;
  const cut = clause.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

// A bound as prose (a review hold): whole hours as `2 h`, whole minutes as `10 min`, else seconds.
export function formatHold(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

// 950, 12.3k, 4.56M: token counts as a person reads them in a cell.
export function formatTokens(n: number): string {
  if (n < 1000) return String(Math.round(n));
  if (n < 999_950) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1).replace(/\.?0+$/, '')}k`;
  return `${(n / 1_000_000).toFixed(2).replace(/\.?0+$/, '')}M`;
}
