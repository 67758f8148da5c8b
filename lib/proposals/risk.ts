// What approving a proposal would risk, for the operator deciding in seconds (the popup, `bottle
// proposals decide`): is the host new to the policy, how broad is a wildcard (one over a public
// suffix is refused), which credential a route would inject, does the name point inside
// (private, metadata, localhost), is it a known paste/tunnel/capture service. Pure: the same
// function is unit-tested and run by every caller.
import { EXFIL_SERVICES } from '../policy/exfil.js';
import { untilMs } from '../policy/grants.js';
import { HostMatcher, normalizeHost as normalizeRequestHost, patternsOverlap } from '../policy/hosts.js';
import { parseIp } from '../policy/ip.js';
import { publicSuffixWildcardProblem, registrableDomain } from '../policy/public-suffix.js';
import type { Policy } from '../policy/types.js';
import { templateVars } from '../template.js';
import { normalizeHost, type ProposalKind } from './types.js';

export type RiskLevel = 'low' | 'medium' | 'high' | 'refused';

// What the current policy says about the host today.
export type PolicyStanding =
  | { state: 'unknown' }
  | { state: 'new' }
  | { state: 'covered'; by: string }
  | { state: 'blocked'; by: string };

// One header a route approval would inject and the host env vars its value is made of.
export interface CredentialUse {
  header: string;
  vars: string[];
}

export interface RiskSummary {
  kind: ProposalKind;
  /** The host as approval would apply it (normalised), or as proposed when malformed. */
  host: string;
  level: RiskLevel;
  /** Why approval is refused outright; set iff level is 'refused'. */
  refusal?: string;
  policy: PolicyStanding;
  /** Wildcards only: whose subdomains it opens. */
  wildcard?: { base: string; breadth: 'public-suffix' | 'domain' | 'subdomains' };
  /** Route approvals: headers injected (existing ones kept); [] when none are known yet. */
  credentials: CredentialUse[];
  /** The name or address points inside: private range, metadata endpoint, a local-only name. */
  address?: string;
  /** The EXFIL_SERVICES entry the host overlaps. */
  service?: string;
}

export interface RiskInput {
  kind: ProposalKind;
  host: string;
  /** The live policy; null when it is missing or does not load. */
  policy: Policy | null;
  /** Route: the headers the approval would inject (name → template over host env vars). */
  headers?: Record<string, string>;
  /** The clock a time-boxed allow entry is judged by (default Date.now()): a lapsed one covers nothing. */
  now?: number;
}

// Cloud instance metadata services: the usual first hop of credential theft from inside a VM.
const METADATA_IPS = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);
// Names that resolve only on the local machine or network (RFC 6761/6762/8375, cloud-internal DNS).
const LOCAL_SUFFIXES = ['localhost', 'localdomain', 'local', 'internal', 'lan', 'home.arpa', 'intranet', 'corp'];
// Public wildcard DNS whose every name answers 127.0.0.1.
const LOOPBACK_DOMAINS = ['localtest.me', 'lvh.me', 'localho.st', 'vcap.me'];
// Public wildcard DNS that answers the IP written in the name (10.0.0.1.nip.io, 10-0-0-1.sslip.io).
const IP_IN_NAME_DOMAINS = ['nip.io', 'sslip.io', 'xip.io'];

function under(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

// Where an IP literal or a name leads when it is not the public internet, or undefined.
export function insideAddress(base: string): string | undefined {
  const ip = parseIp(base);
  if (ip) {
    if (METADATA_IPS.has(ip.canonical)) return `${ip.canonical} is a cloud metadata endpoint`;
    if (ip.forbidden) return `${ip.canonical} is in the ${ip.forbidden} range`;
    return undefined;
  }
  if (METADATA_NAMES.has(base)) return `${base} is a cloud metadata endpoint`;
  const local = LOCAL_SUFFIXES.find((s) => under(base, s));
  if (local) return `${base} is a local-only name (.${local})`;
  const loop = LOOPBACK_DOMAINS.find((d) => under(base, d));
  if (loop) return `${base} resolves to 127.0.0.1 (every name under ${loop} does)`;
  const echo = IP_IN_NAME_DOMAINS.find((d) => under(base, d));
  if (echo) {
    const labels = base === echo ? [] : base.slice(0, -echo.length - 1).split('.');
    // 10.0.0.1.nip.io or app-10-0-0-1.nip.io: the last four dotted labels, or dashed parts.
    const spellings = [labels.slice(-4).join('.'), (labels.at(-1) ?? '').split('-').slice(-4).join('.')];
    const inner = spellings.map((w) => (/^\d+(\.\d+){3}$/.test(w) ? parseIp(w) : undefined)).find(Boolean);
    const where = inner?.forbidden ? `, here ${inner.canonical} (${inner.forbidden})` : '';
    return `${base} resolves to the address written in it (${echo})${where}`;
  }
  return undefined;
}

function standing(policy: Policy | null, kind: ProposalKind, host: string, base: string, now: number): PolicyStanding {
  if (!policy) return { state: 'unknown' };
  const probe = normalizeRequestHost(base);
  if (!probe) return { state: 'unknown' };
  const wildcard = host.startsWith('*.');
  const blocked = new HostMatcher(policy.block).match(probe);
  if (blocked) return { state: 'blocked', by: blocked };
  if (kind === 'route') {
    const route = policy.routes.find((r) => r.host === host);
    return route ? { state: 'covered', by: `route ${host} (${Object.keys(route.headers).join(', ')})` } : { state: 'new' };
  }
  const by = new HostMatcher(policy.allow.filter((a) => untilMs(policy.allowUntil?.[a]) > now)).match(probe);
  // An exact entry for x.com does not cover *.x.com; a wildcard at or above it does.
  if (by !== undefined && (!wildcard || by === '*' || by.startsWith('*.'))) return { state: 'covered', by };
  if (!wildcard && policy.routes.some((r) => r.host === host)) return { state: 'covered', by: `route ${host}` };
  return { state: 'new' };
}

function credentials(kind: ProposalKind, host: string, policy: Policy | null, headers: Record<string, string> | undefined): CredentialUse[] {
  if (kind !== 'route') return [];
  const merged: Record<string, string> = {};
  const incoming = new Set(Object.keys(headers ?? {}).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(policy?.routes.find((r) => r.host === host)?.headers ?? {})) if (!incoming.has(k.toLowerCase())) merged[k] = v;
  Object.assign(merged, headers ?? {});
  return Object.entries(merged).map(([header, t]) => ({ header, vars: templateVars(t) }));
}

const ORDER: readonly RiskLevel[] = ['low', 'medium', 'high', 'refused'];
const worst = (levels: RiskLevel[]): RiskLevel => levels.reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a), 'low');

// The risk summary of approving `kind host` against `policy` (with `headers` for a route).
export function assessRisk(input: RiskInput): RiskSummary {
  const norm = normalizeHost(input.host, input.kind);
  const host = norm.ok ? norm.host : input.host.trim().toLowerCase();
  const base = host.startsWith('*.') ? host.slice(2) : host;
  const policy = standing(input.policy, input.kind, host, base, input.now ?? Date.now());
  const summary: RiskSummary = { kind: input.kind, host, level: 'low', policy, credentials: credentials(input.kind, host, input.policy, input.headers) };
  const levels: RiskLevel[] = [];
  // The public-suffix rule first: `*.com` is also malformed, but this says why it never passes.
  let refusal = publicSuffixWildcardProblem(host) ?? (norm.ok ? undefined : norm.error);
  if (!refusal && policy.state === 'blocked') refusal = `${host} is blocked by "${policy.by}"`;
  if (host.startsWith('*.')) {
    const registrable = registrableDomain(base);
    const breadth = publicSuffixWildcardProblem(host) ? 'public-suffix' : registrable === base ? 'domain' : 'subdomains';
    summary.wildcard = { base, breadth };
    levels.push('medium');
  }
  const address = insideAddress(base);
  if (address) {
    summary.address = address;
    levels.push('high');
  }
  const service = EXFIL_SERVICES.find((s) => patternsOverlap(host, s));
  if (service) {
    summary.service = service;
    levels.push('high');
  }
  if (input.kind === 'route') levels.push('medium');
  if (refusal) {
    summary.refusal = refusal;
    levels.push('refused');
  }
  summary.level = worst(levels);
  return summary;
}

function policyLine(s: RiskSummary): string {
  switch (s.policy.state) {
    case 'unknown': return 'unknown: the policy file is missing or does not load';
    case 'new': return s.kind === 'route' ? 'new route: no credential is injected for this host today' : 'new: not allowed today';
    case 'covered': return s.kind === 'route' ? `${s.policy.by} exists: approval keeps or replaces its headers as below` : `already covered by ${s.policy.by}: approving changes nothing`;
    case 'blocked': return `blocked by "${s.policy.by}"`;
  }
}

function wildcardLine(s: RiskSummary): string {
  if (!s.wildcard) return 'exact host';
  const { base, breadth } = s.wildcard;
  if (breadth === 'public-suffix') return `REFUSED: spans a public suffix (sites of unrelated owners under ${base})`;
  return breadth === 'domain' ? `every subdomain of ${base} and ${base} itself (the whole domain)` : `every name under ${base} and ${base} itself`;
}

function credentialLine(s: RiskSummary): string {
  if (s.kind !== 'route') return 'none (the gateway injects nothing for an allowlist entry)';
  if (s.credentials.length === 0) return 'a header the approval names (--header NAME=TEMPLATE over host env vars)';
  return s.credentials.map((c) => `${c.header} <- ${c.vars.length ? c.vars.map((v) => `$${v}`).join(', ') : '(no variable)'}`).join('; ');
}

// The summary as labelled lines, the verdict first (popup, CLI).
export function riskLines(s: RiskSummary): string[] {
  return [
    `risk: ${s.level.toUpperCase()}${s.refusal ? ` - ${s.refusal}` : ''}`,
    `  policy       ${policyLine(s)}`,
    `  breadth      ${wildcardLine(s)}`,
    `  credentials  ${credentialLine(s)}`,
    `  address      ${s.address ?? (parseIp(s.host) ? 'public IP address (no name to vet)' : 'public name')}`,
    `  service      ${s.service ? `known paste/tunnel/capture service (${s.service})` : 'not a known paste/tunnel/capture service'}`,
  ];
}
