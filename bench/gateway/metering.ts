// The gateway bench's metering case (issue 16): what metering the model route's answers
// costs. Two gateways with the same model-route policy, one metering (an events file), one
// not. A streamed answer (SSE, model-stream.ts) is read direct and through each, one stream at
// a time, the three taking turns stream by stream so drift and load hit them alike; routed
// HTTPS GET throughput goes through each at fixed concurrency, off and on alternating in ABBA
// slices for the same reason. Then the events files must show that metering ran: one usage
// line per metered answer, and none from the gateway without one.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getter, runLoad } from './load.js';
import { eventsPerAnswer, EVENT_GAP_MS, INPUT_TOKENS, MESSAGES_PATH, MODEL, streamMessages } from './model-stream.js';
import { startGatewayPeer, type Peer, type UpstreamInfo } from './peers.js';
import { reach, type Target } from './targets.js';
import { formatMs, percentile, printTable, ratio } from '../lib/index.js';

// The model route allows the streamed call and the GETs the throughput case and the
// injection check make.
const MODEL_PATHS = [`POST ${MESSAGES_PATH}`, 'GET /bench', 'GET /headers'];
const DELTAS = 40;
const THROUGHPUT_WARMUP_MS = 1500;
const WARMUP_ROUNDS = 3; // streams per path first, not recorded (tunnels, leaf minting, JIT)
export const METERING_TARGETS = { direct: 'direct', off: 'gateway, metering off', on: 'gateway, metering on' } as const;

export interface MeteringPeers { off: Peer; on: Peer; eventsFile: string; offDir: string }

// Both gateways, under `dir`; each stop is pushed on `stops`.
export async function startMeteringPeers(dir: string, up: UpstreamInfo, stops: Array<() => Promise<void>>): Promise<MeteringPeers> {
  const offDir = join(dir, 'metering-off');
  const eventsFile = join(dir, 'metering-on', 'events.jsonl');
  const off = await startGatewayPeer(offDir, up, { modelPaths: MODEL_PATHS });
  stops.push(off.stop);
  const on = await startGatewayPeer(join(dir, 'metering-on'), up, { modelPaths: MODEL_PATHS, eventsFile });
  stops.push(on.stop);
  return { off, on, eventsFile, offDir };
}

export interface MeteringResult {
  latencies: Record<string, number[]>; // per path: each event's one-way latency, ms
  answers: Record<string, number>; // per path, recorded
  rps: { off: number; on: number }; // mean over the slices
  share: number[]; // on ÷ off per slice: the two ran back to back, under the same load
  errors: string[];
  usage: string; // what the events files showed
}

type Options = { streamMs: number; loadMs: number; concurrency: number };

// Streams for `streamMs`, then the throughput slices (`loadMs` per path in all).
export async function measureMetering(m: MeteringPeers, up: UpstreamInfo, o: Options): Promise<MeteringResult> {
  const { latencies, answers, streamed } = await streamInTurns(m, up, o.streamMs);
  const { rps, share, errors } = await throughputAbba(m, up, o);
  process.stderr.write(`  metering: ${answers[METERING_TARGETS.on]} answers per path; routed GET ${rps.off.toFixed(0)} req/s off, ${rps.on.toFixed(0)} on\n`);
  return { latencies, answers, rps, share, errors, usage: await checkUsage(m, streamed) };
}

// One answer at a time, direct, off, on, direct, ...; `streamed`: answers through the
// metering gateway, warmup included (each is a usage line).
async function streamInTurns(m: MeteringPeers, up: UpstreamInfo, ms: number): Promise<Pick<MeteringResult, 'latencies' | 'answers'> & { streamed: number }> {
  const { direct, off, on } = METERING_TARGETS;
  const targets: Target[] = [{ name: direct }, { name: off, peer: m.off }, { name: on, peer: m.on }];
  const ways = targets.map((t) => reach('HTTPS intercept', t, up, MESSAGES_PATH, 1));
  const latencies: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  const answers: Record<string, number> = Object.fromEntries(targets.map((t) => [t.name, 0]));
  let streamed = 0;
  const end = performance.now() + ms;
  for (let round = 0; round < WARMUP_ROUNDS || performance.now() < end; round++) {
    for (const [i, t] of targets.entries()) {
      const got = await streamMessages(ways[i]!.agent, ways[i]!.options, DELTAS);
      if (t.peer === m.on) streamed++;
      if (round < WARMUP_ROUNDS) continue;
      latencies[t.name]!.push(...got);
      answers[t.name]!++;
    }
  }
  for (const w of ways) w.agent.destroy();
  return { latencies, answers, streamed };
}

// Routed GET throughput: both agents kept (warmed once), off and on alternating ABBA in ~1 s
// slices, so a change in the machine's load lands on both.
async function throughputAbba(m: MeteringPeers, up: UpstreamInfo, o: Options): Promise<Pick<MeteringResult, 'rps' | 'share' | 'errors'>> {
  const errors: string[] = [];
  const rpsOf = { off: [] as number[], on: [] as number[] };
  const sends = { off: reach('HTTPS intercept', { name: 'off', peer: m.off }, up, '/bench', o.concurrency), on: reach('HTTPS intercept', { name: 'on', peer: m.on }, up, '/bench', o.concurrency) };
  const run = (which: 'off' | 'on', durationMs: number, warmupMs: number) => runLoad(getter(true, sends[which].agent, sends[which].options), { concurrency: o.concurrency, durationMs, warmupMs });
  // Unrecorded first: 16 tunnels each, and the gateways' JIT still rising for a second or two.
  for (const which of ['off', 'on'] as const) await run(which, 0, THROUGHPUT_WARMUP_MS);
  const slices = Math.max(2, Math.round(o.loadMs / 1000));
  for (let i = 0; i < slices; i++) {
    for (const which of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const load = await run(which, o.loadMs / slices, 50);
      rpsOf[which].push(load.rps);
      if (load.firstError) errors.push(`metering ${which}: ${load.errors} errors, first: ${load.firstError}`);
    }
  }
  sends.off.agent.destroy();
  sends.on.agent.destroy();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { rps: { off: mean(rpsOf.off), on: mean(rpsOf.on) }, share: rpsOf.on.map((r, i) => r / rpsOf.off[i]!), errors };
}

// The metering gateway wrote one usage line per answer it passed, each with what the upstream
// reported; the other wrote no events file at all. Throws otherwise: numbers from a gateway
// that did not meter would say nothing about metering.
async function checkUsage(m: MeteringPeers, streamed: number): Promise<string> {
  const lines = () => (existsSync(m.eventsFile) ? readFileSync(m.eventsFile, 'utf8').split('\n').filter(Boolean) : []);
  // A usage line is appended as the answer ends, which may be just after the client saw the end.
  for (const until = performance.now() + 2000; lines().length < streamed && performance.now() < until;) await new Promise((r) => setTimeout(r, 20));
  const usage = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  const right = usage.filter((u) => u.type === 'usage' && u.model === MODEL && u.input === INPUT_TOKENS && u.output === DELTAS && u.path === MESSAGES_PATH && u.status === 200);
  if (usage.length !== streamed || right.length !== streamed) {
    throw new Error(`metering did not run as expected: ${usage.length} lines (${right.length} right) in ${m.eventsFile} for ${streamed} answers: ${lines().slice(0, 2).join(' ')}`);
  }
  const offEvents = readdirSync(m.offDir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'));
  if (offEvents.length > 0) throw new Error(`the gateway without metering wrote ${offEvents.join(', ')}`);
  return `events file: ${usage.length} usage lines for ${streamed} metered answers (input ${INPUT_TOKENS}, output ${DELTAS} each); metering off: no events file`;
}

const signedMs = (ms: number) => (ms < 0 ? `-${formatMs(-ms)}` : formatMs(ms));

// Prints the two tables; returns the summary lines, each target met or MISSED.
export function reportMetering(r: MeteringResult, o: Options): string[] {
  const p = (name: string, q: number) => percentile(r.latencies[name]!, q);
  const { direct, off, on } = METERING_TARGETS;
  printTable(
    `Metering, streamed answer: POST ${MESSAGES_PATH} on the model route (HTTPS intercept), ${DELTAS} text deltas ${EVENT_GAP_MS} ms apart, ` +
      `${eventsPerAnswer(DELTAS)} events; one stream at a time, paths taking turns, ${(o.streamMs / 1000).toFixed(1)} s; ` +
      'latency = upstream write → client read, per event; added = path − direct',
    ['path', 'answers', 'events', 'p50', 'p99', 'added p50', 'added p99'],
    [direct, off, on].map((name) => [
      name, r.answers[name]!, r.latencies[name]!.length, formatMs(p(name, 50)), formatMs(p(name, 99)),
      name === direct ? '' : signedMs(p(name, 50) - p(direct, 50)), name === direct ? '' : signedMs(p(name, 99) - p(direct, 99)),
    ]),
  );
  printTable(
    `Metering, routed HTTPS GET throughput: concurrency ${o.concurrency}, ${(o.loadMs / 1000).toFixed(1)} s per path in ABBA slices`,
    ['path', 'req/s (mean)', 'on ÷ off'],
    [[off, Math.round(r.rps.off), ''], [on, Math.round(r.rps.on), ratio(r.rps.on, r.rps.off)]],
  );
  const added50 = p(on, 50) - p(off, 50);
  const added99 = p(on, 99) - p(off, 99);
  // A shared machine's load swings more between seconds than between two back-to-back slices:
  // the median of the per-slice ratios is what metering costs, the range is the noise.
  const share = percentile(r.share, 50);
  return [
    `metering added latency per streamed event (on − off): p50 ${signedMs(added50)}, p99 ${signedMs(added99)} (target p99 <= 1 ms: ${added99 <= 1 ? 'met' : 'MISSED'})`,
    `routed HTTPS throughput, metering on ÷ off: ${share.toFixed(2)}, median of ${r.share.length} paired slices (range ${Math.min(...r.share).toFixed(2)}–${Math.max(...r.share).toFixed(2)}) (target >= 0.9: ${share >= 0.9 ? 'met' : 'MISSED'})`,
    r.usage,
    ...r.errors,
  ];
}
