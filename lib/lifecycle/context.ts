// What every lifecycle operation needs: where state lives, the host env, and backends.
import { engineBackends, type Backends } from '../backends/index.js';
import type { Backend, EngineState } from '../backends/types.js';
import { envForEngine, parseEngineRecord } from '../docker/engine.js';
import type { Ctx } from '../cli.js';
import { UserError } from '../errors.js';
import { listBottles, readMetadata, stateRoot, validateSlug, type Metadata } from '../state/index.js';
import { appendFileSync, existsSync } from 'node:fs';
import { bottlePaths } from '../state/index.js';

export interface LifecycleDeps {
  root: string;
  env: NodeJS.ProcessEnv;
  backends: Backends;
  now: () => Date;
}

// The deps the CLI uses; tests pass their own root/env/backends.
export function lifecycleDeps(env: NodeJS.ProcessEnv, overrides: Partial<LifecycleDeps> = {}): LifecycleDeps {
  return { root: stateRoot(env), env, backends: engineBackends, now: () => new Date(), ...overrides };
}

// The deps of one CLI invocation: its env, and the backends it was given (if any).
export function cliDeps(ctx: Pick<Ctx, 'env' | 'backends'>): LifecycleDeps {
  return lifecycleDeps(ctx.env, ctx.backends ? { backends: ctx.backends } : {});
}

// Metadata of an existing bottle named by its slug or a unique prefix of it (every verb that
// takes a slug resolves it here), with an error that lists the bottles there are.
export async function findBottle(deps: LifecycleDeps, slug: string): Promise<Metadata> {
  validateSlug(slug);
  if (existsSync(bottlePaths(deps.root, slug).metadata)) return readMetadata(deps.root, slug);
  const known = (await listBottles(deps.root)).filter((b) => b.ok).map((b) => b.slug).sort();
  const prefixed = known.filter((k) => k.startsWith(slug));
  if (prefixed.length === 1) return readMetadata(deps.root, prefixed[0]!);
  if (prefixed.length > 1) throw new UserError(`${slug} is ambiguous: it starts ${prefixed.join(', ')}; give more of the slug`);
  const hint = known.length ? `bottles: ${known.join(', ')}` : 'there are no bottles; start one with bottle start <agent>';
  throw new UserError(`no bottle named ${slug}; ${hint}`);
}

// The host env pointed at the engine a bottle was launched on (recorded in its metadata), so a
// bottle started with DOCKER_HOST or a context is found again from any shell.
export function bottleEnv(env: NodeJS.ProcessEnv, meta: Metadata): NodeJS.ProcessEnv {
  return envForEngine(env, parseEngineRecord(meta.backendData?.engine));
}

// The backend that reaches `meta`'s bottle, on its own engine.
export async function backendOf(deps: Pick<LifecycleDeps, 'backends' | 'env'>, meta: Metadata): Promise<Backend> {
  return deps.backends.load(meta.backend, bottleEnv(deps.env, meta));
}

// A bring-up's two sinks: `record` writes bringup.log only (what the dashboard tails), `log`
// writes it and shows it to the caller. Resume uses the same pair.
export function bringupLogger(file: string, show: (line: string) => void): { record: (line: string) => void; log: (line: string) => void } {
  const record = (line: string): void => {
    try { appendFileSync(file, `${line}\n`); } catch { /* state removed under us */ }
  };
  return { record, log: (line) => { record(line); show(line); } };
}

// The engine's view of one bottle; 'unknown' when the engine cannot be asked (a probe: never throws).
export async function engineStateOf(backend: Backend, meta: Metadata): Promise<EngineState | 'unknown'> {
  return (await backend.inspect([meta]).catch(() => new Map<string, EngineState>())).get(meta.slug) ?? 'unknown';
}
