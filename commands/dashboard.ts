// `bottle dashboard`: the operator's cockpit (agents, proposals, start/attach/stop), meant for the
// left tmux pane (`bottle tmux` sets that up); outside tmux it hands the terminal over instead.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { locateManifest } from '../lib/manifest/index.js';
import { selfArgvOf } from '../lib/paths.js';
import { focusOnNotifyFromEnv, runDashboard } from '../panes/app.js';
import { popupFromEnv } from '../panes/popup.js';
import type { Ctx, Outcome } from '../lib/cli.js';

export function registerDashboard(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('dashboard')
    .description('agents and proposals in one screen: n start, Enter attach (or resume a stopped one), x stop (work saved), D remove, a/r approve/reject, q quit (bottles keep running)')
    .option('--manifest <file>', 'manifest the n picker starts agents from (default: ./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml)')
    .option('--no-focus-on-notify', 'do not move tmux focus to the dashboard on a new proposal or a waiting agent (also BOTTLE_FOCUS_ON_NOTIFY=0)')
    .option('--no-popup', 'no popup for new proposals on your most recently active tmux client (also BOTTLE_POPUP=0)')
    .addHelpText('after', [
      '',
      'Inside tmux the right pane shows bring-up logs and then the agent\'s claude session;',
      'new proposals ring the bell, show a message and move the cursor to them, and open a popup',
      '(tmux 3.2+) on the client you used last, in whatever session or window: the risk summary',
      'and one key to decide (a approve, r reject with a note, l later; see',
      '`bottle proposals decide --help`). --no-popup or BOTTLE_POPUP=0 turns the popup off.',
      'Stopped and down bottles stay listed, dimmed, after the running ones; Enter resumes one',
      '(asks first).',
      '',
      'Examples:',
      '  bottle tmux                       # the usual way: a session with the dashboard on the left',
      '  bottle dashboard --manifest ./team.yaml',
    ].join('\n'))
    .action(async (opts: { manifest?: string; focusOnNotify?: boolean; popup?: boolean }) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new UserError('bottle dashboard needs a terminal; run it in one, or use `bottle tmux`');
      }
      // A missing --manifest file is reported now, not when n is first pressed.
      if (opts.manifest !== undefined) locateManifest({ flag: opts.manifest, cwd: ctx.cwd, env: ctx.env });
      outcome.exitCode = await runDashboard({
        env: ctx.env,
        cwd: ctx.cwd,
        self: selfArgvOf(ctx),
        ...(ctx.backends ? { backends: ctx.backends } : {}),
        ...(opts.manifest !== undefined ? { manifestFlag: opts.manifest } : {}),
        focusOnNotify: opts.focusOnNotify !== false && focusOnNotifyFromEnv(ctx.env),
        popup: opts.popup !== false && popupFromEnv(ctx.env),
      });
    });
}
