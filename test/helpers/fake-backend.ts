// A backend with no engine, for tests only: bottles are records in the state dir, bring-up
// prints progress lines, and "claude" is a recognisable shell loop. It is injected (`fakeBackends`
// as LifecycleDeps.backends in-process; test/helpers/fake-main.ts for a CLI process and the
// dashboard and children it starts), never selected by anything in the environment.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../lib/errors.js';
import { LaunchAbortedError } from '../../lib/backends/bundle/launch.js';
import type { BundleControl } from '../../lib/proposals/control.js';
import { bottlePaths, stateRoot, type Metadata } from '../../lib/state/index.js';
import type { Backends } from '../../lib/backends/index.js';
import type { Backend, ClaudeInvocation, EngineResource, EngineState, LaunchContext, LaunchResult } from '../../lib/backends/types.js';
import { routeVarNames, type BottlePlan } from '../../lib/plan/index.js';

// routeValues: sha256 of each route variable's value as launch saw it (tests compare digests;
// the values themselves are never written).
interface FakeRecord { running: boolean; controlCalls: string[]; routeValues?: Record<string, string> }

// Test knobs: BOTTLE_FAKE_STEP_MS (delay per bring-up line), BOTTLE_FAKE_FAIL=launch|teardown.
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
    const routeValues = Object.fromEntries(routeVarNames(plan.egress.routes).map((n) => [n, createHash('sha256').update(ctx.env[n] ?? '').digest('hex')]));
    this.write(ctx.slug, { running: true, controlCalls: [], routeValues });
    ctx.log(`bottle ${ctx.slug} is up (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return { resources: { containers: [`fake-${ctx.slug}-agent`, `fake-${ctx.slug}-sidecars`] }, backendData: { fake: true } };
  }

  attachArgv(meta: Metadata, claude: ClaudeInvocation): string[] {
    const script = 'echo "fake claude for $1: $2"; while :; do sleep 1; done';
    return ['sh', '-c', script, 'fake-claude', meta.slug, claude.args.join(' ')];
  }

  async exec(_meta: Metadata, _argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return { exitCode: 1, stdout: '', stderr: 'fake backend: no sessions' };
  }

  async snapshotTranscript(meta: Metadata, dir: string, log: (line: string) => void): Promise<void> {
    writeFileSync(join(dir, 'fake-transcript.jsonl'), JSON.stringify({ slug: meta.slug }) + '\n');
    log('[fake] transcript saved');
  }

  async teardown(meta: Metadata, log: (line: string) => void): Promise<void> {
    for (const step of ['stopping agent', 'stopping sidecars', 'removing networks']) {
      log(`[fake] ${step}`);
      await sleep(this.stepMs);
    }
    if (this.env.BOTTLE_FAKE_FAIL === 'teardown') throw new UserError('fake teardown failure');
    if (existsSync(this.file(meta.slug))) this.write(meta.slug, { ...(this.read(meta.slug) ?? { controlCalls: [] }), running: false });
  }

  async inspect(metas: Metadata[]): Promise<Map<string, EngineState>> {
    return new Map(metas.map((m) => [m.slug, this.read(m.slug)?.running ? 'running' : 'missing']));
  }

  async listResources(): Promise<EngineResource[]> {
    return [];
  }

  async removeResource(): Promise<void> {}

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
