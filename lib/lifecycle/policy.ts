// The gateway policy a new bottle starts with, derived from its plan's egress section.
import { emptyPolicy, serializePolicy, loadPolicy, MODEL_API_PATHS, type Policy } from '../policy/index.js';
import type { BottlePlan } from '../plan/index.js';

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
