// Issue 19: each bundle process gives back its start-up memory once it serves (sidecars/ready.ts
// collectStartupGarbage), init once every daemon has said it serves (Supervisor onAllReady); a
// daemon's spec can carry env of its own (sidecars/daemons.ts DAEMON_ENV).
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { collectStartupGarbage } from '../../sidecars/ready.js';
import { Supervisor } from '../../sidecars/init/supervisor.js';

t.test('collectStartupGarbage collects without leaving gc() exposed', async (t) => {
  const before = typeof (globalThis as { gc?: unknown }).gc;
  collectStartupGarbage();
  collectStartupGarbage();
  t.equal(typeof (globalThis as { gc?: unknown }).gc, before, 'the global object is as it was');
  t.equal(runInNewContext('typeof gc'), 'undefined', 'contexts made later have no gc() either (--expose-gc is off again)');
});

t.test('onAllReady: once, after every supervised process has said it serves', async (t) => {
  const notify = 'require("fs").writeSync(Number(process.env.BOTTLE_READY_FD), "ready\\n"); setInterval(() => {}, 1000);';
  const lines: string[] = [];
  let calls = 0;
  let readyEventsAtCall = -1;
  const readyEvents = () => lines.filter((l) => l.includes('"daemon-ready"')).length;
  const sup = new Supervisor({
    daemons: [
      { name: 'slow', argv: [process.execPath, '-e', `setTimeout(() => { ${notify} }, 300)`] },
      { name: 'fast', argv: [process.execPath, '-e', notify], replicas: 2 },
    ],
    env: process.env,
    out: (l) => lines.push(l),
    err: () => undefined,
    staggerMs: 5000,
    onAllReady: () => { calls += 1; readyEventsAtCall = readyEvents(); },
  });
  sup.start();
  const deadline = Date.now() + 10_000;
  while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(calls, 1, 'called once');
  t.equal(readyEventsAtCall, 3, 'after all three processes (two replicas of one daemon) reported ready');
  sup.signal('SIGTERM');
  t.equal(await sup.done, 0, 'clean shutdown');
});

t.test('a spec\'s env reaches each of its processes, under the per-replica env', async (t) => {
  const print = 'console.log(process.env.MALLOC_ARENA_MAX + " " + process.env.PER_REPLICA); setInterval(() => {}, 1000);';
  const lines: string[] = [];
  const sup = new Supervisor({
    daemons: [{
      name: 'd', argv: [], env: { MALLOC_ARENA_MAX: '1', PER_REPLICA: 'spec' }, replicas: 2,
      instance: (r) => ({ argv: [process.execPath, '-e', print], ...(r === 1 ? { env: { PER_REPLICA: 'one' } } : {}) }),
    }],
    env: { ...process.env, MALLOC_ARENA_MAX: '8' },
    out: (l) => lines.push(l),
    err: () => undefined,
    staggerMs: 0,
  });
  sup.start();
  const deadline = Date.now() + 10_000;
  while (lines.filter((l) => l.startsWith('[d] ')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(lines.filter((l) => l.startsWith('[d] ')).sort(), ['[d] 1 one', '[d] 1 spec']);
  sup.signal('SIGTERM');
  t.equal(await sup.done, 0);
});
