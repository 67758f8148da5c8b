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
