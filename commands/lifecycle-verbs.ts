// `bottle attach`, `bottle stop`, `bottle ls`, `bottle cleanup`: any bottle, whoever started it.
import type { Command } from 'commander';
import { formatAge } from '../lib/format.js';
import { bottleStatuses, cleanup, cliDeps, describeSaved, findBottle, lostWith, planAttach, stopBottle, type BottleStatus } from '../lib/lifecycle/index.js';
import { LIFECYCLE_TABLE } from './durable.js';
import { runInteractive, terminalProblem, terminalQuestion } from '../lib/run/index.js';
import { UserError } from '../lib/errors.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import type { CleanupEngine } from '../lib/lifecycle/cleanup.js';
import { locateManifest, readManifest } from '../lib/manifest/index.js';
import { engineEnv, manifestEngine } from '../lib/plan/index.js';

// The engines the manifest's engines: names, for cleanup to sweep beside this shell's and the
// bottles' own (an orphan's bottle has no state left to say where it ran). No manifest, or an
// entry that does not resolve (a missing context): that one is said and skipped.
function manifestEngines(ctx: Ctx): CleanupEngine[] {
  let loaded;
  try {
    loaded = readManifest(locateManifest({ cwd: ctx.cwd, env: ctx.env }));
  } catch {
    return [];
  }
  return Object.keys(loaded.manifest.engines ?? {}).flatMap((name) => {
    try {
      return [{ name, env: engineEnv(ctx.env, manifestEngine(loaded, name, ctx.env)) }];
    } catch (e) {
      ctx.err(`${name}: not checked (${(e as Error).message.split('\n')[0]})`);
      return [];
    }
  });
}

// The human table of `bottle ls` (pure; tested as strings): live bottles first, then the
// stopped and down ones in their own section with what each holds and how to bring it back.
export function renderStatusTable(rows: BottleStatus[], now = Date.now()): string {
  if (rows.length === 0) return 'no bottles; start one with: bottle start <agent>';
  const resting = (r: BottleStatus): boolean => r.state === 'stopped' || r.state === 'down';
  const live = rows.filter((r) => !resting(r));
  const rest = rows.filter(resting);
  const out: string[] = [];
  // Which engine, only when some bottle runs on another one than this machine's default.
  const hosts = rows.some((r) => r.on);
  const host = (r: BottleStatus): string[] => (hosts ? [r.on ?? 'local'] : []);
  // An engine that did not answer: its bottles' ENGINE says so and NOTE says why.
  const engineCell = (r: BottleStatus): string => (r.unreachable ? 'unreachable' : r.engine);
  const unreachableNote = (r: BottleStatus): string => (r.unreachable ? `engine unreachable: ${r.unreachable}` : '');
  if (live.length > 0) {
    out.push(table([['SLUG', 'AGENT', 'BACKEND', 'STATE', 'ENGINE', ...(hosts ? ['ON'] : []), 'AGE', 'PROPOSALS', 'NOTE'], ...live.map((r) => [
      r.slug, r.agent, r.backend, r.budget?.level === 'paused' ? 'paused: budget' : r.state, engineCell(r), ...host(r), r.created ? formatAge(r.created, now) : '', String(r.pendingProposals),
      [r.waitingSince ? 'waiting for input' : (r.broken ?? ''), unreachableNote(r), budgetNote(r)].filter(Boolean).join('; '),
    ])]));
  }
  if (rest.length > 0) {
    if (out.length > 0) out.push('');
    out.push('Stopped and down (bottle resume <slug> brings one back, bottle rm <slug> removes it):');
    out.push(table([['SLUG', 'AGENT', 'BACKEND', 'STATE', ...(hosts ? ['ON'] : []), 'SINCE', 'SAVED'], ...rest.map((r) => [
      r.slug, r.agent, r.backend, r.state, ...host(r), r.stoppedAt ? formatAge(r.stoppedAt, now) : '',
      r.saved ? describeSaved(r.saved) : r.state === 'down' ? `not yet (engine: ${r.engine})` : 'nothing',
    ])]));
  }
  return out.join('\n');
}

// `budget $10.00: 85% used` past the warning or at the cap; nothing below the warning.
function budgetNote(r: BottleStatus): string {
  const b = r.budget;
  return b && b.level !== 'ok' ? `budget ${b.cap}: ${Math.floor(b.fraction * 100)}% used${b.level === 'paused' ? ' (bottle budget raises it)' : ''}` : '';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

// One `ls --json` row: every field present, null where it does not apply, so scripts need no guards.
export function statusJson(r: BottleStatus): Record<string, unknown> {
  return {
    slug: r.slug, agent: r.agent, backend: r.backend, state: r.state, engine: r.engine, dockerHost: r.dockerHost ?? null,
    on: r.on ?? null, unreachable: r.unreachable ?? null, created: r.created || null,
    pendingProposals: r.pendingProposals, waitingSince: r.waitingSince ?? null, broken: r.broken ?? null,
    stoppedAt: r.stoppedAt ?? null, saved: r.saved ?? null, usage: usageJson(r.usage),
    budget: r.budget ? { level: r.budget.level, fraction: Math.round(r.budget.fraction * 1e4) / 1e4, cap: r.budget.cap } : null,
  };
}

// `ls --json`'s usage: the bottle's model requests, tokens by class and cost (null: unknown price).
function usageJson(u: BottleStatus['usage']): Record<string, unknown> {
  return {
    requests: u?.requests ?? 0, input: u?.input ?? 0, output: u?.output ?? 0,
    cacheRead: u?.cacheRead ?? 0, cacheWrite: u?.cacheWrite ?? 0, usd: u ? u.usd : 0,
  };
}

export function registerLifecycleVerbs(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('ls')
    .description('list bottles: state, engine view, age, pending proposals, waiting-for-input marker')
    .option('--json', 'print a JSON array: {slug, agent, backend, state, engine, dockerHost, on, unreachable, created, pendingProposals, waitingSince, broken, stoppedAt, saved, usage, budget} (null when not applicable; on: the manifest engine name it was started with, else its remote DOCKER_HOST; unreachable: why its engine did not answer; usage: {requests, input, output, cacheRead, cacheWrite, usd}, usd null when no request has a known price; budget: {level ok|warn|paused, fraction, cap} for a live bottle with a cap)')
    .addHelpText('after', [
      '',
      'STATE is claimed, launching, running, stopping, resuming, stopped (work saved, resumable), down',
      '(it was running and the engine no longer runs it: a crash, an engine restart, a reboot) or',
      'broken; ENGINE is what the engine has (running, partial, exited, missing, unknown, or',
      'unreachable: its engine did not answer within 5 s, and NOTE says why; the others are not held',
      'up); NOTE says "waiting for input" when the agent waits for you, or why a state dir is broken.',
      'ON (shown when a bottle runs on another engine than this machine\'s default) is the manifest',
      'engine it was started on (bottle start --engine), else its DOCKER_HOST, or local. Stopped and',
      'down bottles are listed in a section of their own with what their save holds.',
      LIFECYCLE_TABLE,
    ].join('\n'))
    .action(async (opts: { json?: boolean }) => {
      const rows = await bottleStatuses(cliDeps(ctx), { usage: opts.json === true });
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
    .description('stop a bottle and keep its work: claude sessions, unpushed commits and uncommitted changes are saved; containers/VM and networks are removed')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('--no-save', 'stop without saving (the work since the last save is lost)')
    .option('--json', 'print the result as JSON: {slug, state, saved}')
    .addHelpText('after', LIFECYCLE_TABLE)
    .action(async (slug: string, opts: { save?: boolean; json?: boolean }) => {
      const deps = cliDeps(ctx);
      const meta = await findBottle(deps, slug);
      // Ctrl-C mid-stop: say what state it is in and how to finish, instead of vanishing.
      let interrupted = false;
      const onSignal = (): void => {
        if (interrupted) {
          ctx.err(`bottle: ${meta.slug} left half-stopped; \`bottle stop ${meta.slug}\` finishes it (bottle ls shows it meanwhile)`);
          process.exit(130);
        }
        interrupted = true;
        ctx.err(`bottle: still stopping ${meta.slug} (its work is saved before anything is removed); Ctrl-C again to leave it half-stopped`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await stopBottle(deps, meta.slug, (line) => ctx.err(line), { save: opts.save });
        if (opts.json) ctx.out(JSON.stringify(r));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program
    .command('cleanup')
    .description('remove orphans: labelled containers/networks/VMs without state, and broken state without saved work; stopped and down bottles are kept. Looks on this shell\'s engine, every engine a bottle runs on, and every engine the manifest\'s engines: names')
    .option('--purge', 'also remove stopped and down bottles with their saved work (asks first)')
    .option('--all', 'remove every bottle, running ones included, with their saved work (asks first)')
    .option('-y, --yes', 'do not ask (required without a terminal when saved work would be lost)')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print what was found/removed as JSON')
    .action(async (opts: { all?: boolean; purge?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean }) => {
      const deps = cliDeps(ctx);
      const engines = manifestEngines(ctx);
      if ((opts.all || opts.purge) && !opts.dryRun && !opts.yes) {
        const preview = await cleanup(deps, { all: opts.all, purge: opts.purge, dryRun: true, log: () => undefined, engines });
        const bottles = preview.filter((i) => i.what === 'bottle');
        if (bottles.length > 0) {
          const losses = await Promise.all(bottles.map(async (b) => `${b.slug}: ${(await lostWith(deps, b.slug)) ?? 'nothing saved'}`));
          const ask = terminalQuestion();
          if (!ask) throw new UserError(`cleanup ${opts.all ? '--all' : '--purge'} would remove ${bottles.length} bottle(s) (${losses.join('; ')}); pass --yes to do it without a terminal`);
          ctx.err(`This removes:\n${losses.map((l) => `  ${l}`).join('\n')}`);
          if (!(await ask('Remove them? [y/N] '))) {
            ctx.err('bottle: nothing removed');
            outcome.exitCode = 1;
            return;
          }
        }
      }
      const items = await cleanup(deps, { all: opts.all, purge: opts.purge, dryRun: opts.dryRun, log: (l) => ctx.err(l), engines });
      if (opts.json) { ctx.out(JSON.stringify(items, null, 2)); return; }
      if (items.length === 0) { ctx.out('nothing to clean up'); return; }
      for (const i of items) {
        const verb = opts.dryRun ? 'would remove' : i.done ? 'removed' : 'FAILED to remove';
        ctx.out(`${verb} ${i.what} ${i.name} (${i.backend}${i.engine ? ` on ${i.engine}` : ''}, ${i.slug})${i.error ? `: ${i.error}` : ''}`);
      }
      if (items.some((i) => i.error)) outcome.exitCode = 1;
    });
}
