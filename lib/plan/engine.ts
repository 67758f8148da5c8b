// The engine a bottle runs on: a manifest `engines:` entry or `local` (the engine this shell
// selects), as the record launch reaches it by and the env pointed at it.
import { engineRecord, envForEngine, resolveDockerEndpoint, type EngineRecord } from '../docker/engine.js';
import { UserError } from '../errors.js';
import { LOCAL_ENGINE, engineNames } from '../manifest/engines.js';
import type { EngineSpec, Manifest } from '../manifest/types.js';
import { dirname } from 'node:path';
import { expandPath } from './prepare.js';

// The plan's engine: its manifest name and how to reach it (host, TLS, context).
export type PlanEngine = { name: string } & EngineRecord;

// Resolves `name` (an `engines:` entry or local) against `env`; `expand` resolves cert_path
// as other manifest paths are. A context that does not exist is a one-line error.
export function resolveEngine(
  engines: Manifest['engines'], name: string, env: NodeJS.ProcessEnv, expand: (p: string) => string = (p) => p,
): PlanEngine {
  if (name === LOCAL_ENGINE) return { name, ...engineRecord(resolveDockerEndpoint(env)) };
  const spec: EngineSpec | undefined = engines && Object.hasOwn(engines, name) ? engines[name] : undefined;
  if (!spec) throw new UserError(unknownEngineText(name, engines));
  if (spec.context !== undefined) {
    const { DOCKER_HOST: _h, ...rest } = env;
    const ep = resolveDockerEndpoint({ ...rest, DOCKER_CONTEXT: spec.context });
    if (ep.source !== 'context' && spec.context !== 'default') {
      throw new UserError(`engines.${name}.context: there is no docker context ${spec.context} (docker context ls lists them); create it with docker context create, or fix the name`);
    }
    return { name, ...engineRecord(ep) };
  }
  return {
    name, host: spec.host,
    ...(spec.certPath !== undefined ? { tlsDir: expand(spec.certPath) } : {}),
    ...(spec.tlsVerify ? { tlsVerify: true } : {}),
  };
}

// The one line for a name that is neither an entry nor local.
export function unknownEngineText(name: string, engines: Manifest['engines'], flag = '--engine'): string {
  return `${flag} ${name}: unknown engine; known: ${engineNames(engines).join(', ')}`;
}

// `env` pointed at the plan's engine (unchanged for the engine it already selects).
export function engineEnv(env: NodeJS.ProcessEnv, engine: EngineRecord | undefined): NodeJS.ProcessEnv {
  return envForEngine(env, engine);
}

// What the preflight shows: `buildbox (tcp://10.0.0.5:2376)`.
export function engineText(engine: PlanEngine): string {
  return `${engine.name} (${engine.host}${engine.context ? `, context ${engine.context}` : ''})`;
}

// A manifest engine by name (local included) for the commands that take one beside `start`
// (images build --engine, images push --to, doctor): cert_path resolves against the manifest's
// directory, as start resolves it.
export function manifestEngine(
  loaded: { path: string; manifest: Pick<Manifest, 'engines'> }, name: string, env: NodeJS.ProcessEnv, flag = '--engine',
): PlanEngine {
  if (name !== LOCAL_ENGINE && !(loaded.manifest.engines && Object.hasOwn(loaded.manifest.engines, name))) {
    throw new UserError(unknownEngineText(name, loaded.manifest.engines, flag));
  }
  const base = dirname(loaded.path);
  return resolveEngine(loaded.manifest.engines, name, env, (p) => expandPath(p, base, env.HOME));
}

// One engine `n` offers for a new bottle: its name, where it is (host or context; this shell's
// engine for local) and whether the manifest picks it for this agent.
export interface EngineChoice { name: string; where: string; isDefault: boolean }

// The engines an agent could start on, in manifest order with local last; the default is the
// agent's engine:, else defaults.engine, else local. One choice: nothing to ask.
export function engineChoices(manifest: Pick<Manifest, 'engines' | 'defaults' | 'agents'>, agent: string): EngineChoice[] {
  const chosen = manifest.agents[agent]?.engine ?? manifest.defaults.engine ?? LOCAL_ENGINE;
  return engineNames(manifest.engines).map((name) => {
    const spec = name === LOCAL_ENGINE ? undefined : manifest.engines?.[name];
    const where = !spec ? 'the engine this shell selects' : spec.context !== undefined ? `context ${spec.context}` : spec.host;
    return { name, where, isDefault: name === chosen };
  });
}
