// `bottle manifest check`: validate bottle.yaml and report every problem with file:line:col.
import type { Command } from 'commander';
import { ManifestError, formatIssue, locateManifest, manifestNotice, readManifest, type LoadedManifest } from '../lib/manifest/index.js';
import { formatPlanProblem, planIssue, planProblems, preparePlan, type PlanProblem } from '../lib/plan/index.js';
import { loadCredentialConfig, unsourced } from '../lib/credentials.js';
import { UserError } from '../lib/errors.js';
import type { Ctx, Outcome } from '../lib/cli.js';

interface CheckOptions { manifest?: string; json?: boolean }

// `manifest check` exits 1 on errors (through outcome) so CI can gate on it.
export function registerManifest(program: Command, ctx: Ctx, outcome: Outcome): void {
  const manifest = program
    .command('manifest')
    .description('inspect the manifest (bottle.yaml) that names your agents');
  manifest
    .command('check')
    .description('validate bottle.yaml and list every problem as file:line:col: key.path: message, including what bottle start would refuse (missing skill folders, a workspace that is not a git checkout, secrets in env:)')
    .option('--manifest <file>', 'check this file instead of the usual lookup (./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml, then the built-in example)')
    .option('--json', 'print the result as JSON on stdout ({ok, path, agents, warnings} or {ok: false, errors, warnings})')
    .addHelpText('after', [
      '',
      'Route variables unset in this environment are warnings: bottle start may run where they are set.',
      'Exit status: 0 when the manifest is valid, 1 when it has errors.',
    ].join('\n'))
    .action((opts: CheckOptions) => {
      outcome.exitCode = check(ctx, opts);
    });
}

function check(ctx: Ctx, opts: CheckOptions): number {
  const located = locateManifest({ flag: opts.manifest, cwd: ctx.cwd, env: ctx.env });
  if (located.source !== 'flag') ctx.err(manifestNotice(located));
  let loaded: LoadedManifest;
  try {
    loaded = readManifest(located);
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    if (opts.json) {
      ctx.out(JSON.stringify({ ok: false, path: located.path, source: located.source, errors: e.issues }, null, 2));
    } else {
      ctx.err(e.issues.map(formatIssue).join('\n'));
      summary(ctx, located.display, e.issues.length);
    }
    return 1;
  }
  const names = Object.keys(loaded.manifest.agents);
  const problems = agentProblems(ctx, loaded, names);
  const errors = problems.filter((p) => !p.warning);
  const warnings = problems.filter((p) => p.warning);
  if (opts.json) {
    const issues = (list: PlanProblem[]) => list.map((p) => planIssue(p, loaded));
    const result = errors.length > 0
      ? { ok: false, path: loaded.path, source: loaded.source, errors: issues(errors), warnings: issues(warnings) }
      : { ok: true, path: loaded.path, source: loaded.source, agents: names, warnings: issues(warnings), manifest: loaded.manifest };
    ctx.out(JSON.stringify(result, null, 2));
    return errors.length > 0 ? 1 : 0;
  }
  if (problems.length > 0) ctx.err(problems.map((p) => formatPlanProblem(p, loaded)).join('\n'));
  if (errors.length > 0) {
    summary(ctx, loaded.display, errors.length);
    return 1;
  }
  ctx.out(`OK ${loaded.display}: ${names.length} agent${names.length === 1 ? '' : 's'} (${names.join(', ')})`);
  return 0;
}

// What `start <agent>` would refuse for each agent (and its warnings), from the same check.
function agentProblems(ctx: Ctx, loaded: LoadedManifest, names: string[]): PlanProblem[] {
  const config = loadCredentialConfig(ctx.env);
  return names.flatMap((name) => {
    let plan;
    try {
      plan = preparePlan(loaded, name, { cwd: ctx.cwd, sourced: new Set(config.sources.keys()) }, ctx.env);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      return [{ path: `agents.${name}`, message: e.message }];
    }
    // A variable with a source in credentials.yaml is not missing; start reads it at launch.
    plan.missingVars = unsourced(plan.missingVars, ctx.env, config);
    return planProblems(plan, loaded);
  });
}

function summary(ctx: Ctx, display: string, n: number): void {
  ctx.err(`bottle: ${display}: ${n} error${n === 1 ? '' : 's'}`);
}
