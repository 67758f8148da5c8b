// Performs the effects the key reducer asks for: manifest reads for the picker and preflight,
// the launch/attach/stop flows, and proposal decisions (diff shown first, then approve/reject).
import { bundleControl } from '../lib/lifecycle/index.js';
import { checkPlanPaths, planLines, preparePlan } from '../lib/plan/index.js';
import { readPolicyFile } from '../lib/policy-edit/index.js';
import { approve, planApproval, readProposal, reject } from '../lib/proposals/index.js';
import { bottlePaths, readMetadata } from '../lib/state/index.js';
import { errorText, say, type ActionContext } from './context.js';
import { attach, launch, stop } from './flows.js';
import type { Effect } from './modal.js';

// Runs one effect; failures land on the status line, never crash the dashboard.
export async function runEffect(ctx: ActionContext, effect: Effect): Promise<void> {
  try {
    switch (effect.type) {
      case 'quit': ctx.quit(); return;
      case 'picker': openPicker(ctx); return;
      case 'preflight': openPreflight(ctx, effect.agent); return;
      case 'launch': await launch(ctx, effect.agent); return;
      case 'attach': await attach(ctx, effect.slug); return;
      case 'stop': await stop(ctx, effect.slug); return;
      case 'plan-approve': await planApprove(ctx, effect.id, effect.slug, effect.headers); return;
      case 'approve': await doApprove(ctx, effect.id, effect.slug, effect.headers); return;
      case 'reject': await doReject(ctx, effect.id, effect.slug); return;
    }
  } catch (e) {
    say(ctx, errorText(e), 'error');
  }
}

// The picker lists the manifest's agents, read fresh (the operator may have edited bottle.yaml).
export function openPicker(ctx: ActionContext): void {
  let agents: string[] = [];
  let error: string | undefined;
  try {
    agents = Object.keys(ctx.manifest().manifest.agents);
  } catch (e) {
    error = `manifest: ${errorText(e)}`;
  }
  ctx.store.update((s) => ({ ...s, modal: { kind: 'picker', agents, filter: '', cursor: 0, ...(error ? { error } : {}) } }));
}

// The preflight shows the plan; a plan that cannot start says why and refuses `y`.
function openPreflight(ctx: ActionContext, agent: string): void {
  const loaded = ctx.manifest();
  const plan = preparePlan(loaded, agent, { cwd: ctx.cwd }, ctx.deps.env);
  let blocked: string | undefined;
  try {
    checkPlanPaths(plan, loaded);
  } catch (e) {
    blocked = `cannot start: ${errorText(e)}`;
  }
  if (!blocked && plan.missingVars.length > 0) {
    blocked = `cannot start: host env not set: ${plan.missingVars.join(', ')}; export and restart the dashboard`;
  }
  ctx.store.update((s) => ({ ...s, modal: { kind: 'preflight', agent, lines: planLines(plan), ...(blocked ? { blocked } : {}) } }));
}

// Computes the policy change an approval would make and asks to confirm it.
async function planApprove(ctx: ActionContext, id: string, slug: string, headers?: Record<string, string>): Promise<void> {
  const paths = bottlePaths(ctx.deps.root, slug);
  const proposal = await readProposal(paths.superviseQueue, id);
  if (!proposal) {
    say(ctx, `proposal ${id} is gone from ${slug}'s queue`, 'error');
    return;
  }
  const current = await readPolicyFile(paths);
  const plan = planApproval(proposal, current, headers, ctx.deps.env);
  const row = ctx.store.get().proposals.find((p) => p.id === id);
  const lines = [
    `from ${slug}: ${proposal.reason}`,
    '',
    'policy change:',
    ...(plan.changed ? plan.summary.map((l) => `  ${l}`) : [`  (none: ${proposal.payload.host} is already in the policy)`]),
  ];
  if (row?.stale) lines.push('', '(stale) the policy changed since this was proposed; it applies to the current policy');
  if (plan.secrets.length > 0) lines.push('', `the running gateway is handed ${plan.secrets.map((n) => `$${n}`).join(', ')} from this dashboard's environment`);
  ctx.store.update((s) => ({
    ...s,
    modal: { kind: 'confirm', title: `Approve ${proposal.kind} ${proposal.payload.host}?`, lines, effect: { type: 'approve', id, slug, ...(headers ? { headers } : {}) } },
  }));
}

async function doApprove(ctx: ActionContext, id: string, slug: string, headers?: Record<string, string>): Promise<void> {
  const paths = bottlePaths(ctx.deps.root, slug);
  const { control, warning } = await bundleControl(ctx.deps, await readMetadata(ctx.deps.root, slug));
  const r = await approve(paths, id, { ...(headers ? { headers } : {}) }, control, ctx.deps.env);
  const what = r.changed ? r.summary.join(', ') : 'already in the policy';
  say(ctx, `approved ${r.proposal.kind} ${r.proposal.payload.host} for ${slug}: ${what}${r.live ? '; reloaded' : ''}${warning ? ` (${warning})` : ''}`);
  ctx.reload();
}

async function doReject(ctx: ActionContext, id: string, slug: string): Promise<void> {
  const row = ctx.store.get().proposals.find((p) => p.id === id);
  await reject(bottlePaths(ctx.deps.root, slug), id);
  say(ctx, `rejected ${row ? `${row.kind} ${row.host}` : id} for ${slug}`);
  ctx.reload();
}
