// Sandbox lifecycle through the real CLI (SPEC §5, §12): `bottle stop` leaves nothing labelled
// with the slug (the bottle stays listed, stopped, until `bottle rm`), Ctrl-C (SIGINT) to `bottle start` midway leaves nothing either, and `bottle ls
// --json` never reports a state the engine contradicts, before, during or after.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BottleStatus } from '../../lib/lifecycle/index.js';
import { bottleInProcess, bottleProcess } from '../helpers/cli.js';
import { labelled, sandboxEnv, sandboxGate, sandboxManifest, slugFromLine, spawnBottle, sweep } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);
const AGENT = 'e2e-lifecycle';

await t.test('sandbox lifecycle', { skip: gate.skip }, async (t) => {
  const docker = gate.docker!;
  const root = mkdtempSync(join(tmpdir(), 'bottle-e2e-lifecycle-'));
  const env = sandboxEnv(root);
  const manifest = join(root, 'bottle.yaml');
  writeFileSync(manifest, sandboxManifest(AGENT));
  const slugs: string[] = [];
  t.teardown(async () => {
    for (const s of slugs) await sweep(docker, s);
    rmSync(root, { recursive: true, force: true });
  });

  // `bottle ls --json` (in-process: same code, no process start) checked against what the
  // engine holds: a bottle listed as running has everything running, and vice versa.
  const snapshots: Array<{ at: string; rows: BottleStatus[] }> = [];
  const ls = async (at: string): Promise<BottleStatus[]> => {
    const r = await bottleInProcess(['ls', '--json'], { env });
    if (r.exitCode !== 0) throw new Error(`bottle ls --json failed at ${at}: ${r.stderr}`);
    const rows = JSON.parse(r.stdout) as BottleStatus[];
    snapshots.push({ at, rows });
    return rows;
  };
  const consistent = (t: Test, allowed: string[]) => {
    for (const { at, rows } of snapshots.splice(0)) {
      for (const r of rows) {
        t.ok(allowed.includes(r.state), `${at}: ${r.slug} listed as ${r.state}/${r.engine}`);
        if (r.state === 'running') t.equal(r.engine, 'running', `${at}: a running bottle is running in the engine`);
        t.not(r.state, 'broken');
      }
    }
  };

  await t.test('10a. start, ls, stop: nothing labelled with the slug is left', async (t) => {
    const pending: Array<Promise<unknown>> = [];
    const start = spawnBottle(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest], env, (line) => {
      const s = slugFromLine(line);
      if (s) slugs.push(s);
      if (line === 'starting sidecars' || line.startsWith('provision: ')) pending.push(ls(line));
    });
    const r = await start.done;
    if (!t.equal(r.code, 0, 'bottle start exits 0')) t.comment(r.stderr);
    const slug = r.stdout.trim();
    t.equal(slug, slugs[0], 'stdout is the slug');
    await Promise.all(pending);
    consistent(t, ['claimed', 'launching']);
    const up = (await ls('after start')).find((x) => x.slug === slug);
    t.match(up, { state: 'running', engine: 'running' });
    t.same(await labelled(docker, slug), [`bottle-${slug}-agent`, `bottle-${slug}-ext`, `bottle-${slug}-int`, `bottle-${slug}-sidecars`]);

    const cliLs = await bottleProcess(['ls', '--json'], { env });
    t.match(JSON.parse(cliLs.stdout), [{ slug, state: 'running', engine: 'running' }], 'the CLI process agrees');
    let stopping = true;
    const stop = bottleProcess(['stop', slug], { env }).finally(() => { stopping = false; });
    while (stopping) {
      await ls('during stop');
      await new Promise((r) => setTimeout(r, 200));
    }
    const stopped = await stop;
    if (!t.equal(stopped.exitCode, 0, 'bottle stop exits 0')) t.comment(stopped.stderr);
    t.same(await labelled(docker, slug), [], 'no container or network with the slug label');
    // The last look while `bottle stop` runs may come after it recorded `stopped` and before it exited.
    consistent(t, ['running', 'stopping', 'stopped']);
    t.match((await ls('after stop')).filter((x) => x.slug === slug), [{ state: 'stopped', engine: 'missing' }], 'ls lists it as stopped (resumable)');
    const rm = await bottleProcess(['rm', slug, '--yes'], { env });
    if (!t.equal(rm.exitCode, 0, 'bottle rm exits 0')) t.comment(rm.stderr);
    t.same((await ls('after rm')).filter((x) => x.slug === slug), [], 'after rm, ls no longer lists it');
    consistent(t, ['stopped']);
  });

  for (const mark of ['starting sidecars', 'provision: bundle CA into the trust store']) {
    await t.test(`10b. SIGINT to bottle start at "${mark}" leaves nothing`, async (t) => {
      let slug: string | undefined;
      let sent = false;
      const start = spawnBottle(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest], env, (line) => {
        const s = slugFromLine(line);
        if (s && !slug) slugs.push((slug = s));
        if (line === mark && !sent) {
          sent = true;
          start.child.kill('SIGINT');
        }
      });
      const r = await start.done;
      t.ok(sent, 'the mark was reached');
      t.equal(r.code, 130, `exit 130 (${r.signal ?? ''})`);
      t.match(r.stderr, /interrupted/);
      t.equal(r.stdout, '', 'no slug printed: it did not start');
      t.same(await labelled(docker, slug!), [], `nothing labelled ${slug} is left`);
      t.same((await ls(`after SIGINT at ${mark}`)).filter((x) => x.slug === slug), [], 'ls does not list it');
      consistent(t, []);
    });
  }
});
