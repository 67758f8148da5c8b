// The rules between an egress policy's lists: a route host may not be blocked, and a
// passthrough entry must also be allowed or routed (passthrough only turns TLS interception
// off; it never allows a host). One function for the policy loader (policy.yaml, `policy
// check`, `allowlist edit`, `routes edit`) and the plan check (`manifest check`, `start`), so
// both accept the same egress and refuse it in the same words.
import { HostMatcher, normalizeHost, normalizePattern } from './hosts.js';

// Entries as written (normalised here); `routes` are route hosts, `model` the model route's host.
export interface EgressLists {
  allow: readonly string[];
  block: readonly string[];
  passthrough: readonly string[];
  routes: readonly string[];
  model?: string;
}

// One broken rule, with the index of each entry involved (into the lists given).
export type EgressConflict =
  | { kind: 'passthrough-not-allowed'; passthrough: number; message: string }
  | { kind: 'route-blocked'; route: number; block: number; message: string };

function norm(entry: string): string {
  const r = normalizePattern(entry);
  return 'pattern' in r ? r.pattern : entry;
}

// Every conflict, in list order: blocked routes first, then uncovered passthrough entries.
export function egressConflicts(lists: EgressLists): EgressConflict[] {
  const allow = lists.allow.map(norm);
  const block = lists.block.map(norm);
  const routes = lists.routes.map(norm);
  const blockM = new HostMatcher(block);
  const out: EgressConflict[] = [];
  routes.forEach((host, route) => {
    const h = normalizeHost(host);
    const hit = h && blockM.match(h);
    if (!hit) return;
    const message = host === lists.model
      ? `${host} is the model API route (claude's own API calls and their key) and is blocked by "${hit}"; remove that block entry`
      : `${host} is also blocked by "${hit}"; remove one of them`;
    out.push({ kind: 'route-blocked', route, block: block.indexOf(hit), message });
  });
  const allowM = new HostMatcher(allow);
  lists.passthrough.map(norm).forEach((pat, passthrough) => {
    if (covered(pat, allow, routes, allowM)) return;
    out.push({ kind: 'passthrough-not-allowed', passthrough, message: `${pat} is not allowed; add it to allow (passthrough only turns TLS interception off for a host that is allowed or routed)` });
  });
  return out;
}

function covered(pat: string, allow: string[], routes: string[], allowM: HostMatcher): boolean {
  if (allow.includes('*')) return true;
  if (pat === '*') return false;
  if (!pat.startsWith('*.')) {
    const h = normalizeHost(pat);
    return (h !== undefined && allowM.match(h) !== undefined) || routes.includes(pat);
  }
  // A wildcard passthrough needs a wildcard allow at the same or a broader suffix.
  const suffix = pat.slice(2);
  return allow.some((a) => a.startsWith('*.') && (suffix === a.slice(2) || suffix.endsWith(`.${a.slice(2)}`)));
}
