// `bottle resume`, `bottle rm`, `bottle export`: the verbs of durable bottles (stop keeps the
// work; these bring it back, throw it away, or hand it over as files).
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import {
  cliDeps, exportBottle, findBottle, type LifecycleDeps, lostWith, planAttach, planResume, removeBottleFully, resumeBottle,
} from '../lib/lifecycle/index.js';
import { runInteractive, terminalProblem, terminalQuestion } from '../lib/run/index.js';
import { loadCredentialConfig, resolveCredentials, withCredentials } from '../lib/credentials.js';
import { routeVarNames } from '../lib/plan/index.js';
import { shortSecretProblem } from '../lib/template.js';
import { UserError } from '../lib/errors.js';
import type { Ctx, Outcome } from '../lib/cli.js';

// The life cycle in one table (bottle --help of the verbs, README).
export const LIFECYCLE_TABLE = [
  '',
  'Life cycle:',
  '  bottle start <agent>   new bottle → running',
  '  bottle stop <slug>     running → stopped: claude sessions, unpushed commits and uncommitted',
  '                         changes are saved in its state dir; containers/VM removed',
  '  (crash, reboot)        running → down: listed, nothing deleted',
  '  bottle resume <slug>   stopped/down → running: same slug, policy and sessions; work restored',
  '  bottle export <slug>   the saved work as files (transcripts, git bundle, patch)',
  '  bottle rm <slug>       any → gone, saved work included (asks first)',
].join('\n');

// Reads one value without echoing it (a route credential asked for again by name).
async function askHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const mute = new Writable({ write: (_c, _e, done) => done() });
  const rl = createInterface({ input: process.stdin, output: mute, terminal: true });
  try {
    return (await rl.question('')).trim();
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

// Route values for a resume: configured sources and the environment first; on a terminal, the
// ones still missing are asked for by name (never stored); otherwise the usual one-line error.
async function resumeEnv(ctx: Ctx, names: string[]): Promise<NodeJS.ProcessEnv> {
  const when = 'before resuming (the gateway injects route values into requests)';
  if (!process.stdin.isTTY) return withCredentials(names, ctx.env, ctx.run, when);
  const r = await resolveCredentials(names, ctx.env, ctx.run, loadCredentialConfig(ctx.env));
  if (r.problems.length > 0) throw new UserError(r.problems.join('; '));
  const asked: Record<string, string> = {};
  for (const name of r.unset) {
    const v = await askHidden(`bottle: ${name} is needed by a route of this bottle and is not set; value (not shown, not stored): `);
    if (!v) throw new UserError(`${name}: no value given; export it or name a source in ${loadCredentialConfig(ctx.env).path}`);
    asked[name] = v;
  }
  return { ...ctx.env, ...r.values, ...asked };
}

// Runs `work` with Ctrl-C turned into an abort (the first one; the second leaves at once).
async function withInterrupt<T>(ctx: Ctx, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    ctx.err(`bottle: interrupted; ${what}`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// Attaches in a terminal; without one, says how to attach instead (the bottle is up either way).
async function attachOrSay(deps: LifecycleDeps, slug: string, err: (line: string) => void): Promise<number> {
  const noTty = terminalProblem();
  if (noTty) {
    err(`bottle: ${slug} is running; not attaching (${noTty}); attach from a terminal with: bottle attach ${slug}`);
    return 0;
  }
  const plan = await planAttach(deps, slug);
  err(`bottle: ${plan.resume ? 'resuming' : 'starting'} claude session ${plan.sessionId} in ${slug}`);
  return runInteractive(plan.argv, { installHint: 'install the docker CLI' });
}

export function registerDurableVerbs(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('resume')
    .description('bring a stopped or down bottle back: same slug, policy and claude sessions; its saved work restored')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('--no-attach', 'bring it back and return; attach later with bottle attach <slug>')
    .option('--json', 'print {slug, agent, backend, sessionId} when it is back (implies --no-attach)')
    .addHelpText('after', LIFECYCLE_TABLE)
    .action(async (slug: string, opts: { attach?: boolean; json?: boolean }) => {
      const deps = cliDeps(ctx);
      const rp = await planResume(deps, slug);
      const names = routeVarNames(rp.plan.egress.routes);
      const env = await resumeEnv(ctx, names);
      const short = shortSecretProblem(names, env);
      if (short) throw new UserError(short);
      const meta = await withInterrupt(ctx, 'removing what was started (the saved work stays)', (signal) =>
        resumeBottle({ ...deps, env }, rp, { log: (line) => ctx.err(line), signal }));
      if (opts.json) {
        ctx.out(JSON.stringify({ slug: meta.slug, agent: meta.agent, backend: meta.backend, sessionId: meta.claudeSessionId ?? null }));
        return;
      }
      ctx.out(meta.slug);
      if (opts.attach === false) {
        ctx.err(`bottle: ${meta.slug} is running; attach with: bottle attach ${meta.slug}`);
        return;
      }
      outcome.exitCode = await attachOrSay(deps, meta.slug, ctx.err);
    });

  program
    .command('rm')
    .description('remove a bottle for good: its containers/VM, its state and the work saved in it')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('-y, --yes', 'do not ask (required without a terminal when something would be lost)')
    .option('--json', 'print {slug, removed} as JSON')
    .addHelpText('after', LIFECYCLE_TABLE)
    .action(async (slug: string, opts: { yes?: boolean; json?: boolean }) => {
      const deps = cliDeps(ctx);
      const meta = await findBottle(deps, slug);
      const lost = await lostWith(deps, meta.slug);
      if (lost && !opts.yes) {
        const ask = terminalQuestion();
        if (!ask) throw new UserError(`removing ${meta.slug} loses ${lost}; pass --yes to remove it without a terminal (bottle export ${meta.slug} keeps the work first)`);
        if (!(await ask(`Remove ${meta.slug}? This loses ${lost}. [y/N] `))) {
          ctx.err(`bottle: ${meta.slug} kept`);
          outcome.exitCode = 1;
          return;
        }
      }
      await removeBottleFully(deps, meta.slug, (line) => ctx.err(line));
      if (opts.json) ctx.out(JSON.stringify({ slug: meta.slug, removed: true }));
    });

  program
    .command('export')
    .description('write a bottle\'s work as files: claude transcripts (text and JSONL), a git bundle of its unpushed commits, a patch of its uncommitted changes')
    .argument('<slug>', 'bottle slug (see bottle ls); a unique prefix works')
    .option('--out <dir>', 'directory to write (created; must be new or empty)', undefined)
    .option('--json', 'print {dir, files, saved} as JSON')
    .addHelpText('after', [
      '',
      'A running bottle is saved first (it keeps running), so the export is current.',
      'Default directory: ./bottle-export-<slug>.',
    ].join('\n'))
    .action(async (slug: string, opts: { out?: string; json?: boolean }) => {
      const r = await exportBottle(cliDeps(ctx), slug, opts.out, ctx.cwd);
      if (opts.json) { ctx.out(JSON.stringify(r, null, 2)); return; }
      ctx.out(r.dir);
      ctx.err(`bottle: exported ${r.files.length} file(s) to ${r.dir}${r.savedNow ? ' (saved just now)' : ` (saved ${r.saved.savedAt})`}; see README.txt there`);
    });
}
