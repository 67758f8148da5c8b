// The egress gateway against its peer, mitmdump, against no proxy at all and (plain HTTP only)
// against a forward-only node proxy (the floor for any node proxy here), on one loopback
// upstream in the same run: throughput at a fixed concurrency (16, keep-alive) with each
// process's CPU time per request, and added latency with one request in flight (the gateway
// as it ships: dist/ under the bundle's node flags; BENCH_GATEWAY_NODE_FLAGS overrides them),
// for plain HTTP (absolute form) and HTTPS with TLS interception (CONNECT + a minted leaf).
// Both proxies inject one route header, over HTTPS to the route's port only (plain HTTP goes
// out without it).
// Then what metering the model route costs (gateway/metering.ts): per-event latency of a
// streamed answer and routed throughput, gateways with and without an events file.
// Bounded: BENCH_GATEWAY_SECONDS (default 10) per throughput case, a third of that per
// latency case; every process is stopped by PID at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getter, runLoad, type LoadResult, type Send } from './gateway/load.js';
import { measureMetering, METERING_TARGETS, reportMetering, startMeteringPeers } from './gateway/metering.js';
import { cpuMicros, findMitmdump, gatewayNodeFlags, startForwardOnlyPeer, startGatewayPeer, startMitmPeer, startUpstreamProcess, type UpstreamInfo } from './gateway/peers.js';
import { MODES, reach, type Mode, type Target } from './gateway/targets.js';
import { formatMs, percentile, printTable, ratio, type Cell } from './lib/index.js';
import { ensureDistBuilt } from './lib/dist.js';

const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 10);
const LATENCY_SECONDS = Math.max(1, SECONDS / 3);
const CONCURRENCY = 16;

// A GET sender and the agent behind it (destroyed after the case).
function sender(mode: Mode, target: Target, up: UpstreamInfo, path: string): { send: Send; agent: http.Agent } {
  const r = reach(mode, target, up, path, CONCURRENCY);
  return { agent: r.agent, send: getter(r.tls, r.agent, r.options) };
}

// Both proxies must really inject the route header over HTTPS, and only there, or the
// comparison is unfair (and the gateway would be leaking its credential over plain HTTP).
async function checkInjection(mode: Mode, target: Target, up: UpstreamInfo): Promise<void> {
  const { tls, agent, options } = reach(mode, target, up, '/headers', 1);
  const body = await new Promise<string>((resolve, reject) => {
    (tls ? https : http).get({ ...options, agent }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
  agent.destroy();
  if (body.includes('x-bench-token') !== tls) {
    throw new Error(`${target.name} (${mode}) ${tls ? 'did not inject' : 'sent'} X-Bench-Token: ${body}`);
  }
}

// CPU µs per recorded request, of the proxy, the upstream and this process (the load generator).
interface Cost { proxy?: number; upstream?: number; client: number }
interface Row { mode: Mode; name: string; load: LoadResult; single: LoadResult; cost?: Cost }

async function measure(mode: Mode, target: Target, up: UpstreamInfo): Promise<Row> {
  const a = sender(mode, target, up, '/bench');
  const pids = [target.peer?.pid, up.pid];
  let from: { at: Array<number | undefined>; client: NodeJS.CpuUsage } | undefined;
  let used: { at: Array<number | undefined>; client: NodeJS.CpuUsage } | undefined;
  const window = (edge: 'start' | 'end') => {
    if (edge === 'start') from = { at: pids.map(cpuMicros), client: process.cpuUsage() };
    else if (from) used = { at: pids.map(cpuMicros), client: process.cpuUsage(from.client) };
  };
  const load = await runLoad(a.send, { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: 1000, window });
  a.agent.destroy();
  const per = (i: number) => {
    const [x, y] = [from?.at[i], used?.at[i]];
    return x === undefined || y === undefined || load.requests === 0 ? undefined : (y - x) / load.requests;
  };
  const cost = used && load.requests > 0 ? { proxy: per(0), upstream: per(1), client: (used.client.user + used.client.system) / load.requests } : undefined;
  const b = sender(mode, target, up, '/bench');
  const single = await runLoad(b.send, { concurrency: 1, durationMs: LATENCY_SECONDS * 1000, warmupMs: 300 });
  b.agent.destroy();
  process.stderr.write(`  ${mode} / ${target.name}: ${load.rps.toFixed(0)} req/s${load.firstError ? ` (${load.errors} errors, first: ${load.firstError})` : ''}\n`);
  return { mode, name: target.name, load, single, cost };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-gateway-bench-'));
  const stops: Array<() => Promise<void>> = [];
  const mitmBin = findMitmdump();
  // The gateway runs as it ships: dist/ under the bundle's node flags.
  await ensureDistBuilt('gateway');
  process.stdout.write(`gateway: dist/ under node ${gatewayNodeFlags().join(' ') || '(no flags)'}\n`);
  try {
    const up = await startUpstreamProcess();
    stops.push(up.stop);
    const gateway = await startGatewayPeer(join(dir, 'gateway'), up);
    stops.push(gateway.stop);
    const targets: Target[] = [{ name: 'direct' }, { name: 'gateway', peer: gateway }];
    let mitmNote = '';
    if (mitmBin) {
      try {
        const mitm = await startMitmPeer(mitmBin, join(dir, 'mitm'), up);
        stops.push(mitm.stop);
        targets.push({ name: 'mitmdump', peer: mitm });
      } catch (e) {
        mitmNote = `mitmdump failed to start (${(e as Error).message.split('\n')[0]}); its column is omitted`;
      }
    } else {
      mitmNote = 'mitmdump is not installed (apt-get install mitmproxy); its column is omitted';
    }
    const forwardOnly = await startForwardOnlyPeer();
    stops.push(forwardOnly.stop);
    targets.push({ name: FORWARD_ONLY, peer: forwardOnly });
    const metering = await startMeteringPeers(dir, up, stops);
    const checked = [...targets, { name: METERING_TARGETS.off, peer: metering.off }, { name: METERING_TARGETS.on, peer: metering.on }];
    for (const mode of MODES) for (const t of checked) if (t.peer && !t.peer.plainOnly) await checkInjection(mode, t, up);
    const runs = (mode: Mode) => targets.filter((t) => mode === 'plain HTTP' || !t.peer?.plainOnly);
    const cases = MODES.reduce((n, mode) => n + runs(mode).length, 0);
    const meteringSeconds = 3 * LATENCY_SECONDS + 2 * SECONDS + 4;
    process.stderr.write(`measuring ${cases} cases and metering, ~${Math.round((SECONDS + 1 + LATENCY_SECONDS + 0.3) * cases + meteringSeconds)} s\n`);
    const rows: Row[] = [];
    for (const mode of MODES) for (const t of runs(mode)) rows.push(await measure(mode, t, up));
    const meteringOpts = { streamMs: 3 * LATENCY_SECONDS * 1000, loadMs: SECONDS * 1000, concurrency: CONCURRENCY };
    const metered = await measureMetering(metering, up, meteringOpts);
    report(rows, mitmNote, () => reportMetering(metered, meteringOpts));
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const FORWARD_ONLY = 'forward-only';

// `metering` prints its tables after these and returns its summary lines.
function report(rows: Row[], mitmNote: string, metering: () => string[]): void {
  const find = (mode: Mode, name: string) => rows.find((r) => r.mode === mode && r.name === name);
  const p = (r: LoadResult, q: number) => (r.latencies.length > 0 ? percentile(r.latencies, q) : NaN);
  const us = (v: number | undefined) => (v === undefined ? '' : formatMs(v / 1000));
  const throughput: Cell[][] = rows.map((r) => {
    const mitm = find(r.mode, 'mitmdump');
    const direct = find(r.mode, 'direct')!;
    return [
      r.mode, r.name, Math.round(r.load.rps), r.name === 'direct' ? '' : `${((100 * r.load.rps) / direct.load.rps).toFixed(0)}%`,
      formatMs(p(r.load, 50)), formatMs(p(r.load, 99)), r.load.errors,
      us(r.cost?.proxy), us(r.cost?.upstream), us(r.cost?.client),
      r.name === 'gateway' && mitm ? ratio(r.load.rps, mitm.load.rps) : '',
    ];
  });
  printTable(
    `Throughput: GET through each proxy, keep-alive, concurrency ${CONCURRENCY}, ${SECONDS} s per case (${cpus().length} CPUs, loopback); CPU = each process's CPU time per request`,
    ['mode', 'path', 'req/s', 'of direct', 'p50', 'p99', 'errors', 'proxy CPU', 'upstream CPU', 'client CPU', 'gateway ÷ mitmdump'],
    throughput,
  );
  const latency: Cell[][] = rows.filter((r) => r.name !== FORWARD_ONLY).map((r) => {
    const direct = find(r.mode, 'direct')!;
    const added = (q: number) => (r.name === 'direct' ? '' : formatMs(Math.max(0, p(r.single, q) - p(direct.single, q))));
    return [r.mode, r.name, r.single.requests, formatMs(p(r.single, 50)), formatMs(p(r.single, 99)), added(50), added(99)];
  });
  printTable(`Latency: one request in flight, ${LATENCY_SECONDS.toFixed(1)} s per case; added = proxy − direct`, ['mode', 'path', 'n', 'p50', 'p99', 'added p50', 'added p99'], latency);
  const meteringLines = metering();
  const lines: string[] = [];
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  for (const mode of MODES) {
    const g = find(mode, 'gateway')!;
    const direct = find(mode, 'direct')!;
    const added = p(g.single, 99) - p(direct.single, 99);
    lines.push(`${mode} added latency at c=1: p50 ${formatMs(Math.max(0, p(g.single, 50) - p(direct.single, 50)))}, p99 ${formatMs(Math.max(0, added))} (target p99 <= 1 ms: ${met(added <= 1)})`);
  }
  for (const mode of MODES) {
    const g = find(mode, 'gateway')!;
    const share = g.load.rps / find(mode, 'direct')!.load.rps;
    const floor = find(mode, FORWARD_ONLY);
    const floorNote = floor ? `; the ${FORWARD_ONLY} node proxy: ${(100 * floor.load.rps / find(mode, 'direct')!.load.rps).toFixed(0)}%` : '';
    lines.push(`${mode} throughput vs direct at c=${CONCURRENCY}: ${(100 * share).toFixed(0)}% (target >= 50%: ${met(share >= 0.5)})${floorNote}`);
    const m = find(mode, 'mitmdump');
    const cpu = m?.cost?.proxy !== undefined && g.cost?.proxy ? `; CPU per request: mitmdump ${ratio(m.cost.proxy, g.cost.proxy)} the gateway's` : '';
    if (m) lines.push(`${mode} throughput vs mitmdump: ${ratio(g.load.rps, m.load.rps)} (target >= 5x: ${met(g.load.rps >= 5 * m.load.rps)})${cpu}`);
  }
  const [gw, fo] = [find('plain HTTP', 'gateway')?.cost?.proxy, find('plain HTTP', FORWARD_ONLY)?.cost?.proxy];
  if (gw !== undefined && fo !== undefined) lines.push(`plain HTTP CPU per request: gateway ${us(gw)}, ${FORWARD_ONLY} ${us(fo)} (the gateway's policy, DNS, log and headers: ${us(gw - fo)})`);
  for (const r of rows) if (r.load.firstError) lines.push(`${r.mode} / ${r.name}: first error: ${r.load.firstError}`);
  lines.push(...meteringLines);
  if (mitmNote) lines.push(mitmNote);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
