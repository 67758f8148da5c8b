// `bottle start <agent>`: prepare a bottle from the manifest; `--dry-run` shows the plan only.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { locateManifest, manifestNotice, readManifest } from '../lib/manifest/index.js';
import { checkBackend, checkPlanPaths, preparePlan, renderPlan } from '../lib/plan/index.js';
import type { Outcome } from './cli.js';
import type { Ctx } from './context.js';

interface StartOptions {
  dryRun?: boolean;
  manifest?: string;
  backend?: string;
  workspace?: string;
  json?: boolean;
}

// Launching is not wired yet: without --dry-run, start validates everything, then refuses.
export function registerStart(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('start')
    .description('start a bottle for one of the manifest\'s agents (use --dry-run to see the plan first)')
    .argument('<agent>', 'agent name from the manifest\'s agents: section')
    .option('--dry-run', 'print the plan (backend, image, env names, skills, git, egress) and create nothing')
    .option('--manifest <file>', 'use this manifest instead of ./bottle.yaml, $XDG_CONFIG_HOME/bottle/bottle.yaml or the built-in example')
    .option('--backend <name>', 'sandbox to run in: docker (containers) or smolvm (micro-VM); overrides the manifest')
    .option('--workspace <dir>', 'host repository whose .git is copied into the bottle; overrides the agent\'s workspace:')
    .option('--json', 'with --dry-run, print the plan as JSON on stdout')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle start implementer --dry-run',
      '  bottle start reviewer --workspace ~/src/app --backend smolvm --dry-run --json',
      '',
      'Route credentials (e.g. ${GITHUB_TOKEN}) and ANTHROPIC_API_KEY are read from the',
      'environment bottle runs in; plans and logs show their names, never their values.',
    ].join('\n'))
    .action((agent: string, opts: StartOptions) => {
      start(ctx, agent, opts);
      outcome.exitCode = 0;
    });
}

function start(ctx: Ctx, agent: string, opts: StartOptions): void {
  if (opts.backend !== undefined) checkBackend(opts.backend);
  const located = locateManifest({ flag: opts.manifest, cwd: ctx.cwd, env: ctx.env });
  if (located.source !== 'flag') ctx.err(manifestNotice(located));
  const loaded = readManifest(located);
  const plan = preparePlan(loaded, agent, { backend: opts.backend, workspace: opts.workspace, cwd: ctx.cwd }, ctx.env);
  checkPlanPaths(plan, loaded);
  if (!opts.dryRun) {
    throw new UserError(
      `launching bottles needs the Docker backend, which is not in this build yet; run bottle start ${agent} --dry-run to see the plan`,
    );
  }
  if (opts.json) {
    ctx.out(JSON.stringify(plan, null, 2));
    return;
  }
  ctx.out(`Plan for a new ${plan.agent} bottle (dry run: nothing created)\n\n${renderPlan(plan)}`);
}
