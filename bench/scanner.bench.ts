// Benchmark: bottle's secret scanner (gitScanner) against secretlint 12 with its recommended
// preset, in the same process on the same inputs: throughput over node_modules' .js files,
// recall on a generated labelled set, findings (false positives) on the clean corpus.
// Run: npx tsx bench/scanner.bench.ts [--mb N]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '@secretlint/node';
import { secretLintProfiler } from '@secretlint/profiler';
import { gitScanner, ruleStats } from '../lib/secrets/index.js';
import { projectRoot } from '../lib/paths.js';
import { plantedCorpus, type PlantedCorpus } from './corpus/planted.js';
import { formatTable, ratio } from './lib/index.js';

export interface BenchTable {
  title: string;
  columns: string[];
  rows: string[][];
}

interface Doc { path: string; text: string }
type LineFinder = (doc: Doc) => Promise<number[]>; // 1-based lines with a finding

// Every .js file under node_modules, in a stable order, until `capBytes` is reached.
function loadCorpus(capBytes: number): Doc[] {
  const root = join(projectRoot(), 'node_modules');
  const docs: Doc[] = [];
  let total = 0;
  const walk = (dir: string): boolean => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return true; }
    for (const name of names) {
      if (name === '.bin' || name === '.cache') continue;
      const p = join(dir, name);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) { if (!walk(p)) return false; continue; }
      if (!name.endsWith('.js') || st.size > 2 * 1024 * 1024) continue;
      const text = readFileSync(p, 'utf8');
      // Paths relative to node_modules: gitleaks's global allowlist would skip `node_modules/…`.
      docs.push({ path: relative(root, p).split(sep).join('/'), text });
      total += Buffer.byteLength(text);
      if (total >= capBytes) return false;
    }
    return true;
  };
  walk(root);
  return docs;
}

async function secretlintFinder(): Promise<LineFinder> {
  // secretlint's always-on profiler records performance marks whose measures are computed later,
  // outside any timed region, at a cost that grows with the number of calls (minutes for a few
  // thousand files). Disabling it only makes secretlint faster.
  secretLintProfiler.mark = () => {};
  const engine = await createEngine({
    formatter: 'json',
    color: false,
    maskSecrets: true,
    configFileJSON: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] },
  });
  return async (doc) => {
    const r = await engine.executeOnContent({ content: doc.text, filePath: doc.path });
    if (r.ok) return [];
    const results = JSON.parse(r.output) as Array<{ messages: Array<{ loc: { start: { line: number } } }> }>;
    return results.flatMap((x) => x.messages.map((m) => m.loc.start.line));
  };
}

function oursFinder(): LineFinder {
  const scanner = gitScanner();
  return async (doc) => scanner.scan(doc.text, { path: doc.path }).map((f) => f.line);
}

// CPU time, not wall time: the machine may be shared, and both tools run on this one thread.
async function throughput(find: LineFinder, docs: Doc[]): Promise<{ ms: number; findings: number }> {
  const c0 = process.cpuUsage();
  let findings = 0;
  for (const d of docs) findings += (await find(d)).length;
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, findings };
}

async function recall(find: LineFinder, corpus: PlantedCorpus): Promise<{ found: number; missed: Map<string, number> }> {
  let found = 0;
  const missed = new Map<string, number>();
  for (const f of corpus.files) {
    const lines = await find({ path: f.name, text: f.text });
    for (const p of corpus.planted.filter((x) => x.file === f.name)) {
      if (lines.some((l) => l >= p.line && l <= p.endLine)) found++;
      else missed.set(p.family, (missed.get(p.family) ?? 0) + 1);
    }
  }
  return { found, missed };
}

// Runs the comparison and prints one table; returns it for bench/run.ts.
export async function main(argv: string[] = process.argv.slice(2)): Promise<BenchTable[]> {
  const mbArg = argv.indexOf('--mb');
  const capMb = mbArg >= 0 ? Number(argv[mbArg + 1]) : 30;
  const docs = loadCorpus(capMb * 1024 * 1024);
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
  const corpus = plantedCorpus();
  // Setup: loading the rules and building the scanner (bottle builds its anchor plan later, in
  // the first large scan, so the cold pass below includes that).
  const setup = async <T>(f: () => T | Promise<T>): Promise<{ value: T; ms: number }> => {
    const c0 = process.cpuUsage();
    const value = await f();
    const c = process.cpuUsage(c0);
    return { value, ms: (c.user + c.system) / 1000 };
  };
  const { value: stats, ms: statsMs } = await setup(() => ruleStats());
  const { value: ours, ms: oursMs } = await setup(() => oursFinder());
  const { value: theirs, ms: theirsMs } = await setup(() => secretlintFinder());
  // Pass 1 is cold (regex compilation, JIT): what one `bottle scan` sees. Pass 2 is warm: what a
  // long-running gateway or git gate sees. The tools alternate so machine load hits both alike.
  const cOurs = await throughput(ours, docs);
  const cTheirs = await throughput(theirs, docs);
  const tOurs = await throughput(ours, docs);
  const tTheirs = await throughput(theirs, docs);
  const rOurs = await recall(ours, corpus);
  const rTheirs = await recall(theirs, corpus);

  const mb = bytes / 1024 / 1024;
  const mbps = (ms: number): number => mb / (ms / 1000);
  const planted = corpus.planted.length;
  const pct = (n: number): string => `${((100 * n) / planted).toFixed(1)}% (${n}/${planted})`;
  const table: BenchTable = {
    title: `secret scanner: ${docs.length} .js files, ${mb.toFixed(1)} MB; ${planted} planted secrets in ${corpus.files.length} files; ` +
      `rules: ${stats.gitleaksPorted}/${stats.gitleaksTotal} gitleaks + ${stats.core} core`,
    columns: ['metric', 'bottle', 'secretlint 12', 'ratio (bottle/secretlint)'],
    rows: [
      ['setup (load rules, build scanner), CPU ms', (statsMs + oursMs).toFixed(0), theirsMs.toFixed(0), ratio(statsMs + oursMs, theirsMs)],
      ['CPU throughput MB/s, cold (1st pass)', mbps(cOurs.ms).toFixed(1), mbps(cTheirs.ms).toFixed(1), ratio(mbps(cOurs.ms), mbps(cTheirs.ms))],
      ['CPU throughput MB/s, warm (2nd pass)', mbps(tOurs.ms).toFixed(1), mbps(tTheirs.ms).toFixed(1), ratio(mbps(tOurs.ms), mbps(tTheirs.ms))],
      ['recall', pct(rOurs.found), pct(rTheirs.found), ratio(rOurs.found, rTheirs.found)],
      ['findings on clean corpus', String(tOurs.findings), String(tTheirs.findings), ratio(tOurs.findings, tTheirs.findings)],
    ],
  };
  console.log(formatTable(table.title, table.columns, table.rows));
  const fmt = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
  console.log(`\nmissed by bottle: ${fmt(rOurs.missed)}`);
  console.log(`missed by secretlint: ${fmt(rTheirs.missed)}`);
  return [table];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
