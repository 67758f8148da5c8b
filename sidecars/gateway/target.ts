// Where a proxied request goes: CONNECT authorities, absolute-form URLs and the Host header,
// parsed the same way the policy engine parses them (WHATWG URL host), so the host that was
// judged is the host that is dialled. Pure.
import { normalizeHost } from '../../lib/policy/index.js';
import type { HostInfo } from '../../lib/policy/hosts.js';

// One upstream origin: scheme, normalised host (IP literals canonical) and port.
export interface Target {
  scheme: 'http' | 'https';
  host: HostInfo;
  port: number;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

// `host:port` / `[v6]:port` from a CONNECT request line (port defaults to 443).
export function parseAuthority(authority: string, defaultPort = 443): { host: HostInfo; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) return undefined;
  const host = normalizeHost(m[1] !== undefined ? `[${m[1]}]` : m[2]!);
  return host && { host, port };
}

// The host as it appears in a URL or Host header (IPv6 bracketed).
export function hostLiteral(host: HostInfo): string {
  return host.ip?.version === 6 ? `[${host.host}]` : host.host;
}

// `host[:port]`, the port omitted when it is the scheme's default.
export function formatAuthority(t: Target): string {
  return t.port === DEFAULT_PORT[t.scheme] ? hostLiteral(t.host) : `${hostLiteral(t.host)}:${t.port}`;
}

// The absolute URL the policy engine judges for a request inside a tunnel to `t`.
export function tunnelUrl(t: Target, path: string): string {
  return `${t.scheme}://${formatAuthority(t)}${path}`;
}

// An absolute http(s) URL split into origin and the path to send upstream (raw, as scanned;
// no fragment, no userinfo).
function splitAbsolute(raw: string): { target: Target; path: string } | { error: string } {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return { error: 'this is a proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port' };
  if (scheme !== 'http' && scheme !== 'https') return { error: `scheme ${scheme}: is not supported` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'malformed URL' };
  }
  const host = normalizeHost(url.hostname);
  if (!host) return { error: 'malformed host name' };
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  const afterScheme = raw.slice(scheme.length + 1).replace(/^[/\\]*/, '');
  const authEnd = afterScheme.search(/[/\\?#]/);
  let rest = authEnd < 0 ? '' : afterScheme.slice(authEnd);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  if (!rest.startsWith('/')) rest = `/${rest}`;
  return { target: { scheme, host, port }, path: rest };
}

// An absolute-form request to the proxy (`GET http://host/path`). Only http: — https goes
// through CONNECT.
export function parseAbsolute(raw: string): { target: Target; path: string } | { error: string } {
  const r = splitAbsolute(raw);
  if ('target' in r && r.target.scheme !== 'http') return { error: 'https:// in a proxy request line is not supported (use CONNECT)' };
  return r;
}

// A request line inside a tunnel: origin-form is the norm; absolute-form is accepted when it
// names the tunnel's own origin. Returns the path, or undefined when the target is not ours.
export function tunnelPath(t: Target, requestTarget: string): string | undefined {
  if (requestTarget.startsWith('/')) return requestTarget;
  const r = splitAbsolute(requestTarget);
  if ('error' in r) return undefined;
  const same = r.target.scheme === t.scheme && r.target.host.host === t.host.host && r.target.port === t.port;
  return same ? r.path : undefined;
}

// Whether a request's Host header names the tunnel's origin (a missing header is HTTP/1.0,
// judged by the tunnel alone). A port in the header must be the tunnel's port.
export function hostHeaderMatches(t: Target, hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return true;
  const a = parseAuthority(hostHeader, DEFAULT_PORT[t.scheme]);
  return a !== undefined && a.host.host === t.host.host && a.port === t.port;
}
