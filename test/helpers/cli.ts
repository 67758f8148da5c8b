// Runs the bottle CLI for tests: in-process (fast, captured output) or as a real subprocess.
import { execa } from 'execa';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '../../commands/cli.js';
import type { Backends } from '../../lib/backends/index.js';
import type { Ctx } from '../../lib/cli.js';
import { run } from '../../lib/run/index.js';
import { projectRoot } from '../../lib/paths.js';

export interface CliResult { exitCode: number; stdout: string; stderr: string }

export async function bottleInProcess(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; backends?: Backends; isTTY?: boolean } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const ctx: Ctx = {
    env: opts.env ?? { ...process.env },
    cwd: opts.cwd ?? process.cwd(),
    run,
    out: (t) => { stdout += t.endsWith('\n') ? t : `${t}\n`; },
    err: (t) => { stderr += t.endsWith('\n') ? t : `${t}\n`; },
    isTTY: opts.isTTY ?? false,
    ...(opts.backends ? { backends: opts.backends } : {}),
  };
  const exitCode = await runCli(args, ctx);
  return { exitCode, stdout, stderr };
}

// argv of the CLI from source on the fake backend (test/helpers/fake-main.ts).
export function fakeBottleArgv(...args: string[]): string[] {
  return [process.execPath, ...tsxArgv(), join(projectRoot(), 'test', 'helpers', 'fake-main.ts'), ...args];
}

// Spawns `node --import tsx commands/main.ts ...` so exit codes and stderr are the real ones;
// `fake` runs it on the fake backend instead of the engines.
export async function bottleProcess(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; fake?: boolean } = {}): Promise<CliResult> {
  const root = projectRoot();
  const entry = opts.fake ? fakeBottleArgv().slice(1) : [...tsxArgv(), join(root, 'commands', 'main.ts')];
  const r = await execa(process.execPath, [...entry, ...args], {
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
