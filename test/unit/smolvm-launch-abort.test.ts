// Ctrl-C during a smolvm launch: an abort at any progress line ends in LaunchAbortedError (exit
// 130) with everything made so far removed — VM, bundle and bridge — in reverse order.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LaunchAbortedError } from '../../lib/backends/bundle/launch.js';
import { makeBottleDir, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { leftovers, rig } from './smolvm-launch-fixture.js';

// ~20 launches, each spawning the fake smolvm ~20 times: generous on a loaded machine.
t.setTimeout(15 * 60_000);

const slug = 'tester-abcdef';
const root = mkdtempSync(join(tmpdir(), 'bottle-smolvm-abort-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const paths = makeBottleDir(root, slug);
const plan = samplePlan({ backend: 'smolvm', git: [{ name: 'origin', upstream: 'https://example.test/app.git' }] });

t.test('abort at each progress line: LaunchAbortedError, nothing left, undone in reverse', async (t) => {
  const ref = await rig(t);
  const refCtx = sampleContext(paths, slug);
  await ref.backend.launch(plan, refCtx);
  // Pack lines are skipped when cached, so each run packs afresh (its own cache dir).
  // Timing lines (`<step> done (1.2s)`) come and go with the machine's load: not counted.
  const timing = (l: string): boolean => / done \(\d+\.\ds\)$/.test(l);
  const marks = refCtx.lines.filter((l) => !l.startsWith('bottle ') && !timing(l));
  t.ok(marks.length >= 12, `${marks.length} abort points`);
  for (const [k, mark] of marks.entries()) {
    const ac = new AbortController();
    const lines: string[] = [];
    let counted = 0;
    const r = await rig(t);
    const ctx = sampleContext(paths, slug, {
      signal: ac.signal,
      log: (l: string) => {
        lines.push(l);
        // By position: some lines carry a random port or path.
        if (!timing(l) && counted++ === k) ac.abort();
      },
    });
    const err = await r.backend.launch(plan, ctx).catch((e: unknown) => e);
    t.ok(err instanceof LaunchAbortedError && err.exitCode === 130, `aborted at "${mark}"`);
    t.same(await leftovers(r), [], `nothing left after an abort at "${mark}"`);
    const undone = lines.slice(lines.indexOf('interrupted: removing what was created') + 1);
    const expected = ['stopped VM', 'removed VM', 'removed container', 'removed network'];
    t.same(undone.map((l) => l.split(' ').slice(0, 2).join(' ')), expected.slice(expected.length - undone.length), `reverse order after "${mark}"`);
  }
});
