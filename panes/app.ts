// The dashboard process: wires the store, the view, the watchers, the tmux side (right pane,
// notifications, IPC) and the effects together, and runs until `q`. Bottles are never stopped
// here: quitting only releases what this process holds.
import { sanitize } from '../lib/format.js';
import { takeCredentialHandoff } from '../lib/credentials.js';
import { lifecycleDeps } from '../lib/lifecycle/index.js';
import { locateManifest, readManifest } from '../lib/manifest/index.js';
import type { Backends } from '../lib/backends/index.js';
import { ensureStateRoot } from '../lib/state/index.js';
import { TmuxClient } from '../tmux/client.js';
import { dashboardPaneFromEnv, RightPane } from '../tmux/right-pane.js';
import { openPicker, runEffect } from './actions.js';
import type { ActionContext, Store } from './context.js';
import { DataSource } from './data.js';
import { cycle } from './flows.js';
import { socketPathFor, startIpcServer, type DashboardAction, type DashboardRequest, type IpcResponse, type IpcServer } from './ipc.js';
import { handleKey } from './keys.js';
import { EXAMPLE_NOTICE, viewModel } from './model.js';
import { TmuxSide } from './notify.js';
import { decideCommand } from './popup.js';
import { remoteAction } from './remote.js';
import { RightDirector } from './right.js';
import { statusSegment } from './segment.js';
import {
  expireFresh, initialState, mergeNotices, nextExpiry, noticeText, pointAt, withAutoApprovals, withBottles, withProposals,
  type AppState, type Notice,
} from './state.js';
import type { View } from './view.js';
import { StateWatcher, type ChangeSet } from './watch.js';
import { BundleFollowers } from './follow.js';
import { BlessedView } from './screen.js';

export interface DashboardOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** argv that runs the bottle CLI (start, attach, stop run as children). */
  self: readonly string[];
  /** The backends bottles run on (default: the engines). */
  backends?: Backends;
  /** --manifest, as typed. */
  manifestFlag?: string;
  /** select-pane the dashboard when something needs the operator (default on). */
  focusOnNotify: boolean;
  /** A new proposal opens a popup on the operator's most recently active client (default on). */
  popup?: boolean;
  /** The TUI; created lazily (blessed) when omitted. */
  view?: () => View;
  /** Engine status refresh period (default 10 s). */
  engineRefreshMs?: number;
  /** Fallback stat poll period for missed fs events (default 5 s). */
  pollMs?: number;
}

// Whether BOTTLE_FOCUS_ON_NOTIFY (default on) asks for focus on notifications.
export function focusOnNotifyFromEnv(env: NodeJS.ProcessEnv): boolean {
  return !/^(0|false|no|off)$/i.test(env.BOTTLE_FOCUS_ON_NOTIFY ?? '');
}

// Runs the dashboard until the operator quits (or a SIGTERM/SIGHUP); resolves the exit code.
export async function runDashboard(opts: DashboardOptions): Promise<number> {
  const deps = lifecycleDeps(opts.env, opts.backends ? { backends: opts.backends } : {});
  await ensureStateRoot(deps.root);
  // Route values `bottle tmux` handed over from the user's shell: kept in this process's env
  // (which the bottles it starts inherit), the file gone at once. Checked again on every
  // change of the state root, which is where the next handoff appears.
  const absorbHandoff = (): string[] => {
    const values = takeCredentialHandoff(deps.root);
    Object.assign(deps.env, values);
    return Object.keys(values);
  };
  absorbHandoff();
  const inTmux = Boolean(opts.env.TMUX && opts.env.TMUX_PANE);
  const data = new DataSource(deps);
  let state: AppState = initialState();
  if (!opts.manifestFlag && locateManifest({ cwd: opts.cwd, env: opts.env }).source === 'embedded') {
    state = { ...state, status: { text: EXAMPLE_NOTICE, level: 'info' } };
  }
  let side: TmuxSide | undefined;
  let right: RightDirector | undefined;
  if (inTmux) {
    const client = new TmuxClient();
    const dash = dashboardPaneFromEnv(opts.env);
    side = new TmuxSide(client, dash, {
      focusOnNotify: opts.focusOnNotify,
      ...(opts.popup !== false ? { popupCommand: (id: string) => decideCommand(opts.self, id, opts.env) } : {}),
    });
    right = new RightDirector(new RightPane(client, dash), client, opts.self, opts.env);
  }
  const view = (opts.view ?? (() => new BlessedView()))();
  // Looked up on each render: creating ./bottle.yaml takes effect at the next `n`.
  const exampleManifest = (): boolean => {
    try {
      return locateManifest({ flag: opts.manifestFlag, cwd: opts.cwd, env: opts.env }).source === 'embedded';
    } catch {
      return false;
    }
  };

  let closed = false;
  let quit!: (code: number) => void;
  const finished = new Promise<number>((resolve) => { quit = resolve; });
  let renderQueued = false;
  let expiryTimer: NodeJS.Timeout | undefined;
  let expiryAt: number | undefined;
  // The user's status segment, once both lists are read (before, it would claim idle); a tmux
  // call only when it changed (TmuxSide.setStatus).
  const publishStatus = (): void => {
    if (state.loaded.bottles && state.loaded.proposals) void side?.setStatus(statusSegment(state)).catch(() => undefined);
  };
  const render = (): void => {
    renderQueued = false;
    if (closed) return;
    const vm = viewModel(state, view.dims(), { now: Date.now(), inTmux, exampleManifest: exampleManifest() });
    // The plan dialog's offset as the view clamped it, so k works at once after j went too far.
    if (state.modal?.kind === 'preflight' && vm.modal?.scroll !== undefined) state = { ...state, modal: { ...state.modal, scroll: vm.modal.scroll } };
    view.render(vm);
    void side?.setCounter(state.unseen).catch(() => undefined);
    publishStatus();
    const next = nextExpiry(state);
    if (next !== undefined && next !== expiryAt) {
      if (expiryTimer) clearTimeout(expiryTimer);
      expiryAt = next;
      expiryTimer = setTimeout(() => {
        expiryAt = undefined;
        store.update((s) => expireFresh(s, Date.now()));
      }, Math.max(0, next - Date.now()) + 20);
    }
  };
  const store: Store = {
    get: () => state,
    update(fn) {
      state = fn(state);
      if (!renderQueued) {
        renderQueued = true;
        setImmediate(render);
      }
    },
  };

  // One bell, one message, one focus change per batch of changes.
  const notify = (n: Notice): void => {
    view.bell();
    if (side) void side.notify(sanitize(noticeText(n)), n.proposals[0]).catch(() => undefined);
  };

  let watcher: StateWatcher | undefined;
  // What running bundles write is followed into their state dirs, where the watcher sees it.
  const followers = new BundleFollowers(deps);
  const autoReported = new Set<string>();
  let loading: Promise<void> = Promise.resolve();
  let pending: ChangeSet | undefined;
  const load = (c: ChangeSet): Promise<void> => {
    if (pending) {
      pending.bottles ||= c.bottles;
      if (c.proposals === 'all' || pending.proposals === 'all') pending.proposals = 'all';
      else for (const s of c.proposals) pending.proposals.add(s);
      return loading;
    }
    pending = { bottles: c.bottles, proposals: c.proposals === 'all' ? 'all' : new Set(c.proposals) };
    loading = loading.then(async () => {
      const todo = pending!;
      pending = undefined;
      if (closed) return;
      let notice: Notice | undefined;
      try {
        if (todo.bottles || todo.proposals === 'all') {
          // Read first, reduce after: the state may change while the read awaits.
          const bottles = await data.bottles();
          const r = withBottles(state, bottles);
          state = r.state;
          notice = mergeNotices(notice, r.notice);
          watcher?.sync(state.bottles.map((b) => b.slug));
          followers.sync(data.runningMetas());
        }
        // Pre-approvals first, so a proposal a rule covers arrives already approved (and says so).
        const swept = await data.autoApprove(todo.proposals === 'all' ? undefined : [...todo.proposals]);
        state = withAutoApprovals(state, swept.filter((a) => !autoReported.has(`${a.proposal.id}:${a.error ?? ''}`)));
        for (const a of swept) autoReported.add(`${a.proposal.id}:${a.error ?? ''}`);
        if (todo.proposals === 'all') {
          const rows = await data.proposals();
          const r = withProposals(state, rows, Date.now());
          state = r.state;
          notice = mergeNotices(notice, r.notice);
        } else {
          for (const slug of todo.proposals) {
            const rows = await data.proposals(slug);
            const r = withProposals(state, rows, Date.now(), slug);
            state = r.state;
            notice = mergeNotices(notice, r.notice);
          }
        }
      } catch (e) {
        state = { ...state, status: { text: `reading state: ${(e as Error).message}`, level: 'error' } };
      }
      store.update((s) => s);
      // New data: the segment first, before the render and the notification's tmux calls.
      publishStatus();
      if (notice) notify(notice);
    });
    return loading;
  };
  const reloadAll = (): void => void load({ bottles: true, proposals: 'all' });

  const ctx: ActionContext = {
    store, deps, cwd: opts.cwd, bottleArgv: opts.self, view, reload: reloadAll,
    manifest: () => readManifest(locateManifest({ flag: opts.manifestFlag, cwd: opts.cwd, env: opts.env })),
    quit: () => quit(0),
    ...(right ? { right } : {}),
  };

  view.onKey((key) => {
    const r = handleKey(state, key);
    store.update(() => r.state);
    for (const e of r.effects) void runEffect(ctx, e);
  });
  view.onResize(() => store.update((s) => s));

  let ipc: IpcServer | undefined;
  // Requests wait for the first read of the state: a key pressed while the dashboard starts
  // (`prefix b w` creating the cockpit) must not see an empty list.
  let firstLoaded!: () => void;
  const firstLoad = new Promise<void>((resolve) => { firstLoaded = resolve; });
  const onAction = async (action: DashboardAction, req: DashboardRequest): Promise<IpcResponse> => {
    await firstLoad;
    return ipcAction(ctx, side, action, req);
  };
  const cleanups: (() => unknown)[] = [];
  try {
    if (side && right) {
      const adopted = await right.adopt().catch(() => undefined);
      if (adopted?.occupant) state = { ...state, occupant: adopted.occupant };
      ipc = await startIpcServer(socketPathFor(deps.root), onAction);
      await side.register(ipc.path);
    }
    watcher = new StateWatcher(deps.root, (c) => {
      if (c.bottles) {
        const handed = absorbHandoff();
        if (handed.length > 0) store.update((s) => ({ ...s, status: { text: `credentials handed over from your shell: ${handed.join(', ')}`, level: 'info' } }));
      }
      void load(c);
    }, { ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}) });
    watcher.start();
    await load({ bottles: true, proposals: 'all' });
    firstLoaded();
    await data.refreshEngine().then((changed) => (changed ? load({ bottles: true, proposals: new Set() }) : undefined)).catch(() => undefined);
    const engineTick = async (): Promise<void> => {
      const changed = await data.refreshEngine().catch(() => false);
      await side?.reclaimStatus().catch(() => undefined);
      if (right && state.occupant !== undefined && !(await right.exists().catch(() => true))) {
        store.update((s) => ({ ...s, occupant: undefined }));
      }
      if (changed) await load({ bottles: true, proposals: new Set() });
      else store.update((s) => s); // ages move on
      followers.sync(data.runningMetas());
    };
    const tick = setInterval(() => void engineTick(), opts.engineRefreshMs ?? 10_000);
    cleanups.push(() => clearInterval(tick));
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
      const h = (): void => quit(0);
      process.on(sig, h);
      cleanups.push(() => process.off(sig, h));
    }
    return await finished;
  } finally {
    closed = true;
    firstLoaded();
    for (const c of cleanups) c();
    if (expiryTimer) clearTimeout(expiryTimer);
    watcher?.close();
    followers.close();
    await ipc?.close().catch(() => undefined);
    await side?.unregister(ipc?.path).catch(() => undefined);
    view.destroy();
  }
}

// What the tmux key table's actions do (see ipc.ts for the protocol; the keys pressed outside
// the cockpit: remote.ts).
export async function ipcAction(ctx: ActionContext, side: TmuxSide | undefined, action: DashboardAction, req: DashboardRequest = { action }): Promise<IpcResponse> {
  switch (action) {
    case 'focus-dashboard':
      await side?.selectSelf();
      return { ok: true };
    case 'new-agent':
      await side?.selectSelf();
      openPicker(ctx);
      return { ok: true };
    case 'next-agent':
    case 'prev-agent': {
      const slug = await cycle(ctx, action === 'next-agent' ? 1 : -1);
      return slug ? { ok: true } : { ok: false, error: 'no running agents' };
    }
    case 'newest-proposal': {
      const newest = ctx.store.get().proposals.at(-1);
      if (!newest) return { ok: false, error: 'no pending proposals' };
      ctx.store.update((s) => pointAt(s, 'proposals', newest.id, true));
      await side?.selectSelf();
      return { ok: true };
    }
    default:
      return remoteAction(ctx, side?.client, req);
  }
}
