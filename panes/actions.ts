// Performs the effects the key reducer asks for: manifest reads for the picker and preflight,
// the launch/attach/stop/resume/remove flows (resume and remove ask first, with what they bring
// back or lose), and proposal decisions (diff shown first, then approve/reject).
import { formatAge } from '../lib/format.js';
import { loadCredentialConfig, sourcedNames, unsourced, withCredentials, type CredentialConfig } from '../lib/credentials.js';
import { AUTH, authMissingText } from '../lib/plan/auth.js';
import { parseGrantFor, routeEnvNames } from '../lib/policy/index.js';
import { run } from '../lib/run/index.js';
import { budgetChange, bundleControl, changeBudget, describeSaved, findBottle, lostWith, planResume, readSavedSummary } from '../lib/lifecycle/index.js';
import { checkPlanPaths, engineChoices, planLines, preparePlan, routeVarNames, type EngineChoice } from '../lib/plan/index.js';
import { readPolicyFile, withPolicyLock } from '../lib/policy-edit/index.js';
import { budgetText, hasCap } from '../lib/usage/index.js';
import { approve, planApproval, pushLines, readProposal, reject } from '../lib/proposals/index.js';
import { bottlePaths, readMetadata } from '../lib/state/index.js';
import { errorText, say, type ActionContext } from './context.js';
import { attach, launch, remove, resume, stop } from './flows.js';
import type { Effect } from './modal.js';
import { withoutProposal } from './state.js';

// Runs one effect; failures land on the status line, never crash the dashboard.
export async function runEffect(ctx: ActionContext, effect: Effect): Promise<void> {
  try {
    switch (effect.type) {
      case 'quit': ctx.quit(); return;
      case 'picker': openPicker(ctx); return;
      case 'preflight': openPreflight(ctx, effect.agent, effect.engine); return;
      case 'launch': await launch(ctx, effect.agent, effect.engine); return;
      case 'attach': await attach(ctx, effect.slug); return;
      case 'stop': await stop(ctx, effect.slug); return;
      case 'plan-resume': await planResumeModal(ctx, effect.slug); return;
      case 'resume': await resume(ctx, effect.slug); return;
      case 'plan-remove': await planRemoveModal(ctx, effect.slug); return;
      case 'remove': await remove(ctx, effect.slug); return;
      case 'plan-approve': await planApprove(ctx, effect.id, effect.slug, effect.headers); return;
      case 'approve': await doApprove(ctx, effect.id, effect.slug, effect.headers, effect.for); return;
      case 'reject': await doReject(ctx, effect.id, effect.slug, effect.note); return;
      case 'show-proposal': await showProposal(ctx, effect.id, effect.slug); return;
      case 'budget': await doBudget(ctx, effect.slug, effect.usd); return;
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

// The preflight shows the plan; a plan that cannot start says why and refuses `y`. With several
// engines in the manifest and none chosen yet, the engine modal comes first (cursor on the
// manifest's pick for this agent).
function openPreflight(ctx: ActionContext, agent: string, engine?: string): void {
  const engines = engine === undefined ? askEngine(ctx, agent) : undefined;
  if (engines) {
    ctx.store.update((s) => ({ ...s, modal: { kind: 'engine', agent, engines, cursor: Math.max(0, engines.findIndex((e) => e.isDefault)) } }));
    return;
  }
  const { lines, blocked } = preflight(ctx, agent, engine);
  ctx.store.update((s) => ({ ...s, modal: { kind: 'preflight', agent, ...(engine ? { engine } : {}), lines, ...(blocked ? { blocked } : {}) } }));
}

// The engines to ask about before `agent`'s plan, when the manifest names more than one; an
// unreadable manifest asks nothing (the preflight then says what is wrong with it).
export function askEngine(ctx: ActionContext, agent: string): EngineChoice[] | undefined {
  let choices: EngineChoice[];
  try {
    choices = engineChoices(ctx.manifest().manifest, agent);
  } catch {
    return undefined;
  }
  return choices.length > 1 ? choices : undefined;
}

// An agent's plan as the preflight shows it (on `engine`, else the manifest's pick), and why it
// cannot start, if it cannot (also what the new-agent popup of `prefix b n` shows, asked over IPC).
export function preflight(ctx: ActionContext, agent: string, engine?: string): { lines: string[]; blocked?: string } {
  const loaded = ctx.manifest();
  const plan = preparePlan(loaded, agent, { cwd: ctx.cwd, sourced: sourcedNames(ctx.deps.env), ...(engine ? { engine } : {}) }, ctx.deps.env);
  let blocked: string | undefined;
  try {
    checkPlanPaths(plan, loaded);
  } catch (e) {
    blocked = `cannot start: ${errorText(e)}`;
  }
  if (!blocked) {
    try {
      const config = loadCredentialConfig(ctx.deps.env);
      const missing = unsourced(plan.missingVars, ctx.deps.env, config);
      plan.missingVars = []; // the line below says what is missing, and the fix
      if (missing.includes(AUTH[plan.auth.mode].variable)) blocked = `cannot start: ${authMissingText(plan.auth, config.path)}`;
      else if (missing.length > 0) blocked = `cannot start: ${noValueText(missing, config)}`;
    } catch (e) {
      blocked = `cannot start: ${errorText(e)}`;
    }
  }
  return { lines: planLines(plan), ...(blocked ? { blocked } : {}) };
}

// Route variables with neither a value nor a source, and the fix. The dashboard's environment is
// the tmux server's: a variable exported in a shell later never reaches it, so the fix is a
// source in credentials.yaml (or `bottle tmux` from that shell, which hands values over), not a
// restart.
function noValueText(missing: readonly string[], config: CredentialConfig): string {
  return `no value for ${missing.join(', ')} in the dashboard's environment; name a source in ${config.path}, e.g. ${missing[0]}: { command: "pass show ${missing[0]!.toLowerCase()}" } (or { file: PATH } with mode 0600)`;
}

// Enter on a stopped/down bottle: what resume brings back, asked first. What would stop it (no
// recorded definition, an unreadable policy, a route value with no source) is one status line
// naming the fix, before anything is asked.
async function planResumeModal(ctx: ActionContext, slug: string): Promise<void> {
  const rp = await planResume(ctx.deps, slug);
  const config = loadCredentialConfig(ctx.deps.env);
  const missing = unsourced(routeVarNames(rp.plan.egress.routes), ctx.deps.env, config);
  if (missing.length > 0) {
    say(ctx, `cannot resume ${slug}: ${noValueText(missing, config)}`, 'error');
    return;
  }
  const saved = readSavedSummary(ctx.deps.root, slug);
  const m = rp.meta;
  const down = m.state !== 'stopped';
  const lines = [
    `agent ${m.agent} on ${m.backend}, ${down ? `down (engine: ${rp.engine})` : 'stopped'}${m.stoppedAt && !down ? ` ${formatAge(m.stoppedAt, Date.now())} ago` : ''}`,
    '',
    saved ? `Its saved work: ${describeSaved(saved)}.` : 'Nothing was saved: it comes back with a fresh workspace.',
    ...(down && rp.engine !== 'missing' ? ['What is left of its containers is saved first.'] : []),
    'Same slug, agent definition and policy; attach resumes its last claude session.',
  ];
  ctx.store.update((s) => ({ ...s, modal: { kind: 'confirm', title: `Resume ${slug}?`, lines, effect: { type: 'resume', slug } } }));
}

// D: removing a bottle for good, asked first with exactly what is lost (lostWith, the words of
// `bottle rm`).
async function planRemoveModal(ctx: ActionContext, slug: string): Promise<void> {
  const lost = await lostWith(ctx.deps, slug);
  const b = ctx.store.get().bottles.find((x) => x.slug === slug);
  const lines = [
    ...(b ? [`agent ${b.agent} on ${b.backend}, ${b.state}`, ''] : []),
    lost ? `This loses ${lost}.` : 'Nothing is lost: no containers and no saved work.',
    ...(lost ? ['', `bottle export ${slug} keeps the work first (transcripts, git bundle, patch).`] : []),
  ];
  ctx.store.update((s) => ({ ...s, modal: { kind: 'confirm', title: `Remove ${slug} for good?`, lines, effect: { type: 'remove', slug } } }));
}

// The env an approval reads route values from: the dashboard's, with credentials.yaml sources
// resolved for the variables the given headers name.
async function approvalEnv(ctx: ActionContext, host: string, headers: Record<string, string> | undefined): Promise<NodeJS.ProcessEnv> {
  if (!headers || Object.keys(headers).length === 0) return ctx.deps.env;
  return withCredentials(routeEnvNames({ host, headers }), ctx.deps.env, run, 'before starting tmux');
}

// Computes the policy change an approval would make and asks to confirm it.
async function planApprove(ctx: ActionContext, id: string, slug: string, headers?: Record<string, string>): Promise<void> {
  const paths = bottlePaths(ctx.deps.root, slug);
  const proposal = await readProposal(paths.superviseQueue, id);
  if (!proposal) {
    say(ctx, `proposal ${id} is gone from ${slug}'s queue`, 'error');
    return;
  }
  if (proposal.kind === 'push') {
    ctx.store.update((s) => ({
      ...s,
      modal: {
        kind: 'confirm', title: `Forward the push to ${proposal.payload.host}?`,
        lines: [...pushLines(proposal.payload.push!), '', 'Enter on it in the proposals pane shows the full diff first.'],
        effect: { type: 'approve', id, slug },
      },
    }));
    return;
  }
  const current = await readPolicyFile(paths);
  const plan = planApproval(proposal, current, headers, await approvalEnv(ctx, proposal.payload.host, headers));
  const row = ctx.store.get().proposals.find((p) => p.id === id);
  const lines = [
    `from ${slug}: ${proposal.reason}`,
    '',
    'policy change:',
    ...(plan.changed ? plan.summary.map((l) => `  ${l}`) : [`  (none: ${proposal.payload.host} is already in the policy)`]),
  ];
  if (row?.stale) lines.push('', '(stale) the policy changed since this was proposed; it applies to the current policy');
  if (plan.secrets.length > 0) lines.push('', `the running gateway is handed ${plan.secrets.map((n) => `$${n}`).join(', ')} from this dashboard's environment or credentials.yaml`);
  ctx.store.update((s) => ({
    ...s,
    modal: {
      kind: 'confirm', title: `Approve ${proposal.kind} ${proposal.payload.host}?`, lines,
      effect: { type: 'approve', id, slug, ...(headers ? { headers } : {}) },
      // A route is permanent until removed; an allowlist grant may be time-boxed.
      ...(proposal.kind === 'allowlist' ? { grants: true } : {}),
    },
  }));
}

async function doApprove(ctx: ActionContext, id: string, slug: string, headers?: Record<string, string>, grantFor?: string): Promise<void> {
  const paths = bottlePaths(ctx.deps.root, slug);
  // Timed from now, the moment of the approval, as `bottle proposals approve --for` does.
  const grant = grantFor === undefined ? undefined : parseGrantFor(grantFor, new Date());
  if (grant && 'error' in grant) {
    say(ctx, grant.error, 'error');
    return;
  }
  const { control, warning } = await bundleControl(ctx.deps, await readMetadata(ctx.deps.root, slug));
  const proposal = await readProposal(paths.superviseQueue, id);
  const r = await approve(paths, id, { ...(headers ? { headers } : {}), ...(grant ? { until: grant.until } : {}) }, control, await approvalEnv(ctx, proposal?.payload.host ?? '', headers));
  const what = r.changed ? r.summary.join(', ') : 'already in the policy';
  decided(ctx, id);
  if (r.proposal.kind === 'push') say(ctx, `push from ${slug} approved: forwarding to ${r.proposal.payload.host}`);
  else say(ctx, `approved ${r.proposal.kind} ${r.proposal.payload.host} for ${slug}: ${what}${r.live ? '; reloaded' : ''}${warning ? ` (${warning})` : ''}`);
  ctx.reload();
}

// Enter on a proposal: `bottle proposals show` in the right pane (its pager; q closes it), or in
// this terminal outside tmux.
async function showProposal(ctx: ActionContext, id: string, slug: string): Promise<void> {
  const argv = [...ctx.bottleArgv, 'proposals', 'show', id];
  if (!ctx.right) {
    const code = await ctx.view.runForeground(argv, ctx.deps.env, `showing ${id}…`);
    if (code !== 0) say(ctx, `bottle proposals show ${id} exited ${code}`, 'error');
    return;
  }
  const row = ctx.store.get().proposals.find((p) => p.id === id);
  ctx.store.update((s) => ({ ...s, occupant: `proposal:${id}` }));
  await ctx.right.show(argv, `${row?.kind === 'push' ? `push to ${row.host}` : `proposal ${row?.host ?? id}`} (${slug}) - q closes`, `proposal:${id}`);
}

// Regression: `newest-proposal` (IPC) right after a rejection still found the rejected row while
// the reload ran (seen in CI): the decided row leaves the pane before the status line says so.
function decided(ctx: ActionContext, id: string): void {
  ctx.store.update((s) => withoutProposal(s, id));
}

// Rejects with the operator's note, if any, recorded as `bottle proposals reject --note` does.
// `$` → Enter: the same change as `bottle budget SLUG --usd N` (`off`: --off): budget.json
// rewritten, the bundle told to reload. Nothing typed changes nothing: a stray Enter must not
// lift a cap.
async function doBudget(ctx: ActionContext, slug: string, usd: string): Promise<void> {
  if (usd === '') {
    say(ctx, `budget for ${slug} unchanged`);
    return;
  }
  const change = budgetChange(/^(off|none)$/i.test(usd) ? { off: true } : { usd });
  if (!change) return;
  const meta = await findBottle(ctx.deps, slug);
  const paths = bottlePaths(ctx.deps.root, slug);
  const next = await withPolicyLock(paths, async () => changeBudget(paths, change));
  const { control, warning } = await bundleControl(ctx.deps, meta);
  const told = await control.reload(slug).then(() => '', (e: Error) => `; the bundle was not told (${e.message.split('\n')[0]}): it applies when ${slug} next starts`);
  say(ctx, `${hasCap(next) ? `budget for ${slug}: ${budgetText(next)}${warning ? ' (applies when it next starts)' : ''}` : `budget for ${slug} lifted (still metered)`}${told}`, told ? 'error' : 'info');
  ctx.reload();
}

async function doReject(ctx: ActionContext, id: string, slug: string, note?: string): Promise<void> {
  const row = ctx.store.get().proposals.find((p) => p.id === id);
  const { control } = await bundleControl(ctx.deps, await readMetadata(ctx.deps.root, slug));
  await reject(bottlePaths(ctx.deps.root, slug), id, control, note);
  decided(ctx, id);
  say(ctx, `rejected ${row ? `${row.kind} ${row.host}` : id} for ${slug}${note ? ' (with a note)' : ''}`);
  ctx.reload();
}
