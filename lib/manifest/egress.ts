// Validation of an agent's `egress:` block (host lists and credentialed routes) and of the
// `dlp:` block (defaults and per agent) that tunes what the gateway and the git gate block.
import { fingerprintProblem } from '../secrets/fingerprint.js';
import { isHostname, parseHostPattern } from './syntax.js';
import { headerNameProblem, templateProblem, templateVars } from '../template.js';
import { DEFAULT_ROUTE_PORT, type DlpSpec, type EgressSpec, type HeaderTemplate, type RouteSpec } from './types.js';
import type { Val, Walker } from './walk.js';

const EGRESS_KEYS = ['allow', 'block', 'routes', 'passthrough'] as const;
const ROUTE_KEYS = ['host', 'port', 'headers'] as const;
const DLP_KEYS = ['ignore'] as const;
const PATTERN_HELP = 'a hostname, *.domain or an IP address';

// The rules between the lists (a blocked route, a passthrough host not allowed) are the policy's
// own, checked on the plan (lib/plan/check.ts), where the default model route is known too.
// Missing `egress:` means no extra hosts: the agent reaches only the default Anthropic route.
export function readEgress(w: Walker, v: Val | undefined): EgressSpec {
  const egress: EgressSpec = { allow: [], block: [], routes: [], passthrough: [] };
  if (!v) return egress;
  const f = w.fields(v, EGRESS_KEYS);
  if (!f) return egress;
  if (f.allow) egress.allow = readHosts(w, f.allow, true);
  if (f.block) egress.block = readHosts(w, f.block, false);
  if (f.passthrough) egress.passthrough = readHosts(w, f.passthrough, false);
  if (f.routes) egress.routes = readRoutes(w, f.routes);
  return egress;
}

// `dlp: { ignore: [sha256:…] }`: fingerprints of known-harmless values, each checked for shape
// (a mistyped one would silently ignore nothing).
export function readDlp(w: Walker, v: Val): DlpSpec {
  const dlp: DlpSpec = { ignore: [] };
  const f = w.fields(v, DLP_KEYS);
  if (!f?.ignore) return dlp;
  for (const item of w.list(f.ignore) ?? []) {
    const raw = w.str(item, 'a finding fingerprint');
    if (raw === undefined) continue;
    const problem = fingerprintProblem(raw);
    if (problem) w.fail(item, problem);
    else if (!dlp.ignore.includes(raw)) dlp.ignore.push(raw);
  }
  return dlp;
}

function readHosts(w: Walker, v: Val, allowAny: boolean): string[] {
  const out: string[] = [];
  for (const item of w.list(v) ?? []) {
    const raw = w.str(item, 'a host pattern');
    if (raw === undefined) continue;
    const parsed = parseHostPattern(raw);
    if (!parsed) {
      w.fail(item, `expected a host pattern (${PATTERN_HELP}${allowAny ? ', or "*"' : ''})`);
    } else if (parsed.kind === 'any' && !allowAny) {
      w.fail(item, '"*" is only meaningful in egress.allow');
    } else if (!out.includes(parsed.host)) {
      out.push(parsed.host);
    }
  }
  return out;
}

function readRoutes(w: Walker, v: Val): RouteSpec[] {
  const routes: RouteSpec[] = [];
  const seen = new Map<string, number>();
  for (const item of w.list(v) ?? []) {
    const f = w.fields(item, ROUTE_KEYS);
    if (!f) continue;
    if (!f.host) w.fail({ ...item, path: `${item.path}.host` }, 'required');
    if (!f.headers) w.fail({ ...item, path: `${item.path}.headers` }, 'required (the headers the gateway injects)');
    const host = f.host ? readRouteHost(w, f.host) : undefined;
    const headers = f.headers ? readHeaders(w, f.headers) : [];
    const port = f.port ? readPort(w, f.port) : DEFAULT_ROUTE_PORT;
    if (host === undefined || !f.host) continue;
    const first = seen.get(host);
    if (first !== undefined) {
      w.fail(f.host, `duplicate route for ${host} (first at line ${first})`);
      continue;
    }
    seen.set(host, w.lineOf(f.host));
    // 443 is the default, so `port: 443` and no port are one route, not two spellings of it.
    routes.push(port === undefined || port === DEFAULT_ROUTE_PORT ? { host, headers } : { host, headers, port });
  }
  return routes;
}

function readPort(w: Walker, v: Val): number | undefined {
  const n = w.int(v, 'a port number');
  if (n === undefined) return undefined;
  if (n >= 1 && n <= 65535) return n;
  w.fail(v, `expected a port number from 1 to 65535, got ${n}`);
  return undefined;
}

function readRouteHost(w: Walker, v: Val): string | undefined {
  const raw = w.str(v, 'a hostname');
  if (raw === undefined) return undefined;
  const host = raw.trim().toLowerCase();
  if (isHostname(host)) return host;
  w.fail(v, 'expected a hostname');
  return undefined;
}

function readHeaders(w: Walker, v: Val): HeaderTemplate[] {
  const entries = w.entries(v);
  if (!entries) return [];
  if (entries.length === 0) w.fail(v, 'expected at least one header');
  const headers: HeaderTemplate[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const badName = headerNameProblem(e.key);
    if (badName) {
      w.fail(e.val, badName, e.keyNode);
      continue;
    }
    if (seen.has(e.key.toLowerCase())) {
      w.fail(e.val, `duplicate header ${e.key} (header names are case-insensitive)`, e.keyNode);
      continue;
    }
    seen.add(e.key.toLowerCase());
    const template = w.str(e.val, 'a header value');
    if (template === undefined) continue;
    const problem = templateProblem(template);
    if (problem) {
      w.fail(e.val, problem);
      continue;
    }
    headers.push({ name: e.key, template, vars: templateVars(template) });
  }
  return headers;
}
