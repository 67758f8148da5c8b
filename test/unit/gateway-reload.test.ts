// Live policy changes: the host side replaces policy.yaml by write-temp + rename (picked up by
// the directory watch) or sends SIGHUP. An invalid file keeps the old policy; requests
// already under way finish under the policy they started with.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { getWith, httpsViaProxy, TunnelAgent, viaProxy } from '../fixtures/gateway/client.js';
import { spawnGateway } from '../fixtures/gateway/process.js';
import { BASE_POLICY, HOSTS, PRIVATE_OK, startWorld, until } from '../fixtures/gateway/world.js';
import { startUpstream } from '../helpers/upstream.js';
import { pollUntil } from '../helpers/wait.js';

const withLate = BASE_POLICY.replace('allow: [', 'allow: [late.test, ');

t.test('a policy renamed into the directory adds a host live, without a restart', async (t) => {
  const w = await startWorld(t);
  t.equal((await viaProxy(w.proxy, w.http('late.test', '/'))).status, 403);
  const before = w.gw.policyHash;
  w.writePolicy(withLate);
  await until(async () => (await viaProxy(w.proxy, w.http('late.test', '/'))).status === 200, 'late.test to be allowed');
  t.not(w.gw.policyHash, before);
  t.match(w.diag.join('\n'), /policy reloaded \(file change\): sha256:/);
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('late.test', '/echo'), { method: 'POST', body: 'now' })).body.toString(), 'now');
});

t.test('an invalid policy file is rejected with the reason logged, and the old policy stays', async (t) => {
  const w = await startWorld(t);
  const hash = w.gw.policyHash;
  w.writePolicy('version: 1\nallow: [late.test]\nallwo: [typo.test]\n');
  await until(() => w.diag.some((d) => d.includes('rejected')), 'the rejection to be logged');
  t.match(w.diag.join('\n'), /policy reload \(file change\) rejected, keeping sha256:\S+: .*policy\.yaml:3:1: allwo: unknown key/);
  t.equal(w.gw.policyHash, hash);
  t.equal((await viaProxy(w.proxy, w.http('allowed.test', '/'))).status, 200, 'old policy still allows');
  t.equal((await viaProxy(w.proxy, w.http('late.test', '/'))).status, 403, 'and the invalid file added nothing');
  t.match(w.gw.reload('test'), { changed: false, error: /unknown key/ });
});

t.test('in-flight requests finish under their policy; new requests (even on an open tunnel) use the new one', async (t) => {
  const w = await startWorld(t);
  const agent = new TunnelAgent(w.proxy, w.caPem, { maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string) => getWith(agent, w.https('allowed.test', path));
  t.equal((await get('/warm')).status, 200, 'tunnel open');
  // A long SSE stream on a second tunnel, started under the old policy.
  const sse = httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/sse?n=6&gap=100'));
  await until(() => w.upstream.sseSent[0]?.length === 1, 'the stream to start');
  w.writePolicy(BASE_POLICY.replace('allow: [allowed.test, ', 'allow: ['));
  await until(() => w.diag.some((d) => d.includes('reloaded')), 'the reload');
  const stream = await sse;
  t.equal((stream.body.toString().match(/^data: /gm) ?? []).length, 6, 'the stream under way completed');
  const after = await get('/after');
  t.equal(after.status, 403, 'the next request on the already-open tunnel is judged by the new policy');
  t.match(after.body, /^blocked: allowed\.test is not on the allowlist/);
  t.equal((await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/new'))).status, 403, 'a new tunnel too');
});

t.test('canaries follow the policy: a route added by reload makes its secret unsendable', async (t) => {
  const token = FAKE.routeToken;
  const w = await startWorld(t, { env: { GW_TEST_TOKEN: token }, policy: 'version: 1\nallow: [allowed.test]\n' });
  const send = () => viaProxy(w.proxy, w.http('allowed.test', '/echo'), { method: 'POST', body: `x ${token} y`, headers: { 'content-type': 'text/plain' } });
  t.equal((await send()).status, 200, 'not a route secret yet');
  w.writePolicy(BASE_POLICY);
  await until(async () => (await send()).status === 403, 'the token to become a canary');
  t.match(w.decisions().at(-1), { stage: 'canary' });
});

t.test('as a subprocess: SIGHUP reloads (watch off), decisions go to stdout and --log, SIGTERM exits 0', async (t) => {
  const upstream = await startUpstream();
  const root = mkdtempSync(join(tmpdir(), 'bottle-gateway-proc-'));
  t.teardown(async () => {
    await upstream.close();
    rmSync(root, { recursive: true, force: true });
  });
  const policyDir = join(root, 'policy');
  mkdirSync(policyDir);
  const writePolicy = (text: string) => {
    writeFileSync(join(policyDir, '.tmp'), text);
    renameSync(join(policyDir, '.tmp'), join(policyDir, 'policy.yaml'));
  };
  // No passthrough ports here: the route names the upstream's HTTPS port, where its header goes.
  const routed = (text: string) => text.replace('  - host: route.test\n', `  - host: route.test\n    port: ${upstream.httpsPort}\n`);
  writePolicy(routed(BASE_POLICY));
  const hostsFile = join(root, 'hosts');
  writeFileSync(hostsFile, Object.entries(HOSTS).map(([n, ip]) => `${ip} ${n}`).join('\n'));
  const logFile = join(root, 'decisions.jsonl');
  const gw = await spawnGateway([
    '--listen', '127.0.0.1:0', '--policy-dir', policyDir, '--ca-dir', join(root, 'ca'), '--upstream-ca', upstream.caFile,
    '--hosts-file', hostsFile, '--allow-private-upstream', ...PRIVATE_OK, '--log', logFile, '--no-watch',
  ], { env: { ...process.env, GW_TEST_TOKEN: FAKE.routeToken } });
  t.teardown(() => gw.stop());
  const late = `http://late.test:${upstream.httpPort}/`;
  t.equal((await viaProxy(gw.proxy, late)).status, 403);
  writePolicy(routed(withLate));
  // Deliberate window, not a wait for an event: "did not reload" announces nothing. A watcher
  // would reload 50 ms (its debounce) after the rename; this gives one six times that.
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await viaProxy(gw.proxy, late)).status, 403, 'no watch: the new file is not read yet');
  gw.child.kill('SIGHUP');
  // Logged once the new policy is in force. A reload that finds nothing new logs nothing, so this
  // line also proves that no reload read the file before the SIGHUP.
  await pollUntil('the SIGHUP reload to be logged', () => gw.stderr.some((l) => /policy reloaded \(SIGHUP\)/.test(l)), {
    describe: () => `gateway stderr:\n${gw.stderr.join('\n')}`,
  });
  t.equal((await viaProxy(gw.proxy, late)).status, 200, 'SIGHUP reloaded the policy');
  const caPem = readFileSync(join(root, 'ca', 'ca.crt'), 'utf8');
  const r = await httpsViaProxy(gw.proxy, caPem, `https://route.test:${upstream.httpsPort}/r`);
  t.equal(r.status, 200);
  t.equal(upstream.requests.at(-1)!.headers.authorization, `Bearer ${FAKE.routeToken}`, 'route header from the process env');
  t.equal(await gw.stop(), 0, 'SIGTERM: clean exit');
  const decisions = gw.stdout.filter((l) => l.trim()).map((l) => JSON.parse(l) as { method: string; status: number });
  t.ok(decisions.length >= 5);
  t.same(readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), decisions, '--log holds the same lines');
  t.notMatch(gw.stdout.join('\n') + gw.stderr.join('\n'), FAKE.routeToken);
});
