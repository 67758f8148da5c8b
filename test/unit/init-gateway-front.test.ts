// The real `bottle sidecar init` running real gateways behind its front: one shared listening
// socket and one control socket owned by init. Killing a gateway with -9 refuses no
// connection, and route secrets approved after launch survive the restart.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { replicaCount, replicaSocket } from '../../sidecars/init/gateway-front.js';
import { CA_CERT_FILE } from '../../lib/pki/index.js';
import { httpsViaProxy, viaProxy, type Proxy } from '../fixtures/gateway/client.js';
import { InitProcess } from '../fixtures/daemons/harness.js';
import { HOSTS, PRIVATE_OK } from '../fixtures/gateway/world.js';
import { bottleArgv } from '../helpers/dashboard.js';
import { startUpstream } from '../helpers/upstream.js';

// gitleaks:allow (test dummy)
const LATE = `late-${'tok'}en-${process.pid}-value`;
const POLICY = `version: 1
allow: [allowed.test]
routes:
  - host: route.test
    port: PORT
    headers: { Authorization: "Bearer \${LATE_ROUTE_TOKEN}" }
`;

interface Sent { status: number | string; ms: number }

// Sends requests back to back, each after the previous one's answer, until stop(); every
// outcome (status, or the error message) is recorded with its duration.
function sendUntilStopped(proxy: Proxy, url: string): { results: Sent[]; stop(): Promise<Sent[]> } {
  const results: Sent[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      const status = await viaProxy(proxy, url).then((r) => r.status, (e: Error) => e.message);
      results.push({ status, ms: Date.now() - t0 });
    }
    return results;
  })();
  return { results, stop: () => { stopped = true; return done; } };
}

t.test('replicaCount: default 2, 0 turns the front off, anything else is a clear error', async (t) => {
  t.equal(replicaCount({}), 2);
  t.equal(replicaCount({ BOTTLE_GATEWAY_REPLICAS: '0' }), 0);
  t.equal(replicaCount({ BOTTLE_GATEWAY_REPLICAS: '3' }), 3);
  t.throws(() => replicaCount({ BOTTLE_GATEWAY_REPLICAS: 'two' }), /BOTTLE_GATEWAY_REPLICAS=two: expected 0 to 8/);
  t.throws(() => replicaCount({ BOTTLE_GATEWAY_REPLICAS: '9' }), /expected 0 to 8/);
  t.equal(replicaSocket('/tmp/gw.sock', 1), '/tmp/gw.sock.1');
});

t.test('init fronts two gateways: kill -9 refuses nothing, secrets approved later survive restarts', async (t) => {
  const upstream = await startUpstream();
  const root = mkdtempSync(join(tmpdir(), 'bottle-gwfront-'));
  t.teardown(async () => {
    await upstream.close();
    rmSync(root, { recursive: true, force: true });
  });
  mkdirSync(join(root, 'policy'));
  writeFileSync(join(root, 'policy', 'policy.yaml'), POLICY.replace('PORT', String(upstream.httpsPort)));
  writeFileSync(join(root, 'hosts'), Object.entries(HOSTS).map(([n, ip]) => `${ip} ${n}`).join('\n'));
  const controlSocket = join(root, 'gw.sock');
  const p = new InitProcess([], {
    BOTTLE_SIDECAR_DAEMONS: 'gateway',
    // No start-anyway fallback: on a loaded machine replica 0 can take longer than the default
    // 3 s to serve, and this test pins that replica 1 waits for it.
    BOTTLE_SIDECAR_STAGGER_MS: '120000',
    BOTTLE_GATEWAY_LISTEN: '127.0.0.1:0',
    BOTTLE_GATEWAY_POLICY_DIR: join(root, 'policy'),
    BOTTLE_GATEWAY_CA_DIR: join(root, 'ca'),
    BOTTLE_GATEWAY_CONTROL_SOCKET: controlSocket,
    BOTTLE_GATEWAY_UPSTREAM_CA: upstream.caFile,
    BOTTLE_GATEWAY_ALLOW_PRIVATE: PRIVATE_OK.join(','),
    BOTTLE_GATEWAY_HOSTS_FILE: join(root, 'hosts'),
  });
  t.teardown(() => p.kill());

  // Both replicas report the one shared address.
  const listening = await p.waitFor('two gateways listening', 60_000, () => {
    const ports = p.stderr.map((l) => /^\[gateway\] gateway: listening on http:\/\/127\.0\.0\.1:(\d+) \(shared socket, fd 3\)/.exec(l)?.[1]).filter(Boolean);
    return ports.length >= 2 ? ports : undefined;
  });
  t.equal(new Set(listening).size, 1, `both replicas accept on one port (${listening.join(', ')})`);
  const proxy: Proxy = { host: '127.0.0.1', port: Number(listening[0]) };
  const pids = () => {
    const last = new Map<number, number>();
    for (const e of p.events()) if (e.type === 'daemon-started' && e.daemon === 'gateway') last.set(e.replica ?? -1, e.pid);
    return last;
  };
  t.same([...pids().keys()].sort(), [0, 1], 'init runs replicas 0 and 1');
  const readyEvents = await p.waitFor('both replicas to report ready', 10_000, () => {
    const r = p.events().filter((e) => e.type === 'daemon-ready' && e.daemon === 'gateway');
    return r.length >= 2 ? r : undefined;
  });
  t.same(readyEvents.map((e) => e.type === 'daemon-ready' && e.replica).sort(), [0, 1], 'each replica reported ready through its pipe (daemon-ready events)');
  const order = p.events().flatMap((e) => ((e.type === 'daemon-started' || e.type === 'daemon-ready') && e.daemon === 'gateway' ? [`${e.type} ${e.replica}`] : []));
  t.same(order.slice(0, 3), ['daemon-started 0', 'daemon-ready 0', 'daemon-started 1'], 'the second replica starts once the first serves (less contention at bring-up)');
  t.equal((await viaProxy(proxy, `http://allowed.test:${upstream.httpPort}/first`)).status, 200);

  // A route secret approved after launch: `gateway-secrets` talks to init, which hands it on.
  const hand = spawn(bottleArgv()[0]!, [...bottleArgv('sidecar', 'gateway-secrets', 'LATE_ROUTE_TOKEN', '--control-socket', controlSocket).slice(1)], {
    env: { ...process.env, LATE_ROUTE_TOKEN: LATE }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let handErr = '';
  hand.stderr.on('data', (d: Buffer) => { handErr += d.toString(); });
  const handCode = await new Promise<number | null>((r) => hand.once('exit', r));
  t.equal(handCode, 0, `gateway-secrets exits 0 once every replica has the value: ${handErr}`);
  const routed = async (path: string) => {
    // Route headers go only over TLS to the route's port.
    const caPem = readFileSync(join(root, 'ca', CA_CERT_FILE), 'utf8');
    for (let i = 0; i < 4; i++) await httpsViaProxy(proxy, caPem, `https://route.test:${upstream.httpsPort}${path}`); // both replicas, likely
    return upstream.requests.filter((r) => r.url === path).map((r) => r.headers.authorization);
  };
  t.same(new Set(await routed('/late-1')), new Set([`Bearer ${LATE}`]), 'the late secret is injected');

  // Kill one replica while a client keeps sending: not one request fails.
  const load = sendUntilStopped(proxy, `http://allowed.test:${upstream.httpPort}/poll`);
  t.teardown(() => { void load.stop(); });
  const before = pids();
  await p.waitFor('the client to be sending', 10_000, () => load.results.length >= 3);
  process.kill(before.get(0)!, 'SIGKILL');
  // The load runs across the whole outage of replica 0, until its successor accepts on the socket.
  await p.waitFor('replica 0 restarted', 60_000, () => pids().get(0) !== before.get(0) || undefined);
  await p.waitFor('the new replica 0 to listen', 60_000, () => p.stderr.filter((l) => l.includes('(shared socket, fd 3)')).length >= 3 || undefined);
  const back = load.results.length;
  await p.waitFor('requests after the restart', 10_000, () => load.results.length >= back + 3);
  const one = await load.stop();
  // The one request the killed process may have been serving dies with it: reset (RST, when
  // it had unread bytes) or closed (FIN: "socket hang up"). No connection is refused and
  // nothing else fails.
  const failed = one.filter((s) => s.status !== 200);
  t.ok(failed.length <= 1 && failed.every((f) => f.status === 'read ECONNRESET' || f.status === 'socket hang up'),
    `${one.length} requests around the kill of one replica: ${failed.length ? `only the one in flight was reset (${JSON.stringify(failed)})` : 'none failed'} (slowest ${Math.max(...one.map((s) => s.ms))} ms)`);

  // Kill both: clients wait in the shared queue instead of being refused.
  const now = pids();
  for (const pid of now.values()) process.kill(pid, 'SIGKILL');
  const t0 = Date.now();
  const during = await viaProxy(proxy, `http://allowed.test:${upstream.httpPort}/during-outage`);
  t.equal(during.status, 200, `a request sent while no gateway runs waits and is answered (${Date.now() - t0} ms)`);
  t.same(new Set(await routed('/late-2')), new Set([`Bearer ${LATE}`]), 'restarted gateways still inject the secret approved after launch');
  t.notMatch(p.stdout.join('\n') + p.stderr.join('\n'), LATE, 'the secret is in no log line');

  p.signal('SIGTERM');
  t.same(await p.waitExit(20_000), { code: 0, signal: null }, 'clean shutdown');
});
