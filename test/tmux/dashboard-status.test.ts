// The status segment in the user's own session, through the real dashboard and a real tmux:
// the user's session `work` puts #{@bottle-status} in its status-right; the dashboard keeps the
// global user option current as a bottle starts, a proposal lands and is decided, an agent waits
// and the bottle stops, clears it on quit, and never changes any other option or hook (compared
// with a pristine server and across the run). A new proposal and an agent starting to wait also
// show their message on the user's client, in the other session.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../lib/paths.js';
import { readDecision } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { shellCommand } from '../../tmux/argv.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST, SLOW, startDashboard } from '../helpers/dashboard.js';
import { makeMostRecent, pollUntil, startTmuxServer, tmuxSkipReason, type TmuxTestServer } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// What the user puts in their .tmux.conf: README's lines, as written there.
function readmeConf(): string {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const conf = /A status segment in your own sessions[\s\S]*?\n```\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!conf?.includes('#{@bottle-status}')) throw new Error('README: no .tmux.conf block with #{@bottle-status}');
  return conf;
}

async function userConfig(srv: TmuxTestServer, conf: string): Promise<void> {
  await srv.client.exec(['source-file', '-'], { input: conf });
}

// The user-visible option and hook state, bottle's own @bottle* user options left out.
async function optionDump(srv: TmuxTestServer, userSession: string): Promise<string> {
  const out: string[] = [];
  for (const args of [['show-options', '-g'], ['show-options', '-gw'], ['show-options', '-s'], ['show-hooks', '-g'], ['show-options', '-t', `=${userSession}:`], ['list-keys']]) {
    const r = await srv.tmux(args);
    out.push(`== ${args.join(' ')} (exit ${r.exitCode})`, ...r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('@bottle')));
  }
  return out.join('\n');
}

// The option as a session (the user's, when it has one) sees it in a format; undefined when it
// is not set at all.
async function segment(srv: TmuxTestServer): Promise<string | undefined> {
  const where = (await srv.client.hasSession('work')) ? '=work:' : `=${srv.session}:`;
  const listed = (await srv.tmux(['show-options', '-g'])).stdout.split('\n').some((l) => l.startsWith('@bottle-status '));
  if (!listed) return undefined;
  return (await srv.client.display('#{@bottle-status}', where)).replace(/\n$/, '');
}

const segmentIs = (srv: TmuxTestServer, want: string | undefined) =>
  pollUntil(`@bottle-status to be ${JSON.stringify(want)}`, async () => (await segment(srv)) === want, {
    ...SLOW, describe: async () => `@bottle-status is ${JSON.stringify(await segment(srv))}`,
  });

t.test('@bottle-status follows the dashboard into the user\'s status line; nothing else changes; cleared on quit', { skip }, async (t) => {
  const h = await startDashboard(t);
  await h.waitFor(/no bottles: press n to start one/);
  await h.srv.tmux(['new-session', '-d', '-s', 'work', '-x', '160', '-y', '40', 'cat > /dev/null']);
  const conf = readmeConf();
  await userConfig(h.srv, conf);
  const pristine = await startTmuxServer(t, { width: 160, height: 40, env: h.env, command: ['sh', '-c', 'exec sleep 3600'] });
  await pristine.tmux(['new-session', '-d', '-s', 'work', '-x', '160', '-y', '40', 'cat > /dev/null']);
  await userConfig(pristine, conf);
  const before = await optionDump(h.srv, 'work');
  t.equal(before, await optionDump(pristine, 'work'), 'a running dashboard changed no option, hook or key of a pristine server');

  await segmentIs(h.srv, '');
  t.pass('no bottles: empty while the dashboard runs (idle)');
  const onDashboard = await h.srv.attachViewer({ width: 160, height: 40 });
  const user = await h.srv.attachViewer({ session: 'work', width: 160, height: 40 });
  await makeMostRecent(h.srv, user);
  const statusLine = (re: RegExp) => user.server.waitForText(re, SLOW);
  // The user's status-right as README's line draws it: the segment (non-ASCII may draw as `_`
  // without a UTF-8 locale), a space, the pane title in quotes, the time. Idle: nothing before
  // that space but the status line's filler.
  const rightSide = (segment: string) => statusLine(new RegExp(`${segment} "[^"\n]*" \\d\\d:\\d\\d`));

  const slug = await h.startFake('implementer');
  await segmentIs(h.srv, '⛁ 1');
  await rightSide('\\S 1');
  t.pass('the user\'s status line shows it');

  // A proposal: counted, and its message shows on the user's client (the popup too) as well as
  // on the cockpit's.
  const started = Date.now();
  const p = await h.propose(slug, 'docs.example.org');
  await segmentIs(h.srv, '⛁ 1 · 1 proposal');
  t.comment(`@bottle-status updated ${Date.now() - started} ms after the proposal file`);
  await statusLine(/new allowlist proposal from implementer-\w+: docs\.example\.org/);
  t.pass('the new proposal\'s message on the user\'s client, in the other session');
  await onDashboard.server.waitForText(/new allowlist proposal from implementer-\w+: docs\.example\.org/, SLOW);
  await statusLine(/bottle: allowlist docs\.example\.org from implementer-[\s\S]*l later/);
  await user.server.sendKeys(['l']);
  await pollUntil('the popup to close', async () => !/l later/.test(await user.server.capture()), SLOW);
  await rightSide('\\S 1 \\S 1 proposal');

  // The agent starts waiting for input.
  appendFileSync(bottlePaths(h.stateDir, slug).eventsFile, `${JSON.stringify({ type: 'agent-waiting', time: new Date().toISOString() })}\n`);
  await segmentIs(h.srv, '⛁ 1 · 1 proposal · 1 waiting');
  await statusLine(new RegExp(`bottle: ${slug} is waiting for input`));
  t.pass('the waiting agent\'s message on the user\'s client');

  // Decided in the dashboard (the cursor went to the new proposal, and focus to its pane).
  await h.keys('a');
  await h.waitFor(/Approve allowlist docs\.example\.org\?/);
  await h.keys('y');
  await pollUntil('the approval', async () => (await readDecision(bottlePaths(h.stateDir, slug).superviseDecisions, p.id))?.decision === 'approved', SLOW);
  await segmentIs(h.srv, '⛁ 1 · 1 waiting');
  await rightSide('\\S 1 \\S 1 waiting');

  // Stopped: listed, resumable, idle.
  await h.stopFake(slug);
  await segmentIs(h.srv, '');
  await rightSide('  ');
  t.equal(await optionDump(h.srv, 'work'), before, 'while it ran: only @bottle* options changed');

  await h.keys('q');
  t.equal(await h.exitCode(), 0);
  await segmentIs(h.srv, undefined);
  t.pass('unset on quit');
  t.notMatch((await h.srv.tmux(['show-options', '-g'])).stdout, /^@bottle-status/m, 'its owner option too');
  t.equal(await optionDump(h.srv, 'work'), before, 'after quitting: every option, hook and key as before');
});

t.test('a second dashboard takes the segment over; the first one quitting leaves it', { skip }, async (t) => {
  const h = await startDashboard(t, { before: async (x) => { await x.startFake('implementer'); } });
  await segmentIs(h.srv, '⛁ 1');
  const owner = async () => (await h.srv.client.showOption({ scope: 'session', global: true, name: '@bottle-status-pane' }))?.trim();
  t.equal(await owner(), h.dash);
  // Another dashboard on the same state in a second window (the server's environment has it).
  const argv = fakeBottleArgv('dashboard', '--manifest', EXAMPLE_MANIFEST);
  const second = (await h.srv.client.exec(['new-window', '-d', '-P', '-F', '#{pane_id}', '-t', `=${h.srv.session}:`, shellCommand(argv)])).stdout.trim();
  await h.waitFor(/Agents \(1\)/, second);
  await pollUntil('the second dashboard to own @bottle-status', async () => (await owner()) === second, SLOW);
  await h.keys('q');
  t.equal(await h.exitCode(), 0);
  t.equal(await segment(h.srv), '⛁ 1', 'the first dashboard quit: the segment stays, the second one owns it');
  t.equal(await owner(), second);
  await h.srv.sendKeys(['q'], { target: second });
  await segmentIs(h.srv, undefined);
  t.pass('the owner quit: unset');
});
