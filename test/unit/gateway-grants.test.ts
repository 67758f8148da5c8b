// A time-boxed grant in the real daemon: the upstream gets requests to the granted host before
// `until` and none after, with no reload (the verdict reads the clock per request, also on a
// tunnel opened while the grant ran), and the gateway logs the lapse once.
import https from 'node:https';
import t from 'tap';
import { httpsViaProxy, TunnelAgent, viaProxy } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld, until } from '../fixtures/gateway/world.js';
import { lapseLine } from '../../sidecars/gateway/lapse.js';

const GRANT_MS = 2000;

t.test('a 2 s grant: honoured before until, refused from until on, without a reload; one lapse line', async (t) => {
  const end = new Date(Date.now() + GRANT_MS).toISOString();
  const w = await startWorld(t, { policy: BASE_POLICY.replace('allow: [', `allow: [{ host: late.test, until: "${end}" }, `) });
  const hash = w.gw.policyHash;
  const endMs = Date.parse(end);
  const agent = new TunnelAgent(w.proxy, w.caPem, { maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const onTunnel = (path: string) => new Promise<number>((resolve, reject) => {
    https.get(w.https('late.test', path), { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
  t.equal(await onTunnel('/tunnel-before'), 200, 'a tunnel opened under the grant');
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('late.test', '/https-before'))).status, 200);
  // Probe plain http every 20 ms until the grant is refused. Each probe's verdict falls between
  // its send and its reply: a 200 must have been sent before until, a 403 answered at or after it.
  const probes: Array<{ path: string; sent: number; got: number; status: number }> = [];
  await until(async () => {
    const path = `/probe-${probes.length}`;
    const sent = Date.now();
    const { status } = await viaProxy(w.proxy, w.http('late.test', path));
    probes.push({ path, sent, got: Date.now(), status });
    return status === 403;
  }, 'the grant to lapse', GRANT_MS + 3000);
  t.ok(probes.some((p) => p.status === 200), 'at least one probe ran under the grant');
  const early = probes.filter((p) => (p.status === 200 ? p.sent >= endMs : p.got < endMs));
  t.same(early, [], 'a 200 only if sent before until, a 403 only once until was reached');
  t.equal(await onTunnel('/tunnel-after'), 403, 'the open tunnel gets no more than a new one');
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('late.test', '/https-after'))).status, 403, 'a new CONNECT is refused');
  const seen = new Set(w.upstream.requests.map((r) => r.url));
  t.same(probes.filter((p) => seen.has(p.path) !== (p.status === 200)), [], 'the upstream got exactly the allowed probes');
  t.ok(seen.has('/tunnel-before') && seen.has('/https-before'));
  t.notOk(seen.has('/tunnel-after') || seen.has('/https-after'), 'nothing after the lapse reached the upstream');
  t.equal(w.gw.policyHash, hash, 'no reload was involved');
  t.match(w.decisions().at(-1), { verdict: 'block', stage: 'allowlist' });
  await until(() => w.diag.some((d) => d.startsWith('grant lapsed')), 'the lapse line');
  t.same(w.diag.filter((d) => d.startsWith('grant lapsed')), [lapseLine('late.test', end)], 'logged once');
});

t.test('a reload that extends the grant replaces the pending lapse line; close cancels it', async (t) => {
  const soon = new Date(Date.now() + 300).toISOString();
  const w = await startWorld(t, { policy: BASE_POLICY.replace('allow: [', `allow: [{ host: late.test, until: "${soon}" }, `), watch: false });
  w.writePolicy(BASE_POLICY.replace('allow: [', 'allow: [{ host: late.test, until: stop }, '));
  t.match(w.gw.reload('test'), { changed: true });
  await until(async () => Date.now() > Date.parse(soon) + 100, 'the old until to pass');
  t.equal((await viaProxy(w.proxy, w.http('late.test', '/still'))).status, 200, 'until stop: still allowed');
  t.notOk(w.diag.some((d) => d.startsWith('grant lapsed')), 'no stale lapse line');
});
