// Pure operations on a loaded Policy: hashing, writing back to YAML, proposal merges, reload.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { setAllowUntil } from './grants.js';
import { normalizeHost, normalizePattern, HostMatcher } from './hosts.js';
import { loadPolicy, PolicyError } from './load.js';
import { MODEL_API_PATHS } from './model-api.js';
import type { Policy, Route } from './types.js';
import { credentialTemplate, renderTemplate, templateVars } from '../template.js';

// The order-insensitive form two equal policies share (host lists and headers sorted).
function canonical(p: Policy): unknown {
  const sorted = (xs: string[]) => [...new Set(xs)].sort();
  return {
    version: 1,
    allow: sorted(p.allow),
    ...(p.allowUntil && Object.keys(p.allowUntil).length ? { allowUntil: Object.entries(p.allowUntil).sort(([a], [b]) => (a < b ? -1 : 1)) } : {}),
    block: sorted(p.block),
    routes: [...p.routes]
      .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
      .map((r) => ({ host: r.host, headers: Object.keys(r.headers).sort().map((k) => [k.toLowerCase(), r.headers[k]]), ...(r.port === undefined ? {} : { port: r.port }) })),
    passthrough: sorted(p.passthrough),
    limits: { maxBodyBytes: p.limits.maxBodyBytes, maxUrlLength: p.limits.maxUrlLength },
    dlp: { entropy: p.dlp.entropy, headers: p.dlp.headers, ...(p.dlp.ignore?.length ? { ignore: sorted(p.dlp.ignore) } : {}) },
    ...(p.model ? { model: { host: p.model.host, paths: sorted(p.model.paths), serverFetch: p.model.serverFetch } } : {}),
  };
}

// Stable id of a policy's meaning; a proposal records it so a later policy change marks the
// proposal stale.
export function policyHash(p: Policy): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical(p))).digest('hex')}`;
}

// Writes a policy as policy.yaml text that loadPolicy reads back to an equal policy.
export function serializePolicy(p: Policy): string {
  const doc: Record<string, unknown> = { version: 1, allow: p.allow.map((a) => allowItem(p, a)) };
  if (p.block.length) doc.block = p.block;
  if (p.routes.length) doc.routes = p.routes.map((r) => ({ host: r.host, ...(r.port === undefined ? {} : { port: r.port }), headers: { ...r.headers } }));
  if (p.passthrough.length) doc.passthrough = p.passthrough;
  doc.limits = { maxUrlLength: p.limits.maxUrlLength, maxBodyBytes: p.limits.maxBodyBytes };
  doc.dlp = { headers: p.dlp.headers, entropy: p.dlp.entropy, ...(p.dlp.ignore?.length ? { ignore: p.dlp.ignore } : {}) };
  if (p.model) {
    // The built-in path list is left implicit, so a bottle upgrade that extends it applies.
    const custom = p.model.paths.length !== MODEL_API_PATHS.length || p.model.paths.some((x, i) => x !== MODEL_API_PATHS[i]);
    doc.model = { host: p.model.host, ...(custom ? { paths: p.model.paths } : {}), serverFetch: p.model.serverFetch };
  }
  return `# bottle egress policy (format: lib/policy/load.ts)\n${stringify(doc, { lineWidth: 0 })}`;
}

// An allow item as written: the bare pattern, or `{ host, until }` for a time-boxed one.
export function allowItem(p: Pick<Policy, 'allowUntil'>, pattern: string): string | { host: string; until: string } {
  const until = p.allowUntil?.[pattern];
  return until === undefined ? pattern : { host: pattern, until };
}

function proposalError(message: string): PolicyError {
  return new PolicyError(message, '', 0, 0, '');
}

// Approving an allowlist proposal: returns a new policy with `host` allowed (unchanged if an
// identical entry exists), until `until` when given (grants.ts: ISO 8601 or "stop"). Throws
// if the pattern is invalid or the host is blocked.
export function addAllow(p: Policy, host: string, until?: string): Policy {
  const r = normalizePattern(host);
  if ('error' in r) throw proposalError(r.error);
  if (r.pattern === '*') throw proposalError('a proposal cannot allow every host ("*")');
  const probe = normalizeHost(r.pattern.replace(/^\*\./, ''));
  const blocked = probe && new HostMatcher(p.block).match(probe);
  if (blocked) throw proposalError(`${r.pattern} is blocked by "${blocked}"; remove the block entry first`);
  return setAllowUntil(p, r.pattern, until);
}

// Approving a route proposal: adds (or extends) the route for `host` with credential header
// templates (a bare NAME is ${NAME}; see credentialTemplate). Existing headers of the same name
// (case-insensitive) are replaced.
export function addRoute(p: Policy, host: string, typed: Record<string, string>): Policy {
  const h = host.includes('*') ? undefined : normalizeHost(host);
  if (!h) throw proposalError(`"${host}" must be one exact host name`);
  if (Object.keys(typed).length === 0) throw proposalError('a route needs at least one header');
  const headers: Record<string, string> = {};
  for (const [name, t] of Object.entries(typed)) {
    const c = credentialTemplate(t);
    if ('error' in c) throw proposalError(`header ${name}: ${c.error}`);
    headers[name] = c.template;
  }
  const blocked = new HostMatcher(p.block).match(h);
  if (blocked) throw proposalError(`${h.host} is blocked by "${blocked}"; remove the block entry first`);
  const existing = p.routes.find((r) => r.host === h.host);
  const merged: Record<string, string> = {};
  const incoming = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(existing?.headers ?? {})) if (!incoming.has(k.toLowerCase())) merged[k] = v;
  Object.assign(merged, headers);
  const route: Route = { host: h.host, headers: merged, ...(existing?.port === undefined ? {} : { port: existing.port }) };
  const routes = existing ? p.routes.map((r) => (r === existing ? route : r)) : [...p.routes, route];
  // Re-validate through the loader so a merged policy is always one the daemon would accept.
  return loadPolicy(serializePolicy({ ...p, routes }), 'proposal');
}

// Result of a reload: the policy to use from now on, and why the new text was rejected.
export interface ReloadResult { policy: Policy; changed: boolean; error?: PolicyError }

// The daemon's SIGHUP path: a file that fails to load leaves `current` in force.
export function reload(current: Policy, text: string, fileName = 'policy.yaml'): ReloadResult {
  try {
    const next = loadPolicy(text, fileName);
    return { policy: next, changed: policyHash(next) !== policyHash(current) };
  } catch (e) {
    if (e instanceof PolicyError) return { policy: current, changed: false, error: e };
    throw e;
  }
}

// The env var names a route's header templates reference (what the daemon must be given).
export function routeEnvNames(route: Route): string[] {
  const names = new Set<string>();
  for (const t of Object.values(route.headers)) for (const n of templateVars(t)) names.add(n);
  return [...names];
}

// Fills a route's header templates from env; a missing variable is an error, never "".
export function renderRouteHeaders(route: Route, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, t] of Object.entries(route.headers)) {
    const r = renderTemplate(t, env);
    if ('value' in r) {
      out[name] = r.value;
      continue;
    }
    const why = 'missing' in r ? `needs env var ${r.missing.join(', ')}, which is not set` : `: ${r.error}`;
    throw new PolicyError(`route ${route.host}: header ${name} ${why}`, '', 0, 0, '');
  }
  return out;
}

// The secret values behind every route (input to prepareCanaries); unset vars are skipped.
export function routeSecretValues(p: Policy, env: Record<string, string | undefined>): string[] {
  const values = new Set<string>();
  for (const r of p.routes) for (const n of routeEnvNames(r)) if (env[n]) values.add(env[n]!);
  return [...values];
}
