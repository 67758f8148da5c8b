// The unwind of a smolvm launch: a failure injected at EVERY engine call (fake engine) and at
// EVERY smolvm call (the fake smolvm's FAKE_SMOLVM_FAIL, for that one call) removes exactly
// what was made, in reverse order (VM stop, VM delete, bundle, bridge), and nothing is left.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBottleDir, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { leftovers, rig } from './smolvm-launch-fixture.js';

// ~45 launches, each spawning the fake smolvm ~20 times: generous on a loaded machine.
t.setTimeout(15 * 60_000);

const slug = 'tester-abcdef';
const root = mkdtempSync(join(tmpdir(), 'bottle-smolvm-fail-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const paths = makeBottleDir(root, slug);
const plan = samplePlan({ backend: 'smolvm', git: [{ name: 'origin', upstream: 'https://example.test/app.git' }] });

// What an op made, or unmade, as one comparable token.
function made(op: string): string | undefined {
  const m = /^(?:createNetwork (\S+)|createContainer (\S+)|smolvm machine create (\S+)|smolvm machine start --name (\S+))/.exec(op);
  if (!m) return undefined;
  return m[1] ? `network ${m[1]}` : m[2] ? `container ${m[2]}` : m[3] ? `machine ${m[3]}` : `running ${m[4]}`;
}
function unmade(op: string): string | undefined {
  const m = /^(?:removeNetwork (\S+)|removeContainer (\S+)|smolvm machine delete (\S+) -f|smolvm machine stop --name (\S+))/.exec(op);
  if (!m) return undefined;
  return m[1] ? `network ${m[1]}` : m[2] ? `container ${m[2]}` : m[3] ? `machine ${m[3]}` : `running ${m[4]}`;
}

// Index in `ops` of the i-th engine call (smolvm: false) or smolvm call (true): the failing one.
const nth = (ops: string[], smolvm: boolean, i: number): number => {
  let seen = -1;
  return ops.findIndex((o) => o.startsWith('smolvm ') === smolvm && ++seen === i);
};

// Calls whose failure the launch tolerates by design (cleanup, an "already absent" probe).
const TOLERATED = [/ -- rm -rf \/tmp\/bottle-provision-/, / claude mcp remove /];

const reference = await (async () => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  return r.ops;
})();
const engineOps = reference.filter((o) => !o.startsWith('smolvm '));
const smolvmOps = reference.filter((o) => o.startsWith('smolvm '));

t.test('failure at each engine call: exactly what was made is removed, in reverse', async (t) => {
  const points = engineOps.map((op, i) => [i, op] as const).filter(([, op]) => /^(listNetworks|inspectImage|createNetwork|createContainer|start|exec) /.test(op));
  t.ok(points.length >= 7, `${points.length} failure points: ${points.map(([, op]) => op.split(' ')[0]).join(', ')}`);
  for (const [i, op] of points) {
    const r = await rig(t, { failEngineAt: i });
    const ctx = sampleContext(paths, slug);
    await t.rejects(r.backend.launch(plan, ctx), { message: /injected failure/ }, `fails at engine #${i} ${op}`);
    const at = nth(r.ops, false, i);
    const created = r.ops.slice(0, at).map(made).filter(Boolean);
    const removed = r.ops.slice(at + 1).map(unmade).filter(Boolean);
    t.same(removed, [...created].reverse(), `reverse order after a failure at ${op}`);
    t.same(await leftovers(r), [], `nothing left after a failure at ${op}`);
  }
});

t.test('failure at each smolvm call: exactly what was made is removed, in reverse', async (t) => {
  let checked = 0;
  for (const [i, op] of smolvmOps.entries()) {
    if (op.startsWith('smolvm machine ls')) continue;
    const r = await rig(t, { failSmolvmAt: i });
    const ctx = sampleContext(paths, slug);
    const outcome = await r.backend.launch(plan, ctx).then(() => undefined, (e: unknown) => e as Error);
    if (TOLERATED.some((re) => re.test(op))) {
      t.equal(outcome, undefined, `a failure at ${op} is tolerated`);
      await r.backend.teardown({ schema: 1, slug, agent: 'tester', backend: 'smolvm', created: '', resources: {} }, () => undefined);
      continue;
    }
    t.ok(outcome, `fails at smolvm #${i} ${op.slice(0, 90)}`);
    const at = nth(r.ops, true, i);
    const created = r.ops.slice(0, at).map(made).filter(Boolean);
    const removed = r.ops.slice(at + 1).map(unmade).filter(Boolean);
    t.same(removed, [...created].reverse(), `reverse order after a failure at ${op.slice(0, 90)}`);
    t.same(await leftovers(r), [], `nothing left after a failure at ${op.slice(0, 90)}`);
    checked++;
  }
  t.ok(checked >= 10, `${checked} smolvm failure points`);
});

t.test('FAKE_SMOLVM_FAIL on a whole verb: the error names the command; the VM is gone too', async (t) => {
  const r = await rig(t, { smolvmEnv: { FAKE_SMOLVM_FAIL: 'machine start' } });
  const ctx = sampleContext(paths, slug);
  await t.rejects(r.backend.launch(plan, ctx), /smolvm machine start --name bottle-tester-abcdef: exited 1: Error: injected failure/);
  t.same(await leftovers(r), []);
  t.same(ctx.lines.slice(-3), ['removed VM bottle-tester-abcdef', 'removed container bottle-tester-abcdef-sidecars', 'removed network bottle-tester-abcdef-vm']);
});
