// Public suffixes: names under which unrelated parties register their own hosts (`com`, `co.uk`,
// `github.io`). A wildcard over one (`*.com`, `*.github.io`) would reach anyone's hosts, so the
// places that refuse broad standing rules (manifest `supervise.auto_approve`) ask this module.
// No copy of the full Public Suffix List is shipped: every single-label name counts, a generic
// second level under a two-letter country code (`co.uk`, `com.au`, `or.jp`) counts, and so do the
// shared hosting, user-content and tunnel suffixes listed below (all of them on the PSL). The
// errors of this approximation fall on the safe side for standing rules: a rare real suffix it
// misses is a three-label one; a name it wrongly calls a suffix is only refused as a wildcard.

// Second-level labels that registries under two-letter country codes hand out publicly.
const GENERIC_SECOND_LEVEL = new Set([
  'ac', 'asso', 'biz', 'co', 'com', 'ed', 'edu', 'firm', 'gen', 'go', 'gob', 'gouv', 'gov', 'govt', 'ind', 'info',
  'int', 'ltd', 'me', 'med', 'mil', 'name', 'ne', 'net', 'nhs', 'nom', 'or', 'org', 'plc', 'police', 'pro', 'sch', 'tm', 'web',
]);

// Multi-label suffixes where each subdomain belongs to a different customer (PSL private section).
const SHARED_SUFFIXES = new Set([
  'appspot.com', 'azurestaticapps.net', 'azurewebsites.net', 'bitbucket.io', 'blogspot.com', 'cloudapp.net',
  'cloudfront.net', 'codeberg.page', 'ddns.net', 'deno.dev', 'duckdns.org', 'dyndns.org', 'elasticbeanstalk.com',
  'firebaseapp.com', 'fly.dev', 'github.io', 'githubusercontent.com', 'gitlab.io', 'glitch.me', 'herokuapp.com',
  'netlify.app', 'ngrok.app', 'ngrok.dev', 'ngrok.io', 'ngrok-free.app', 'now.sh', 'onrender.com', 'pages.dev',
  'pythonanywhere.com', 'r2.dev', 'readthedocs.io', 'repl.co', 's3.amazonaws.com', 'trycloudflare.com', 'vercel.app',
  'web.app', 'workers.dev',
]);

// Whether `name` (lowercase, no wildcard, no trailing dot) is itself a public suffix.
export function isPublicSuffix(name: string): boolean {
  const labels = name.split('.');
  if (labels.length === 1) return labels[0] !== '';
  if (labels.length === 2 && labels[1]!.length === 2 && GENERIC_SECOND_LEVEL.has(labels[0]!)) return true;
  return SHARED_SUFFIXES.has(name);
}

// The public suffix a host pattern reaches across, or undefined when it stays inside one owner's
// names. `*` reaches every suffix; `*.d` reaches one when d is a suffix (`*.co.uk`) or holds one
// (`*.amazonaws.com` holds `s3.amazonaws.com`, where every bucket is somebody else's). A host
// without a wildcard is one host, whatever its name: undefined.
export function coversPublicSuffix(pattern: string): string | undefined {
  const p = pattern.trim().toLowerCase().replace(/\.$/, '');
  if (p === '*') return '*';
  if (!p.startsWith('*.')) return undefined;
  const domain = p.slice(2);
  if (isPublicSuffix(domain)) return domain;
  for (const s of SHARED_SUFFIXES) if (s.endsWith(`.${domain}`)) return s;
  return undefined;
}
