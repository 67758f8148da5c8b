// Runs the bottle CLI for tests: in-process (fast, captured output) or as a real subprocess.
import { execa } from 'execa';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '../../commands/cli.js';
import type { Ctx } from '../../lib/cli.js';
import { run } from '../../lib/run/index.js';
import { projectRoot } from '../../lib/paths.js';

export interface CliResult { exitCode: number; stdout: string; stderr: string }

export async function bottleInProcess(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const ctx: Ctx = {
    env: opts.env ?? { ...process.env },
    cwd: opts.cwd ?? process.cwd(),
    run,
    out: (t) => { stdout += t.endsWith('\n') ? t : `${t}\n`; },
    err: (t) => { stderr += t.endsWith('\n') ? t : `${t}\n`; },
    isTTY: false,
  };
  const exitCode = await runCli(args, ctx);
  return { exitCode, stdout, stderr };
}

// Spawns `node --import tsx commands/main.ts ...` so exit codes and stderr are the real ones.
export async function bottleProcess(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CliResult> {
  const root = projectRoot();
  const r = await execa(process.execPath, [...tsxArgv(), join(root, 'commands', 'main.ts'), ...args], {
    reject: false,
    cwd: opts.cwd ?? root,
    env: opts.env,
    extendEnv: opts.env === undefined,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : undefined,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

// `--import tsx` resolved from bottle's own node_modules, so it works from any cwd.
export function tsxArgv(): string[] {
  return ['--import', pathToFileURL(join(projectRoot(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];
}
