// StateWatcher on a real temp state root: which change sets file events produce, debouncing of
// bursts, re-arming as bottles come and go, and the stat poll for missed events.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bottlePaths } from '../../lib/state/index.js';
import { StateWatcher, type ChangeSet, type WatchOptions } from '../../panes/watch.js';
import { pollUntil } from '../helpers/wait.js';

function setup(t: { teardown(fn: () => void): void }, opts: { pollMs?: number; watch?: WatchOptions['watch'] } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-watch-'));
  const changes: ChangeSet[] = [];
  const w = new StateWatcher(root, (c) => changes.push(c), { debounceMs: 20, pollMs: opts.pollMs ?? 0, ...(opts.watch ? { watch: opts.watch } : {}) });
  t.teardown(() => { w.close(); rmSync(root, { recursive: true, force: true }); });
  return { root, changes, w };
}

function makeBottle(root: string, slug: string) {
  const p = bottlePaths(root, slug);
  for (const d of [p.superviseQueue, p.superviseDecisions, p.events]) mkdirSync(d, { recursive: true });
  return p;
}

const flat = (cs: ChangeSet[]) => ({
  bottles: cs.some((c) => c.bottles),
  proposals: cs.some((c) => c.proposals === 'all') ? 'all' : [...new Set(cs.flatMap((c) => (c.proposals === 'all' ? [] : [...c.proposals])))].sort(),
});

t.test('a new bottle dir is a root change; its queue is a per-bottle change', async (t) => {
  const { root, changes, w } = setup(t);
  w.start();
  const p = makeBottle(root, 'a-aaaaaa');
  await pollUntil('root change', async () => changes.length > 0);
  t.same(flat(changes), { bottles: true, proposals: 'all' });
  w.sync(['a-aaaaaa']);
  t.equal(w.watcherCount, 5, 'root + dir, queue, decisions, events');
  changes.length = 0;
  writeFileSync(join(p.superviseQueue, 'x.json'), '{}');
  await pollUntil('queue change', async () => changes.length > 0);
  t.same(flat(changes), { bottles: false, proposals: ['a-aaaaaa'] });
  changes.length = 0;
  appendFileSync(p.eventsFile, '{"type":"agent-waiting"}\n');
  await pollUntil('events change', async () => changes.length > 0);
  t.same(flat(changes), { bottles: true, proposals: [] }, 'events reload the bottle list (waiting marker)');
});

t.test('a burst is folded into one change set', async (t) => {
  const { root, changes, w } = setup(t);
  const p = makeBottle(root, 'a-aaaaaa');
  const q = makeBottle(root, 'b-bbbbbb');
  const late = makeBottle(root, 'c-cccccc');
  w.start();
  w.sync(['a-aaaaaa', 'b-bbbbbb', 'c-cccccc']);
  for (let i = 0; i < 50; i++) writeFileSync(join(i % 2 ? p.superviseQueue : q.superviseDecisions, `${i}.json`), '{}');
  // One write after the burst: node reads every fs.watch event from one inotify queue in order,
  // so once this one is delivered, so is every event of the burst (nothing of it is still to come).
  writeFileSync(join(late.superviseQueue, 'after.json'), '{}');
  await pollUntil('the write after the burst', () => flat(changes).proposals.includes('c-cccccc'), {
    describe: () => `change sets so far: ${JSON.stringify(changes.map((c) => ({ ...c, proposals: c.proposals === 'all' ? 'all' : [...c.proposals] })))}`,
  });
  const burst = changes.filter((c) => c.proposals !== 'all' && (c.proposals.has('a-aaaaaa') || c.proposals.has('b-bbbbbb')));
  t.ok(burst.length >= 1 && burst.length <= 2, `50 writes → ${burst.length} change set(s)`);
  t.same(flat(changes).proposals, ['a-aaaaaa', 'b-bbbbbb', 'c-cccccc'], 'per-bottle changes only, none lost');
});

t.test('sync drops watchers of bottles that are gone', async (t) => {
  const { root, w } = setup(t);
  makeBottle(root, 'a-aaaaaa');
  makeBottle(root, 'b-bbbbbb');
  w.start();
  w.sync(['a-aaaaaa', 'b-bbbbbb']);
  t.equal(w.watcherCount, 9);
  rmSync(bottlePaths(root, 'a-aaaaaa').dir, { recursive: true });
  w.sync(['b-bbbbbb']);
  t.equal(w.watcherCount, 5);
  w.sync(['b-bbbbbb', 'c-cccccc']);
  t.equal(w.watcherCount, 5, 'a dir that does not exist yet is not watched (the poll retries)');
  w.close();
  t.equal(w.watcherCount, 0);
});

t.test('the stat poll catches changes fs.watch missed', async (t) => {
  // A watch that never reports anything: a filesystem where inotify does not work. Like
  // fs.watch, it throws for a path that does not exist; the poll's re-arm then calls it again
  // on every round, which is how the test sees a round finish.
  const { EventEmitter } = await import('node:events');
  const armed: string[] = [];
  const deaf = (path: string) => {
    armed.push(path);
    if (!existsSync(path)) throw Object.assign(new Error(`ENOENT: no such file or directory, watch '${path}'`), { code: 'ENOENT' });
    return Object.assign(new EventEmitter(), { close: () => undefined, ref() { return this; }, unref() { return this; } }) as never;
  };
  const { root, changes, w } = setup(t, { pollMs: 100, watch: deaf });
  const p = makeBottle(root, 'a-aaaaaa');
  rmSync(p.events, { recursive: true }); // its events dir is not there yet
  w.start();
  w.sync(['a-aaaaaa']);
  // A poll round stamps every path (the baseline for a-aaaaaa's queue), then re-arms: the second
  // attempt on the missing events dir proves one round has finished.
  await pollUntil('a poll round to take its baseline', () => armed.filter((a) => a === p.events).length >= 2, {
    describe: () => `watch attempts: ${JSON.stringify(armed)}`,
  });
  changes.length = 0;
  writeFileSync(join(p.superviseQueue, 'late.json'), '{}');
  await pollUntil('poll change', async () => changes.length > 0, { timeoutMs: 3000 });
  t.same(flat(changes).proposals, ['a-aaaaaa']);
});
