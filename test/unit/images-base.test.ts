// Base image selection: --base, local official image, pull, local bootstrap image, bootstrap.
import t from 'tap';
import { BOOTSTRAP_BASE, OFFICIAL_BASE, chooseBase, pullErrorGist, type BaseProbes } from '../../lib/images/base.js';

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

t.test('images already built on the bootstrapped base: it is used again without a pull while it is local', async (t) => {
  const kept = fake({ local: [BOOTSTRAP_BASE] });
  t.match(await chooseBase(undefined, kept.probes, { previous: BOOTSTRAP_BASE }), { image: BOOTSTRAP_BASE, source: 'bootstrap-local' });
  t.same(kept.calls, [`exists ${OFFICIAL_BASE}`, `exists ${BOOTSTRAP_BASE}`]);
  const gone = fake({ pull: 'ok' });
  t.match(await chooseBase(undefined, gone.probes, { previous: BOOTSTRAP_BASE }), { image: OFFICIAL_BASE, source: 'pulled' }, 'removed since: choose anew');
  const official = fake({ local: [OFFICIAL_BASE, BOOTSTRAP_BASE] });
  t.match(await chooseBase(undefined, official.probes, { previous: BOOTSTRAP_BASE }), { image: OFFICIAL_BASE }, 'a local official image still wins');
});

t.test('pullErrorGist: the host and the last words of a daemon error', async (t) => {
  t.equal(pullErrorGist('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host'),
    'registry-1.docker.io: no such host');
  t.equal(pullErrorGist('Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)'),
    'registry-1.docker.io: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)');
  t.equal(pullErrorGist('lookup images.registry.test: no such host'), 'lookup images.registry.test: no such host');
  t.ok(pullErrorGist(`pull access denied for x, ${'y'.repeat(300)}`).length <= 100);
});
