// `bottle ls` and the dashboard's agents pane: state dirs joined with the engine's view,
// pending proposals and the latest agent waiting/idle event.
import { readFileNoFollow, UnsafeFileError } from '../fs-safe.js';
import type { EngineState } from '../backends/types.js';
import { listProposals } from '../proposals/index.js';
import { bottlePaths, listBottles, type Metadata } from '../state/index.js';
import type { LifecycleDeps } from './context.js';
import { readSavedSummary, type SavedSummary } from './save.js';

export interface BottleStatus {
  slug: string;
  agent: string;
  backend: string;
  /**
   * claimed, launching, running, stopping, resuming, stopped (saved, resumable), down (it was
   * running but the engine no longer runs it: a crash, an engine restart, a reboot), broken.
   */
  state: string;
  /** Engine view; 'unknown' when the engine could not be asked. */
  engine: EngineState | 'unknown';
  created: string;
  pendingProposals: number;
  /** The agent is waiting for the operator (Claude Code Notification hook), since when. */
  waitingSince?: string;
  /** What the last stop saved (stopped and down bottles). */
  saved?: SavedSummary;
  stoppedAt?: string;
  broken?: string;
  /** Its policy's time-boxed allow entries, pattern -> ISO 8601 or "stop" (dashboard countdown). */
  grants?: Record<string, string>;
}

// The state a person reads: a bottle recorded as running whose engine says otherwise is down (a
// stop in progress, or one interrupted, stays `stopping`: `bottle stop` finishes it).
export function displayState(recorded: string | undefined, engine: EngineState | 'unknown'): string {
  const state = recorded ?? 'unknown';
  if (state === 'running' && (engine === 'exited' || engine === 'missing' || engine === 'partial')) return 'down';
  return state;
}

// The latest agent-waiting/agent-idle event decides the marker (tail of the events file). The
// bundle writes that file: a symlink or FIFO in its place shows no marker rather than being read.
export function waitingFromEvents(eventsFile: string): string | undefined {
  let read;
  try {
    read = readFileNoFollow(eventsFile, { maxBytes: 64 * 1024, overflow: 'tail' });
  } catch (e) {
    if (e instanceof UnsafeFileError) return undefined;
    throw e;
  }
  if (!read) return undefined;
  const text = read.data.toString('utf8');
  let waiting: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('"agent-')) continue;
    try {
      const ev = JSON.parse(line) as { type?: string; time?: string };
      if (ev.type === 'agent-waiting') waiting = ev.time ?? 'now';
      else if (ev.type === 'agent-idle' || ev.type === 'agent-active') waiting = undefined;
    } catch { /* partial line */ }
  }
  return waiting;
}

// Every bottle in state, with the engine asked once per backend.
export async function bottleStatuses(deps: LifecycleDeps, opts: { engine?: boolean } = {}): Promise<BottleStatus[]> {
  const entries = await listBottles(deps.root);
  const metas = entries.filter((e): e is Extract<typeof e, { ok: true }> => e.ok).map((e) => e.metadata);
  const engine = new Map<string, EngineState | 'unknown'>();
  if (opts.engine !== false) {
    const byBackend = new Map<string, Metadata[]>();
    for (const m of metas) byBackend.set(m.backend, [...(byBackend.get(m.backend) ?? []), m]);
    for (const [name, list] of byBackend) {
      try {
        const backend = await deps.backends.load(name as Metadata['backend'], deps.env);
        for (const [slug, st] of await backend.inspect(list)) engine.set(slug, st);
      } catch {
        for (const m of list) engine.set(m.slug, 'unknown');
      }
    }
  }
  const pending = new Map<string, number>();
  const { rows } = await listProposals(deps.root, {});
  for (const r of rows) if (r.status === 'pending') pending.set(r.slug, (pending.get(r.slug) ?? 0) + 1);
  const out: BottleStatus[] = [];
  for (const e of entries) {
    if (!e.ok) {
      out.push({ slug: e.slug, agent: '?', backend: '?', state: 'broken', engine: 'unknown', created: '', pendingProposals: 0, broken: e.error });
      continue;
    }
    const m = e.metadata;
    const eng = engine.get(m.slug) ?? 'unknown';
    const state = displayState(m.state, eng);
    const live = state !== 'stopped' && state !== 'down';
    const waitingSince = live ? waitingFromEvents(bottlePaths(deps.root, m.slug).eventsFile) : undefined;
    const saved = live ? undefined : readSavedSummary(deps.root, m.slug);
    out.push({
      slug: m.slug, agent: m.agent, backend: m.backend, state,
      engine: eng, created: m.created, pendingProposals: pending.get(m.slug) ?? 0,
      ...(waitingSince ? { waitingSince } : {}),
      ...(saved ? { saved } : {}),
      ...(m.stoppedAt && !live ? { stoppedAt: m.stoppedAt } : {}),
    });
  }
  return out;
}
