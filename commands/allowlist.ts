// `bottle allowlist edit <slug>` and `bottle routes edit <slug>`: edit one section of a bottle's
// live policy in $VISUAL/$EDITOR; validated on save and applied without a restart.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { bundleControl, cliDeps, findBottle } from '../lib/lifecycle/index.js';
import { withCredentials } from '../lib/credentials.js';
import { UserError } from '../lib/errors.js';
import { editorArgv, editPolicy, runEditor, type SectionName } from '../lib/policy-edit/index.js';
import { bottlePaths, stateRoot } from '../lib/state/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';

// A yes/no question on the terminal; undefined without one (an invalid edit then just fails).
function terminalConfirm(): ((question: string, fallback?: boolean) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (question, fallback = true) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (await rl.question(question)).trim().toLowerCase();
      return answer === '' ? fallback : answer === 'y' || answer === 'yes';
    } finally {
      rl.close();
    }
  };
}

async function edit(ctx: Ctx, name: string, section: SectionName, allowAll = false): Promise<void> {
  const meta = await findBottle(cliDeps(ctx), name);
  const slug = meta.slug;
  const confirm = terminalConfirm();
  // vi on a pipe would read the script's stdin and paint escape codes into its output.
  if (!confirm && !ctx.env.VISUAL?.trim() && !ctx.env.EDITOR?.trim()) {
    throw new UserError('no terminal to run an editor in (stdin is not a terminal and neither $VISUAL nor $EDITOR is set); run this in a terminal, or set EDITOR to a command that edits the file it is given');
  }
  const root = stateRoot(ctx.env);
  const { control, warning } = await bundleControl(cliDeps(ctx), meta);
  const r = await editPolicy(bottlePaths(root, slug), section, {
    edit: (file) => runEditor(editorArgv(ctx.env, file), ctx.env, ctx.cwd),
    confirm,
    allowAll,
    err: ctx.err,
    credentials: (names) => withCredentials(names, ctx.env, ctx.run, 'in this shell (the running gateway is handed it for the edited routes)'),
  }, control, ctx.env);
  if (!r.changed) {
    ctx.out(`${slug}: no changes`);
    return;
  }
  ctx.out(`${slug}: ${r.summary.join(', ')}${r.live ? '; reloaded' : ''}`);
  if (warning) ctx.err(`bottle: warning: ${warning}`);
}

const EDITOR_HELP = [
  '',
  'The editor is $VISUAL, else $EDITOR, else vi; it may carry arguments (EDITOR="code --wait").',
  'An invalid edit is reported as file:line:col and you are asked to re-edit (without a',
  'terminal on stdin the command fails instead). Saving it unchanged changes nothing.',
];

export function registerAllowlist(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('allowlist')
    .description("edit a bottle's allowed, blocked and passthrough hosts live")
    .command('edit')
    .description('open allow/block/passthrough of the live policy in $EDITOR; validate and apply on save')
    .argument('<slug>', 'bottle slug (see `bottle ls`); a unique prefix works')
    .option('--allow-all', 'accept adding "*" (every host; DLP only) without the confirmation it otherwise asks for')
    .addHelpText('after', [
      '', 'Examples:', '  bottle allowlist edit implementer-k3x7qa', '  EDITOR="code --wait" bottle allowlist edit implementer-k3x7qa', '',
      'The rules are the manifest\'s (manifest check): a passthrough host must also be allowed or',
      'routed, and block may not match a route host.',
      ...EDITOR_HELP,
    ].join('\n'))
    .action(async (slug: string, opts: { allowAll?: boolean }) => {
      await edit(ctx, slug, 'allowlist', opts.allowAll === true);
      outcome.exitCode = 0;
    });

  program
    .command('routes')
    .description("edit a bottle's credentialed routes live")
    .command('edit')
    .description('open the routes of the live policy in $EDITOR; validate and apply on save')
    .argument('<slug>', 'bottle slug (see `bottle ls`); a unique prefix works')
    .addHelpText('after', [
      '', 'Examples:', '  bottle routes edit implementer-k3x7qa', '',
      'Header values name host env vars ("Bearer ${GITHUB_TOKEN}"); each one a new or changed',
      'route uses must be set in this shell or have a source in credentials.yaml (see README).',
      'Its value goes to the running gateway only. The model route (api.anthropic.com, the',
      'one claude\'s own API calls use) cannot be removed.',
      ...EDITOR_HELP,
    ].join('\n'))
    .action(async (slug: string) => {
      await edit(ctx, slug, 'routes');
      outcome.exitCode = 0;
    });
}
