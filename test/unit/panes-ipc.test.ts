// The dashboard's control socket (the contract with `bottle tmux key <action>`), over a real
// unix socket in a temp state root.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseRequest, removeStaleSockets, socketPathFor, startIpcServer, type DashboardAction } from '../../panes/ipc.js';
import { NOT_RUNNING_MESSAGE, sendDashboardAction } from '../../tmux/keys.js';

function root(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-ipc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('request → handler → one response line; the socket goes on close', async (t) => {
  const path = socketPathFor(root(t));
  const seen: DashboardAction[] = [];
  const srv = await startIpcServer(path, (a) => {
    seen.push(a);
    return a === 'newest-proposal' ? { ok: false, error: 'no pending proposals' } : { ok: true };
  });
  t.match(path, /ipc\/dashboard-\d+\.sock$/);
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o700, 'ipc dir is 0700');
  t.same(await sendDashboardAction(path, 'next-agent'), { ok: true });
  t.same(await sendDashboardAction(path, 'newest-proposal'), { ok: false, error: 'bottle: no pending proposals' });
  t.same(seen, ['next-agent', 'newest-proposal']);
  await srv.close();
  t.notOk(existsSync(path), 'socket removed');
  t.same(await sendDashboardAction(path, 'focus-dashboard'), { ok: false, error: NOT_RUNNING_MESSAGE }, 'a dashboard that is gone says how to start one');
});

t.test('bad requests get an error line; several requests on one connection are answered in order', async (t) => {
  const path = socketPathFor(root(t));
  const srv = await startIpcServer(path, async (a) => {
    if (a === 'new-agent') await new Promise((r) => setTimeout(r, 30));
    if (a === 'prev-agent') throw new Error('boom');
    return { ok: true };
  });
  t.teardown(() => srv.close());
  const lines = await new Promise<string[]>((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const got = buf.split('\n').filter(Boolean);
      if (got.length === 4) { sock.destroy(); resolve(got); }
    });
    sock.on('error', reject);
    sock.write('{"action":"new-agent"}\nnot json\n{"action":"rm -rf"}\n{"action":"prev-agent"}\n');
  });
  t.same(lines.map((l) => JSON.parse(l)), [
    { ok: true },
    { ok: false, error: 'request is not JSON' },
    { ok: false, error: 'unknown action "rm -rf"; expected one of focus-dashboard, new-agent, next-agent, prev-agent, newest-proposal, agents, plan, start-agent, show-waiting, popup-proposal' },
    { ok: false, error: 'boom' },
  ]);
});

t.test('a stale socket file is replaced; stale sockets of dead pids are removed', async (t) => {
  const r = root(t);
  const path = socketPathFor(r);
  mkdirSync(join(r, 'ipc'), { recursive: true });
  writeFileSync(path, 'left by a crashed dashboard with our pid');
  const dead = join(r, 'ipc', 'dashboard-999999999.sock');
  writeFileSync(dead, '');
  const srv = await startIpcServer(path, () => ({ ok: true }));
  t.teardown(() => srv.close());
  t.same(await sendDashboardAction(path, 'focus-dashboard'), { ok: true });
  t.notOk(existsSync(dead), 'dead pid socket removed');
  const live = join(r, 'ipc', `dashboard-${process.ppid}.sock`);
  writeFileSync(live, '');
  t.same(removeStaleSockets(join(r, 'ipc')), [], 'a live pid\'s socket is kept');
  t.ok(existsSync(live));
});

t.test('a silent dashboard times out', async (t) => {
  const path = socketPathFor(root(t));
  const srv = await startIpcServer(path, () => new Promise(() => undefined));
  t.teardown(() => srv.close());
  const r = await sendDashboardAction(path, 'focus-dashboard', 100);
  t.same(r, { ok: false, error: 'bottle: the dashboard did not answer within 100 ms' });
});

t.test('parseRequest', async (t) => {
  t.same(parseRequest('{"action":"newest-proposal"}'), { action: 'newest-proposal' });
  t.same(parseRequest('{"action":"plan","agent":"implementer","client":"/dev/pts/1","x":1}'), { action: 'plan', agent: 'implementer', client: '/dev/pts/1' }, 'arguments kept, anything else dropped');
  t.same(parseRequest('{"action":"plan","agent":7}'), { action: 'plan' }, 'a non-string argument is dropped');
  t.match(parseRequest('null'), { error: /unknown action/ });
  t.match(parseRequest('{"action":42}'), { error: /unknown action 42/ });
});
