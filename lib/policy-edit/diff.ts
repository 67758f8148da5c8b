// What changed between two policies, for the one-line summaries and for deciding which route
// secrets the running gateway must be given. Pure.
import { UserError } from '../errors.js';
import { routeEnvNames, type Policy, type Route } from '../policy/index.js';
import { shortSecretProblem } from '../template.js';

const LIST_KEYS = ['allow', 'block', 'passthrough'] as const;

function describeRoute(r: Route): string {
  return `${r.host} (${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
}

function sameHeaders(a: Route, b: Route): boolean {
  const norm = (r: Route) => JSON.stringify(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]).sort());
  return norm(a) === norm(b);
}

// `+ allow example.com`, `- route api.x.com`, `~ route ...`: one line per change, stable order.
// Header values are env var templates (never secrets), so they are safe to show.
export function diffPolicies(before: Policy, after: Policy): string[] {
  const lines: string[] = [];
  const until = (p: Policy, h: string) => (p.allowUntil?.[h] === undefined ? '' : ` (until ${p.allowUntil[h]})`);
  for (const key of LIST_KEYS) {
    for (const h of after[key]) if (!before[key].includes(h)) lines.push(`+ ${key} ${h}${key === 'allow' ? until(after, h) : ''}`);
    for (const h of before[key]) if (!after[key].includes(h)) lines.push(`- ${key} ${h}`);
  }
  for (const h of after.allow) {
    if (before.allow.includes(h) && until(before, h) !== until(after, h)) lines.push(`~ allow ${h}${until(after, h) || ' (permanent)'}`);
  }
  const old = new Map(before.routes.map((r) => [r.host, r]));
  const now = new Map(after.routes.map((r) => [r.host, r]));
  for (const r of after.routes) {
    const o = old.get(r.host);
    if (!o) lines.push(`+ route ${describeRoute(r)}`);
    else if (!sameHeaders(o, r)) lines.push(`~ route ${describeRoute(r)}`);
  }
  for (const r of before.routes) if (!now.has(r.host)) lines.push(`- route ${r.host}`);
  for (const k of ['maxUrlLength', 'maxBodyBytes'] as const) {
    if (before.limits[k] !== after.limits[k]) lines.push(`~ limits.${k} ${before.limits[k]} -> ${after.limits[k]}`);
  }
  if (before.dlp.entropy !== after.dlp.entropy) lines.push(`~ dlp.entropy ${before.dlp.entropy} -> ${after.dlp.entropy}`);
  return lines;
}

// Env var names of routes that are new or whose headers changed: what the gateway must be handed.
export function newRouteVars(before: Policy, after: Policy): string[] {
  const old = new Map(before.routes.map((r) => [r.host, r]));
  const names = new Set<string>();
  for (const r of after.routes) {
    const o = old.get(r.host);
    if (!o || !sameHeaders(o, r)) for (const n of routeEnvNames(r)) names.add(n);
  }
  return [...names].sort();
}

// Throws naming every unset variable (never a value) so nothing is written for a route the
// gateway could not fill in.
export function requireEnv(names: readonly string[], env: NodeJS.ProcessEnv, what = 'the route'): void {
  const missing = names.filter((n) => env[n] === undefined || env[n] === '');
  if (missing.length === 0) {
    const short = shortSecretProblem(names, env);
    if (short) throw new UserError(`${what}: ${short}; nothing was changed`);
    return;
  }
  const list = missing.join(', ');
  throw new UserError(
    `${what} needs host env var${missing.length > 1 ? 's' : ''} ${list}, not set in this shell; nothing was changed. ` +
    `Export ${missing.length > 1 ? 'them' : 'it'} and retry (the value goes to the running gateway, never into a file)`,
  );
}
