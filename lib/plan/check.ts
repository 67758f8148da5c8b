// The one check of a plan before anything starts: what `start` (and the dashboard) refuse and
// what `manifest check` reports per agent, so the two never disagree. Looks at the filesystem
// and scans the agent's plain env with the gateway's scanner.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { LoadedManifest } from '../manifest/types.js';
import { egressConflicts } from '../policy/conflicts.js';
import { dlpScanner } from '../secrets/index.js';
import type { BottlePlan } from './prepare.js';

export interface PlanProblem {
  /** Manifest key path (`agents.x.skills[0]`), or `--workspace` for the option. */
  path: string;
  message: string;
  /** Unset route variables: the environment `start` runs in may have them. */
  warning?: true;
}

// A problem as `manifest check` prints it; positioned when the manifest has the key path.
export interface PlanIssue {
  file?: string;
  line?: number;
  col?: number;
  path: string;
  message: string;
}

type Manifested = Pick<LoadedManifest, 'display' | 'positions' | 'manifest'>;

// Every problem with the plan of one of `loaded`'s agents: host paths (skill folders with a
// SKILL.md, a workspace that is a git checkout, identity files), egress the policy would refuse
// (a blocked route, a passthrough host not allowed), plain env values that look like secrets,
// and (as warnings) route variables in plan.missingVars.
export function planProblems(plan: BottlePlan, loaded: Manifested): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const prefix = `agents.${plan.agent}`;
  plan.skills.forEach((dir, i) => {
    const kind = kindOf(dir);
    const path = `${prefix}.skills[${i}]`;
    if (kind !== 'dir') problems.push({ path, message: `skill folder ${kind === 'missing' ? 'not found' : 'is not a directory'}: ${dir}` });
    else if (kindOf(join(dir, 'SKILL.md')) !== 'file') problems.push({ path, message: `skill folder has no SKILL.md: ${dir}` });
  });
  if (plan.workspace !== undefined) {
    const path = plan.workspaceFrom === 'manifest' ? `${prefix}.workspace` : '--workspace';
    const kind = kindOf(plan.workspace);
    // The backends copy the workspace's .git in; a worktree or submodule has a .git file.
    if (kind !== 'dir') problems.push({ path, message: `workspace ${kind === 'missing' ? 'not found' : 'is not a directory'}: ${plan.workspace}` });
    else if (kindOf(join(plan.workspace, '.git')) !== 'dir') {
      problems.push({ path, message: `workspace is not a git checkout (no .git directory; worktrees and submodules are not supported): ${plan.workspace}` });
    }
  }
  plan.git.forEach((g, i) => {
    if (g.identity !== undefined && kindOf(g.identity) !== 'file') problems.push({ path: `${prefix}.git[${i}].identity`, message: `identity file not found: ${g.identity}` });
  });
  problems.push(...egressProblems(plan));
  problems.push(...envSecrets(plan, loaded));
  for (const name of plan.missingVars) {
    const message = `warning: host env not set here: ${name} (a route needs it; start reads it from its own environment or a source in credentials.yaml)`;
    problems.push({ path: routeVarPath(plan, name), message, warning: true });
  }
  return problems;
}

// The errors (not the warnings) as printed lines, each positioned in the manifest.
export function planErrors(plan: BottlePlan, loaded: Manifested): string[] {
  return planProblems(plan, loaded).filter((p) => !p.warning).map((p) => formatPlanProblem(p, loaded));
}

// Throws one UserError naming every error (warnings pass); the dashboard shows it as one line.
export function checkPlanPaths(plan: BottlePlan, loaded: Manifested): void {
  const errors = planErrors(plan, loaded);
  if (errors.length > 0) throw new UserError(errors.join('; '));
}

// `bottle.yaml:7:5: agents.x.env.TOKEN: looks like a secret ...`; without a position, `path: message`.
export function formatPlanProblem(p: PlanProblem, loaded: Pick<LoadedManifest, 'display' | 'positions'>): string {
  const i = planIssue(p, loaded);
  return `${i.file === undefined ? '' : `${i.file}:${i.line}:${i.col}: `}${i.path}: ${i.message}`;
}

export function planIssue(p: PlanProblem, loaded: Pick<LoadedManifest, 'display' | 'positions'>): PlanIssue {
  const pos = loaded.positions.get(p.path);
  return pos ? { file: loaded.display, line: pos.line, col: pos.col, path: p.path, message: p.message } : { path: p.path, message: p.message };
}

// The policy's cross-list rules on the egress this plan writes, at the manifest entry to change:
// the same check, in the same words, as policy.yaml and `allowlist edit` / `routes edit`. The
// default model route is not in the manifest, so a block on it is reported at the block entry.
function egressProblems(plan: BottlePlan): PlanProblem[] {
  const { allow, block, passthrough, routes, model } = plan.egress;
  const at = `agents.${plan.agent}.egress`;
  return egressConflicts({ allow, block, passthrough, routes: routes.map((r) => r.host), model: model?.host }).map((c) => {
    if (c.kind === 'passthrough-not-allowed') return { path: `${at}.passthrough[${c.passthrough}]`, message: c.message };
    return { path: routes[c.route]?.default ? `${at}.block[${c.block}]` : `${at}.routes[${c.route}].host`, message: c.message };
  });
}

// A secret in plain env is readable by the agent (and by whatever injected it); route values
// never are. Scanned as the agent's environment shows it (NAME=value), with the gateway's
// scanner and the plan's dlp.ignore; `notSecret:` names the deliberate exceptions.
function envSecrets(plan: BottlePlan, loaded: Manifested): PlanProblem[] {
  const agent = loaded.manifest.agents[plan.agent];
  const names = agent ? Object.keys(agent.env).filter((n) => !agent.notSecret?.includes(n)) : [];
  if (!agent || names.length === 0) return [];
  const scanner = dlpScanner();
  const ignore = new Set(plan.dlpIgnore ?? []);
  const problems: PlanProblem[] = [];
  for (const name of names) {
    const hit = scanner.first(`${name}=${agent.env[name]}`, { ignore });
    if (!hit) continue;
    problems.push({
      path: `agents.${plan.agent}.env.${name}`,
      message: `looks like a secret (${hit.ruleId}); put it in a route (egress.routes[].headers: "... \${${name}}") so the agent never holds it, or mark it notSecret: [${name}]`,
    });
  }
  return problems;
}

// The first manifest header that names the variable (the default model route is not in the
// manifest: the agent then).
function routeVarPath(plan: BottlePlan, name: string): string {
  for (const [i, r] of plan.egress.routes.entries()) {
    if (r.default) continue;
    const h = r.headers.find((x) => x.vars.includes(name));
    if (h) return `agents.${plan.agent}.egress.routes[${i}].headers.${h.name}`;
  }
  return `agents.${plan.agent}`;
}

function kindOf(path: string): 'file' | 'dir' | 'other' | 'missing' {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}
