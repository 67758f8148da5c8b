// Reading what the panes show, in the slices the watchers report: the bottle list (metadata +
// waiting marker and lapsed grants still in use, or saved work; engine view from a cache
// refreshed slowly; model usage read on from where the last reload stopped, lib/usage
// IncrementalUsage; live bottles first), and proposals per bottle. A new proposal re-reads one
// bottle's queue, not all of them, after applying its auto_approve rules.
import type { EngineState } from '../lib/backends/types.js';
import { bundleControl, displayState, engineLabel, EventMarks, inspectFleet, readSavedSummary, type BottleStatus, type LifecycleDeps, type Marks } from '../lib/lifecycle/index.js';
import { readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { loadPolicy } from '../lib/policy/index.js';
import { policyFilePath } from '../lib/policy-edit/index.js';
import {
  autoApproveAll, isStale, listProposals, policyHash, readDecision, readQueue, type AutoApproval, type ProposalRow,
} from '../lib/proposals/index.js';
import { IncrementalUsage, hasCap, launchPrices, parseBudgetFile, type BudgetFileContent } from '../lib/usage/index.js';
import { budgetFilePath, budgetStatus } from '../lib/lifecycle/index.js';
import { bottlePaths, listBottles, type BottleEntry, type BottlePaths, type Metadata } from '../lib/state/index.js';
import { isResting, liveFirst } from './state.js';

// A file parsed again only when it changed (mtime, size, inode): the dashboard reloads a bottle
// on every append to its events file, i.e. on every model request, and its policy and budget
// rarely change. A missing or invalid file is undefined (`bottle policy check` says why).
class ParsedFile<T> {
  #seen = new Map<string, { stamp: string; value: T | undefined }>();

  constructor(private readonly parse: (text: string) => T) {}

  get(file: string): T | undefined {
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      this.#seen.delete(file);
      return undefined;
    }
    const hit = this.#seen.get(file);
    if (hit?.stamp === stamp) return hit.value;
    let value: T | undefined;
    try {
      value = this.parse(readFileSync(file, 'utf8'));
    } catch {
      value = undefined;
    }
    this.#seen.set(file, { stamp, value });
    return value;
  }

  forget(keep: (file: string) => boolean): void {
    for (const f of this.#seen.keys()) if (!keep(f)) this.#seen.delete(f);
  }
}

// A bottle removed and started again under the same name is another bottle (other prices).
const usageKey = (m: Metadata): string => `${m.slug}\n${m.created}`;

// The dashboard's reader over one state root.
export class DataSource {
  readonly #deps: LifecycleDeps;
  /** slug → the engine's view and the recorded state it was seen with. */
  #engine = new Map<string, { engine: EngineState | 'unknown'; recorded: string | undefined; unreachable?: string }>();
  /** usage key → where it runs (ON), read once from its metadata and launch.json. */
  #on = new Map<string, string | undefined>();
  #metas: Metadata[] = [];
  /** slug → its usage, read on from where the last reload stopped (prices from launch.json, once). */
  #usage = new Map<string, IncrementalUsage>();
  /** slug → the waiting marker and lapse events, read on from where the last reload stopped. */
  #marks = new Map<string, EventMarks>();
  /** Policies (the GRANT countdown) and budgets, parsed once per change. */
  #grants = new ParsedFile((text) => loadPolicy(text).allowUntil);
  #budgets = new ParsedFile<BudgetFileContent>(parseBudgetFile);

  constructor(deps: LifecycleDeps) {
    this.#deps = deps;
  }

  get root(): string {
    return this.#deps.root;
  }

  // Every bottle in state, live ones first, with the cached engine view ('unknown' until the
  // first refresh) and the state a person reads (lib/lifecycle displayState: a bottle its
  // engine no longer runs is down).
  async bottles(): Promise<BottleStatus[]> {
    const entries = await listBottles(this.#deps.root);
    this.#metas = entries.filter((e): e is Extract<BottleEntry, { ok: true }> => e.ok).map((e) => e.metadata);
    const listed = new Set(this.#metas.map(usageKey));
    for (const slug of this.#usage.keys()) if (!listed.has(slug)) this.#usage.delete(slug);
    for (const slug of this.#marks.keys()) if (!listed.has(slug)) this.#marks.delete(slug);
    for (const key of this.#on.keys()) if (!listed.has(key)) this.#on.delete(key);
    const dirs = entries.map((e) => e.paths.policy);
    for (const cache of [this.#grants, this.#budgets]) cache.forget((f) => dirs.some((d) => f.startsWith(`${d}/`)));
    return liveFirst(entries.map((e) => this.#status(e)));
  }

  // Bottles whose bundle runs as far as anyone knows: metadata says running and the engine did
  // not say otherwise (the dashboard follows these).
  runningMetas(): Metadata[] {
    return this.#metas.filter((m) => m.state === 'running' && !['exited', 'missing'].includes(this.#engineOf(m)));
  }

  // The engine's word counts only for the recorded state it was seen with: a bottle resumed (or
  // stopped) since the last refresh is not judged by what the engine said before.
  #engineOf(m: Metadata): EngineState | 'unknown' {
    const seen = this.#engine.get(m.slug);
    return seen && seen.recorded === m.state ? seen.engine : 'unknown';
  }

  // Where a bottle runs (the ON column); a resume may move it, so read again then.
  #onOf(m: Metadata, paths: BottlePaths): string | undefined {
    const key = `${usageKey(m)}\n${m.state}`;
    if (!this.#on.has(key)) {
      for (const k of this.#on.keys()) if (k.startsWith(`${usageKey(m)}\n`)) this.#on.delete(k);
      this.#on.set(key, engineLabel(m, paths.launchSpec));
    }
    return this.#on.get(key);
  }

  #status(e: BottleEntry): BottleStatus {
    if (!e.ok) return { slug: e.slug, agent: '?', backend: '?', state: 'broken', engine: 'unknown', created: '', pendingProposals: 0, broken: e.error };
    const m = e.metadata;
    const engine = this.#engineOf(m);
    const state = displayState(m.state, engine);
    const resting = isResting({ state });
    const saved = resting ? readSavedSummary(this.#deps.root, m.slug) : undefined;
    const marks: Marks = resting ? { lapsedInUse: [] } : this.#marksOf(usageKey(m), e.paths);
    const { waitingSince, lapsedInUse } = marks;
    const grants = resting ? undefined : this.#grants.get(policyFilePath(e.paths));
    const usage = this.#usageOf(usageKey(m), e.paths);
    const budget = resting ? undefined : this.#budgetOf(e.paths, usage.usage);
    const on = this.#onOf(m, e.paths);
    const seen = this.#engine.get(m.slug);
    const unreachable = seen && seen.recorded === m.state ? seen.unreachable : undefined;
    return {
      slug: m.slug, agent: m.agent, backend: m.backend, state, engine, created: m.created, pendingProposals: 0,
      ...(on ? { on } : {}),
      ...(unreachable ? { unreachable } : {}),
      ...(waitingSince ? { waitingSince } : {}),
      ...(grants ? { grants } : {}),
      ...(lapsedInUse.length > 0 ? { lapsedInUse } : {}),
      ...(saved ? { saved } : {}),
      ...(resting && m.stoppedAt ? { stoppedAt: m.stoppedAt } : {}),
      ...usage,
      ...(budget ? { budget } : {}),
    };
  }

  #marksOf(key: string, paths: BottlePaths): Marks {
    let marks = this.#marks.get(key);
    if (!marks) this.#marks.set(key, marks = new EventMarks(paths.eventsFile));
    return marks.update();
  }

  // A live bottle's usage against its budget.json (the gateway's cap); none without a cap.
  #budgetOf(paths: BottlePaths, usage: BottleStatus['usage']): BottleStatus['budget'] {
    const b = this.#budgets.get(budgetFilePath(paths));
    if (!hasCap(b)) return undefined;
    return budgetStatus(b, usage ?? { usd: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0 });
  }

  // The bottle's model usage over its life and its last 5 minutes' requests (stopped bottles too:
  // what they cost stays); nothing when it made no request.
  #usageOf(key: string, paths: BottlePaths): Pick<BottleStatus, 'usage' | 'usageRecent'> {
    let u = this.#usage.get(key);
    if (!u) this.#usage.set(key, u = new IncrementalUsage(paths.eventsFile, { prices: launchPrices(paths.launchSpec) }));
    u.update();
    const totals = u.totals();
    if (totals.requests === 0) return {};
    const recent = u.recent();
    return { usage: totals, ...(recent.length > 0 ? { usageRecent: recent } : {}) };
  }

  // Asks each backend about its bottles (slow path: every ~10 s, never per file event).
  // Returns whether anything changed.
  async refreshEngine(): Promise<boolean> {
    // Each bottle on its own engine, the engines side by side (an unreachable one: 'unknown').
    const metas = this.#metas;
    const seen = await inspectFleet(this.#deps, metas);
    const next = new Map<string, { engine: EngineState | 'unknown'; recorded: string | undefined; unreachable?: string }>();
    for (const m of metas) {
      const why = seen.unreachable.get(m.slug);
      next.set(m.slug, { engine: seen.states.get(m.slug) ?? 'unknown', recorded: m.state, ...(why ? { unreachable: why } : {}) });
    }
    const changed = next.size !== this.#engine.size
      || [...next].some(([k, v]) => {
        const was = this.#engine.get(k);
        return was?.engine !== v.engine || was?.recorded !== v.recorded || was?.unreachable !== v.unreachable;
      });
    this.#engine = next;
    return changed;
  }

  // Applies the bottles' manifest auto_approve rules to their pending proposals (every bottle, or
  // these), through the same approval as the `a` key; the caller shows what happened.
  async autoApprove(slugs?: readonly string[]): Promise<AutoApproval[]> {
    const control = (meta: Metadata) => bundleControl(this.#deps, meta);
    if (slugs === undefined) return autoApproveAll(this.#deps.root, control).catch(() => []);
    const out: AutoApproval[] = [];
    for (const slug of slugs) out.push(...(await autoApproveAll(this.#deps.root, control, slug).catch(() => [])));
    return out;
  }

  // Pending and auto-approved proposals of every bottle, or of one (a bottle gone meanwhile has none).
  async proposals(slug?: string): Promise<ProposalRow[]> {
    if (slug === undefined) return (await listProposals(this.#deps.root, {})).rows;
    return this.#pendingOf(slug).catch(() => []);
  }

  // The hot path behind the bell: one bottle's queue, its decided ids by name (a decision file
  // exists → decided), and one policy hash; no scan of the other bottles (listProposals does one).
  async #pendingOf(slug: string): Promise<ProposalRow[]> {
    const paths = bottlePaths(this.#deps.root, slug);
    const [{ proposals }, decided, hash] = await Promise.all([
      readQueue(paths.superviseQueue),
      readdir(paths.superviseDecisions).then((names) => new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5))), () => new Set<string>()),
      policyHash(policyFilePath(paths)),
    ]);
    const rows: ProposalRow[] = [];
    for (const p of proposals) {
      const row = { id: p.id, slug, kind: p.kind, host: p.payload.host, reason: p.reason, created: p.created };
      if (!decided.has(p.id)) {
        rows.push({ ...row, status: 'pending', stale: isStale(p, hash) });
        continue;
      }
      // Only an auto-approval stays listed: nobody saw it being decided.
      const d = await readDecision(paths.superviseDecisions, p.id).catch(() => null);
      if (d?.auto) rows.push({ ...row, status: d.decision, stale: d.stale === true, decided: d.decided, auto: d.auto });
    }
    return rows;
  }
}
