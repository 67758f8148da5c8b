// The gateway policy a new bottle starts with, derived from its plan's egress section; and the
// until-stop grants a stopped bottle does not keep.
import { readFile } from 'node:fs/promises';
import { dropUntilStop, emptyPolicy, serializePolicy, loadPolicy, MODEL_API_PATHS, UNTIL_STOP, type Policy } from '../policy/index.js';
import { policyFilePath, rewritePolicy, withPolicyLock, writePolicyFile } from '../policy-edit/index.js';
import type { BottlePlan } from '../plan/index.js';
import type { BottlePaths } from '../state/index.js';

// Route header values stay templates over env var NAMES. A passthrough host is not allowed by
// being listed: the plan check (lib/plan/check.ts) refuses one that is not allowed or routed.
export function policyFromPlan(plan: BottlePlan): Policy {
  const policy = emptyPolicy();
  policy.allow = [...plan.egress.allow];
  policy.block = [...plan.egress.block];
  policy.passthrough = [...plan.egress.passthrough];
  policy.routes = plan.egress.routes.map((r) => ({
    host: r.host,
    headers: Object.fromEntries(r.headers.map((h) => [h.name, h.template])),
    ...(r.port === undefined ? {} : { port: r.port }),
  }));
  const { model } = plan.egress;
  if (model) policy.model = { host: model.host, paths: [...MODEL_API_PATHS], serverFetch: model.serverFetch };
  if (plan.dlpIgnore?.length) policy.dlp.ignore = [...plan.dlpIgnore];
  return policy;
}

// policy.yaml text for the plan, validated by the same loader the gateway uses.
export function policyTextFromPlan(plan: BottlePlan): string {
  const text = serializePolicy(policyFromPlan(plan));
  loadPolicy(text, 'policy.yaml');
  return text;
}

// Removes the bottle's `until: stop` grants from its policy file (stop, and resume for a bottle
// that went down without one); returns the patterns removed. A missing or invalid file is left
// alone: resume reports it, and an invalid file holds no grant the gateway honours.
export async function dropStopGrants(paths: BottlePaths): Promise<string[]> {
  return withPolicyLock(paths, async () => {
    let text: string;
    let policy: Policy;
    try {
      text = await readFile(policyFilePath(paths), 'utf8');
      policy = loadPolicy(text);
    } catch {
      return [];
    }
    const dropped = Object.entries(policy.allowUntil ?? {}).filter(([, u]) => u === UNTIL_STOP).map(([k]) => k);
    if (dropped.length > 0) await writePolicyFile(paths, rewritePolicy(text, dropUntilStop(policy)));
    return dropped;
  });
}
