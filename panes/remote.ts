// What the dashboard does for the `bottle` keys pressed outside the cockpit (the IPC actions
// beyond the cockpit keys' own): the agent list and plan the new-agent popup shows and the start
// it asks for (the bring-up and the claude session then take the right pane, as after `n`
// here), the newest proposal's decision popup on the client that asked, and the agent waiting
// longest for input into the right pane.
import type { BottleStatus } from '../lib/lifecycle/index.js';
import type { TmuxClient } from '../tmux/client.js';
import { askEngine, preflight, runEffect } from './actions.js';
import { errorText, type ActionContext } from './context.js';
import { attach } from './flows.js';
import type { DashboardRequest, IpcResponse } from './ipc.js';
import { decideCommand, showDecision } from './popup.js';

// The bottle waiting longest for input: the earliest `waitingSince` (a marker without a time
// counts as just now; ties go to the first listed).
export function longestWaiting(bottles: readonly Pick<BottleStatus, 'slug' | 'waitingSince'>[]): string | undefined {
  let best: { slug: string; since: number } | undefined;
  for (const b of bottles) {
    if (!b.waitingSince) continue;
    const t = Date.parse(b.waitingSince);
    const since = Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
    if (!best || since < best.since) best = { slug: b.slug, since };
  }
  return best?.slug;
}

// The remote actions; `tmux` is the dashboard's client (undefined outside tmux).
export async function remoteAction(ctx: ActionContext, tmux: TmuxClient | undefined, req: DashboardRequest): Promise<IpcResponse> {
  switch (req.action) {
    case 'agents': {
      let agents: string[];
      try {
        agents = Object.keys(ctx.manifest().manifest.agents);
      } catch (e) {
        return { ok: false, error: `manifest: ${errorText(e)}` };
      }
      return { ok: true, agents, bottles: ctx.store.get().bottles.map((b) => ({ slug: b.slug, agent: b.agent, state: b.state })) };
    }
    case 'plan': {
      if (!req.agent) return { ok: false, error: 'plan: which agent?' };
      // Several engines and none chosen: the popup asks first, as `n` does here.
      const engines = req.engine === undefined ? askEngine(ctx, req.agent) : undefined;
      if (engines) return { ok: true, engines };
      try {
        return { ok: true, ...preflight(ctx, req.agent, req.engine) };
      } catch (e) {
        return { ok: false, error: errorText(e) };
      }
    }
    case 'start-agent': {
      if (!req.agent) return { ok: false, error: 'start-agent: which agent?' };
      let blocked: string | undefined;
      try {
        blocked = preflight(ctx, req.agent, req.engine).blocked;
      } catch (e) {
        blocked = errorText(e);
      }
      if (blocked) return { ok: false, error: blocked };
      // Not awaited: the bring-up takes a while; it reports on the status line and the right pane.
      void runEffect(ctx, { type: 'launch', agent: req.agent, ...(req.engine ? { engine: req.engine } : {}) });
      return { ok: true };
    }
    case 'popup-proposal': {
      if (!tmux || !req.client) return { ok: false, error: 'popup-proposal: no tmux client to show it on' };
      const newest = [...ctx.store.get().proposals].reverse().find((p) => !p.auto);
      if (!newest) return { ok: false, error: 'no pending proposals' };
      await showDecision(tmux, req.client, newest, decideCommand(ctx.bottleArgv, newest.id, ctx.deps.env));
      return { ok: true };
    }
    case 'show-waiting': {
      const slug = longestWaiting(ctx.store.get().bottles);
      if (!slug) return { ok: false, error: 'no agent is waiting for input' };
      if (!ctx.right) return { ok: false, error: 'the dashboard runs outside tmux: no right pane' };
      await attach(ctx, slug, true);
      return { ok: true, slug, ...(ctx.right.paneId ? { pane: ctx.right.paneId } : {}) };
    }
    default:
      return { ok: false, error: `${req.action} is not a remote action` };
  }
}
