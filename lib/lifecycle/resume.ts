// Bringing a stopped or down bottle back: same slug, the agent definition it was started with,
// the policy it had at the end (approved proposals included), its saved work restored and the
// last claude session recorded for attach to resume. Route values are read again by name (the
// caller resolves them); none was ever written to a file.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { AgentSpec } from '../manifest/index.js';
import { ensureCA } from '../pki/index.js';
import type { BottlePlan, PlanRoute } from '../plan/index.js';
import { loadPolicy, type Policy } from '../policy/index.js';
import { bottlePaths, updateMetadata, type Metadata } from '../state/index.js';
import { credentialTemplate, templateVars } from '../template.js';
import type { EngineState } from '../backends/types.js';
import { backendOf, bottleEnv, bringupLogger, engineStateOf, findBottle, type LifecycleDeps } from './context.js';
import { dropStopGrants } from './policy.js';
import { describeSaved, readSavedSummary, restoreWork } from './save.js';
import { stopBottle } from './stop.js';

// launch.json: what start recorded (no secret: the plan holds variable names only, and a plain
// env value that looks like a secret is refused before start).
export interface LaunchSpec { plan: BottlePlan; agent: AgentSpec }

export async function writeLaunchSpec(root: string, slug: string, spec: LaunchSpec): Promise<void> {
  await writeFile(bottlePaths(root, slug).launchSpec, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
}

export function readLaunchSpec(root: string, slug: string): LaunchSpec {
  const file = bottlePaths(root, slug).launchSpec;
  if (!existsSync(file)) {
    throw new UserError(`${slug} has no recorded definition (${file}; bottles started before resume existed have none); \`bottle export ${slug}\` keeps its work, \`bottle rm ${slug}\` removes it`);
  }
  try {
    const spec = JSON.parse(readFileSync(file, 'utf8')) as LaunchSpec;
    if (typeof spec?.plan?.agent !== 'string' || typeof spec.agent !== 'object') throw new Error('missing plan or agent');
    // Recorded before auth modes existed: those bottles ran on the API key.
    spec.plan.auth ??= { mode: 'api-key', from: 'manifest' };
    return spec;
  } catch (e) {
    throw new UserError(`${file}: unreadable (${(e as Error).message}); \`bottle rm ${slug}\` removes the bottle`);
  }
}

// The policy's routes as plan routes: what launch reads route values for (routes approved after
// the start included).
export function routesFromPolicy(policy: Policy, planRoutes: readonly PlanRoute[]): PlanRoute[] {
  return policy.routes.map((r) => {
    const headers = Object.entries(r.headers).map(([name, raw]) => {
      const t = credentialTemplate(raw);
      const template = 'template' in t ? t.template : raw;
      return { name, template, vars: templateVars(template) };
    });
    const isDefault = planRoutes.some((p) => p.default && p.host === r.host);
    return { host: r.host, headers, ...(r.port === undefined ? {} : { port: r.port }), ...(isDefault ? { default: true as const } : {}) };
  });
}

// What resume will do, decided before anything changes (the CLI resolves route values next).
export interface ResumePlan {
  meta: Metadata;
  plan: BottlePlan;
  agent: AgentSpec;
  /** The engine's view now: anything but 'missing' means leftovers to save and remove first. */
  engine: EngineState | 'unknown';
}

export async function planResume(deps: LifecycleDeps, slug: string): Promise<ResumePlan> {
  const meta = await findBottle(deps, slug);
  const backend = await backendOf(deps, meta);
  const engine = await engineStateOf(backend, meta);
  if (meta.state === 'claimed' || meta.state === 'launching' || meta.state === 'resuming') {
    throw new UserError(`${meta.slug} is ${meta.state}; wait for it, or \`bottle stop ${meta.slug}\` if that start was interrupted`);
  }
  if (meta.state === 'stopping' && engine === 'running') {
    throw new UserError(`${meta.slug} is half-stopped (a stop was interrupted); \`bottle stop ${meta.slug}\` finishes it, then \`bottle resume ${meta.slug}\``);
  }
  if (meta.state !== 'stopped' && engine === 'running') {
    throw new UserError(`${meta.slug} is running; attach with: bottle attach ${meta.slug}`);
  }
  const spec = readLaunchSpec(deps.root, meta.slug);
  const policyFile = join(bottlePaths(deps.root, meta.slug).policy, 'policy.yaml');
  let policy: Policy;
  try {
    policy = loadPolicy(readFileSync(policyFile, 'utf8'), policyFile);
  } catch (e) {
    throw new UserError(`${meta.slug}: its saved policy cannot be read (${(e as Error).message.split('\n')[0]}); fix ${policyFile} or \`bottle rm ${meta.slug}\``);
  }
  const plan: BottlePlan = {
    ...spec.plan, slug: meta.slug,
    egress: { ...spec.plan.egress, routes: routesFromPolicy(policy, spec.plan.egress.routes) },
  };
  return { meta, plan, agent: spec.agent, engine };
}

export interface ResumeOptions {
  log: (line: string) => void;
  signal: AbortSignal;
}

// Resumes a planned bottle; on failure it is `stopped` again with its saved work untouched.
export async function resumeBottle(deps: LifecycleDeps, rp: ResumePlan, opts: ResumeOptions): Promise<Metadata> {
  const { plan, agent } = rp;
  let meta = rp.meta;
  const paths = bottlePaths(deps.root, meta.slug);
  const { record, log } = bringupLogger(paths.bringupLog, opts.log);
  await writeFile(paths.bringupLog, '', { mode: 0o600 });
  // A bottle that went down keeps its work in what is left of it: save that first.
  if (meta.state !== 'stopped' && rp.engine !== 'missing') {
    log(`${meta.slug} is down (engine: ${rp.engine}); saving its work from what is left first`);
    await stopBottle(deps, meta.slug, log);
    meta = await findBottle(deps, meta.slug);
  }
  // A bottle that went down without a stop may still hold "until stop" grants: not restored.
  const dropped = await dropStopGrants(paths);
  if (dropped.length > 0) log(`not restoring the until-stop grant${dropped.length > 1 ? 's' : ''} for ${dropped.join(', ')}`);
  const backend = await backendOf(deps, meta);
  const before = readSavedSummary(deps.root, meta.slug);
  log(`resuming ${meta.slug}: ${plan.agent} on ${meta.backend}${before ? ` with ${describeSaved(before)}` : ' (no saved work: a fresh workspace)'}`);
  ensureCA(paths.ca, { commonName: `bottle CA ${meta.slug}` });
  await updateMetadata(deps.root, meta.slug, { state: 'resuming' });
  const started = Date.now();
  let launched = false;
  try {
    // On the engine it ran on before, whatever this shell's DOCKER_HOST says.
    const result = await backend.launch(plan, { slug: meta.slug, paths, agent, env: bottleEnv(deps.env, meta), log, signal: opts.signal });
    launched = true;
    meta = await updateMetadata(deps.root, meta.slug, { resources: result.resources, backendData: { ...(meta.backendData ?? {}), ...(result.backendData ?? {}) } });
    const restored = await restoreWork(backend, deps.root, meta);
    if (restored) log(`restored ${describeSaved(restored)}`);
    const done = await updateMetadata(deps.root, meta.slug, {
      state: 'running', ...(restored?.lastSession ? { claudeSessionId: restored.lastSession } : {}),
    });
    log(`bottle ${meta.slug} is back (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return done;
  } catch (e) {
    // Only the log gets this line (the dashboard tails it): the caller reports the error itself.
    record(`resume failed: ${(e as Error).message.split('\n')[0]}`);
    if (launched) await backend.teardown(meta, log).catch((t: unknown) => log(`could not remove what was started: ${(t as Error).message}; run \`bottle stop ${meta.slug}\``));
    await updateMetadata(deps.root, meta.slug, { state: 'stopped' }).catch(() => undefined);
    if (e instanceof UserError || opts.signal.aborted) throw e;
    throw new UserError(`resuming ${meta.slug} failed: ${(e as Error).message.split('\n')[0]}; it is stopped again with its saved work untouched`, 1, { cause: e });
  }
}
