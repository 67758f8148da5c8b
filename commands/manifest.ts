// `bottle manifest check`: validate bottle.yaml and report every problem with file:line:col.
import type { Command } from 'commander';
import { ManifestError, formatIssue, locateManifest, manifestNotice, readManifest } from '../lib/manifest/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';

interface CheckOptions { manifest?: string; json?: boolean }

// `manifest check` exits 1 on errors (through outcome) so CI can gate on it.
export function registerManifest(program: Command, ctx: Ctx, outcome: Outcome): void {
  const manifest = program
    .command('manifest')
    .description('inspect the manifest (bottle.yaml) that names your agents');
  manifest
    .command('check')
    .description('validate bottle.yaml and list every problem as file:line:col: key.path: message')
    .option('--manifest <file>', 'check this file instead of the usual lookup (./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml, then the built-in example)')
    .option('--json', 'print the result as JSON on stdout ({ok, path, agents} or {ok: false, errors})')
    .addHelpText('after', '\nExit status: 0 when the manifest is valid, 1 when it has errors.')
    .action((opts: CheckOptions) => {
      outcome.exitCode = check(ctx, opts);
    });
}

function check(ctx: Ctx, opts: CheckOptions): number {
  const located = locateManifest({ flag: opts.manifest, cwd: ctx.cwd, env: ctx.env });
  if (located.source !== 'flag') ctx.err(manifestNotice(located));
  try {
    const loaded = readManifest(located);
    const names = Object.keys(loaded.manifest.agents);
    if (opts.json) {
      ctx.out(JSON.stringify({ ok: true, path: loaded.path, source: loaded.source, agents: names, manifest: loaded.manifest }, null, 2));
    } else {
      ctx.out(`OK ${loaded.display}: ${names.length} agent${names.length === 1 ? '' : 's'} (${names.join(', ')})`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    if (opts.json) {
      ctx.out(JSON.stringify({ ok: false, path: located.path, source: located.source, errors: e.issues }, null, 2));
    } else {
      ctx.err(e.issues.map(formatIssue).join('\n'));
      const n = e.issues.length;
      ctx.err(`bottle: ${located.display}: ${n} error${n === 1 ? '' : 's'}`);
    }
    return 1;
  }
}
