// The pickers the `bottle` keys open in a popup outside the cockpit, on a bare terminal with the
// dashboard's own picker and plan dialog (panes/term-modal.ts):
//   `bottle tmux pick-agent --session=COCKPIT`: the manifest's agents as the cockpit's dashboard
//     has them, type to filter, Enter shows the plan, y asks that dashboard to start it (its
//     bring-up log, then its claude session, take the cockpit's right pane as after `n` there);
//   `bottle tmux pick-bottle --session=S`: the running bottles; Enter attaches the chosen one's
//     claude session in a new window of session S, named after the slug.
import * as a from '../tmux/argv.js';
import type { TmuxClient } from '../tmux/client.js';
import { dashboardRequest } from '../tmux/cockpit.js';
import type { IpcReply } from '../tmux/keys.js';
import { paneCommand } from '../panes/right.js';
import { initialState, type AppState } from '../panes/state.js';
import { runTermModal, type ModalTerminal } from '../panes/term-modal.js';
import type { BottleStatus } from '../lib/lifecycle/index.js';
import type { Ctx } from '../lib/cli.js';
import { selfArgvOf } from '../lib/paths.js';
import { ttyTerminal } from './decide.js';
import { runningSlugs } from './tmux-key.js';

// A dashboard that is still starting (the key may have just created the cockpit) gets this long.
const DASHBOARD_WAIT_MS = 30_000;

// The popup's terminal: stdin/stdout in raw mode, with its size.
export function popupTerminal(): ModalTerminal & { close(): void } {
  const term = ttyTerminal(process.stdin, process.stdout);
  return {
    next: () => term.next(),
    write: (text) => term.write(text),
    size: () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }),
    close: () => term.close(),
  };
}

// Shows a failure until a key is pressed (the popup closes with the process).
async function fail(term: ModalTerminal, message: string): Promise<number> {
  term.write(`\x1b[H\x1b[2J${message.replace(/\n/g, '\r\n')}\r\n\r\n(press any key to close)`);
  await term.next();
  return 1;
}

// The picker's bottles, as the reducer reads them (running counts per agent).
function listed(r: Extract<IpcReply, { ok: true }>): BottleStatus[] {
  return (r.bottles ?? []).map((b) => ({ ...b, backend: '', engine: 'unknown', created: '', pendingProposals: 0 }));
}

export async function pickAgent(tmux: TmuxClient, term: ModalTerminal, o: { session: string; client?: string }): Promise<number> {
  term.write('\x1b[H\x1b[2Jwaiting for the dashboard…');
  const ask = (request: Parameters<typeof dashboardRequest>[2]) => dashboardRequest(tmux, o.session, request, { waitMs: DASHBOARD_WAIT_MS, timeoutMs: 10_000 });
  const list = await ask({ action: 'agents' });
  if (!list.ok) return fail(term, list.error);
  const state: AppState = { ...initialState(), bottles: listed(list), modal: { kind: 'picker', agents: list.agents ?? [], filter: '', cursor: 0 } };
  let code = 0;
  await runTermModal(term, state, {
    effect: async (e, s) => {
      if (e.type === 'preflight') {
        const plan = await ask({ action: 'plan', agent: e.agent, ...(e.engine ? { engine: e.engine } : {}) });
        // Several engines: which one first (Enter asks for the plan on it).
        if (plan.ok && plan.engines && plan.engines.length > 1) {
          return { ...s, modal: { kind: 'engine', agent: e.agent, engines: plan.engines, cursor: Math.max(0, plan.engines.findIndex((x) => x.isDefault)) } };
        }
        const blocked = plan.ok ? plan.blocked : plan.error;
        return { ...s, modal: { kind: 'preflight', agent: e.agent, ...(e.engine ? { engine: e.engine } : {}), lines: plan.ok ? plan.lines ?? [] : [], ...(blocked ? { blocked } : {}) } };
      }
      if (e.type === 'launch') {
        const r = await ask({ action: 'start-agent', agent: e.agent, ...(e.engine ? { engine: e.engine } : {}) });
        if (!r.ok) {
          code = await fail(term, r.error);
          return undefined;
        }
        if (o.client) {
          await tmux.probe(a.displayMessage({ client: o.client, text: `bottle: starting ${e.agent}${e.engine ? ` on ${e.engine}` : ''}; its bring-up, then its claude session, show in the cockpit (session ${o.session})`, durationMs: 4000 }));
        }
        return undefined;
      }
      return s;
    },
  });
  return code;
}

export async function pickBottle(ctx: Ctx, tmux: TmuxClient, term: ModalTerminal, o: { session: string }): Promise<number> {
  const slugs = await runningSlugs(ctx.env);
  if (slugs.length === 0) return fail(term, 'no running agents');
  const state: AppState = { ...initialState(), modal: { kind: 'picker', agents: slugs, filter: '', cursor: 0 } };
  let code = 0;
  await runTermModal(term, state, {
    title: `Attach an agent in a new window of ${o.session}`,
    // Enter on a row asks for the plan dialog: here it is the choice.
    effect: async (e, s) => {
      if (e.type !== 'preflight') return s;
      const r = await tmux.probe(a.newWindow({ session: o.session, name: e.agent, command: attachCommand(ctx, e.agent) }));
      if (r.exitCode !== 0) code = await fail(term, `bottle: tmux new-window: ${r.stderr.trim().split('\n')[0] ?? `exit ${r.exitCode}`}`);
      return undefined;
    },
  });
  return code;
}

// `bottle attach SLUG` for a window of its own; when it fails the window stays until Enter, so
// the reason can be read.
export function attachCommand(ctx: Pick<Ctx, 'env' | 'self'>, slug: string): string[] {
  const keep = '"$@" || { rc=$?; printf "\\n[bottle attach exited %s; Enter closes this window]" "$rc"; read -r _; }';
  return paneCommand(['sh', '-c', keep, 'sh', ...selfArgvOf(ctx), 'attach', slug], ctx.env);
}
