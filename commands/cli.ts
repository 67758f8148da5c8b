// Builds the commander program; every verb registers itself from its own file.
import { Command } from 'commander';
import { packageVersion } from '../lib/paths.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import { errorLine, reportError } from './report.js';

type Register = (program: Command, ctx: Ctx, outcome: Outcome) => void;

// Every verb's module, in help order, loaded only when needed: starting the CLI for one verb
// does not pay for the others' dependencies (the dashboard's blessed, the engine client, ...).
const VERBS: ReadonlyArray<{ verbs: readonly string[]; load: (argv: readonly string[]) => Promise<Register> }> = [
  { verbs: ['tmux'], load: async () => (await import('./tmux.js')).registerTmux },
  { verbs: ['dashboard'], load: async () => (await import('./dashboard.js')).registerDashboard },
  { verbs: ['start'], load: async () => (await import('./start.js')).registerStart },
  { verbs: ['ls', 'attach', 'stop', 'cleanup'], load: async () => (await import('./lifecycle-verbs.js')).registerLifecycleVerbs },
  { verbs: ['resume', 'rm', 'export'], load: async () => (await import('./durable.js')).registerDurableVerbs },
  { verbs: ['usage'], load: async () => (await import('./usage.js')).registerUsage },
  { verbs: ['budget'], load: async () => (await import('./budget.js')).registerBudget },
  { verbs: ['proposals'], load: async () => (await import('./proposals.js')).registerProposals },
  { verbs: ['allowlist', 'routes'], load: async () => (await import('./allowlist.js')).registerAllowlist },
  { verbs: ['images'], load: async () => (await import('./images.js')).registerImages },
  { verbs: ['doctor'], load: async () => (await import('./doctor.js')).registerDoctor },
  { verbs: ['manifest'], load: async () => (await import('./manifest.js')).registerManifest },
  { verbs: ['policy'], load: async () => (await import('./policy.js')).registerPolicy },
  { verbs: ['scan'], load: async () => (await import('./scan.js')).registerScan },
  { verbs: ['sidecar'], load: async (argv) => (await import('./sidecar.js')).sidecarRegistrar(argv) },
];

// The program for `argv`: only the named verb's module when argv starts with a known verb,
// every verb otherwise (help, --version, a typo that deserves suggestions).
export async function buildProgram(ctx: Ctx, outcome: Outcome, argv: readonly string[] = []): Promise<Command> {
  const program = new Command('bottle')
    .description('Run Claude Code agents in sandboxes ("bottles") with a tmux-native cockpit')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors read like every other failure: `bottle: …`, not commander's `error: …`.
    .configureOutput({ writeOut: (s) => ctx.out(s), writeErr: (s) => ctx.err(s), outputError: (s, write) => write(s.replace(/^error: /, 'bottle: ')) })
    .exitOverride();
  const first = argv[0] ?? '';
  const named = VERBS.find((v) => v.verbs.includes(first));
  const needed = named ? [named] : first === '-V' || first === '--version' ? [] : VERBS;
  for (const register of await Promise.all(needed.map((v) => v.load(argv)))) register(program, ctx, outcome);
  return program;
}

// Whether a verb was asked for JSON (options after `--` are arguments, not options).
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

// Runs the CLI for argv (without node and script); returns the exit code, never throws.
// A script that asked for --json gets `{ok: false, error}` on stdout when the verb fails.
export async function runCli(argv: string[], ctx: Ctx): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const first = argv[0] ?? '';
  // `bottle nosuch --help` is a typo to point out, not a request for the root help.
  const unknownVerb = first !== '' && !first.startsWith('-') && first !== 'help' && !VERBS.some((v) => v.verbs.includes(first));
  const args = unknownVerb ? argv.filter((a) => a !== '--help' && a !== '-h') : argv;
  try {
    const program = await buildProgram(ctx, outcome, args);
    await program.parseAsync(args, { from: 'user' });
    return outcome.exitCode;
  } catch (e) {
    const code = reportError(e, ctx);
    if (code !== 0 && wantsJson(args)) ctx.out(JSON.stringify({ ok: false, error: errorLine(e, ctx.env), exitCode: code }));
    return code;
  }
}
