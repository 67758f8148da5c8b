// `bottle start <agent>` in a real terminal (a private tmux pane), on the fake backend: the
// preflight plan, the y/N question, the bring-up, then the agent's session in the same terminal
// (README: "preflight plan, confirm, launch, then attach"). Answering no creates nothing.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_MANIFEST } from '../helpers/dashboard.js';
import { fakeBottleArgv } from '../helpers/cli.js';
import { type Finalizable, startTmuxServer, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();
const CREDS = { ANTHROPIC_API_KEY: 'sk-test-dummy', GITHUB_TOKEN: 'ghp-test-dummy', BOTTLE_FAKE_STEP_MS: '20' };

async function terminal(t: Finalizable) {
  const srv = await startTmuxServer(t, { width: 150, height: 50 });
  const stateDir = join(srv.dir, 'state');
  const env = { ...CREDS, BOTTLE_STATE_DIR: stateDir };
  // The pane outlives the command (and says how it exited), so its last words stay readable.
  const pane = await srv.client.split({
    target: srv.pane,
    command: ['sh', '-c', '"$@"; echo "exited $?"; exec sleep 3600', 'sh',
      'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...fakeBottleArgv('start', 'reviewer', '--manifest', EXAMPLE_MANIFEST)],
  });
  return { srv, pane, stateDir };
}

t.test('y: the plan, the question, the bring-up, then the agent session in this terminal', { skip }, async (t) => {
  const { srv, pane } = await terminal(t);
  const asked = await srv.waitForText(/Start this bottle\? \[y\/N\]/, { target: pane, timeoutMs: 20_000 });
  t.match(asked, /reviewer/, 'the preflight plan comes first');
  await srv.sendKeys(['y', 'Enter'], { target: pane });
  const attached = await srv.waitForText(/fake claude for reviewer-[a-z2-7]{6}: --session-id/, { target: pane, timeoutMs: 20_000 });
  t.match(attached, /\[fake\] provisioning agent/, 'the bring-up was shown before the session took the terminal');
});

t.test('anything but y: not started, nothing created', { skip }, async (t) => {
  const { srv, pane, stateDir } = await terminal(t);
  await srv.waitForText(/Start this bottle\? \[y\/N\]/, { target: pane, timeoutMs: 20_000 });
  await srv.sendKeys(['n', 'Enter'], { target: pane });
  await srv.waitForText(/bottle: not started\s+exited 1/, { target: pane, timeoutMs: 10_000 });
  t.same(existsSync(stateDir) ? readdirSync(stateDir).filter((n) => !n.startsWith('.')) : [], [], 'no bottle state');
});
