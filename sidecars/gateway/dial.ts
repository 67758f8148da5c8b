// Getting to an upstream safely: resolve the name, check every answer against the forbidden
// ranges, then dial the checked IP itself (never the name again, which would let a DNS
// rebind between check and dial reach a private address). Keep-alive agents for reuse.
import { promises as dns } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { checkResolved, type Verdict } from '../../lib/policy/index.js';
import type { HostInfo } from '../../lib/policy/hosts.js';
import { upstreamReason } from './respond.js';

// Name → addresses. The daemon uses the system resolver; tests inject a static map.
export type Lookup = (host: string) => Promise<string[]>;

// dns.lookup with all answers, in the resolver's order.
export const systemLookup: Lookup = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

// Parses /etc/hosts format (`IP name [name...]  # comment`) into name → addresses.
export function parseHostsFile(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!ip || names.length === 0) continue;
    for (const n of names) {
      const key = n.toLowerCase().replace(/\.$/, '');
      map.set(key, [...(map.get(key) ?? []), ip]);
    }
  }
  return map;
}

// A lookup that answers only from `map` (authoritative: an unknown name does not resolve, so
// a test can never leak a query to a real resolver).
export function staticLookup(map: ReadonlyMap<string, readonly string[]>): Lookup {
  return async (host) => {
    const ips = map.get(host.toLowerCase());
    if (!ips) throw Object.assign(new Error(`${host} is not in the hosts file`), { code: 'ENOTFOUND' });
    return [...ips];
  };
}

// Resolves only names under `suffixes` (e.g. `test` → `x.test`): a test bundle can then never
// reach a public name, whatever a client in the agent asks for. Never a default.
export function suffixLookup(suffixes: readonly string[], inner: Lookup = systemLookup): Lookup {
  const allowed = suffixes.map((s) => s.toLowerCase().replace(/^\.+/, ''));
  return async (host) => {
    const h = host.toLowerCase().replace(/\.$/, '');
    if (!allowed.some((s) => h === s || h.endsWith(`.${s}`))) {
      throw Object.assign(new Error(`${host} is outside the resolvable names (--resolve-only ${allowed.join(' ')})`), { code: 'ENOTFOUND' });
    }
    return inner(h);
  };
}

// The address to dial, a policy block (ssrf-resolved), or why resolution failed.
export type Resolved = { ip: string } | { verdict: Verdict } | { error: string };

// Resolves `host` and applies checkResolved; `allowPrivate` names test upstreams that may
// resolve to private addresses (explicit, per name, never a default).
export async function resolveUpstream(host: HostInfo, lookup: Lookup, allowPrivate: ReadonlySet<string>): Promise<Resolved> {
  let ips: string[];
  if (host.ip) {
    ips = [host.host];
  } else {
    try {
      ips = await lookup(host.host);
    } catch (e) {
      return { error: upstreamReason(e) };
    }
  }
  const v = checkResolved(host.host, ips, allowPrivate);
  return v.verdict === 'block' ? { verdict: v } : { ip: ips[0]! };
}

// The pooled upstream connections of one gateway.
export interface Agents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

// Keep-alive agents. TLS upstreams are verified against the system store plus `extraCaPem`
// (a test upstream's or corporate CA), with one secure context built once for all dials.
export function createAgents(extraCaPem?: string, idleMs = 30_000): Agents {
  const common = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const, timeout: idleMs, noDelay: true };
  const secureContext = extraCaPem ? tls.createSecureContext({ ca: [...tls.rootCertificates, extraCaPem] }) : undefined;
  const agents = {
    http: new http.Agent(common),
    https: new https.Agent({ ...common, ...(secureContext ? { secureContext } : {}) }),
    destroy() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
  return agents;
}
