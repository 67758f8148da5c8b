// `bottle ls` and the dashboard's agents pane: state dirs joined with the engine's view,
// pending proposals and the latest agent waiting/idle event.
import type { EngineState } from '../backends/types.js';
import { GRANT_LAPSED_EVENT, type GrantLapsedEvent } from '../policy/index.js';
import { listProposals } from '../proposals/index.js';
import { bottlePaths, listBottles, type Metadata } from '../state/index.js';
import {
  MAX_EVENTS_BYTES, budgetState, budgetText, hasCap, launchPrices, readUsage, type Budget, type BudgetLevel, type UsageMoment, type UsageTotals,
} from '../usage/index.js';
import { readBudgetFile } from './budget.js';
import { LineTail } from '../usage/lines.js';
import { backendOf, bottleEnv, type LifecycleDeps } from './context.js';
import { parseEngineRecord, resolveDockerEndpoint } from '../docker/engine.js';
import { describeEngineError, engineConnectError } from '../docker/unreachable.js';
import { LOCAL_ENGINE } from '../manifest/engines.js';
import { readFileSync } from 'node:fs';
import { pullBundles } from './sync.js';
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
  /** The Docker engine it was launched on, when that is not this machine's default socket. */
  dockerHost?: string;
  /**
   * Where it runs, when not on this machine's default engine: the manifest's engine name it was
   * started with (`buildbox`), else the DOCKER_HOST it was launched on.
   */
  on?: string;
  /** Its engine did not answer when last asked, and why: its state is the recorded one. */
  unreachable?: string;
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
  /** Grants that lapsed while the agent still used them, from its events file (the dashboard's bell). */
  lapsedInUse?: LapsedInUse[];
  /** Model usage over the bottle's life, from its events file (only when asked for: `ls`). */
  usage?: UsageTotals;
  /** The dashboard: the requests of the last 5 minutes, so its RATE moves on with the clock. */
  usageRecent?: UsageMoment[];
  /** The dashboard: where its usage stands against its budget (only with a cap). */
  budget?: BudgetStatus;
}

// A bottle's usage against its budget (lib/usage budgetState), with the cap as text ($10.00).
export interface BudgetStatus { level: BudgetLevel; fraction: number; cap: string }

// The state a person reads: a bottle recorded as running whose engine says otherwise is down (a
// stop in progress, or one interrupted, stays `stopping`: `bottle stop` finishes it).
export function displayState(recorded: string | undefined, engine: EngineState | 'unknown'): string {
  const state = recorded ?? 'unknown';
  if (state === 'running' && (engine === 'exited' || engine === 'missing' || engine === 'partial')) return 'down';
  return state;
}

// A grant the gateway found lapsed while the agent still used it (its events-file line).
export type LapsedInUse = Pick<GrantLapsedEvent, 'host' | 'pattern' | 'until' | 'time'>;

// What a bottle's events file marks: the agent waiting (the latest agent-waiting/agent-idle
// event decides) and the lapsed grants still in use, oldest first, one per grant (init's two
// gateway replicas may each report it). Kept up to date as the file grows (the dashboard reads
// on from the last offset: however many usage lines follow, a mark is never pushed out of
// view). The bundle writes that file: a symlink or FIFO in its place marks nothing.
export interface Marks { waitingSince?: string; lapsedInUse: LapsedInUse[] }

export class EventMarks {
  readonly #lines: LineTail;
  #waiting: string | undefined;
  #lapsed = new Map<string, LapsedInUse>();

  constructor(eventsFile: string) {
    this.#lines = new LineTail(eventsFile, { maxBytes: MAX_EVENTS_BYTES, maxLine: 64 * 1024 });
  }

  update(): Marks {
    this.#lines.read((line) => this.#line(line), () => {
      this.#waiting = undefined;
      this.#lapsed = new Map();
    });
    return { ...(this.#waiting ? { waitingSince: this.#waiting } : {}), lapsedInUse: [...this.#lapsed.values()] };
  }

  #line(line: string): void {
    // Usage lines are most of the file: only lines that can mark are parsed.
    if (!line.includes('"agent-') && !line.includes(GRANT_LAPSED_EVENT)) return;
    try {
      const ev = JSON.parse(line) as { type?: string; time?: string; host?: unknown; pattern?: unknown; until?: unknown };
      if (ev.type === 'agent-waiting') this.#waiting = ev.time ?? 'now';
      else if (ev.type === 'agent-idle' || ev.type === 'agent-active') this.#waiting = undefined;
      else if (ev.type === GRANT_LAPSED_EVENT && typeof ev.host === 'string' && typeof ev.pattern === 'string' && typeof ev.until === 'string') {
        const key = `${ev.pattern}\n${ev.until}`;
        if (!this.#lapsed.has(key)) this.#lapsed.set(key, { host: ev.host, pattern: ev.pattern, until: ev.until, time: ev.time ?? 'now' });
      }
    } catch { /* not an event line */ }
  }
}

// The marks of the whole file, read once (`bottle ls`).
export function eventMarks(eventsFile: string): Marks {
  return new EventMarks(eventsFile).update();
}

// The waiting marker alone (`bottle ls`).
export function waitingFromEvents(eventsFile: string): string | undefined {
  return eventMarks(eventsFile).waitingSince;
}

// Every bottle in state, with the engine asked once per backend.
export async function bottleStatuses(deps: LifecycleDeps, opts: { engine?: boolean; usage?: boolean } = {}): Promise<BottleStatus[]> {
  const entries = await listBottles(deps.root);
  const metas = entries.filter((e): e is Extract<typeof e, { ok: true }> => e.ok).map((e) => e.metadata);
  const fleet: FleetView = opts.engine !== false ? await inspectFleet(deps, metas) : { states: new Map(), unreachable: new Map() };
  const engine = fleet.states;
  // What running bundles wrote since the last copy (waiting marks, usage, proposals).
  if (opts.engine !== false) await pullBundles(deps, metas.filter((m) => engine.get(m.slug) === 'running' || engine.get(m.slug) === 'partial'));
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
    const paths = bottlePaths(deps.root, m.slug);
    const on = engineLabel(m, paths.launchSpec);
    const unreachable = fleet.unreachable.get(m.slug);
    // A live bottle with a cap is judged against it (its usage read for that even without --json).
    const cap = live ? budgetOf(paths) : undefined;
    const usage = opts.usage || cap ? (await readUsage(paths.eventsFile, { prices: launchPrices(paths.launchSpec) })).totals : undefined;
    const budget = cap && usage ? budgetStatus(cap, usage) : undefined;
    out.push({
      slug: m.slug, agent: m.agent, backend: m.backend, state,
      engine: eng, created: m.created, pendingProposals: pending.get(m.slug) ?? 0,
      ...(remoteHost(m) ? { dockerHost: remoteHost(m) } : {}),
      ...(on ? { on } : {}),
      ...(unreachable ? { unreachable } : {}),
      ...(waitingSince ? { waitingSince } : {}),
      ...(saved ? { saved } : {}),
      ...(m.stoppedAt && !live ? { stoppedAt: m.stoppedAt } : {}),
      ...(usage && opts.usage ? { usage } : {}),
      ...(budget ? { budget } : {}),
    });
  }
  return out;
}

// The engine a bottle was launched on, unless it is this machine's default socket.
export function remoteHost(m: Metadata): string | undefined {
  const host = parseEngineRecord(m.backendData?.engine)?.host;
  return host && host !== resolveDockerEndpoint({}).host ? host : undefined;
}

// Where a bottle runs, for the ON columns of `ls` and the dashboard: the manifest engine name it
// was started with (launch.json; `local` is no name), else the remote DOCKER_HOST it was launched
// on; undefined on this machine's default engine.
export function engineLabel(m: Metadata, launchSpecFile: string): string | undefined {
  const name = launchEngineName(launchSpecFile);
  return name && name !== LOCAL_ENGINE ? name : remoteHost(m);
}

// The engine name launch.json's plan carries (older ones and unreadable ones: none).
function launchEngineName(file: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { plan?: { engine?: { name?: unknown } } } | null)?.plan?.engine?.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}

// How long one engine may take to say how its bottles are: an unreachable one is 'unknown'
// after this, and never holds up the others (they are asked side by side).
const INSPECT_TIMEOUT_MS = 5000;

// The engines' view of every bottle, and the bottles whose engine could not be asked (why).
export interface FleetView {
  states: Map<string, EngineState | 'unknown'>;
  unreachable: Map<string, string>;
}

// Each bottle asked on its own engine (backend and endpoint), the engines side by side; an
// engine that fails or does not answer in time leaves its bottles 'unknown', with the reason.
export async function inspectFleet(deps: Pick<LifecycleDeps, 'backends' | 'env'>, metas: Metadata[], timeoutMs = INSPECT_TIMEOUT_MS): Promise<FleetView> {
  const groups = new Map<string, Metadata[]>();
  for (const m of metas) {
    const key = `${m.backend}\0${bottleEnv(deps.env, m).DOCKER_HOST ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const view: FleetView = { states: new Map(), unreachable: new Map() };
  await Promise.all([...groups.values()].map(async (list) => {
    let timer: NodeJS.Timeout | undefined;
    // The request is dropped at the bound too: a socket left waiting on a silent engine would
    // keep `bottle ls` from exiting (and pile up in the dashboard).
    const abort = new AbortController();
    try {
      const backend = await backendOf(deps, list[0]!);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer in ${timeoutMs / 1000} s`));
          abort.abort();
        }, timeoutMs);
      });
      for (const [slug, st] of await Promise.race([backend.inspect(list, abort.signal), timeout])) view.states.set(slug, st);
    } catch (e) {
      const why = describeEngineError(engineConnectError(e) ?? e);
      for (const m of list) {
        view.states.set(m.slug, 'unknown');
        view.unreachable.set(m.slug, why);
      }
    } finally {
      clearTimeout(timer);
    }
  }));
  return view;
}

// A bottle's budget file when it caps anything (unreadable or invalid: none; `bottle budget` says why).
function budgetOf(paths: { policy: string }): Budget | undefined {
  try {
    const b = readBudgetFile(paths);
    return hasCap(b) ? b : undefined;
  } catch {
    return undefined;
  }
}

// Where `totals` stand against `b`, as the dashboard and `ls` show it.
export function budgetStatus(b: Budget, totals: Pick<UsageTotals, 'usd' | 'input' | 'output' | 'cacheRead' | 'cacheWrite'>): BudgetStatus {
  const s = budgetState(b, totals);
  return { level: s.level, fraction: s.fraction, cap: budgetText(b) };
}
