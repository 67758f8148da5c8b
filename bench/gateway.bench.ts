// The egress gateway against its peer, mitmdump, and against no proxy at all, on one loopback
// upstream in the same run: throughput at a fixed concurrency (16, keep-alive) and added
// latency with one request in flight (the gateway as it ships: dist/ under the bundle's node
// flags; BENCH_GATEWAY_NODE_FLAGS overrides them), for plain HTTP (absolute form) and HTTPS with TLS
// interception (CONNECT + a minted leaf). Both proxies inject one route header, over HTTPS
// to the route's port only (plain HTTP goes out without it).
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
import { findMitmdump, gatewayNodeFlags, startGatewayPeer, startMitmPeer, startUpstreamProcess, type UpstreamInfo } from './gateway/peers.js';
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

interface Row { mode: Mode; name: string; load: LoadResult; single: LoadResult }

async function measure(mode: Mode, target: Target, up: UpstreamInfo): Promise<Row> {
  const a = sender(mode, target, up, '/bench');
  const load = await runLoad(a.send, { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: 1000 });
  a.agent.destroy();
  const b = sender(mode, target, up, '/bench');
  const single = await runLoad(b.send, { concurrency: 1, durationMs: LATENCY_SECONDS * 1000, warmupMs: 300 });
  b.agent.destroy();
  process.stderr.write(`  ${mode} / ${target.name}: ${load.rps.toFixed(0)} req/s${load.firstError ? ` (${load.errors} errors, first: ${load.firstError})` : ''}\n`);
  return { mode, name: target.name, load, single };
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
    const metering = await startMeteringPeers(dir, up, stops);
    const checked = [...targets, { name: METERING_TARGETS.off, peer: metering.off }, { name: METERING_TARGETS.on, peer: metering.on }];
    for (const mode of MODES) for (const t of checked) if (t.peer) await checkInjection(mode, t, up);
    const cases = MODES.length * targets.length;
    const meteringSeconds = 3 * LATENCY_SECONDS + 2 * SECONDS + 4;
    process.stderr.write(`measuring ${cases} cases and metering, ~${Math.round((SECONDS + 1 + LATENCY_SECONDS + 0.3) * cases + meteringSeconds)} s\n`);
    const rows: Row[] = [];
    for (const mode of MODES) for (const t of targets) rows.push(await measure(mode, t, up));
    const meteringOpts = { streamMs: 3 * LATENCY_SECONDS * 1000, loadMs: SECONDS * 1000, concurrency: CONCURRENCY };
    const metered = await measureMetering(metering, up, meteringOpts);
    report(rows, mitmNote, () => reportMetering(metered, meteringOpts));
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `metering` prints its tables after these and returns its summary lines.
function report(rows: Row[], mitmNote: string, metering: () => string[]): void {
  const find = (mode: Mode, name: string) => rows.find((r) => r.mode === mode && r.name === name);
  const p = (r: LoadResult, q: number) => (r.latencies.length > 0 ? percentile(r.latencies, q) : NaN);
  const throughput: Cell[][] = rows.map((r) => {
    const mitm = find(r.mode, 'mitmdump');
    return [
      r.mode, r.name, Math.round(r.load.rps), formatMs(p(r.load, 50)), formatMs(p(r.load, 99)), r.load.errors,
      r.name === 'gateway' && mitm ? ratio(r.load.rps, mitm.load.rps) : '',
    ];
  });
  printTable(
    `Throughput: GET through each proxy, keep-alive, concurrency ${CONCURRENCY}, ${SECONDS} s per case (${cpus().length} CPUs, loopback)`,
    ['mode', 'path', 'req/s', 'p50', 'p99', 'errors', 'gateway ÷ mitmdump'],
    throughput,
  );
  const latency: Cell[][] = rows.map((r) => {
    const direct = find(r.mode, 'direct')!;
    const added = (q: number) => (r.name === 'direct' ? '' : formatMs(Math.max(0, p(r.single, q) - p(direct.single, q))));
    return [r.mode, r.name, r.single.requests, formatMs(p(r.single, 50)), formatMs(p(r.single, 99)), added(50), added(99)];
  });
  printTable(`Latency: one request in flight, ${LATENCY_SECONDS.toFixed(1)} s per case; added = proxy − direct`, ['mode', 'path', 'n', 'p50', 'p99', 'added p50', 'added p99'], latency);
  const meteringLines = metering();
  const gwPlain = find('plain HTTP', 'gateway')!;
  const addedPlain = p(gwPlain.single, 50) - p(find('plain HTTP', 'direct')!.single, 50);
  const lines = [`plain HTTP p50 added latency: ${formatMs(addedPlain)} (target <= 1 ms: ${addedPlain <= 1 ? 'met' : 'MISSED'})`];
  for (const mode of MODES) {
    const m = find(mode, 'mitmdump');
    const g = find(mode, 'gateway')!;
    if (m) lines.push(`${mode} throughput vs mitmdump: ${ratio(g.load.rps, m.load.rps)} (target >= 3x: ${g.load.rps >= 3 * m.load.rps ? 'met' : 'MISSED'})`);
  }
  for (const r of rows) if (r.load.firstError) lines.push(`${r.mode} / ${r.name}: first error: ${r.load.firstError}`);
  lines.push(...meteringLines);
  if (mitmNote) lines.push(mitmNote);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
