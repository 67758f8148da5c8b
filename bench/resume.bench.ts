// `bottle resume` of a stopped bottle until the agent is ready for attach, against a fresh
// `bottle start` of the same agent in the same run (issue 14: target resume ≤ 1.5× start). Both
// run as users run them (bin/bottle.js on the compiled dist/). Each round: start (timed), the
// agent makes a commit, an uncommitted change and a claude session file, stop (untimed, saves),
// resume (timed: launch + restore of the saved work), rm. One untimed warm-up round first.
// BENCH_RESUME_ROUNDS (default 5). Needs a Docker engine and the images; a visible skip without.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execIn } from '../lib/docker/api.js';
import { dockerNames } from '../lib/backends/docker/index.js';
import { lifecycleDeps, removeBottleFully, stopBottle } from '../lib/lifecycle/index.js';
import { sandboxEnv, sandboxGate, sandboxManifest, spawnBottle, sweep } from '../test/helpers/sandbox.js';
import { median } from './bringup/phases.js';
import { ensureDistBuilt } from './lib/dist.js';
import { formatMs, printTable, ratio } from './lib/index.js';

const ROUNDS = Number(process.env.BENCH_RESUME_ROUNDS ?? 5);
const AGENT = 'bench-resume';

// The CLI users run is the compiled one: rebuild dist/ first when it is stale.
await ensureDistBuilt('resume');
const gate = await sandboxGate().catch((e: Error) => ({ skip: e.message, docker: undefined }));
if (gate.skip) {
  process.stdout.write(`resume: skipped: ${gate.skip}\n`);
  process.exit(0);
}
const docker = gate.docker!;
const root = mkdtempSync(join(tmpdir(), 'bottle-bench-resume-'));
const env = sandboxEnv(root);
const deps = lifecycleDeps(env);
const workspace = join(root, 'ws');
mkdirSync(workspace);
const git = (...args: string[]): void => { execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b.invalid', ...args], { cwd: workspace, stdio: 'pipe' }); };
git('init', '-q', '-b', 'main');
for (let i = 0; i < 200; i++) writeFileSync(join(workspace, `f${i}.txt`), `file ${i}\n`.repeat(50));
git('add', '.');
git('commit', '-qm', 'base');
const manifest = join(root, 'bottle.yaml');
writeFileSync(manifest, sandboxManifest(AGENT, { workspace }));
const made: string[] = [];

async function timed(args: string[]): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const r = await spawnBottle(args, env, undefined, { compiled: true }).done;
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`bottle ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return { ms, stdout: r.stdout };
}

async function round(): Promise<{ start: number; resume: number }> {
  const start = await timed(['start', AGENT, '--yes', '--no-attach', '--manifest', manifest]);
  const slug = start.stdout.trim();
  made.push(slug);
  const work = [
    'echo feature > feature.txt && git add feature.txt && git commit -qm work',
    'echo changed >> f1.txt && echo new > new.txt',
    'mkdir -p ~/.claude/projects/-workspace && head -c 200000 /dev/urandom | base64 > ~/.claude/projects/-workspace/00000000-0000-4000-8000-000000000000.jsonl',
  ].join(' && ');
  const w = await execIn(docker.getContainer(dockerNames(slug).agent), ['sh', '-c', work], { user: 'node', workdir: '/workspace' });
  if (w.exitCode !== 0) throw new Error(`agent work failed: ${w.stderr}`);
  await stopBottle(deps, slug, () => undefined);
  const resume = await timed(['resume', slug, '--no-attach']);
  await removeBottleFully(deps, slug, () => undefined);
  return { start: start.ms, resume: resume.ms };
}

try {
  await round();
  const rounds: Array<{ start: number; resume: number }> = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  const s = median(rounds.map((r) => r.start));
  const r = median(rounds.map((x) => x.resume));
  printTable(`resume vs fresh start, ${ROUNDS} rounds each, median (resume restores 1 commit, 2 changed files, a 270 KB session)`,
    ['what', 'median', 'min', 'max', 'vs start'], [
      ['bottle resume --no-attach', formatMs(r), formatMs(Math.min(...rounds.map((x) => x.resume))), formatMs(Math.max(...rounds.map((x) => x.resume))), ratio(r, s)],
      ['bottle start --yes --no-attach', formatMs(s), formatMs(Math.min(...rounds.map((x) => x.start))), formatMs(Math.max(...rounds.map((x) => x.start))), '1.00x'],
    ]);
  process.stdout.write(`target resume ≤ 1.5x start: ${r <= 1.5 * s ? 'met' : 'NOT met'} (${ratio(r, s)})\n`);
} finally {
  for (const slug of made) await sweep(docker, slug);
  rmSync(root, { recursive: true, force: true });
}
