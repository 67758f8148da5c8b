// Issue 19 (bring-up): a daemon's extra replicas start once every daemon's first one serves, so
// at bring-up they take no CPU from the daemons the bottle still waits for; a daemon that never
// serves holds them back only staggerMs.
import t, { type Test } from 'tap';
import { Supervisor } from '../../sidecars/init/supervisor.js';

const NOTIFY = 'require("fs").writeSync(Number(process.env.BOTTLE_READY_FD), "ready\\n"); setInterval(() => {}, 1000);';

interface Ev { type: string; daemon?: string; replica?: number }

function run(t: Test, slowScript: string, staggerMs: number): { events: () => Ev[]; sup: Supervisor } {
  const lines: string[] = [];
  const sup = new Supervisor({
    daemons: [
      { name: 'fast', argv: [process.execPath, '-e', NOTIFY], replicas: 2 },
      { name: 'slow', argv: [process.execPath, '-e', slowScript] },
    ],
    env: process.env,
    out: (l) => lines.push(l),
    err: () => undefined,
    staggerMs,
  });
  t.teardown(async () => {
    sup.signal('SIGTERM');
    await sup.done;
  });
  sup.start();
  const events = () => lines.flatMap((l) => {
    try {
      const e = JSON.parse(l) as Ev;
      return typeof e.type === 'string' ? [e] : [];
    } catch {
      return [];
    }
  });
  return { events, sup };
}

async function until<T>(what: string, ms: number, get: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const label = (e: Ev) => `${e.type} ${e.daemon}${e.replica === undefined ? '' : ` ${e.replica}`}`;

t.test('the second replica waits for every daemon\'s first one, not only its own', async (t) => {
  const { events } = run(t, `setTimeout(() => { ${NOTIFY} }, 400)`, 60_000);
  const order = await until('fast replica 1 to start', 15_000, () => {
    const o = events().filter((e) => e.type === 'daemon-started' || e.type === 'daemon-ready').map(label);
    return o.includes('daemon-started fast 1') ? o : undefined;
  });
  const at = (s: string) => order.indexOf(s);
  t.ok(at('daemon-ready fast 0') >= 0 && at('daemon-ready slow') >= 0, order.join(', '));
  t.ok(at('daemon-started fast 1') > at('daemon-ready fast 0'), 'after its own first replica serves');
  t.ok(at('daemon-started fast 1') > at('daemon-ready slow'), 'and after the slow daemon serves');
});

t.test('a daemon that never serves holds the replicas back only staggerMs', async (t) => {
  const { events } = run(t, 'setInterval(() => {}, 1000);', 600);
  const started = await until('fast replica 1 to start', 15_000, () => events().find((e) => label(e) === 'daemon-started fast 1'));
  t.ok(started);
  t.notOk(events().some((e) => label(e) === 'daemon-ready slow'), 'the slow daemon never said it serves');
});
