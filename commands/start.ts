// `bottle start <agent>`: prepare a bottle from the manifest; `--dry-run` shows the plan only.
import { AUTH, authMissingText } from '../lib/plan/auth.js';
import type { Command } from 'commander';
import { cliDeps, planAttach, startBottle } from '../lib/lifecycle/index.js';
import { runInteractive, terminalProblem, terminalQuestion } from '../lib/run/index.js';
import { UserError } from '../lib/errors.js';
import { locateManifest, manifestNotice, readManifest } from '../lib/manifest/index.js';
import { type BottlePlan, checkBackend, engineEnv, planErrors, preparePlan, renderPlan, routeVarNames } from '../lib/plan/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import { shortSecretProblem } from '../lib/template.js';
import { loadCredentialConfig, unsourced, withCredentials } from '../lib/credentials.js';
import { imagePresence, planImages, presenceLines } from '../lib/images/present.js';
import { planWorkspaceWarnings } from '../lib/plan/workspace.js';

interface StartOptions {
  dryRun?: boolean;
  yes?: boolean;
  attach?: boolean;
  slug?: string;
  manifest?: string;
  backend?: string;
  engine?: string;
  workspace?: string;
  json?: boolean;
}

// Validates everything, shows the plan, asks, launches, then attaches unless --no-attach.
export function registerStart(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('start')
    .description('start a bottle for one of the manifest\'s agents (use --dry-run to see the plan first)')
    .argument('<agent>', 'agent name from the manifest\'s agents: section')
    .option('--dry-run', 'print the plan (backend, image, env names, skills, git, egress) and create nothing; warns about images the Docker engine lacks ("not checked" without an engine) and what the workspace leaves behind')
    .option('-y, --yes', 'start without the preflight question (required when stdin is not a terminal)')
    .option('--no-attach', 'bring the bottle up and return (what happens anyway without a terminal); attach later with bottle attach <slug>')
    .option('--slug <slug>', 'use a slug claimed earlier (the dashboard claims one to tail its bring-up log)')
    .option('--manifest <file>', 'use this manifest instead of ./bottle.yaml, $XDG_CONFIG_HOME/bottle/bottle.yaml or the built-in example')
    .option('--backend <name>', 'sandbox to run in: docker (containers) or smolvm (micro-VM); overrides the manifest')
    .option('--engine <name>', 'Docker engine to run on: a name from the manifest\'s engines:, or local (the one this shell selects); overrides the manifest')
    .option('--workspace <dir>', 'host repository whose .git is copied into the bottle and its last commit checked out (uncommitted files stay behind: start warns, as it does when there is no remote); overrides the agent\'s workspace:')
    .option('--json', 'with --dry-run, the plan as JSON on stdout; otherwise bring the bottle up without attaching and print {"ok", "slug", "agent", "backend"}')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle start implementer --dry-run',
      '  bottle start implementer --yes --no-attach',
      '  bottle start reviewer --workspace ~/src/app --backend smolvm --dry-run --json',
      '  bottle start reviewer --yes --json    # for scripts: {"ok": true, "slug": ...}, no attach',
      '  bottle start implementer --engine buildbox --dry-run   # an engine the manifest\'s engines: names',
      '',
      'A Kubernetes backend exists only on paper (docs/kubernetes.md): it is not a --backend value',
      'until it has run on a real cluster.',
      '',
      'Route credentials (e.g. ${GITHUB_TOKEN}) and the Claude credential are read from the',
      'environment bottle runs in (or credentials.yaml); plans and logs show their names, never',
      'their values. The Claude credential (manifest auth:, default auto) is ANTHROPIC_API_KEY,',
      'or CLAUDE_CODE_OAUTH_TOKEN for a Pro/Max/Team subscription (run `claude setup-token`).',
    ].join('\n'))
    .action(async (agent: string, opts: StartOptions) => {
      outcome.exitCode = await start(ctx, agent, opts);
    });
}

async function start(ctx: Ctx, agent: string, opts: StartOptions): Promise<number> {
  if (opts.backend !== undefined) checkBackend(opts.backend);
  const located = locateManifest({ flag: opts.manifest, cwd: ctx.cwd, env: ctx.env });
  if (located.source !== 'flag') ctx.err(manifestNotice(located));
  const loaded = readManifest(located);
  const credentials = loadCredentialConfig(ctx.env);
  const sourced = new Set(credentials.sources.keys());
  const plan = preparePlan(loaded, agent, { backend: opts.backend, engine: opts.engine, workspace: opts.workspace, cwd: ctx.cwd, sourced }, ctx.env);
  // The same check and lines as `manifest check`: one problem is the error, several get a line each.
  const errors = planErrors(plan, loaded);
  if (errors.length === 1) throw new UserError(errors[0]!);
  if (errors.length > 1) {
    ctx.err(errors.join('\n'));
    throw new UserError(`${loaded.display}: ${errors.length} errors; not starting ${plan.agent}`);
  }
  // A variable with a source in credentials.yaml is not missing; it is read at launch.
  plan.missingVars = unsourced(plan.missingVars, ctx.env, credentials);
  // What the workspace does not carry in; the dry run also asks the engine for the images.
  const workspace = await planWorkspaceWarnings(plan, ctx.run, ctx.env);
  if (opts.dryRun) {
    const images = await imagePresence(engineEnv(ctx.env, plan.engine), planImages(plan));
    const warnings = [...workspace, ...presenceLines(images)];
    if (opts.json) ctx.out(JSON.stringify({ ...planJson(plan), images, warnings }, null, 2));
    else ctx.out([`Plan for a new ${plan.agent} bottle (dry run: nothing created)`, '', renderPlan(plan), ...warnings].join('\n'));
    return 0;
  }
  // No Claude credential at all: one line on how to get one, before the generic route check.
  if (plan.missingVars.includes(AUTH[plan.auth.mode].variable)) throw new UserError(authMissingText(plan.auth, credentials.path));
  // Route values come from this environment or the sources in credentials.yaml; from here on
  // the launch sees them in its env (never argv, logs or files).
  const env = await withCredentials(routeVarNames(plan.egress.routes), ctx.env, ctx.run, 'before starting (the gateway injects route values into requests)');
  ctx = { ...ctx, env };
  const short = shortSecretProblem(routeVarNames(plan.egress.routes), ctx.env);
  if (short) throw new UserError(short);
  // The plan before the question; the workspace warnings even without one.
  const preflight = [...(opts.yes ? [] : [renderPlan(plan)]), ...workspace];
  if (preflight.length > 0) ctx.err(preflight.join('\n'));
  if (!opts.yes) {
    const ask = terminalQuestion();
    if (!ask) throw new UserError('refusing to start without confirmation: stdin is not a terminal; pass --yes');
    if (!(await ask('Start this bottle? [y/N] '))) {
      ctx.err('bottle: not started');
      return 1;
    }
  }
  const agentSpec = loaded.manifest.agents[plan.agent]!;
  const deps = cliDeps(ctx);
  const abort = new AbortController();
  // Silent: the backend says `interrupted: removing what was created` as it unwinds, and the
  // error that ends the command says what became of the bring-up.
  const onSigint = (): void => abort.abort();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let meta;
  try {
    meta = await startBottle(deps, plan, agentSpec, { log: (line) => ctx.err(line), signal: abort.signal, slug: opts.slug });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  // A script that asked for JSON reads the result; a session taking the terminal would bury it.
  if (opts.json) ctx.out(JSON.stringify({ ok: true, slug: meta.slug, agent: meta.agent, backend: meta.backend }));
  else ctx.out(meta.slug);
  if (opts.attach === false || opts.json) {
    ctx.err(`bottle: ${meta.slug} is running; attach with: bottle attach ${meta.slug}`);
    return 0;
  }
  // The bottle is up either way; a script without a terminal gets it, not a failed attach it
  // would retry into a duplicate.
  const noTty = terminalProblem();
  if (noTty) {
    ctx.err(`bottle: ${meta.slug} is running; not attaching (${noTty}); attach from a terminal with: bottle attach ${meta.slug}`);
    return 0;
  }
  const attach = await planAttach(deps, meta.slug);
  return runInteractive(attach.argv, { installHint: 'install the docker CLI' });
}

// The dry run's JSON: the plan, with `workspace` and `workspaceFrom` null rather than absent.
export function planJson(plan: BottlePlan): Omit<BottlePlan, 'workspace' | 'workspaceFrom'> & { workspace: string | null; workspaceFrom: BottlePlan['workspaceFrom'] | null } {
  return { ...plan, workspace: plan.workspace ?? null, workspaceFrom: plan.workspaceFrom ?? null };
}
