// `bottle tmux` (open or re-attach the cockpit session), `bottle tmux keys install|uninstall`
// (the server-wide `bottle` key table) and `bottle tmux key <action>`, which those keys run.
//
// Which tmux server: the one $TMUX points at inside tmux, else the default one. The hidden
// `--socket NAME` (tmux -L NAME, resolved in $TMUX_TMPDIR) picks another: tests use it with a
// private TMUX_TMPDIR so they never touch the user's server.
import { Option, type Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { loadCredentialConfig, writeCredentialHandoff } from '../lib/credentials.js';
import { UserError } from '../lib/errors.js';
import { locateManifest, readManifest } from '../lib/manifest/index.js';
import { preparePlan, routeVarNames } from '../lib/plan/index.js';
import { stateRoot } from '../lib/state/index.js';
import { selfArgvOf } from '../lib/paths.js';
import { runInteractive } from '../lib/run/index.js';
import { TMUX_INSTALL_HINT, TmuxClient } from '../tmux/client.js';
import { DEFAULT_PREFIX_KEY, formatKeyTable, installKeys, isKeyAction, KEY_ACTIONS, UNBOUND_MARKER, uninstallKeys } from '../tmux/keys.js';
import {
  assertVersion, checkTmuxVersions, DASHBOARD_CMD_ENV, dashboardCommand, DEFAULT_SESSION, DEFAULT_SIZE,
  forwardedEnv, insideTmuxServer, launchSession, planTmuxSession, runningServerVersion, sessionFacts,
} from '../tmux/session.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import { runKey } from './tmux-key.js';
import { pickAgent, pickBottle, popupTerminal } from './tmux-pick.js';

// Options live on `tmux` only: the program does not use positional options, so commander
// hands a subcommand's `--session` to the parent anyway; subcommands read optsWithGlobals().
interface TmuxFlags { manifest?: string; session: string; attach: boolean; popup: boolean; socket?: string; client?: string; cwd?: string }

const KEYS_HELP = `
Key bindings are SERVER-WIDE: they apply to every session of the tmux server (the one $TMUX
points at, else the default server) and last until that server exits. They work from any
session: prefix b d switches this client to the cockpit (creating it, as \`bottle tmux\` from
the pane's directory would, when there is none); n opens the new-agent picker in a popup over
the current pane (the agent then comes up in the cockpit); p the newest pending proposal's
decision popup (risk summary; a approve, t for a time, r reject with a note, l later); a picks
a running agent and attaches it in a new window of this session, named after its slug; w
shows the agent waiting longest for input in the cockpit's right pane and switches there.
] and [ (next/previous agent in the right pane) act in the cockpit. Inside the cockpit, d, n
and p act on its dashboard (focus, its picker, its cursor on the newest proposal).
install saves your existing binding of prefix <key> (in a server option) and uninstall puts
it back. Installing twice changes nothing. Nothing else changes: no global option, no hook.`;

// Adds `bottle tmux` with its `keys` and `key` subcommands.
// The route values this shell has and the dashboard would otherwise lack (its environment is
// the tmux server's): handed over through the state root, never through tmux. Variables with a
// source in credentials.yaml are resolved where needed instead. A manifest that cannot be read
// hands nothing over (the dashboard reports the manifest's problem itself).
function handOffCredentials(ctx: Ctx, manifest: string | undefined): string[] {
  let names: string[];
  try {
    const loaded = readManifest(locateManifest({ flag: manifest, cwd: ctx.cwd, env: ctx.env }));
    const config = loadCredentialConfig(ctx.env);
    names = Object.keys(loaded.manifest.agents)
      .flatMap((agent) => routeVarNames(preparePlan(loaded, agent, { cwd: ctx.cwd, sourced: new Set(config.sources.keys()) }, ctx.env).egress.routes))
      .filter((n) => !config.sources.has(n));
  } catch {
    return [];
  }
  const values = Object.fromEntries([...new Set(names)].sort().flatMap((n) => (ctx.env[n] ? [[n, ctx.env[n]!]] : [])));
  if (Object.keys(values).length === 0) return [];
  const root = stateRoot(ctx.env);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  writeCredentialHandoff(root, values);
  return Object.keys(values);
}

export function registerTmux(program: Command, ctx: Ctx, outcome: Outcome): void {
  const tmux = program
    .command('tmux')
    .description('open the bottle cockpit: a tmux session with the dashboard in the left pane (re-attached if it exists)')
    .option('--manifest <file>', 'manifest for the dashboard (default: ./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml)')
    .option('--session <name>', 'tmux session name', DEFAULT_SESSION)
    .option('--no-attach', 'create the session (or bring its dashboard back) without attaching to it')
    .option('--no-popup', 'no popup for new proposals; bell, message and label only (also BOTTLE_POPUP=0)')
    .addOption(new Option('--socket <name>', 'tmux server socket name (tmux -L), for tests').hideHelp())
    .addOption(new Option('--client <name>', 'the tmux client a key was pressed on (tmux key, pick-agent)').hideHelp())
    .addOption(new Option('--cwd <dir>', 'the directory of the pane a key was pressed in (tmux key)').hideHelp())
    .addHelpText('after', `
Outside tmux this attaches (the terminal is handed to tmux); inside tmux it switches the
current client to the session instead of nesting. When the session exists but its dashboard
pane is gone (you quit it), a new dashboard pane is split in on the left.
$${DASHBOARD_CMD_ENV}, if set, is a shell command run instead of \`bottle dashboard\`.

A new proposal opens a popup (tmux 3.2+) on the client you used last, in whatever session or
window: the risk summary and one key to decide (a approve, r reject with a note, l later; see
\`bottle proposals decide --help\`). --no-popup or BOTTLE_POPUP=0 turns it off; --no-popup
applies when the dashboard starts (a new session, or a dashboard brought back).`)
    .action(async (flags: TmuxFlags) => {
      const client = clientFor(ctx, flags.socket);
      await checkTmuxVersions(client);
      const inside = insideTmuxServer(ctx.env, flags.socket);
      // Checked before anything is created: tmux attach needs a terminal.
      if (flags.attach && !inside && !ctx.isTTY) {
        throw new UserError('bottle tmux: not a terminal, cannot attach; run it from a terminal, or pass --no-attach to only create the session');
      }
      const plan = planTmuxSession(await sessionFacts(client, flags.session), inside, {
        session: flags.session,
        dashboard: dashboardCommand(selfArgvOf(ctx), { ...(flags.manifest ? { manifest: flags.manifest } : {}), popup: flags.popup, cwd: ctx.cwd, env: ctx.env }),
        cwd: ctx.cwd,
        ...terminalSize(ctx),
        env: forwardedEnv(ctx.env),
        attach: flags.attach,
      });
      const handed = handOffCredentials(ctx, flags.manifest);
      if (handed.length > 0) ctx.err(`bottle: handed ${handed.join(', ')} from this shell to the dashboard (a private file it reads once and deletes)`);
      const r = await launchSession(client, plan, flags.session, ctx.isTTY ? (argv) => attachTerminal(argv, ctx) : undefined);
      if (r.attachExitCode !== undefined && r.attachExitCode !== 0) {
        ctx.err(`bottle: tmux attach-session exited ${r.attachExitCode}`);
        outcome.exitCode = r.attachExitCode;
      } else if (plan.enter?.mode !== 'attach' && !r.switchFellBack) {
        const what = { create: 'created', revive: 'restarted the dashboard in', attach: 'found' }[plan.action];
        ctx.out(`bottle: ${what} tmux session ${flags.session}${r.pane ? ` (dashboard pane ${r.pane})` : ''}`);
      }
    });

  const keys = tmux
    .command('keys')
    .description('install or remove the server-wide `bottle` key table (prefix + b, then d n p a w ] [)')
    .addHelpText('after', KEYS_HELP);
  keys
    .command('install')
    .description('bind prefix + <key> to the `bottle` table on the running tmux server (server-wide)')
    .option('--key <key>', 'the key after the prefix', DEFAULT_PREFIX_KEY)
    .addHelpText('after', KEYS_HELP)
    .action(async (opts: { key: string }, cmd: Command) => {
      const client = await keysClient(ctx, cmd);
      const report = await installKeys(client, selfArgvOf(ctx), parseKey(opts.key));
      if (report.already) {
        ctx.out(`bottle: keys already installed on prefix ${report.key} (bindings refreshed); \`bottle tmux keys uninstall\` removes them\n`);
        return;
      }
      const lines = [formatKeyTable(report.key)];
      if (report.movedFrom) lines.push(`Moved from prefix ${report.movedFrom} (restored what it had before).`);
      lines.push(report.saved === undefined || report.saved === UNBOUND_MARKER
        ? `prefix ${report.key} had no binding before; \`bottle tmux keys uninstall\` removes these keys.`
        : `Saved your previous binding for uninstall: ${report.saved}`);
      ctx.out(`${lines.join('\n')}\n`);
    });
  keys
    .command('uninstall')
    .description('remove the `bottle` table and restore what prefix + <key> did before install (server-wide)')
    .option('--key <key>', 'the key after the prefix (default: the one install used)')
    .addHelpText('after', KEYS_HELP)
    .action(async (opts: { key?: string }, cmd: Command) => {
      const client = await keysClient(ctx, cmd);
      const r = await uninstallKeys(client, opts.key === undefined ? undefined : parseKey(opts.key));
      ctx.out(r.keptForeign !== undefined
        ? `bottle: removed the bottle key table; prefix ${r.key} was rebound since install, left as is: ${r.keptForeign}\n`
        : `bottle: removed the bottle key table; prefix ${r.key} ${r.restored ? `restored: ${r.restored}` : 'is unbound again'}\n`);
    });

  tmux
    .command('key')
    .description('what the bottle key table runs: <action> for the session and client a key was pressed in')
    .argument('<action>', KEY_ACTIONS.join(' | '))
    .addHelpText('after', `
  --session <name>  the session the key was pressed in (default: bottle; the keys pass theirs)
  --client <name>   the tmux client that pressed it (default: the one used last)
  --cwd <dir>       the pane's directory: a cockpit brought up by the key starts there

In the cockpit the action goes to its dashboard; elsewhere it acts from there (see
\`bottle tmux keys --help\`). Prints nothing on success. On failure the message goes to the
client's status line (and to stderr when run from a terminal) and the exit code is 1.`)
    .action(async (action: string, _opts: unknown, cmd: Command) => {
      if (!isKeyAction(action)) throw new UserError(`unknown action ${JSON.stringify(action)}; expected one of ${KEY_ACTIONS.join(', ')}`);
      const flags = cmd.optsWithGlobals<TmuxFlags>();
      // No version check here: this runs on every key press.
      const r = await runKey(clientFor(ctx, flags.socket, 3000), {
        action, session: flags.session,
        ...(flags.client ? { client: flags.client } : {}), ...(flags.cwd ? { cwd: flags.cwd } : {}), ...(flags.socket ? { socket: flags.socket } : {}),
      }, { self: selfArgvOf(ctx), env: ctx.env, cwd: ctx.cwd });
      if (r.ok) return;
      // Shown on the status line already; repeat it only where someone reads stderr. Under
      // run-shell stdout is a pipe whose content tmux would show in view mode.
      if (r.shownTo === 0 || ctx.isTTY) ctx.err(r.message ?? 'bottle: failed');
      outcome.exitCode = 1;
    });

  // The pickers the keys open in popups: on the popup's terminal, raw until they finish.
  const picker = (name: string, description: string, pick: (client: TmuxClient, term: ReturnType<typeof popupTerminal>, flags: TmuxFlags) => Promise<number>): void => {
    tmux.command(name).description(description).action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TmuxFlags>();
      const term = popupTerminal();
      try {
        outcome.exitCode = await pick(clientFor(ctx, flags.socket), term, flags);
      } finally {
        term.close();
      }
    });
  };
  picker('pick-agent', 'the new-agent picker prefix b n opens in a popup: start an agent in the cockpit (--session)',
    (client, term, flags) => pickAgent(client, term, { session: flags.session, ...(flags.client ? { client: flags.client } : {}) }));
  picker('pick-bottle', 'the running-agent picker prefix b a opens in a popup: attach one in a new window of --session',
    (client, term, flags) => pickBottle(ctx, client, term, { session: flags.session }));
}

function clientFor(ctx: Ctx, socket: string | undefined, timeoutMs?: number): TmuxClient {
  return new TmuxClient({
    run: ctx.run,
    env: ctx.env,
    ...(socket ? { socket: { name: socket } } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}

// Bindings live in a running server: refuse to start one just to lose them when it exits.
async function keysClient(ctx: Ctx, cmd: Command): Promise<TmuxClient> {
  const client = clientFor(ctx, cmd.optsWithGlobals<TmuxFlags>().socket);
  const server = await runningServerVersion(client);
  if (!server) throw new UserError('no tmux server is running (key bindings live in a running server); start tmux, then run this again');
  assertVersion(server, 'server');
  return client;
}

function parseKey(key: string): string {
  if (!key || /\s/.test(key)) throw new UserError(`--key ${JSON.stringify(key)}: expected one tmux key name such as b, B or C-b`);
  return key;
}

// Size for a new session: the terminal's when there is one; tmux resizes on attach anyway.
function terminalSize(ctx: Ctx): { width: number; height: number } {
  const { columns, rows } = process.stdout;
  return ctx.isTTY && columns && rows ? { width: columns, height: rows } : { ...DEFAULT_SIZE };
}

// The terminal is handed to tmux until the user detaches. TMUX is removed from the
// environment: we only attach when not inside this server, and tmux refuses to start a client
// inside another server's pane while $TMUX is set ("sessions should be nested with care").
function attachTerminal(argv: string[], ctx: Ctx): Promise<number> {
  return runInteractive(argv, { env: { ...ctx.env, TMUX: undefined }, cwd: ctx.cwd, installHint: TMUX_INSTALL_HINT });
}
