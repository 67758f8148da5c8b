// `bottle budget <slug> [--usd N|--tokens N|--warn-at F|--off] [--json]`: shows a bottle's spend
// cap against its usage, or changes it live. The gateway re-reads budget.json on the change (a
// reload is sent too, so the next model request is judged by the new cap); nothing restarts.
import type { Command } from 'commander';
import type { Ctx, Outcome } from '../lib/cli.js';
import { UserError } from '../lib/errors.js';
import { formatTokens } from '../lib/format.js';
import { budgetChange, bundleControl, changeBudget, cliDeps, findBottle, pullBundles, readBudgetFile, type BudgetOptions } from '../lib/lifecycle/index.js';
import { withPolicyLock } from '../lib/policy-edit/index.js';
import { bottlePaths, type BottlePaths } from '../lib/state/index.js';
import {
  allTokens, budgetState, budgetText, hasCap, readUsage, type BudgetFileContent, type UsageTotals,
} from '../lib/usage/index.js';

export interface BudgetView {
  slug: string;
  budget: BudgetFileContent | null;
  used: { usd: number | null; tokens: number; requests: number };
  level: 'ok' | 'warn' | 'paused';
  fraction: number;
}

export function budgetView(slug: string, budget: BudgetFileContent | undefined, totals: UsageTotals): BudgetView {
  const s = budgetState(budget, totals);
  return {
    slug, budget: budget ?? null, used: { usd: totals.usd, tokens: allTokens(totals), requests: totals.requests },
    level: s.level, fraction: Math.round(s.fraction * 1e4) / 1e4,
  };
}

export function renderBudget(v: BudgetView): string {
  const used = `${v.used.usd === null ? '$?' : `$${v.used.usd.toFixed(2)}`} and ${formatTokens(v.used.tokens)} tokens over ${v.used.requests} request(s)`;
  if (!hasCap(v.budget ?? undefined)) return `${v.slug}: no budget (used ${used}); set one with: bottle budget ${v.slug} --usd N`;
  const b = v.budget!;
  const state = v.level === 'paused' ? 'PAUSED: model requests are refused until the cap is raised'
    : v.level === 'warn' ? `warning: past ${Math.round(b.warnAt * 100)}%` : 'ok';
  return `${v.slug}: budget ${budgetText(b)} (warns at ${Math.round(b.warnAt * 100)}%); used ${used} (${Math.round(v.fraction * 100)}%); ${state}`;
}

async function usageTotals(paths: BottlePaths, budget: BudgetFileContent | undefined): Promise<UsageTotals> {
  return (await readUsage(paths.eventsFile, { prices: budget?.prices ?? {} })).totals;
}

export function registerBudget(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('budget')
    .description('show or change a bottle\'s spend cap (model requests are refused once it is reached; raising it resumes at once)')
    .argument('<slug>', 'the bottle (see bottle ls); a unique prefix works')
    .option('--usd <n>', 'cap in USD over the bottle\'s life (replaces the current one)')
    .option('--tokens <n>', 'cap in tokens (input, output and cache, every class)')
    .option('--warn-at <fraction>', 'warn (bell and message in the dashboard) at this fraction of a cap, e.g. 0.8')
    .option('--off', 'lift every cap (usage is still metered)')
    .option('--json', 'print {slug, budget, used: {usd, tokens, requests}, level, fraction}')
    .addHelpText('after', [
      '',
      'The manifest sets the starting budget (budget: { usd: 10, tokens: 2000000, warn_at: 0.8 },',
      'in defaults or per agent). Usage is what the gateway metered (see bottle usage), priced as',
      'bottle usage prices it. At the cap the gateway answers claude\'s model requests with',
      '"API Error: 402 ... budget is used up" and the dashboard shows the bottle as paused: budget;',
      'a higher cap lets the next request through. The change survives stop and resume.',
      '',
      'Examples:',
      '  bottle budget implementer-ab',
      '  bottle budget implementer-ab --usd 20',
      '  bottle budget implementer-ab --off',
    ].join('\n'))
    .action(async (slug: string, opts: BudgetOptions) => {
      const change = budgetChange(opts);
      const deps = cliDeps(ctx);
      const meta = await findBottle(deps, slug);
      const paths = bottlePaths(deps.root, meta.slug);
      if (meta.state === 'running') await pullBundles(deps, [meta]);
      let budget = readBudgetFile(paths);
      if (change) {
        budget = await withPolicyLock(paths, async () => changeBudget(paths, change));
        const { control, warning } = await bundleControl(deps, meta);
        try {
          await control.reload(meta.slug);
        } catch (e) {
          ctx.err(`bottle: the budget file is updated, but ${meta.slug}'s bundle was not told (${(e as Error).message.split('\n')[0]}); it applies when ${meta.slug} next starts`);
        }
        if (warning) ctx.err(`bottle: ${warning.replace('the policy file is updated', 'the budget is updated')}`);
      }
      const view = budgetView(meta.slug, budget, await usageTotals(paths, budget));
      ctx.out(opts.json ? JSON.stringify(view, null, 2) : renderBudget(view));
      outcome.exitCode = 0;
    });
}
