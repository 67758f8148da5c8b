// A backend with no engine, for tests only: bottles are records in the state dir, bring-up
// prints progress lines, and "claude" is a recognisable shell loop. It is injected (`fakeBackends`
// as LifecycleDeps.backends in-process; test/helpers/fake-main.ts for a CLI process and the
// dashboard and children it starts), never selected by anything in the environment.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../lib/errors.js';
import { LaunchAbortedError } from '../../lib/backends/bundle/launch.js';
import type { BundleControl } from '../../lib/proposals/control.js';
import { bottlePaths, stateRoot, type BottlePaths, type Metadata } from '../../lib/state/index.js';
import type { Backends } from '../../lib/backends/index.js';
import type { Backend, ClaudeInvocation, EngineResource, EngineState, LaunchContext, LaunchResult } from '../../lib/backends/types.js';
import { routeVarNames, type BottlePlan } from '../../lib/plan/index.js';

// routeValues: sha256 of each route variable's value as launch saw it (tests compare digests;
// the values themselves are never written). exited: the "containers" exist but do not run (a
// crash; crashFake sets it), so inspect says 'exited' and only wake makes exec work again.
interface FakeRecord { running: boolean; controlCalls: string[]; routeValues?: Record<string, string>; exited?: boolean }

// The fake agent's filesystem: a host dir per bottle standing in for the container's, so the
// lifecycle's real save/restore scripts run against real git. Agent paths in argv map into it.
const AGENT_ROOTS = ['/workspace', '/home/node', '/tmp/bottle-'];
export function fakeAgentRoot(env: NodeJS.ProcessEnv, slug: string): string {
  return join(bottlePaths(stateRoot(env), slug).dir, 'fake-agent');
}
const inAgent = (root: string, arg: string): string => (AGENT_ROOTS.some((r) => arg.startsWith(r)) ? `${root}${arg}` : arg);

// Simulates a crash (engine restart, reboot): the bottle's containers exist but are stopped.
export function crashFake(env: NodeJS.ProcessEnv, slug: string): void {
  const f = join(bottlePaths(stateRoot(env), slug).dir, 'fake-engine.json');
  const rec = JSON.parse(readFileSync(f, 'utf8')) as FakeRecord;
  writeFileSync(f, JSON.stringify({ ...rec, running: false, exited: true }));
}

// Test knobs: BOTTLE_FAKE_STEP_MS (delay per bring-up line), BOTTLE_FAKE_FAIL=launch|teardown,
// BOTTLE_FAKE_ATTACH_MS (claude's start-up time before it takes the terminal).
export class FakeBackend implements Backend {
  readonly name = 'fake' as const;
  private readonly stepMs: number;

  constructor(private readonly env: NodeJS.ProcessEnv) {
    this.stepMs = Number(env.BOTTLE_FAKE_STEP_MS ?? '50');
  }

  private file(slug: string): string {
    return join(bottlePaths(stateRoot(this.env), slug).dir, 'fake-engine.json');
  }

  private read(slug: string): FakeRecord | undefined {
    const f = this.file(slug);
    if (!existsSync(f)) return undefined;
    return JSON.parse(readFileSync(f, 'utf8')) as FakeRecord;
  }

  private write(slug: string, rec: FakeRecord): void {
    writeFileSync(this.file(slug), JSON.stringify(rec));
  }

  async launch(plan: BottlePlan, ctx: LaunchContext): Promise<LaunchResult> {
    const started = Date.now();
    const steps = ['creating networks', 'starting sidecars', 'gateway ready', 'starting agent', 'provisioning agent'];
    for (const step of steps) {
      // As the engines' launches end an interrupted bring-up (lib/backends/bundle/launch.ts).
      if (ctx.signal.aborted) {
        ctx.log('interrupted: removing what was created');
        throw new LaunchAbortedError(ctx.slug);
      }
      ctx.log(`[fake] ${step} (${plan.agent})`);
      await sleep(this.stepMs);
      if (this.env.BOTTLE_FAKE_FAIL === 'launch' && step === 'starting agent') {
        ctx.log('[fake] tearing down after failure');
        throw new UserError('fake launch failure (BOTTLE_FAKE_FAIL=launch)');
      }
    }
    const root = fakeAgentRoot(this.env, ctx.slug);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'workspace'), { recursive: true });
    mkdirSync(join(root, 'home/node/.claude'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    if (plan.workspace) {
      cpSync(join(plan.workspace, '.git'), join(root, 'workspace/.git'), { recursive: true });
      spawnSync('git', ['checkout', '-f', '--quiet'], { cwd: join(root, 'workspace'), env: this.gitEnv(root) });
    }
    const routeValues = Object.fromEntries(routeVarNames(plan.egress.routes).map((n) => [n, createHash('sha256').update(ctx.env[n] ?? '').digest('hex')]));
    this.write(ctx.slug, { running: true, controlCalls: [], routeValues });
    ctx.log(`bottle ${ctx.slug} is up (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return { resources: { containers: [`fake-${ctx.slug}-agent`, `fake-${ctx.slug}-sidecars`] }, backendData: { fake: true } };
  }

  attachArgv(meta: Metadata, claude: ClaudeInvocation): string[] {
    const ms = Number(this.env.BOTTLE_FAKE_ATTACH_MS ?? '0');
    if (ms > 0) {
      // Like docker exec -it and claude: a start-up delay, then the terminal taken (raw, no echo)
      // before the first line; a typed Ctrl-C gives the terminal back as it was and quits.
      const script = 'sleep "$3"; old=$(stty -g); stty raw -echo; printf \'fake claude for %s: %s\\r\\n\' "$1" "$2"; '
        + 'c=; while [ "$c" != "$(printf \'\\003\')" ]; do c=$(dd bs=1 count=1 2>/dev/null); done; stty "$old"';
      return ['sh', '-c', script, 'fake-claude', meta.slug, claude.args.join(' '), String(ms / 1000)];
    }
    const script = 'echo "fake claude for $1: $2"; while :; do sleep 1; done';
    return ['sh', '-c', script, 'fake-claude', meta.slug, claude.args.join(' ')];
  }

  private gitEnv(root: string): NodeJS.ProcessEnv {
    return { PATH: this.env.PATH ?? process.env.PATH, HOME: join(root, 'home/node'), GIT_CONFIG_NOSYSTEM: '1', LANG: 'C' };
  }

  // Runs argv on the host inside the fake agent's filesystem, when the agent "runs".
  async exec(meta: Metadata, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const rec = this.read(meta.slug);
    const root = fakeAgentRoot(this.env, meta.slug);
    if (!rec?.running || !existsSync(root)) return { exitCode: 125, stdout: '', stderr: `fake backend: ${meta.slug} is not running` };
    const r = spawnSync(argv[0]!, argv.slice(1).map((a) => inAgent(root, a)), { cwd: join(root, 'workspace'), env: this.gitEnv(root), encoding: 'utf8' });
    return { exitCode: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  async copyOut(meta: Metadata, agentPath: string, dir: string): Promise<{ files: number }> {
    const from = inAgent(fakeAgentRoot(this.env, meta.slug), agentPath);
    if (!this.read(meta.slug) || !existsSync(from)) throw new Error(`copying ${agentPath} out of ${meta.slug}: not there`);
    cpSync(from, join(dir, basename(agentPath)), { recursive: true });
    return { files: countFiles(join(dir, basename(agentPath))) };
  }

  async copyIn(meta: Metadata, hostDir: string, agentPath: string): Promise<void> {
    const to = inAgent(fakeAgentRoot(this.env, meta.slug), agentPath);
    mkdirSync(to, { recursive: true });
    cpSync(hostDir, to, { recursive: true });
  }

  async wake(meta: Metadata): Promise<void> {
    const rec = this.read(meta.slug);
    if (!rec?.exited) throw new Error(`fake backend: ${meta.slug} has no stopped containers`);
    this.write(meta.slug, { ...rec, running: true, exited: false });
  }

  async teardown(meta: Metadata, log: (line: string) => void): Promise<void> {
    for (const step of ['stopping agent', 'stopping sidecars', 'removing networks']) {
      log(`[fake] ${step}`);
      await sleep(this.stepMs);
    }
    if (this.env.BOTTLE_FAKE_FAIL === 'teardown') throw new UserError('fake teardown failure');
    if (existsSync(this.file(meta.slug))) this.write(meta.slug, { ...(this.read(meta.slug) ?? { controlCalls: [] }), running: false, exited: false });
    rmSync(fakeAgentRoot(this.env, meta.slug), { recursive: true, force: true });
  }

  async inspect(metas: Metadata[]): Promise<Map<string, EngineState>> {
    return new Map(metas.map((m) => {
      const rec = this.read(m.slug);
      return [m.slug, rec?.running ? 'running' : rec?.exited ? 'exited' : 'missing'];
    }));
  }

  async listResources(): Promise<EngineResource[]> {
    return [];
  }

  async removeResource(): Promise<void> {}

  // The fake's "bundle" writes the state dir directly: nothing to copy back.
  async pull(): Promise<void> {}

  async follow(_meta: Metadata, _paths: BottlePaths, opts: { signal: AbortSignal }): Promise<void> {
    if (!opts.signal.aborted) await new Promise((resolve) => opts.signal.addEventListener('abort', resolve, { once: true }));
  }

  control(meta: Metadata): BundleControl {
    const record = (call: string): void => {
      const rec = this.read(meta.slug);
      if (rec) this.write(meta.slug, { ...rec, controlCalls: [...rec.controlCalls, call] });
    };
    return {
      name: 'fake',
      live: Boolean(this.read(meta.slug)?.running),
      reload: async () => record('reload'),
      provideSecrets: async (_slug, names) => record(`secrets:${names.join(',')}`),
    };
  }
}

// Every bottle on the fake backend, whatever the manifest asks for; no engine for cleanup to list.
export const fakeBackends: Backends = {
  choose: () => 'fake',
  load: async (_name, env) => new FakeBackend(env),
  engines: [],
};

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}
