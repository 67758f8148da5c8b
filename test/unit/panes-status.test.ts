// The status segment users place in their own status-right (#{@bottle-status}): the pure text,
// and TmuxSide keeping the global user option current against a scripted fake tmux (one call per
// change, never overlapping, cleared on quit only by its owner, reclaimed after another
// dashboard cleared it); who hears a notice (the session's clients and the user's latest client).
import t from 'tap';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import type { ProposalRow } from '../../lib/proposals/index.js';
import type { Runner } from '../../lib/run/index.js';
import { TmuxClient } from '../../tmux/client.js';
import { SEP, type ClientRecord } from '../../tmux/format.js';
import { STATUS_OPTION, STATUS_OWNER_OPTION, TmuxSide } from '../../panes/notify.js';
import { noticeTargets } from '../../panes/popup.js';
import { segmentCounts, statusSegment } from '../../panes/segment.js';

const b = (slug: string, over: Partial<BottleStatus> = {}): BottleStatus =>
  ({ slug, agent: 'a', backend: 'fake', state: 'running', engine: 'running', created: '2026-03-01T11:00:00Z', pendingProposals: 0, ...over });
const p = (n: number, over: Partial<ProposalRow> = {}): ProposalRow =>
  ({ id: `id-${n}`, slug: 'a-1', kind: 'allowlist', host: `h${n}.example.com`, reason: 'r', created: '2026-03-01T11:00:00Z', status: 'pending', stale: false, ...over });
const seg = (bottles: BottleStatus[], proposals: ProposalRow[] = []) => statusSegment({ bottles, proposals });

t.test('statusSegment: live bottles, pending proposals, waiting agents; singular and plural', async (t) => {
  t.equal(seg([b('a-1')]), '⛁ 1');
  t.equal(seg([b('a-1'), b('a-2'), b('a-3')], [p(1)]), '⛁ 3 · 1 proposal');
  t.equal(seg([b('a-1'), b('a-2', { waitingSince: '2026-03-01T11:30:00Z' })], [p(1), p(2)]), '⛁ 2 · 2 proposals · 1 waiting');
  t.equal(seg([b('a-1', { waitingSince: 'x' }), b('a-2', { waitingSince: 'y' })]), '⛁ 2 · 2 waiting', 'no proposal part at zero');
  t.equal(seg([b('a-1')], [p(1, { status: 'approved', auto: { rule: 'docs' } })]), '⛁ 1', 'an auto-approved proposal needs nobody');
  t.equal(seg([b('a-1', { state: 'launching' }), b('a-2', { state: 'stopping' })]), '⛁ 2', 'on the way up or down is live');
});

t.test('statusSegment: idle (no live bottle, nothing pending) is empty', async (t) => {
  t.equal(seg([]), '', 'no bottles at all');
  t.equal(seg([b('a-1', { state: 'stopped' }), b('a-2', { state: 'down' })]), '', 'stopped and down bottles alone are idle');
  t.equal(seg([b('a-1', { engine: 'exited' })]), '', 'recorded running, engine says exited: down');
  t.equal(seg([b('a-1', { broken: 'bad metadata' })]), '', 'a broken bottle is not live');
  t.equal(seg([b('a-1', { state: 'stopped', waitingSince: 'x' })]), '', 'a stopped bottle\'s last waiting mark does not count');
  t.equal(seg([b('a-1', { state: 'stopped' })], [p(1)]), '⛁ 0 · 1 proposal', 'a pending proposal is never idle');
  t.same(segmentCounts({ bottles: [b('a-1', { waitingSince: 'x' }), b('a-2', { state: 'stopped' })], proposals: [p(1)] }), { live: 1, pending: 1, waiting: 1 });
});

t.test('statusSegment: nothing in it restyles a status line', async (t) => {
  const text = seg([b('a-#[fg=red]'), b('a-2', { waitingSince: 'x' })], [p(1, { slug: '#(rm -rf ~)', host: '#[bg=red]' })]);
  t.notMatch(text, /#/, 'counts only: no slug, host or other agent-chosen text');
  t.notMatch(text, /[\x00-\x1f\x7f]/);
});

// A model of one tmux server's global options, clients and panes, recording every call. `gate`
// holds set-option calls until released (to overlap writes).
function fakeTmux(o: { clients?: ClientRecord[]; panes?: string[] } = {}) {
  const calls: string[][] = [];
  const globals = new Map<string, string>();
  let gate: Promise<void> | undefined;
  const run: Runner = async (argv) => {
    const sub = argv.slice(1);
    calls.push(sub);
    let stdout = '';
    const commands: string[][] = [[]];
    for (const a of sub) if (a === ';') commands.push([]); else commands.at(-1)!.push(a);
    for (const c of commands) {
      if (c[0] === 'set-option') {
        if (gate) await gate;
        if (c[1] === '-g' && c[2] === '-u') globals.delete(c[3]!);
        else if (c[1] === '-g') globals.set(c[2]!, c[3]!);
      } else if (c[0] === 'show-options' && c[1] === '-g') stdout = globals.has(c.at(-1)!) ? `${globals.get(c.at(-1)!)}\n` : '';
      else if (c[0] === 'list-clients') stdout = (o.clients ?? []).map((x) => [x.activity, x.width, x.height, x.control ? 1 : 0, x.name, x.session].join(SEP)).join('\n');
      else if (c[0] === 'list-panes') stdout = (o.panes ?? []).join('\n');
      else if (c[0] === 'display-message' && c[1] === '-p') stdout = c.at(-1) === '#{session_name}' ? 'bottle\n' : '3.3a\n';
    }
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', durationMs: 0, failed: false, timedOut: false };
  };
  return {
    client: new TmuxClient({ run }), calls, globals,
    hold() { let release!: () => void; gate = new Promise((r) => { release = r; }); return () => { gate = undefined; release(); }; },
  };
}

const statusWrites = (calls: string[][]) => calls.filter((c) => c.includes(STATUS_OPTION) && !c.includes('-u') && c[0] === 'set-option');

t.test('setStatus: one tmux call per change (both options), none when unchanged; escaped', async (t) => {
  const f = fakeTmux();
  const side = new TmuxSide(f.client, '%1', { focusOnNotify: false });
  await side.setStatus('⛁ 1');
  await side.setStatus('⛁ 1');
  await side.setStatus('⛁ 1');
  t.same(f.calls, [['set-option', '-g', STATUS_OPTION, '⛁ 1', ';', 'set-option', '-g', STATUS_OWNER_OPTION, '%1']], 'global (-g) user options, one invocation');
  await side.setStatus('');
  t.equal(f.globals.get(STATUS_OPTION), '', 'idle: set to empty while the dashboard runs');
  await side.setStatus('a # b');
  t.equal(f.globals.get(STATUS_OPTION), 'a ## b', '# doubled: it expands inside status-right');
  t.equal(statusWrites(f.calls).length, 3);
});

t.test('setStatus: writes never overlap; the latest segment wins, intermediate ones are skipped', async (t) => {
  const f = fakeTmux();
  const side = new TmuxSide(f.client, '%1', { focusOnNotify: false });
  const release = f.hold();
  const first = side.setStatus('⛁ 1');
  const second = side.setStatus('⛁ 2');
  const third = side.setStatus('⛁ 3');
  await new Promise((r) => setImmediate(r));
  t.equal(statusWrites(f.calls).length, 1, 'one write in flight');
  release();
  await Promise.all([first, second, third]);
  t.same(statusWrites(f.calls).map((c) => c[3]), ['⛁ 1', '⛁ 3'], 'then only the latest');
  t.equal(f.globals.get(STATUS_OPTION), '⛁ 3');
  await side.setStatus('⛁ 3');
  t.equal(statusWrites(f.calls).length, 2, 'unchanged afterwards: no call');
});

t.test('unregister clears the segment it owns, not one another dashboard took over', async (t) => {
  const f = fakeTmux();
  const mine = new TmuxSide(f.client, '%1', { focusOnNotify: false });
  await mine.setStatus('⛁ 1');
  await mine.unregister();
  t.notOk(f.globals.has(STATUS_OPTION), 'unset on quit');
  t.notOk(f.globals.has(STATUS_OWNER_OPTION));
  await mine.setStatus('⛁ 2');
  t.notOk(f.globals.has(STATUS_OPTION), 'nothing written after quitting');

  const g = fakeTmux();
  const old = new TmuxSide(g.client, '%1', { focusOnNotify: false });
  const next = new TmuxSide(g.client, '%7', { focusOnNotify: false });
  await old.setStatus('⛁ 1');
  await next.setStatus('⛁ 1 · 1 waiting');
  await old.unregister();
  t.equal(g.globals.get(STATUS_OPTION), '⛁ 1 · 1 waiting', 'the newer dashboard owns it: left alone');
  t.equal(g.globals.get(STATUS_OWNER_OPTION), '%7');
});

t.test('unregister waits for a write in flight, so no stale segment survives the quit', async (t) => {
  const f = fakeTmux();
  const side = new TmuxSide(f.client, '%1', { focusOnNotify: false });
  const release = f.hold();
  const write = side.setStatus('⛁ 1');
  const quit = side.unregister();
  release();
  await Promise.all([write, quit]);
  t.notOk(f.globals.has(STATUS_OPTION));
});

t.test('reclaimStatus: rewrites after another owner cleared it or died, never over a live owner', async (t) => {
  const f = fakeTmux({ panes: ['%1', '%7'] });
  const side = new TmuxSide(f.client, '%1', { focusOnNotify: false });
  await side.reclaimStatus();
  t.same(f.calls, [], 'nothing written yet: nothing to reclaim');
  await side.setStatus('⛁ 2');
  await side.reclaimStatus();
  t.equal(statusWrites(f.calls).length, 1, 'still the owner: no write');
  f.globals.set(STATUS_OWNER_OPTION, '%7');
  f.globals.set(STATUS_OPTION, '⛁ 2');
  await side.reclaimStatus();
  t.equal(statusWrites(f.calls).length, 1, 'a live pane owns it: left alone');
  f.globals.set(STATUS_OWNER_OPTION, '%9');
  await side.reclaimStatus();
  t.equal(f.globals.get(STATUS_OWNER_OPTION), '%1', 'the owner pane is gone: taken back');
  f.globals.delete(STATUS_OPTION);
  f.globals.delete(STATUS_OWNER_OPTION);
  await side.reclaimStatus();
  t.equal(f.globals.get(STATUS_OPTION), '⛁ 2', 'cleared by a dashboard that quit: written again');
  t.equal(statusWrites(f.calls).length, 3);
});

const client = (name: string, session: string, activity: number, control = false): ClientRecord => ({ name, session, activity, width: 160, height: 40, control });

t.test('noticeTargets: the session\'s clients, plus the latest client when it is elsewhere; each once', async (t) => {
  t.same(noticeTargets([client('c1', 'bottle', 10), client('u1', 'work', 12)], 'bottle'), { messages: ['c1', 'u1'], latest: client('u1', 'work', 12) },
    'the user works in another session: the message reaches them too');
  t.same(noticeTargets([client('c1', 'bottle', 12), client('u1', 'work', 10)], 'bottle').messages, ['c1'], 'the cockpit was used last: only its clients');
  t.same(noticeTargets([client('c1', 'bottle', 12), client('c2', 'bottle', 10)], 'bottle').messages, ['c1', 'c2'], 'no duplicate for the latest in the session');
  t.same(noticeTargets([client('u1', 'work', 10), client('u2', 'other', 9)], 'bottle').messages, ['u1'], 'nobody on the cockpit: the latest client alone');
  t.same(noticeTargets([client('cc', 'work', 20, true)], 'bottle'), { messages: [] }, 'a control-mode client is never the latest');
  t.same(noticeTargets([], 'bottle'), { messages: [] });
});

t.test('notify: one list-clients, the popup and the message on the user\'s client, the message on the cockpit\'s', async (t) => {
  const f = fakeTmux({ clients: [client('/dev/pts/1', 'bottle', 10), client('/dev/pts/2', 'work', 12)] });
  const side = new TmuxSide(f.client, '%1', { focusOnNotify: false, popupCommand: (id) => ['bottle', 'proposals', 'decide', id] });
  await side.notify('bottle: new allowlist proposal from a-1: x.example.com', { id: 'P1', slug: 'a-1', kind: 'allowlist', host: 'x.example.com' });
  t.equal(f.calls.filter((c) => c[0] === 'list-clients').length, 1);
  t.ok(f.calls.some((c) => c[0] === 'run-shell' && /display-popup -c \/dev\/pts\/2/.test(c[2] ?? '')), 'popup on the user\'s client');
  const messages = f.calls.filter((c) => c[0] === 'display-message' && c[1] === '-c').map((c) => c[2]).sort();
  t.same(messages, ['/dev/pts/1', '/dev/pts/2'], 'one message per client');
  t.notOk(f.calls.some((c) => c[0] === 'select-pane'), '--no-focus-on-notify: no select-pane');

  const g = fakeTmux({ clients: [client('/dev/pts/2', 'work', 12)] });
  const waiting = new TmuxSide(g.client, '%1', { focusOnNotify: true });
  await waiting.notify('bottle: a-1 is waiting for input');
  t.same(g.calls.filter((c) => c[0] === 'display-message' && c[1] === '-c').map((c) => c[2]), ['/dev/pts/2'], 'an agent waiting reaches the user\'s client');
  t.notOk(g.calls.some((c) => c[0] === 'run-shell'), 'no popup without a proposal');
  t.ok(g.calls.some((c) => c[0] === 'select-pane' && c[2] === '%1'), 'focus-on-notify kept');
});
