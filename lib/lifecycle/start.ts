// Bringing a bottle up: claim state, write its policy and CA, launch through the backend,
// record what was made. A failure or Ctrl-C leaves no engine resource and no state behind.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { AgentSpec } from '../manifest/index.js';
import { ensureCA } from '../pki/index.js';
import { agentPrompt, engineEnv, type BottlePlan } from '../plan/index.js';
import {
  bottlePaths, createBottle, ensureStateRoot, readMetadata, removeBottle, updateMetadata, validateSlug,
  type Metadata,
} from '../state/index.js';
import { bringupLogger, type LifecycleDeps } from './context.js';
import { BUDGET_FILE, budgetFileText } from '../usage/budget.js';
import { policyTextFromPlan } from './policy.js';
import { writeLaunchSpec } from './resume.js';

export interface StartOptions {
  /** Progress lines (the caller shows them; they are also appended to bringup.log). */
  log: (line: string) => void;
  signal: AbortSignal;
  /** A slug claimed earlier with claimBottle (the dashboard tails its bringup.log first). */
  slug?: string;
}

// Claims a bottle's state dir before launch, so a caller can tail bringup.log from the start.
export async function claimBottle(deps: LifecycleDeps, plan: BottlePlan): Promise<Metadata> {
  const backend = deps.backends.choose(plan.backend);
  const created = await createBottle(deps.root, plan.agent, {
    backend, manifestPath: plan.manifestPath, state: 'claimed', now: deps.now,
  });
  await writeFile(created.paths.bringupLog, '', { mode: 0o600 });
  return created.metadata;
}

async function claimedOrNew(deps: LifecycleDeps, plan: BottlePlan, slug: string | undefined): Promise<Metadata> {
  if (slug === undefined) return claimBottle(deps, plan);
  validateSlug(slug);
  if (!existsSync(bottlePaths(deps.root, slug).metadata)) {
    throw new UserError(`--slug ${slug}: no claimed bottle by that name; omit --slug to mint one`);
  }
  const meta = await readMetadata(deps.root, slug);
  if (meta.state !== 'claimed' || meta.agent !== plan.agent) {
    throw new UserError(`--slug ${slug}: that bottle is ${meta.agent} in state ${meta.state ?? 'unknown'}, not a claimed ${plan.agent}`);
  }
  return meta;
}

// Launches a bottle for the plan; returns its metadata once the agent is provisioned.
export async function startBottle(deps: LifecycleDeps, plan: BottlePlan, agent: AgentSpec, opts: StartOptions): Promise<Metadata> {
  await ensureStateRoot(deps.root);
  const meta = await claimedOrNew(deps, plan, opts.slug);
  const paths = bottlePaths(deps.root, meta.slug);
  const { record, log } = bringupLogger(paths.bringupLog, opts.log);
  try {
    // The host env pointed at the plan's engine: the backend launches there and records it.
    const env = engineEnv(deps.env, plan.engine);
    const backend = await deps.backends.load(meta.backend, env);
    log(`bottle ${meta.slug}: ${plan.agent} on ${meta.backend}`);
    await writeFile(join(paths.policy, 'policy.yaml'), policyTextFromPlan(plan), { mode: 0o644 });
    await writeFile(join(paths.policy, BUDGET_FILE), budgetFileText(plan.budget, plan.prices), { mode: 0o644 });
    await writeLaunchSpec(deps.root, meta.slug, { plan: { ...plan, slug: meta.slug }, agent });
    ensureCA(paths.ca, { commonName: `bottle CA ${meta.slug}` });
    await updateMetadata(deps.root, meta.slug, { state: 'launching' });
    const result = await backend.launch({ ...plan, slug: meta.slug }, {
      slug: meta.slug, paths, agent, env, log, signal: opts.signal,
    });
    const done = await updateMetadata(deps.root, meta.slug, {
      state: 'running', resources: result.resources,
      backendData: { ...(result.backendData ?? {}), hasPrompt: agentPrompt(plan) !== undefined },
    });
    // The backend's last line already said `bottle <slug> is up`.
    return done;
  } catch (e) {
    // The backend has already removed what it made; a bottle that never ran has nothing to keep.
    // Only the log gets this line (the dashboard tails it): the caller reports the error itself.
    record(`bring-up failed: ${(e as Error).message}`);
    await removeBottle(deps.root, meta.slug).catch(() => undefined);
    throw e;
  }
}
