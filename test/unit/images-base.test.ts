// Base image selection: --base, local official image, pull, local bootstrap image, bootstrap.
import t from 'tap';
import { BOOTSTRAP_BASE, OFFICIAL_BASE, chooseBase, type BaseProbes } from '../../lib/images/base.js';

interface Fake { probes: BaseProbes; calls: string[] }

function fake(opts: { local?: string[]; pull?: 'ok' | string; bootstrapFails?: boolean }): Fake {
  const calls: string[] = [];
  const local = new Set(opts.local ?? []);
  return {
    calls,
    probes: {
      exists: async (image) => { calls.push(`exists ${image}`); return local.has(image); },
      pull: async (image, timeoutMs) => {
        calls.push(`pull ${image} ${timeoutMs}`);
        if (opts.pull === 'ok') { local.add(image); return { ok: true }; }
        return { ok: false, why: opts.pull ?? 'no such host' };
      },
      bootstrap: async () => {
        calls.push('bootstrap');
        if (opts.bootstrapFails) throw new Error('debootstrap: not found');
        local.add(BOOTSTRAP_BASE);
      },
    },
  };
}

t.test('--base wins without touching the engine', async (t) => {
  const f = fake({});
  t.match(await chooseBase('debian:custom', f.probes), { image: 'debian:custom', source: 'flag' });
  t.same(f.calls, []);
});

t.test('the official image is used when local, without a pull', async (t) => {
  const f = fake({ local: [OFFICIAL_BASE, BOOTSTRAP_BASE] });
  t.match(await chooseBase(undefined, f.probes), { image: OFFICIAL_BASE, source: 'local' });
  t.same(f.calls, [`exists ${OFFICIAL_BASE}`]);
});

t.test('a successful pull uses the official image; the timeout stays within 20 s', async (t) => {
  const f = fake({ pull: 'ok' });
  const choice = await chooseBase(undefined, f.probes);
  t.match(choice, { image: OFFICIAL_BASE, source: 'pulled' });
  const timeout = Number(f.calls[1]!.split(' ').pop());
  t.ok(timeout > 0 && timeout <= 20_000, `pull timeout ${timeout} ms`);
});

t.test('no Docker Hub: the local bootstrap image, with the reason in the notes', async (t) => {
  const f = fake({ local: [BOOTSTRAP_BASE], pull: 'dial tcp: lookup images.registry.test: no such host' });
  const choice = await chooseBase(undefined, f.probes, { pullTimeoutMs: 50 });
  t.match(choice, { image: BOOTSTRAP_BASE, source: 'bootstrap-local' });
  t.match(choice.notes[0], /pull failed \(dial tcp: lookup images\.registry\.test: no such host\); falling back/);
  t.same(f.calls, [`exists ${OFFICIAL_BASE}`, `pull ${OFFICIAL_BASE} 50`, `exists ${BOOTSTRAP_BASE}`]);
});

t.test('no Docker Hub and no bootstrap image: it is built first', async (t) => {
  const f = fake({});
  const choice = await chooseBase(undefined, f.probes);
  t.match(choice, { image: BOOTSTRAP_BASE, source: 'bootstrap-built' });
  t.equal(f.calls.at(-1), 'bootstrap');
  t.match(choice.notes.join('\n'), /bootstrapping it/);
});

t.test('a failing bootstrap propagates', async (t) => {
  const f = fake({ bootstrapFails: true });
  await t.rejects(chooseBase(undefined, f.probes), /debootstrap: not found/);
});

t.test('--no-pull: no registry is asked; each decision is heard as it is made, before the bootstrap', async (t) => {
  const f = fake({});
  const heard: string[] = [];
  const choice = await chooseBase(undefined, f.probes, { pull: false, onNote: (n) => heard.push(`${n} [calls: ${f.calls.join(',')}]`) });
  t.match(choice, { image: BOOTSTRAP_BASE, source: 'bootstrap-built' });
  t.notOk(f.calls.some((c) => c.startsWith('pull')), 'never pulled');
  t.match(heard[1], /bootstrapping it .*\[calls: (?!.*bootstrap)/, 'the reason comes before the minute-long bootstrap');
});
