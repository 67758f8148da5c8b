// A time-boxed grant in the real daemon: the upstream gets requests to the granted host before
// `until` and none after, with no reload (the verdict reads the clock per request, also on a
// tunnel opened while the grant ran), and the gateway logs the lapse once. A request that hits
// the lapsed grant is still blocked, and becomes one event for the operator (per grant and
// process, however many requests follow); the pure parts: which block a lapsed grant explains.
import https from 'node:https';
import t from 'tap';
import { block, lapsedGrantFor, loadPolicy, type GrantLapsedEvent } from '../../lib/policy/index.js';
import { httpsViaProxy, TunnelAgent, viaProxy } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld, until } from '../fixtures/gateway/world.js';
import { inUseLine, lapseLine, lapsedInUse, LapseReporter } from '../../sidecars/gateway/lapse.js';

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
  await until(() => w.diag.some((d) => d.startsWith('grant lapsed:')), 'the lapse line');
  t.same(w.diag.filter((d) => d.startsWith('grant lapsed:')), [lapseLine('late.test', end)], 'logged once');
  // The agent kept using it (probes, the tunnel, a new CONNECT): one event, one line.
  const ev = { host: 'late.test', pattern: 'late.test', until: end };
  t.match(w.lapsedInUse, [{ type: 'grant-lapsed-in-use', origin: 'gateway', ...ev }], 'one event for the lapsed grant still in use');
  t.ok(Date.parse(w.lapsedInUse[0]!.time) >= endMs, 'timed at the first refused request');
  t.same(w.diag.filter((d) => d.startsWith('grant lapsed but still in use')), [inUseLine(ev)]);
  t.equal((await viaProxy(w.proxy, w.http('late.test', '/later'))).status, 403, 'reporting it let nothing through');
  t.equal((await viaProxy(w.proxy, w.http('other.test', '/never-granted'))).status, 403);
  t.equal(w.lapsedInUse.length, 1, 'neither a later request nor a host never granted adds one');
  t.notOk(w.upstream.requests.some((r) => r.url === '/later'));
});

t.test('a renewed grant that lapses again is a new event; an unused lapse is none', async (t) => {
  const soon = () => new Date(Date.now() + 300).toISOString();
  const first = soon();
  const w = await startWorld(t, { policy: BASE_POLICY.replace('allow: [', `allow: [{ host: "*.late.test", until: "${first}" }, { host: other.test, until: "${first}" }, `), watch: false });
  await until(() => Date.now() > Date.parse(first) + 50, 'the first grant to lapse');
  t.equal((await viaProxy(w.proxy, w.http('api.late.test', '/after-first'))).status, 403);
  t.match(w.lapsedInUse, [{ host: 'api.late.test', pattern: '*.late.test', until: first }], 'a wildcard grant: the host asked for, and the grant');
  const second = soon();
  w.writePolicy(BASE_POLICY.replace('allow: [', `allow: [{ host: "*.late.test", until: "${second}" }, `));
  t.match(w.gw.reload('test'), { changed: true });
  await viaProxy(w.proxy, w.http('api.late.test', '/renewed')); // allowed, then unresolvable here (502)
  t.match(w.decisions().at(-1), { verdict: 'allow', path: '/renewed' }, 'renewed');
  await until(() => Date.now() > Date.parse(second) + 50, 'the renewed grant to lapse');
  t.equal((await viaProxy(w.proxy, w.http('www.late.test', '/after-second'))).status, 403);
  t.equal((await viaProxy(w.proxy, w.http('api.late.test', '/after-second'))).status, 403);
  t.same(w.lapsedInUse.map((e) => [e.host, e.until]), [['api.late.test', first], ['www.late.test', second]], 'one event per lapse of the grant');
  t.notOk(w.lapsedInUse.some((e) => e.pattern === 'other.test'), 'other.test lapsed unused: no event');
});

const POLICY = loadPolicy(`version: 1
allow:
  - permanent.example.com
  - { host: api.example.com, until: "2026-01-01T00:00:00.000Z" }
  - { host: "*.example.com", until: "2026-01-01T01:00:00.000Z" }
  - { host: live.example.org, until: "2026-01-01T03:00:00.000Z" }
  - { host: forever.example.org, until: stop }
`);
const AT = Date.parse('2026-01-01T02:00:00.000Z');
const notAllowed = block('allowlist', 'x is not on the allowlist', 'not-allowed');

t.test('lapsedGrantFor: the lapsed grant that would admit the host, the latest of several', async (t) => {
  t.same(lapsedGrantFor(POLICY, 'api.example.com', AT), { pattern: '*.example.com', until: '2026-01-01T01:00:00.000Z' }, 'both lapsed: the later one');
  t.same(lapsedGrantFor(POLICY, 'API.Example.com.', AT), { pattern: '*.example.com', until: '2026-01-01T01:00:00.000Z' }, 'names normalised as for the verdict');
  t.same(lapsedGrantFor(POLICY, 'api.example.com', Date.parse('2026-01-01T00:30:00.000Z')), { pattern: 'api.example.com', until: '2026-01-01T00:00:00.000Z' });
  t.same(lapsedGrantFor(POLICY, 'api.example.com', Date.parse('2026-01-01T00:00:00.000Z')), { pattern: 'api.example.com', until: '2026-01-01T00:00:00.000Z' }, 'lapsed at until, as evaluate judges');
  t.equal(lapsedGrantFor(POLICY, 'api.example.com', Date.parse('2025-12-31T23:59:59.999Z')), undefined, 'not lapsed yet');
  t.equal(lapsedGrantFor(POLICY, 'live.example.org', AT), undefined, 'still running');
  t.equal(lapsedGrantFor(POLICY, 'forever.example.org', AT), undefined, 'until stop never lapses by time');
  t.equal(lapsedGrantFor(POLICY, 'permanent.example.com.evil.test', AT), undefined);
  t.equal(lapsedGrantFor(POLICY, 'nothing.example.net', AT), undefined);
  t.equal(lapsedGrantFor(POLICY, 'not a host', AT), undefined);
});

t.test('lapsedInUse: only an allowlist block; a name that looks secret is shown as the grant', async (t) => {
  t.same(lapsedInUse(POLICY, 'www.example.com', notAllowed, AT), { host: 'www.example.com', pattern: '*.example.com', until: '2026-01-01T01:00:00.000Z' });
  t.equal(lapsedInUse(POLICY, 'www.example.com', { verdict: 'allow', stage: 'done', reason: 'allowed' }, AT), undefined);
  t.equal(lapsedInUse(POLICY, 'www.example.com', block('blocklist', 'blocked by "www.example.com"', 'www.example.com'), AT), undefined, 'a block entry, not the lapse, refused it');
  t.equal(lapsedInUse(POLICY, 'www.example.com', block('url-dlp', 'secret in the URL', 'rule'), AT), undefined);
  const secretName = block('allowlist', 'a host name that appears to carry a secret is not on the allowlist', 'not-allowed');
  t.same(lapsedInUse(POLICY, 'x.example.com', secretName, AT)?.host, '*.example.com', 'withheld like the decision log withholds it');
});

t.test('LapseReporter: once per grant and until, whatever the requests; never throws', async (t) => {
  const got: GrantLapsedEvent[] = [];
  const r = new LapseReporter((ev) => got.push(ev), () => AT);
  for (const host of ['a.example.com', 'b.example.com', 'a.example.com']) r.decided(POLICY, host, notAllowed);
  r.decided(POLICY, 'api.example.com', { verdict: 'allow', stage: 'done', reason: 'allowed' });
  t.same(got, [{ type: 'grant-lapsed-in-use', time: '2026-01-01T02:00:00.000Z', origin: 'gateway', host: 'a.example.com', pattern: '*.example.com', until: '2026-01-01T01:00:00.000Z' }]);
  const renewed = loadPolicy('version: 1\nallow: [{ host: "*.example.com", until: "2026-01-01T01:30:00.000Z" }]\n');
  r.decided(renewed, 'b.example.com', notAllowed);
  t.same(got.map((e) => e.until), ['2026-01-01T01:00:00.000Z', '2026-01-01T01:30:00.000Z'], 'a new until is a new grant');
  const throwing = new LapseReporter(() => { throw new Error('disk full'); }, () => AT);
  t.doesNotThrow(() => throwing.decided(POLICY, 'a.example.com', notAllowed));
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
