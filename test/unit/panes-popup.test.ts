// The new-proposal popup's plan (panes/popup.ts): the command it runs, its size on small
// clients, the title only where tmux has one (3.3), a message instead below tmux 3.2, and the
// BOTTLE_POPUP switch.
import t from 'tap';
import { decideCommand, planPopup, popupFromEnv, popupOn, POPUP_HEIGHT, POPUP_WIDTH } from '../../panes/popup.js';
import type { ClientRecord } from '../../tmux/format.js';
import { parseVersion } from '../../tmux/version.js';

const subject = { id: '20260301T100000000Z-a1b2c3d4e5f6', slug: 'implementer-k3x7qa', kind: 'allowlist', host: 'docs.example.org' };
const client = (width: number, height: number): ClientRecord => ({ name: '/dev/pts/4', activity: 1, session: 'work', width, height, control: false });

t.test('decideCommand: the dashboard\'s own CLI under the variables that steer bottle, never secrets', async (t) => {
  const env = { BOTTLE_STATE_DIR: '/s', GITHUB_TOKEN: 'ghp_x', BOTTLE_API_TOKEN: 'y', XDG_CONFIG_HOME: '/c', HOME: '/h' };
  t.same(decideCommand(['node', 'main.js'], subject.id, env),
    ['env', 'BOTTLE_STATE_DIR=/s', 'XDG_CONFIG_HOME=/c', 'node', 'main.js', 'proposals', 'decide', subject.id]);
});

t.test('planPopup: clamped to the client; the title from tmux 3.3; a message below 3.2', async (t) => {
  const cmd = ['bottle', 'proposals', 'decide', subject.id];
  t.same(planPopup(client(200, 60), parseVersion('3.3a'), subject, cmd), {
    kind: 'popup',
    popup: { client: '/dev/pts/4', command: cmd, width: POPUP_WIDTH, height: POPUP_HEIGHT, title: ' bottle: allowlist docs.example.org from implementer-k3x7qa ' },
  });
  const small = planPopup(client(60, 12), parseVersion('3.2'), subject, cmd);
  t.same(small, { kind: 'popup', popup: { client: '/dev/pts/4', command: cmd, width: 60, height: 12 } }, 'no -T on 3.2');
  t.same(planPopup(client(200, 60), parseVersion('3.1c'), subject, cmd), { kind: 'message', client: '/dev/pts/4' });
  const tampered = planPopup(client(200, 60), parseVersion('3.3'), { ...subject, host: `x\x1b[2J${'y'.repeat(80)}` }, cmd);
  t.match(tampered.kind === 'popup' ? tampered.popup.title : '', /^ bottle: allowlist x\?\[2Jy+… from implementer-k3x7qa $/, 'the queue file\'s host: sanitised, clipped');
});

t.test('popupFromEnv: BOTTLE_POPUP=0 (or false/no/off) turns it off', async (t) => {
  t.equal(popupFromEnv({}), true);
  for (const v of ['1', 'yes', '']) t.equal(popupFromEnv({ BOTTLE_POPUP: v }), true, JSON.stringify(v));
  for (const v of ['0', 'false', 'no', 'OFF']) t.equal(popupFromEnv({ BOTTLE_POPUP: v }), false, v);
});

t.test('popupOn: any command, clamped; a message on a client that draws no popups (tmux -C)', async (t) => {
  const cmd = ['bottle', 'tmux', 'pick-agent'];
  t.same(popupOn(client(80, 20), parseVersion('3.3a'), cmd, { width: 100, height: 24, title: ' new ' }),
    { kind: 'popup', popup: { client: '/dev/pts/4', command: cmd, width: 80, height: 20, title: ' new ' } });
  t.same(popupOn({ ...client(200, 60), control: true }, parseVersion('3.4'), cmd, { width: 100, height: 24 }), { kind: 'message', client: '/dev/pts/4' });
  t.same(popupOn(client(200, 60), parseVersion('3.1'), cmd, { width: 100, height: 24 }), { kind: 'message', client: '/dev/pts/4' });
});
