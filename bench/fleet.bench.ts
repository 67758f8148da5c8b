// What cost does as work grows (issue 19): N bottles started at once (N = 1, 5, 10 by default)
// with `bottle start --yes --no-attach` on the compiled dist, against the peer in the same run:
// bench/bringup/bare.sh (same networks and containers with the docker CLI, no readiness wait, no
// provisioning) N at once. For each: wall time until all returned, the CLIs' own CPU (this
// process's reaped children), the engine's CPU (dockerd + containerd) and the containers' CPU
// (cgroup usage from the engine's stats, right after the start). Then, with the last N bottles
// still running, the dashboard (real backends, a private tmux server) idle CPU, and proposal →
// bell: an MCP proposal made inside a bottle (propose_allowlist_change through supervise) until
// the bell flag on the dashboard's window, timed from the proposal's own `created` stamp (the
// containers share this machine's clock) so no exec start-up is counted.
// Knobs: BENCH_FLEET_COUNTS (default 1,5,10), BENCH_FLEET_IDLE_S (30), BENCH_FLEET_BELLS (5).
// Needs a Docker engine, the images and tmux; prints a visible skip without them.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { dockerNames } from '../lib/backends/docker/index.js';
import { execIn } from '../lib/docker/api.js';
import { lifecycleDeps, removeBottleFully } from '../lib/lifecycle/index.js';
import { readQueue } from '../lib/proposals/index.js';
import { bottlePaths } from '../lib/state/index.js';
import { startDashboard } from '../test/helpers/dashboard.js';
import { IMAGES, mcpCall, sandboxEnv, sandboxGate, sandboxManifest, spawnBottle, sweep } from '../test/helpers/sandbox.js';
import { pollUntil, tmuxSkipReason } from '../test/helpers/tmux.js';
import { SEP } from '../tmux/format.js';
import { ensureDistBuilt } from './lib/dist.js';
import { formatMs, printTable, ratio, summarize } from './lib/index.js';

const COUNTS = (process.env.BENCH_FLEET_COUNTS ?? '1,5,10').split(',').map(Number).filter((n) => n > 0);
const IDLE_S = Number(process.env.BENCH_FLEET_IDLE_S ?? 30);
const BELLS = Number(process.env.BENCH_FLEET_BELLS ?? 5);
const AGENT = 'bench-fleet';
const BARE = fileURLToPath(new URL('./bringup/bare.sh', import.meta.url));
const PROBE = readFileSync(new URL('../test/e2e/fixtures/probes/mcp.mjs', import.meta.url), 'utf8');
const CLK_TCK = 100; // Linux USER_HZ
const run = promisify(execFile);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

// utime + stime (+ reaped children with `children`) of a process, in seconds.
function cpuSeconds(pid: number | 'self', children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) / CLK_TCK;
}

// The engine's own processes on this machine (dockerd, containerd), by /proc/*/comm.
function enginePids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      return ['dockerd', 'containerd'].includes(readFileSync(`/proc/${d}/comm`, 'utf8').trim()) ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

const engineCpu = (pids: number[]): number => pids.reduce((s, p) => { try { return s + cpuSeconds(p); } catch { return s; } }, 0);

// CPU the named containers used since they started (cgroup usage, from the engine's stats).
async function containersCpu(docker: Docker, names: string[]): Promise<number> {
  const ns = await Promise.all(names.map(async (n) => {
    const s = await docker.getContainer(n).stats({ stream: false }) as unknown as { cpu_stats?: { cpu_usage?: { total_usage?: number } } };
    return s.cpu_stats?.cpu_usage?.total_usage ?? 0;
  }));
  return ns.reduce((a, b) => a + b, 0) / 1e9;
}

interface Round { wallMs: number; cliCpu: number; engineCpu: number; containerCpu: number }

async function measure(docker: Docker, names: () => string[], body: () => Promise<void>): Promise<Round> {
  const pids = enginePids();
  const c0 = cpuSeconds('self', true) - cpuSeconds('self');
  const e0 = engineCpu(pids);
  const t0 = performance.now();
  await body();
  const wallMs = performance.now() - t0;
  const cliCpu = cpuSeconds('self', true) - cpuSeconds('self') - c0;
  const eng = engineCpu(pids) - e0;
  return { wallMs, cliCpu, engineCpu: eng, containerCpu: await containersCpu(docker, names()) };
}

async function main(): Promise<void> {
  const gate = await sandboxGate().catch((e: Error) => ({ skip: e.message, docker: undefined }));
  const tmuxSkip = await tmuxSkipReason();
  if (gate.skip || tmuxSkip) {
    process.stdout.write(`fleet: skipped: ${gate.skip ?? tmuxSkip}\n`);
    return;
  }
  const docker = gate.docker!;
  await ensureDistBuilt('fleet');
  const root = mkdtempSync(join(tmpdir(), 'bottle-bench-fleet-'));
  const env = sandboxEnv(root);
  const manifest = join(root, 'bottle.yaml');
  writeFileSync(manifest, sandboxManifest(AGENT));
  const made: string[] = [];
  const bare: string[] = [];
  const finalizers: (() => unknown)[] = [];
  const loadBefore = load();
  try {
    // One warm-up of each (page cache, image layers), untimed.
    const warm = spawnBottle(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest], env, () => undefined, { compiled: true });
    const w = await warm.done;
    if (w.code !== 0) throw new Error(`bottle start exited ${w.code}:\n${w.stderr}`);
    await removeBottleFully(lifecycleDeps(env), w.stdout.trim(), () => undefined);
    await run('sh', [BARE, 'up', `bottle-bench-fleet-${process.pid}-w`, IMAGES[1], IMAGES[0]]);
    await run('sh', [BARE, 'down', `bottle-bench-fleet-${process.pid}-w`, IMAGES[1], IMAGES[0]]);

    const rows: Array<[number, Round, Round]> = [];
    let live: string[] = [];
    for (const [k, n] of COUNTS.entries()) {
      // The peer first, torn down before the bottles come: with the last count's bottles kept
      // up, both at once would need more networks than the engine's default address pools hold.
      const names = Array.from({ length: n }, (_, i) => `bottle-bench-fleet-${process.pid}-${n}-${i}`);
      bare.push(...names);
      const peer = await measure(docker, () => names.flatMap((x) => [`${x}-agent`, `${x}-sidecars`]), async () => {
        await Promise.all(names.map((x) => run('sh', [BARE, 'up', x, IMAGES[1], IMAGES[0]])));
      });
      await Promise.all(names.map((x) => run('sh', [BARE, 'down', x, IMAGES[1], IMAGES[0]])));
      const slugs: string[] = [];
      const bottle = await measure(docker, () => slugs.flatMap((s) => [dockerNames(s).agent, dockerNames(s).bundle]), async () => {
        const rs = await Promise.all(Array.from({ length: n }, () => spawnBottle(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest], env, () => undefined, { compiled: true }).done));
        for (const r of rs) {
          const slug = r.stdout.trim();
          if (slug) { slugs.push(slug); made.push(slug); }
          if (r.code !== 0) throw new Error(`bottle start exited ${r.code}:\n${r.stderr}`);
        }
      });
      rows.push([n, bottle, peer]);
      // The last count's bottles stay up for the dashboard part.
      if (k === COUNTS.length - 1) live = slugs;
      else for (const s of slugs) await removeBottleFully(lifecycleDeps(env), s, () => undefined);
    }

    printTable(`N bottles started at once (peer: bare.sh N at once, same run); CPU in seconds`,
      ['N', 'who', 'wall', 'wall per bottle', 'CLI CPU', 'engine CPU', 'containers CPU', 'wall vs peer'],
      rows.flatMap(([n, b, p]) => [
        [n, 'bottle start', formatMs(b.wallMs), formatMs(b.wallMs / n), b.cliCpu.toFixed(2), b.engineCpu.toFixed(2), b.containerCpu.toFixed(2), ratio(b.wallMs, p.wallMs)],
        [n, 'peer: bare.sh', formatMs(p.wallMs), formatMs(p.wallMs / n), p.cliCpu.toFixed(2), p.engineCpu.toFixed(2), p.containerCpu.toFixed(2), '1.00x'],
      ]));
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    process.stdout.write(`wall per bottle at N=${last[0]} vs N=${first[0]}: bottle ${ratio(last[1].wallMs / last[0], first[1].wallMs / first[0])}, peer ${ratio(last[2].wallMs / last[0], first[2].wallMs / first[0])}\n\n`);

    // The dashboard over the live bottles (real backends: it follows each bundle).
    const t = { teardown: (fn: () => unknown) => { finalizers.push(fn); } };
    // The bench's env (its BOTTLE_STATE_DIR over the harness's own): the dashboard lists these bottles.
    const h = await startDashboard(t, { engine: true, manifest, env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string')) });
    await h.waitFor(new RegExp(`Agents \\(${live.length}\\)`));
    const ipc = await pollUntil('@bottle-ipc', async () => (await h.srv.client.showOption({ scope: 'session', target: h.dash, name: '@bottle-ipc' }))?.trim(), { timeoutMs: 30_000 });
    const pid = Number(/dashboard-(\d+)\.sock$/.exec(ipc)![1]);
    await sleep(12_000); // its first engine refresh and the bundle follows are up
    const c0 = cpuSeconds(pid, true);
    await sleep(IDLE_S * 1000);
    const idlePct = ((cpuSeconds(pid, true) - c0) / IDLE_S) * 100;

    const dashWin = (await h.srv.client.display('#{window_id}', h.dash)).trim();
    await h.srv.tmux(['new-window', '-t', `=${h.srv.session}:`, 'sleep 3600']);
    const bellFlag = async (): Promise<boolean> => (await h.srv.client.display(`#{window_bell_flag}${SEP}`, dashWin)).startsWith('1');
    const latency: number[] = [];
    for (let i = 0; i < BELLS; i++) {
      await h.srv.tmux(['select-window', '-t', dashWin]); // clears the flag
      await h.srv.tmux(['last-window', '-t', `=${h.srv.session}`]);
      await sleep(500);
      const slug = live[i % live.length]!;
      const host = `bell${i}.fleet.test`;
      // The tool call waits for a decision nobody makes: not awaited (stopping the bottle ends it).
      void execIn(docker.getContainer(dockerNames(slug).agent), ['node', '--input-type=module', '-e', PROBE, '--', 'http://supervise:9100/mcp', mcpCall('propose_allowlist_change', { host, reason: 'fleet bench' })], { user: 'node' }).catch(() => undefined);
      let bellAt = 0;
      await pollUntil('bell flag', async () => (await bellFlag()) && (bellAt = Date.now()) > 0, { timeoutMs: 20_000, intervalMs: 10 });
      const { proposals } = await readQueue(bottlePaths(env.BOTTLE_STATE_DIR!, slug).superviseQueue);
      const p = proposals.find((x) => x.payload.host === host);
      if (!p) throw new Error(`fleet: the bell rang but ${host}'s proposal is not in ${slug}'s queue`);
      latency.push(bellAt - Date.parse(p.created));
    }
    await h.keys('q');
    await h.exitCode();
    const ls = summarize(latency);
    printTable(`The dashboard with ${live.length} real bottles`, ['what', 'n', 'value', 'p99', 'target'], [
      ['idle CPU, % of a core (fs.watch, stat poll, engine refresh, bundle follows)', `${IDLE_S} s`, idlePct.toFixed(2), '', ''],
      ['proposal made in the bottle → bell (from its created stamp), p50', ls.n, formatMs(ls.p50), formatMs(ls.p99), '< 250 ms'],
    ]);
  } finally {
    for (const f of finalizers.reverse()) await Promise.resolve(f()).catch(() => undefined);
    for (const s of made) await removeBottleFully(lifecycleDeps(env), s, () => undefined).catch(() => sweep(docker, s));
    await Promise.all(bare.map((x) => run('sh', [BARE, 'down', x, IMAGES[1], IMAGES[0]]).catch(() => undefined)));
    rmSync(root, { recursive: true, force: true });
    process.stdout.write(`load average (1/5/15 min): ${loadBefore} before, ${load()} after\n`);
  }
}

await main();
