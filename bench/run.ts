// `npm run bench [-- name...]`: runs bench/*.bench.ts one after another, each in its own
// node process (a clean heap and JIT per bench), streaming its output as it comes.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatMs } from './lib/table.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const SUFFIX = '.bench.ts';
// A bench that runs longer than this is stuck, not slow; override with BENCH_TIMEOUT_MS.
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 10 * 60_000);

interface Result {
  name: string;
  ok: boolean;
  ms: number;
  why?: string;
}

// `pki`, `pki.bench.ts` and `bench/pki.bench.ts` all name the same bench.
function select(available: readonly string[], wanted: readonly string[]): string[] {
  if (wanted.length === 0) return [...available];
  const unknown: string[] = [];
  const chosen = wanted.map((arg) => {
    const name = basename(arg).replace(/\.bench\.ts$/, '');
    if (!available.includes(name)) unknown.push(arg);
    return name;
  });
  if (unknown.length > 0) {
    process.stderr.write(`bench: no such bench: ${unknown.join(', ')}; available: ${available.join(', ') || '(none)'}\n`);
    process.exit(2);
  }
  return [...new Set(chosen)];
}

function runOne(name: string): Promise<Result> {
  const file = join(benchDir, `${name}${SUFFIX}`);
  const start = performance.now();
  return new Promise((resolve) => {
    // cwd = project root, so `--import tsx` resolves from the project's node_modules.
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    const done = (ok: boolean, why?: string) => {
      clearTimeout(timer);
      resolve({ name, ok, ms: performance.now() - start, why });
    };
    child.once('error', (err) => done(false, err.message));
    child.once('exit', (code, signal) => {
      if (code === 0) done(true);
      else if (timedOut) done(false, `timed out after ${formatMs(TIMEOUT_MS)}`);
      else done(false, signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  });
}

async function main(): Promise<number> {
  const available = readdirSync(benchDir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
  const names = select(available, process.argv.slice(2));
  const results: Result[] = [];
  const start = performance.now();
  for (const name of names) {
    process.stdout.write(`\n=== ${name} (${relative(root, join(benchDir, name + SUFFIX))}) ===\n\n`);
    const result = await runOne(name);
    results.push(result);
    process.stdout.write(`--- ${name}: ${result.ok ? 'ok' : `FAILED (${result.why})`} in ${formatMs(result.ms)}\n`);
  }
  const failed = results.filter((r) => !r.ok);
  process.stdout.write(
    `\n${results.length} bench(es), ${failed.length} failed, total ${formatMs(performance.now() - start)}` +
      `${failed.length > 0 ? `: ${failed.map((r) => r.name).join(', ')}` : ''}\n`,
  );
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
