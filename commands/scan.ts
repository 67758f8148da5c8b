// `bottle scan [PATH|-] [--json] [--hygiene] [--ignore FP]...`: the git gate's secret scanner,
// run by hand on files, directories (gitignore-aware) or stdin. Exit 1 when something is found,
// 0 when clean, 2 when the input itself cannot be read. By default it judges like the git gate
// (boundary mode), so a clean result means the gate will accept the same content. Each finding
// carries the fingerprint an operator lists in the manifest's dlp.ignore for a known dummy.
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import { firstClause } from '../lib/format.js';
import { fingerprintProblem, gitScanner, ignoring, type Finding, type ScanMode } from '../lib/secrets/index.js';
import { listFiles, MAX_FILE_BYTES, readForScan, type Skipped } from '../lib/secrets/files.js';
import type { Ctx, Outcome } from '../lib/cli.js';

export interface ScanReport {
  findings: Array<{ path: string; line: number; column: number; ruleId: string; description: string; redacted: string; fingerprint: string }>;
  files: number;
  skipped: Skipped[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function add(report: ScanReport, path: string, found: Finding[]): void {
  for (const f of found) {
    report.findings.push({ path, line: f.line, column: f.column, ruleId: f.ruleId, description: f.description, redacted: f.redacted, fingerprint: f.fingerprint });
  }
}

// Scans the target and returns the report; throws UserError(…, 2) when the target is unreadable.
// `ignore`: fingerprints left out, as the manifest's dlp.ignore makes the git gate do.
export async function scanTarget(
  target: string, cwd: string, stdin: () => Promise<string> = readStdin, mode: ScanMode = 'boundary', ignore: readonly string[] = [],
): Promise<ScanReport> {
  const scanner = ignoring(gitScanner(mode), ignore);
  const report: ScanReport = { findings: [], files: 0, skipped: [] };
  if (target === '-') {
    const text = await stdin();
    if (Buffer.byteLength(text) > MAX_FILE_BYTES) report.skipped.push({ path: '-', reason: `larger than ${MAX_FILE_BYTES} bytes` });
    else add(report, '-', scanner.scan(text));
    report.files = 1;
    return report;
  }
  let files;
  try {
    files = listFiles(target, cwd, (s) => report.skipped.push(s), mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`scan: cannot read ${target}: ${why}`, 2);
  }
  for (const f of files) {
    const content = readForScan(f.abs);
    if (content.kind === 'skipped') {
      report.skipped.push({ path: f.path, reason: content.reason });
      continue;
    }
    report.files++;
    // Binary files still meet path-only rules (e.g. a committed .p12 bundle).
    add(report, f.path, scanner.scan(content.kind === 'text' ? content.text : '', { path: f.path }));
  }
  return report;
}

// One finding per line: the rule id and the gist of gitleaks' description (its full prose, a
// sentence or two about risks, stays in --json).
export function formatFinding(f: ScanReport['findings'][number]): string {
  const gist = firstClause(f.description);
  return `${f.path}:${f.line}:${f.column}: ${f.ruleId}: ${gist && gist !== f.ruleId ? `${gist}: ` : ''}${f.redacted} (${f.fingerprint})`;
}

export function registerScan(program: Command, ctx: Ctx, outcome: Outcome): void {
  program
    .command('scan')
    .description('scan files, a directory (honouring .gitignore) or stdin (-) for secrets; exit 1 if any are found')
    .argument('[path]', 'file, directory, or - for stdin', '.')
    .option('--json', 'print {findings, files, skipped} as JSON (each finding with its rule\'s full description; the lines give its first clause)')
    .option(
      '--hygiene',
      "honour gitleaks's allowlists, as gitleaks does on a developer's own tree: `gitleaks:allow` on a line, " +
        'skipped paths (lock files, node_modules/, vendor/, binary and document extensions, ...; node_modules/ ' +
          'is then not even walked), stopwords, ' +
        'and regexes on the secret, the match or the line. The default judges like the git gate, which honours ' +
        'none of these: only allowlists that explain the whole secret (e.g. ${{ secrets.X }}, a known example key).',
    )
    .option(
      '--ignore <fingerprint>',
      'leave out findings with this fingerprint (repeatable), as dlp.ignore in the manifest does for the gateway and the git gate',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .action(async (target: string, opts: { json?: boolean; hygiene?: boolean; ignore: string[] }) => {
      for (const fp of opts.ignore) {
        const problem = fingerprintProblem(fp);
        if (problem) throw new UserError(`scan: --ignore: ${problem}`, 2);
      }
      const report = await scanTarget(target, ctx.cwd, undefined, opts.hygiene ? 'hygiene' : 'boundary', opts.ignore);
      if (opts.json) {
        ctx.out(JSON.stringify(report));
      } else {
        for (const f of report.findings) ctx.out(formatFinding(f));
        for (const s of report.skipped) ctx.err(`bottle scan: skipped ${s.path}: ${s.reason}`);
        const n = report.findings.length;
        ctx.err(n === 0 ? `bottle scan: no secrets found in ${report.files} file(s)` : `bottle scan: ${n} finding(s) in ${report.files} file(s)`);
      }
      outcome.exitCode = report.findings.length > 0 ? 1 : 0;
    });
}
