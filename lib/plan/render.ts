// The preflight block: a plan as readable lines, shown by `start --dry-run` and the dashboard's
// preflight modal. Env and credentials appear by name only.
import type { BottlePlan, PlanHeader, PlanRoute } from './prepare.js';
import { ASK_PROMPT_SUMMARY } from './prompt.js';
import { formatHold } from '../format.js';
import { budgetText } from '../usage/budget.js';
import { authSummary } from './auth.js';
import { engineText } from './engine.js';

const LABEL_WIDTH = 12;

// The plan as lines without trailing newlines; callers choose how to frame them.
export function planLines(plan: BottlePlan): string[] {
  const lines: string[] = [];
  const one = (label: string, value: string): void => {
    lines.push(`${label.padEnd(LABEL_WIDTH)}${value}`);
  };
  const many = (label: string, items: string[]): void => {
    if (items.length === 0) one(label, '(none)');
    items.forEach((item, i) => one(i === 0 ? label : '', item));
  };
  one('agent', plan.agent);
  one('slug', plan.slug ?? '(minted at launch)');
  one('backend', plan.backend);
  // Older launch.json files have no engine.
  if (plan.engine) one('engine', engineText(plan.engine));
  one('image', plan.image);
  one('manifest', plan.manifestPath);
  one('workspace', plan.workspace === undefined ? '(none)' : `${plan.workspace}${plan.workspaceFrom === 'option' ? ' (--workspace)' : ''}`);
  one('prompt', promptSummary(plan.prompt));
  if (plan.supervise) one('', ASK_PROMPT_SUMMARY);
  many('env', plan.envNames);
  many('skills', plan.skills);
  many('git', plan.git.map((g) => `${g.name} → ${g.upstream}${g.identity ? ` (identity ${g.identity})` : ''}${g.review ? ` (pushes wait for your review, up to ${formatHold(g.review.holdMs)})` : ''}`));
  many('allow', plan.egress.allow);
  if (plan.egress.block.length > 0) many('block', plan.egress.block);
  many('routes', plan.egress.routes.flatMap(routeLines));
  many('passthrough', plan.egress.passthrough);
  const { model } = plan.egress;
  if (model) one('model', `${model.host} (claude's API calls only; server-side URL fetch ${model.serverFetch ? 'allowed' : 'refused'})`);
  // Older launch.json files have no auth (resume fills it in; a plan read raw may not).
  if (plan.auth) one('auth', authSummary(plan.auth));
  const b = plan.budget;
  if (b) one('budget', `${budgetText(b)} over the bottle's life (warns at ${Math.round(b.warnAt * 100)}%; model requests refused at the cap)`);
  const ignored = plan.dlpIgnore?.length ?? 0;
  if (ignored > 0) one('dlp ignore', `${ignored} known value${ignored === 1 ? '' : 's'}`);
  one('supervise', plan.supervise ? 'on (agent can propose policy changes)' : 'off');
  for (const h of plan.autoApprove ?? []) one('', `auto-approves allowlist proposals for ${h}`);
  if (plan.missingVars.length > 0) {
    lines.push(`warning: host env not set: ${plan.missingVars.join(', ')} (export before launch; the routes need them)`);
  }
  return lines;
}

// The CLI's form of planLines.
export function renderPlan(plan: BottlePlan): string {
  return planLines(plan).join('\n');
}

function routeLines(route: PlanRoute): string[] {
  const suffix = route.default ? ' (default)' : '';
  // Only an unusual port is news; 443 is what every route gets.
  const host = route.port === undefined ? route.host : `${route.host}:${route.port}`;
  return route.headers.map((h) => `${host}  ${headerSource(h)}${suffix}`);
}

// `Authorization ← $GITHUB_TOKEN`: which host variables feed the header, never the value.
export function headerSource(h: PlanHeader): string {
  if (h.vars.length === 0) return `${h.name} ← (fixed value)`;
  return `${h.name} ← ${h.vars.map((v) => `$${v}`).join(' ')}`;
}

function promptSummary(prompt: string | undefined): string {
  if (prompt === undefined) return '(none)';
  const lines = prompt.trim().split('\n');
  const first = lines[0]!.length > 60 ? `${lines[0]!.slice(0, 57)}...` : lines[0]!;
  return lines.length > 1 ? `${first} (+${lines.length - 1} more lines)` : first;
}
