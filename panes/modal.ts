// The dashboard's modal boxes and the effects keys ask for, as plain data, plus the picker's
// filter (pure). keys.ts moves between modals; actions.ts performs the effects.
import type { BottleStatus } from '../lib/lifecycle/index.js';
import type { EngineChoice } from '../lib/plan/index.js';
import { credentialTemplate, headerNameProblem } from '../lib/template.js';
import { isResting } from './state.js';

// Work the key reducer asks the outside world to do.
export type Effect =
  | { type: 'quit' }
  | { type: 'picker' }
  /** `engine`: chosen in the engine modal; without one, the manifest has a single engine, or asks. */
  | { type: 'preflight'; agent: string; engine?: string }
  | { type: 'launch'; agent: string; engine?: string }
  | { type: 'attach'; slug: string }
  | { type: 'stop'; slug: string }
  /** Enter on a stopped/down bottle: check it can come back, then ask. */
  | { type: 'plan-resume'; slug: string }
  | { type: 'resume'; slug: string }
  /** D: find out what removing loses, then ask. */
  | { type: 'plan-remove'; slug: string }
  | { type: 'remove'; slug: string }
  | { type: 'plan-approve'; id: string; slug: string; headers?: Record<string, string> }
  /** `for`: a time-boxed grant (`bottle proposals approve --for` text), timed from the approval. */
  | { type: 'approve'; id: string; slug: string; headers?: Record<string, string>; for?: string }
  | { type: 'reject'; id: string; slug: string; note?: string }
  /** Enter on a proposal: `bottle proposals show` (a held push: its diff) in the right pane. */
  | { type: 'show-proposal'; id: string; slug: string }
  /** `$`: the bottle's new USD cap as typed (empty: lift every cap), as `bottle budget --usd`. */
  | { type: 'budget'; slug: string; usd: string };

export type Modal =
  | { kind: 'picker'; agents: string[]; filter: string; cursor: number; error?: string }
  /** With several engines in the manifest, `n` asks which one the new bottle runs on. */
  | { kind: 'engine'; agent: string; engines: EngineChoice[]; cursor: number }
  /** `scroll`: first plan line shown when the plan is taller than the screen. */
  | { kind: 'preflight'; agent: string; engine?: string; lines: string[]; blocked?: string; scroll?: number }
  /** y runs `effect`; anything else closes. With `note` (a rejection; a budget's USD), keys type
   *  the note the decision records (the amount), Enter confirms and Esc cancels. With `grants` (an allowlist approval),
   *  the GRANT_CHOICES keys run `effect` as a time-boxed grant. */
  | { kind: 'confirm'; title: string; lines: string[]; effect: Effect; note?: string; grants?: boolean }
  /** Route approval: which header to inject, naming host env vars. */
  | { kind: 'header-form'; id: string; slug: string; host: string; field: 0 | 1; name: string; value: string; error?: string }
  | { kind: 'help' }
  /** Outside tmux: bring-up / teardown log shown in the dashboard itself. */
  | { kind: 'log'; title: string; lines: string[]; done?: string };

// One picker entry: a manifest agent and how many live bottles of it exist.
export interface PickerItem {
  name: string;
  running: number;
}

// Substring, case-insensitive; manifest order is kept.
export function filterAgents(agents: readonly string[], filter: string): string[] {
  const f = filter.trim().toLowerCase();
  return f === '' ? [...agents] : agents.filter((a) => a.toLowerCase().includes(f));
}

// The picker's rows: filtered agents with their bottle counts.
export function pickerItems(agents: readonly string[], filter: string, bottles: readonly BottleStatus[]): PickerItem[] {
  return filterAgents(agents, filter).map((name) => ({
    name,
    running: bottles.filter((b) => b.agent === name && !b.broken && !isResting(b)).length,
  }));
}

// The engine modal's rows: each engine, where it is, the manifest's pick for this agent, and how
// many live bottles run there now.
export function engineItems(engines: readonly EngineChoice[], bottles: readonly BottleStatus[]): string[] {
  const width = Math.max(...engines.map((e) => e.name.length));
  return engines.map((e) => {
    const live = bottles.filter((b) => !b.broken && !isResting(b) && (b.on ?? 'local') === e.name).length;
    return [e.name.padEnd(width), e.where, e.isDefault ? '(default)' : '', live > 0 ? `${live} running` : ''].filter(Boolean).join('  ');
  });
}

// The picker cursor after the filter changed or a move: always on an existing row.
export function clampCursor(cursor: number, count: number): number {
  return count === 0 ? 0 : Math.min(Math.max(0, cursor), count - 1);
}

// The header form's suggestion, shared with the popup's one-key route approval.
export { suggestEnvVar } from '../lib/proposals/route-headers.js';

// Validates the header form: the value must NAME host env vars (`Bearer ${GITHUB_TOKEN}` or a
// bare `GITHUB_TOKEN`), never hold a secret, as `bottle proposals approve --header` demands.
export function parseHeaderForm(name: string, value: string): { ok: true; headers: Record<string, string> } | { ok: false; error: string } {
  const n = name.trim();
  const badName = headerNameProblem(n);
  if (badName) return { ok: false, error: `header name: ${badName}` };
  const c = credentialTemplate(value);
  if ('error' in c) return { ok: false, error: `value: ${c.error}` };
  return { ok: true, headers: { [n]: c.template } };
}
