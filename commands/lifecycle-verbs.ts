// `bottle attach`, `bottle stop`, `bottle ls`, `bottle cleanup`: any bottle, whoever started it.
import type { Command } from 'commander';
import { formatAge } from '../lib/format.js';
import { bottleStatuses, cleanup, cliDeps, findBottle, planAttach, stopBottle, type BottleStatus } from '../lib/lifecycle/index.js';
import { runInteractive, terminalProblem } from '../lib/run/index.js';
import { UserError } from '../lib/errors.js';
import type { Ctx, Outcome } from '../lib/cli.js';

// The human table of `bottle ls` (pure; tested as strings).
export function renderStatusTable(rows: BottleStatus[], now = Date.now()): string {
  if (rows.length === 0) return 'no bottles; start one with: bottle start <agent>';
  const table = [['SLUG', 'AGENT', 'BACKEND', 'STATE', 'ENGINE', 'AGE', 'PROPOSALS', 'NOTE']];
  for (const r of rows) {
    table.push([r.slug, r.agent, r.backend, r.state, r.engine, r.created ? formatAge(r.created, now) : '', String(r.pendingProposals), r.waitingSince ? 'waiting for input' : (r.broken ?? '')]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

// One `ls --json` row: every field present, null where it does not apply, so scripts need no guards.
export function statusJson(r: BottleStatus): Record<string, unknown> {
  return {
    slug: r.slug, agent: r.agent, backend: r.backend, state: r.state, engine: r.engine, created: r.created || null,
    pendingProposals: r.pendingProposals, waitingSince: r.waitingSince ?? null, broken: r.broken ?? null,
  };
}

export function registerLifecycleVerbs(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('ls')
    .description('list bottles: state, engine view, age, pending proposals, waiting-for-input marker')
    .option('--json', 'print a JSON array: {slug, agent, backend, state, engine, created, pendingProposals, waitingSince, broken} (null when not applicable)')
    .addHelpText('after', [
      '',
      'STATE is bottle\'s record (claimed, launching, running, stopping, broken); ENGINE is what the',
      'engine has (running, partial, exited, missing, unknown); NOTE says "waiting for input" when the',
      'agent waits for you, or why a state dir is broken.',
    ].join('\n'))
    .action(async (opts: { json?: boolean }) => {
      const rows = await bottleStatuses(cliDeps(ctx));
      ctx.out(opts.json ? JSON.stringify(rows.map(statusJson), null, 2) : renderStatusTable(rows));
    });

  program
    .command('attach')
    .description('run the agent\'s claude session in this terminal (resumed when it has one)')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('--print-argv', 'print the command that would run, as JSON, instead of running it (records nothing)')
    .action(async (slug: string, opts: { printArgv?: boolean }) => {
      if (!opts.printArgv) {
        const noTty = terminalProblem();
        if (noTty) throw new UserError(`cannot attach to ${(await findBottle(cliDeps(ctx), slug)).slug}: ${noTty}; run bottle attach in a terminal (or --print-argv for the command)`);
      }
      const plan = await planAttach(cliDeps(ctx), slug, { record: !opts.printArgv });
      if (opts.printArgv) {
        ctx.out(JSON.stringify({ slug: plan.meta.slug, sessionId: plan.sessionId, resume: plan.resume, argv: plan.argv }));
        return;
      }
      ctx.err(`bottle: ${plan.resume ? 'resuming' : 'starting'} claude session ${plan.sessionId} in ${plan.meta.slug}`);
      outcome.exitCode = await runInteractive(plan.argv, { installHint: 'install the docker CLI' });
    });

  program
    .command('stop')
    .description('stop a bottle: its containers/VM, networks and state are removed')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('--json', 'print the result as JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      const r = await stopBottle(cliDeps(ctx), slug, (line) => ctx.err(line));
      if (opts.json) ctx.out(JSON.stringify(r));
    });

  program
    .command('cleanup')
    .description('remove orphans: labelled containers/networks/VMs without state, and state without resources')
    .option('--all', 'stop and remove every bottle, not just orphans')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print what was found/removed as JSON')
    .action(async (opts: { all?: boolean; dryRun?: boolean; json?: boolean }) => {
      const items = await cleanup(cliDeps(ctx), { all: opts.all, dryRun: opts.dryRun, log: (l) => ctx.err(l) });
      if (opts.json) { ctx.out(JSON.stringify(items, null, 2)); return; }
      if (items.length === 0) { ctx.out('nothing to clean up'); return; }
      for (const i of items) {
        const verb = opts.dryRun ? 'would remove' : i.done ? 'removed' : 'FAILED to remove';
        ctx.out(`${verb} ${i.what} ${i.name} (${i.backend}, ${i.slug})${i.error ? `: ${i.error}` : ''}`);
      }
      if (items.some((i) => i.error)) outcome.exitCode = 1;
    });
}
