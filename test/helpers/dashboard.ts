// `bottle dashboard` in a private tmux server, on the fake backend (or, with `engine`, the real
// ones) and a temp state dir, for the dashboard's real-tmux tests, its e2e test and its bench.
// The dashboard runs from source (tsx; test/helpers/fake-main.ts unless `engine`) as the first
// pane's command; its exit code is written to a file (pane_dead_status is unreliable).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifecycleDeps, startBottle, stopBottle } from '../../lib/lifecycle/index.js';
import { locateManifest, readManifest } from '../../lib/manifest/index.js';
import { projectRoot } from '../../lib/paths.js';
import { preparePlan } from '../../lib/plan/index.js';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { writeProposal, type Proposal, type ProposalKind } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { RIGHT_PANE_OPTION } from '../../tmux/right-pane.js';
import { fakeBottleArgv, tsxArgv } from './cli.js';
import { fakeBackends } from './fake-backend.js';
import { pollUntil, startTmuxServer, type Finalizable, type TmuxTestServer } from './tmux.js';

export const EXAMPLE_MANIFEST = join(projectRoot(), 'examples', 'bottle.yaml');

// Generous: tsx start-up plus a loaded 2-core machine.
export const SLOW = { timeoutMs: 20_000 };

// The dashboard's env besides the tmux harness's: temp state, dummy credentials, the fake
// backend's pace (unless `engine`).
export function dashboardEnv(stateDir: string, extra: Record<string, string> = {}, o: { engine?: boolean } = {}): Record<string, string> {
  return {
    BOTTLE_STATE_DIR: stateDir,
    ...(o.engine ? {} : { BOTTLE_FAKE_STEP_MS: '150' }),
    ANTHROPIC_API_KEY: 'sk-test-dummy',
    GITHUB_TOKEN: 'ghp-test-dummy',
    ...extra,
  };
}

// argv of the CLI from source.
export function bottleArgv(...args: string[]): string[] {
  return [process.execPath, ...tsxArgv(), join(projectRoot(), 'commands', 'main.ts'), ...args];
}

export interface DashboardHarness {
  srv: TmuxTestServer;
  /** The dashboard's pane. */
  dash: string;
  stateDir: string;
  env: Record<string, string>;
  /** Polls the dashboard's screen (default) or another pane. */
  waitFor(re: RegExp, target?: string): Promise<string>;
  /** Key names, one send-keys each, spaced so none is taken as a paste. */
  keys(...names: string[]): Promise<void>;
  /** The right pane's id, as recorded in the window option. */
  rightPane(): Promise<string | undefined>;
  /** Waits for the dashboard process to exit; its exit code. */
  exitCode(): Promise<number>;
  /** Starts the dashboard again in its pane (respawn-pane -k: same pane id), like a new `bottle tmux`. */
  restart(): Promise<void>;
  /** A running fake bottle made in-process (not through the dashboard); its slug. */
  startFake(agent: string): Promise<string>;
  /** `bottle stop` in-process: the fake bottle's work is saved and it is stopped (listed). */
  stopFake(slug: string): Promise<void>;
  propose(slug: string, host: string, kind?: ProposalKind): Promise<Proposal>;
}

export interface DashboardHarnessOptions {
  env?: Record<string, string>;
  /** The manifest passed with --manifest (default: examples/bottle.yaml). */
  manifest?: string;
  /** Real engine backends (e2e tier): commands/main.ts instead of test/helpers/fake-main.ts. */
  engine?: boolean;
  args?: string[];
  width?: number;
  height?: number;
  /** Run with TMUX and TMUX_PANE unset: the dashboard's outside-tmux mode, in a tmux pane. */
  outsideTmux?: boolean;
  /** Bottles to create before the dashboard starts. */
  before?: (h: Pick<DashboardHarness, 'startFake' | 'stopFake' | 'propose' | 'stateDir' | 'env'>) => Promise<void>;
}

export async function startDashboard(t: Finalizable, opts: DashboardHarnessOptions = {}): Promise<DashboardHarness> {
  // A short temp path: the dashboard's IPC socket lives under it (unix sockets: 108 bytes max).
  const dir = await mkdtemp(join(tmpdir(), 'bottle-dash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  await mkdir(stateDir, { recursive: true });
  const manifest = opts.manifest ?? EXAMPLE_MANIFEST;
  const env = dashboardEnv(stateDir, opts.env, { engine: opts.engine === true });
  const inProcEnv = { ...process.env, ...env, BOTTLE_FAKE_STEP_MS: '0' };
  const startFake = async (agent: string): Promise<string> => {
    if (opts.engine) throw new Error('startFake: this dashboard runs on the real backends');
    const loaded = readManifest(locateManifest({ flag: manifest, cwd: projectRoot(), env: inProcEnv }));
    const plan = preparePlan(loaded, agent, {}, inProcEnv);
    const meta = await startBottle(lifecycleDeps(inProcEnv, { backends: fakeBackends }), plan, loaded.manifest.agents[agent]!, { log: () => undefined, signal: new AbortController().signal });
    return meta.slug;
  };
  const stopFake = async (slug: string): Promise<void> => {
    if (opts.engine) throw new Error('stopFake: this dashboard runs on the real backends');
    await stopBottle(lifecycleDeps(inProcEnv, { backends: fakeBackends }), slug, () => undefined);
  };
  const propose = (slug: string, host: string, kind: ProposalKind = 'allowlist') =>
    writeProposal(bottlePaths(stateDir, slug).superviseQueue, { kind, host, reason: `need ${host} for the build` }, { policyFile: policyFilePath(bottlePaths(stateDir, slug)) });
  if (opts.before) await opts.before({ startFake, stopFake, propose, stateDir, env });

  const rcFile = join(dir, 'dashboard.rc');
  const argv = [
    ...(opts.outsideTmux ? ['env', '-u', 'TMUX', '-u', 'TMUX_PANE'] : []),
    ...(opts.engine ? bottleArgv : fakeBottleArgv)('dashboard', '--manifest', manifest, ...(opts.args ?? [])),
  ];
  // The trap keeps this shell alive through a Ctrl-C meant for a foreground child (a trapped
  // signal, unlike an ignored one, is reset to the default in the children).
  const command = ['sh', '-c', 'trap true INT; rc=$1; shift; "$@"; echo $? > "$rc"; exec sleep 3600', 'sh', rcFile, ...argv];
  const srv = await startTmuxServer(t, { width: opts.width ?? 160, height: opts.height ?? 40, env, command });
  const h: DashboardHarness = {
    srv, dash: srv.pane, stateDir, env, startFake, stopFake, propose,
    waitFor: (re, target) => srv.waitForText(re, { ...SLOW, ...(target ? { target } : {}) }),
    keys: (...names) => srv.sendKeys(names, { spacingMs: 120 }),
    rightPane: async () => (await srv.client.showOption({ scope: 'window', target: srv.pane, name: RIGHT_PANE_OPTION }))?.trim(),
    restart: async () => {
      await rm(rcFile, { force: true });
      await srv.client.respawn({ target: srv.pane, command });
    },
    exitCode: () => pollUntil('the dashboard to exit', async () => (existsSync(rcFile) ? readFileSync(rcFile, 'utf8').trim() || undefined : undefined), {
      ...SLOW, describe: async () => `dashboard screen:\n${await srv.capture().catch((e: Error) => e.message)}`,
    }).then((n) => Number(n)),
  };
  return h;
}
