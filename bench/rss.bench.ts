// Issue 19: a bottle's idle memory. Each round starts a real sandbox bottle the way
// `bottle start <agent> --yes --no-attach` does (preparePlan + startBottle on the docker
// backend, in this process, with a temp state dir and the sandbox e2e manifest plus a git
// upstream, so every daemon runs), lets it sit idle
// for BENCH_RSS_SETTLE_MS (default 10 s), then reads the bundle's memory from the engine's stats
// API (what `docker stats` shows: usage minus inactive_file) and each of its processes' VmRSS
// (/proc/<pid>/status through an exec), plus the agent container's for context, and removes the
// bottle. BENCH_RSS_ROUNDS (default 3) rounds, median. Target: bundle ≤ 70 MiB.
// BENCH_RSS_SIDECARS_IMAGE runs the bundle from another image (e.g. bottle-sidecars:rss, a
// candidate build) without retagging bottle-sidecars:latest, which other runs may be using.
// Needs a Docker engine and the images; prints a visible skip without them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SIDECARS_IMAGE } from '../lib/backends/bundle/names.js';
import { createDockerBackend, dockerNames } from '../lib/backends/docker/index.js';
import { engineBackends, type Backends } from '../lib/backends/index.js';
import { execIn } from '../lib/docker/api.js';
import { lifecycleDeps, removeBottleFully, startBottle } from '../lib/lifecycle/index.js';
import { locateManifest, readManifest } from '../lib/manifest/index.js';
import { preparePlan } from '../lib/plan/index.js';
import { imagesGate } from '../test/helpers/e2e.js';
import { IMAGES, prepareGit, sandboxEnv, sandboxManifest, sweep } from '../test/helpers/sandbox.js';
import { median } from './bringup/phases.js';
import { containerMemory, type ContainerMemory, type EngineMemoryStats, formatMiB, labelProcs, PROC_SCRIPT, parseProcs } from './lib/memory.js';
import { printTable } from './lib/index.js';

const ROUNDS = Number(process.env.BENCH_RSS_ROUNDS ?? 3);
const SETTLE_MS = Number(process.env.BENCH_RSS_SETTLE_MS ?? 10_000);
const IMAGE = process.env.BENCH_RSS_SIDECARS_IMAGE || DEFAULT_SIDECARS_IMAGE;
const TARGET_MIB = 70;
const AGENT = 'bench-rss';
const MIB = 1024 * 1024;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

const gate = await imagesGate([IMAGES[0], IMAGE]);
if (gate.skip) {
  process.stdout.write(`rss: skipped: ${gate.skip}\n`);
  process.exit(0);
}
const docker = gate.docker!;
const root = mkdtempSync(join(tmpdir(), 'bottle-bench-rss-'));
const env = { ...sandboxEnv(root), BOTTLE_SIDECAR_GRACE_MS: '2000' };
const manifestPath = join(root, 'bottle.yaml');
// A workspace with an origin upstream (a local bare repo), so git-gate runs as in most bottles.
writeFileSync(manifestPath, sandboxManifest(AGENT, prepareGit(root)));
// The docker backend with the bundle image under test; every other backend as the CLI has them.
const backends: Backends = {
  ...engineBackends,
  load: async (name, e) => (name === 'docker' ? createDockerBackend(e, { sidecarsImage: IMAGE }) : engineBackends.load(name, e)),
};
const deps = lifecycleDeps(env, { backends });
const made: string[] = [];

interface Round { bundle: ContainerMemory; agent: ContainerMemory; procs: Map<string, { rss: number; anon: number; file: number }> }

async function stats(name: string): Promise<ContainerMemory> {
  return containerMemory(await docker.getContainer(name).stats({ stream: false }) as EngineMemoryStats);
}

async function round(): Promise<Round> {
  const loaded = readManifest(locateManifest({ flag: manifestPath, cwd: root, env }));
  const plan = preparePlan(loaded, AGENT, { backend: 'docker' }, env);
  const meta = await startBottle(deps, plan, loaded.manifest.agents[AGENT]!, { log: () => undefined, signal: new AbortController().signal });
  made.push(meta.slug);
  try {
    await sleep(SETTLE_MS);
    const names = dockerNames(meta.slug);
    const ps = await execIn(docker.getContainer(names.bundle), ['sh', '-c', PROC_SCRIPT], { user: '0' });
    if (ps.exitCode !== 0) throw new Error(`reading /proc in the bundle failed (exit ${ps.exitCode}): ${ps.stderr}`);
    const [bundle, agent] = await Promise.all([stats(names.bundle), stats(names.agent)]);
    const procs = new Map(labelProcs(parseProcs(ps.stdout)).map((p) => [p.role, { rss: p.rss, anon: p.anon, file: p.file }]));
    return { bundle, agent, procs };
  } finally {
    await removeBottleFully(deps, meta.slug, () => undefined);
  }
}

const loadBefore = load();
try {
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  const med = (f: (r: Round) => number): string => formatMiB(median(rounds.map(f)));
  const bundle = median(rounds.map((r) => r.bundle.shown));
  printTable(`idle memory after ${SETTLE_MS / 1000} s, ${ROUNDS} rounds, median (engine stats API, cgroup ${rounds[0]!.bundle.cgroup}; bundle image ${IMAGE})`,
    ['container', 'docker stats', 'usage', 'inactive_file', 'anon'], [
      ['bundle', formatMiB(bundle), med((r) => r.bundle.usage), med((r) => r.bundle.inactiveFile), med((r) => r.bundle.anon ?? 0)],
      ['agent (context)', med((r) => r.agent.shown), med((r) => r.agent.usage), med((r) => r.agent.inactiveFile), med((r) => r.agent.anon ?? 0)],
    ]);
  const roles = [...new Set(rounds.flatMap((r) => [...r.procs.keys()]))];
  const of = (role: string, k: 'rss' | 'anon' | 'file') => median(rounds.map((r) => r.procs.get(role)?.[k] ?? 0));
  const sum = (k: 'rss' | 'anon' | 'file') => median(rounds.map((r) => [...r.procs.values()].reduce((a, p) => a + p[k], 0)));
  printTable('bundle processes (/proc/<pid>/status, median; RSS = anon + file + shmem, file pages are shared between processes)',
    ['process', 'VmRSS', 'RssAnon', 'RssFile'], [
      ...roles.map((role) => [role, formatMiB(of(role, 'rss')), formatMiB(of(role, 'anon')), formatMiB(of(role, 'file'))]),
      ['sum', formatMiB(sum('rss')), formatMiB(sum('anon')), formatMiB(sum('file'))],
    ]);
  process.stdout.write(`target bundle ≤ ${TARGET_MIB} MiB (docker stats): ${bundle <= TARGET_MIB * MIB ? 'met' : 'NOT met'} (${formatMiB(bundle)})\n`);
  process.stdout.write(`load average (1/5/15 min): ${loadBefore} before, ${load()} after\n`);
} finally {
  for (const slug of made) await sweep(docker, slug);
  rmSync(root, { recursive: true, force: true });
}
