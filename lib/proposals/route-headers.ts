// Which header a route approval injects when the operator has not typed one: the dashboard's
// header form starts from it and the one-key popup approves with it (after showing it).
import { registrableDomain } from '../policy/public-suffix.js';
import type { Policy } from '../policy/types.js';

// The env var a route host's credential is likely in: api.github.com → GITHUB_TOKEN,
// api.example.co.uk → EXAMPLE_TOKEN.
export function suggestEnvVar(host: string): string {
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '');
  const domain = registrableDomain(name) ?? name;
  const base = domain.split('.')[0] || 'API';
  return `${base.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_TOKEN`;
}

// The headers a route approval without typed headers injects: the existing route's (so
// approving again changes nothing), else `Authorization: Bearer ${<SUGGESTED>_TOKEN}`.
export function defaultRouteHeaders(policy: Policy | null, host: string): Record<string, string> {
  const existing = policy?.routes.find((r) => r.host === host);
  if (existing && Object.keys(existing.headers).length > 0) return { ...existing.headers };
  return { Authorization: `Bearer \${${suggestEnvVar(host)}}` };
}
