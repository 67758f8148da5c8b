// Warm bring-up (images present) of `bottle start <agent> --yes --no-attach` run as users run it
// (bin/bottle.js on the compiled dist/, rebuilt first when stale), from spawn to the command
// returning (the bottle is ready: daemons answer, agent provisioned), against its peer
// in the same run: bench/bringup/bare.sh, which makes the same two networks and starts the same
// two containers with the docker CLI and does nothing else (no state, CA, policy or mounts, NO
// readiness wait, NO provisioning). Rounds alternate bottle/bare after one untimed warm-up of
// each; everything is stopped and removed between rounds. BENCH_BRINGUP_ROUNDS (default 5);
// BENCH_BRINGUP_ONLY=remote runs only the remote part (below). Needs a Docker engine and the
// images; prints a visible skip without them.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lifecycleDeps, removeBottleFully } from '../lib/lifecycle/index.js';
import { IMAGES, sandboxEnv, sandboxGate, sandboxManifest, spawnBottle, sweep } from '../test/helpers/sandbox.js';
import { MARKS, median, phases, type TimedLine } from './bringup/phases.js';
import { ensureDistBuilt } from './lib/dist.js';
import { formatMs, printTable, ratio } from './lib/index.js';

const ROUNDS = Number(process.env.BENCH_BRINGUP_ROUNDS ?? 5);
const AGENT = 'bench-bringup';
const BARE = fileURLToPath(new URL('./bringup/bare.sh', import.meta.url));
const run = promisify(execFile);

const gate = await sandboxGate().catch((e: Error) => ({ skip: e.message, docker: undefined }));
if (gate.skip) {
  process.stdout.write(`bringup: skipped: ${gate.skip}\n`);
  process.exit(0);
}
const docker = gate.docker!;
await ensureDistBuilt('bringup');
const root = mkdtempSync(join(tmpdir(), 'bottle-bench-bringup-'));
const env = sandboxEnv(root);
const manifest = join(root, 'bottle.yaml');
writeFileSync(manifest, sandboxManifest(AGENT));
const made: string[] = [];
const bareNames: string[] = [];

// One `bottle start`: wall time, and its progress lines timed on arrival.
async function bottleRound(on: NodeJS.ProcessEnv = env): Promise<{ ms: number; lines: TimedLine[] }> {
  const lines: TimedLine[] = [];
  const t0 = performance.now();
  const start = spawnBottle(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest], on, (line) => lines.push({ ms: performance.now() - t0, line }), { compiled: true });
  const r = await start.done;
  const ms = performance.now() - t0;
  const slug = r.stdout.trim();
  if (slug) made.push(slug);
  if (r.code !== 0) throw new Error(`bottle start exited ${r.code}:\n${r.stderr}`);
  await removeBottleFully(lifecycleDeps(on), slug, () => undefined);
  return { ms, lines };
}

async function bareRound(i: number): Promise<number> {
  const name = `bottle-bench-bare-${process.pid}-${i}`;
  bareNames.push(name);
  const t0 = performance.now();
  await run('sh', [BARE, 'up', name, IMAGES[1], IMAGES[0]]);
  const ms = performance.now() - t0;
  await run('sh', [BARE, 'down', name, IMAGES[1], IMAGES[0]]);
  return ms;
}

// Issue 17: the same start on a remote engine (a second engine in a container, its images
// copied in) with REMOTE_LATENCY_MS added on the link, rounds interleaved with local ones; the
// target is remote ≤ local + 10 round trips. BENCH_BRINGUP_REMOTE=0 skips it.
const REMOTE_LATENCY_MS = 50;
async function remoteRounds(): Promise<void> {
  if (process.env.BENCH_BRINGUP_REMOTE === '0') {
    process.stdout.write('remote bring-up: skipped (BENCH_BRINGUP_REMOTE=0)\n');
    return;
  }
  const { startSecondEngine } = await import('../test/helpers/second-engine.js');
  const e2 = await startSecondEngine(docker);
  try {
    await e2.loadImages([...IMAGES]);
    await e2.setLatency(REMOTE_LATENCY_MS);
    const remoteEnv = { ...env, DOCKER_HOST: e2.host };
    const rtt: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await e2.docker.ping();
      rtt.push(performance.now() - t0);
    }
    await bottleRound(remoteEnv); // warm-up there
    const local: number[] = [];
    const remote: number[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      local.push((await bottleRound()).ms);
      remote.push((await bottleRound(remoteEnv)).ms);
    }
    const l = median(local);
    const r = median(remote);
    const trip = median(rtt);
    printTable(`bring-up on a remote engine (${REMOTE_LATENCY_MS} ms of delay added on its link), ${ROUNDS} rounds each, interleaved, median`,
      ['engine', 'median', 'min', 'max', 'vs local'], [
        ['local (unix socket)', formatMs(l), formatMs(Math.min(...local)), formatMs(Math.max(...local)), '1.00x'],
        [`remote (${e2.host})`, formatMs(r), formatMs(Math.min(...remote)), formatMs(Math.max(...remote)), ratio(r, l)],
      ]);
    const trips = (r - l) / trip;
    process.stdout.write(`round trip to the remote engine (GET /_ping, median of 10): ${formatMs(trip)}; remote − local = ${formatMs(r - l)} = ${trips.toFixed(1)} round trips; `
      + `target ≤ 10: ${trips <= 10 ? 'met' : 'NOT met'}\n`);
  } finally {
    for (const slug of made) await sweep(e2.docker, slug).catch(() => undefined);
    await e2.close();
  }
}

const only = process.env.BENCH_BRINGUP_ONLY;
if (only !== undefined && only !== 'remote') throw new Error(`BENCH_BRINGUP_ONLY=${only}: the only part that runs alone is remote`);
try {
  if (only !== 'remote') await localRounds();
  await remoteRounds();
} finally {
  for (const slug of made) await sweep(docker, slug);
  for (const name of bareNames) await run('sh', [BARE, 'down', name, IMAGES[1], IMAGES[0]]).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}

// The local part: bottle against bare.sh, and the phase table.
async function localRounds(): Promise<void> {
  // `bottle --version`: what starting the CLI costs before any work.
  const cli: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await spawnBottle(['--version'], env, undefined, { compiled: true }).done;
    cli.push(performance.now() - t0);
  }
  await bottleRound();
  await bareRound(0);
  const bottle: Array<{ ms: number; lines: TimedLine[] }> = [];
  const bare: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    bottle.push(await bottleRound());
    bare.push(await bareRound(i));
  }
  const b = median(bottle.map((x) => x.ms));
  const p = median(bare);
  printTable(`warm bring-up, ${ROUNDS} rounds each, median (peer: bare docker CLI script, no readiness wait, no provisioning)`,
    ['what', 'median', 'min', 'max', 'vs bare'], [
      ['bottle start --yes --no-attach', formatMs(b), formatMs(Math.min(...bottle.map((x) => x.ms))), formatMs(Math.max(...bottle.map((x) => x.ms))), ratio(b, p)],
      ['bare.sh (2 networks, 2 containers)', formatMs(p), formatMs(Math.min(...bare)), formatMs(Math.max(...bare)), '1.00x'],
      ['bottle --version (CLI start only)', formatMs(median(cli)), formatMs(Math.min(...cli)), formatMs(Math.max(...cli)), ratio(median(cli), p)],
    ]);
  const per = bottle.map((x) => phases(x.lines, x.ms));
  printTable('where bottle start spends it (median per phase, from its progress lines)', ['phase', 'median', 'share'],
    MARKS.map(({ phase }) => {
      const m = median(per.map((x) => x.get(phase) ?? 0));
      return [phase, formatMs(m), `${((100 * m) / b).toFixed(0)}%`];
    }));
  const target = b <= 1.2 * p;
  process.stdout.write(`target bottle ≤ 1.2x bare (issue 19): ${target ? 'met' : 'NOT met'} (${ratio(b, p)})\n`);
}
