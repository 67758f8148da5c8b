// Public suffixes: names under which unrelated owners register sites (`com`, `co.uk`,
// `github.io`), so a wildcard over one (`*.co.uk`) allows the sites of strangers. No network at
// run time and no dependency ships the Public Suffix List (publicsuffix.org), so this is a
// compact embedded subset: EVERY single label (any TLD) counts, plus the common multi-label
// suffixes below: country second levels and the hosting platforms whose subdomains belong to
// their users. A suffix missing here is judged as a registrable domain; add it when met.
// Lower-case ASCII (punycode), no trailing dot, as lib/policy/hosts.ts normalises names.
const MULTI_LABEL_SUFFIXES: readonly string[] = [
  // country second levels (ICANN section)
  'co.uk', 'org.uk', 'me.uk', 'ltd.uk', 'plc.uk', 'net.uk', 'sch.uk', 'ac.uk', 'gov.uk', 'nhs.uk', 'police.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au', 'asn.au', 'id.au',
  'co.nz', 'net.nz', 'org.nz', 'govt.nz', 'ac.nz', 'school.nz',
  'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'go.jp', 'gr.jp', 'ad.jp', 'ed.jp', 'lg.jp',
  'co.kr', 'or.kr', 'ne.kr', 'go.kr', 'ac.kr', 're.kr',
  'com.cn', 'net.cn', 'org.cn', 'gov.cn', 'edu.cn', 'ac.cn',
  'com.hk', 'net.hk', 'org.hk', 'edu.hk', 'gov.hk', 'com.tw', 'net.tw', 'org.tw', 'edu.tw', 'gov.tw',
  'co.in', 'net.in', 'org.in', 'firm.in', 'gen.in', 'ind.in', 'ac.in', 'edu.in', 'gov.in', 'res.in',
  'com.sg', 'net.sg', 'org.sg', 'edu.sg', 'gov.sg', 'com.my', 'com.ph', 'com.vn', 'com.pk', 'co.id', 'or.id', 'web.id',
  'co.th', 'in.th', 'ac.th', 'go.th', 'co.il', 'org.il', 'net.il', 'ac.il', 'gov.il',
  'com.tr', 'net.tr', 'org.tr', 'edu.tr', 'gov.tr', 'com.sa', 'com.eg', 'co.za', 'org.za', 'net.za', 'gov.za', 'ac.za',
  'com.ng', 'co.ke', 'com.br', 'net.br', 'org.br', 'gov.br', 'edu.br', 'com.mx', 'org.mx', 'gob.mx', 'net.mx',
  'com.ar', 'com.co', 'com.pe', 'com.ve', 'com.ec', 'com.uy', 'com.es', 'org.es', 'nom.es', 'gob.es', 'com.pt',
  'com.gr', 'com.pl', 'net.pl', 'org.pl', 'com.ua', 'co.at', 'or.at',
  // sites of many owners on one platform (private section)
  'github.io', 'githubusercontent.com', 'gitlab.io', 'bitbucket.io', 'codeberg.page', 'sourceforge.io',
  'herokuapp.com', 'vercel.app', 'now.sh', 'netlify.app', 'pages.dev', 'workers.dev', 'r2.dev',
  'appspot.com', 'web.app', 'firebaseapp.com', 'blogspot.com', 'cloudfront.net', 's3.amazonaws.com',
  'elasticbeanstalk.com', 'amplifyapp.com', 'azurewebsites.net', 'azurestaticapps.net', 'cloudapp.net',
  'blob.core.windows.net', 'onrender.com', 'fly.dev', 'up.railway.app', 'glitch.me', 'repl.co', 'deno.dev',
  'surge.sh', 'readthedocs.io', 'pythonanywhere.com', 'webflow.io', 'myshopify.com',
  'ngrok.io', 'ngrok.app', 'ngrok-free.app', 'trycloudflare.com', 'duckdns.org', 'ddns.net',
  'eu.org', 'us.com', 'uk.com', 'eu.com', 'dyndns.org', 'ngrok.dev',
];

// Second-level labels that registries under two-letter country codes hand out publicly: `co.xx`,
// `com.xx`, `ac.xx` … count as suffixes for any country code, listed or not (safe side).
const GENERIC_SECOND_LEVEL: ReadonlySet<string> = new Set([
  'ac', 'asso', 'biz', 'co', 'com', 'ed', 'edu', 'firm', 'gen', 'go', 'gob', 'gouv', 'gov', 'govt', 'ind', 'info',
  'int', 'ltd', 'me', 'med', 'mil', 'name', 'ne', 'net', 'nhs', 'nom', 'or', 'org', 'plc', 'police', 'pro', 'sch', 'tm', 'web',
]);

const SUFFIXES: ReadonlySet<string> = new Set(MULTI_LABEL_SUFFIXES);

// Whether `name` is a public suffix: any single label, a listed multi-label suffix, or a generic
// second level under a two-letter country code.
export function isPublicSuffix(name: string): boolean {
  if (name === '') return false;
  if (!name.includes('.') || SUFFIXES.has(name)) return true;
  const labels = name.split('.');
  return labels.length === 2 && labels[1]!.length === 2 && GENERIC_SECOND_LEVEL.has(labels[0]!);
}

// The longest public suffix `host` ends in (at least its last label).
export function publicSuffixOf(host: string): string {
  const labels = host.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const tail = labels.slice(i).join('.');
    if (isPublicSuffix(tail)) return tail;
  }
  return labels[labels.length - 1]!;
}

// The name its owner registered: one label more than its public suffix (`a.b.co.uk` → `b.co.uk`);
// undefined when `host` is itself a public suffix.
export function registrableDomain(host: string): string | undefined {
  const suffix = publicSuffixOf(host);
  if (host === suffix) return undefined;
  const rest = host.slice(0, -suffix.length - 1);
  return `${rest.slice(rest.lastIndexOf('.') + 1)}.${suffix}`;
}

// The public suffix a host pattern reaches across, or undefined when it stays inside one owner's
// names: `*` reaches every one; `*.d` reaches d when d is a suffix (`*.co.uk`) or one below d
// (`*.amazonaws.com` spans s3.amazonaws.com's buckets). A host without a wildcard: undefined.
export function coversPublicSuffix(pattern: string): string | undefined {
  const p = pattern.trim().toLowerCase().replace(/\.$/, '');
  if (p === '*') return '*';
  if (!p.startsWith('*.')) return undefined;
  const base = p.slice(2);
  if (isPublicSuffix(base)) return base;
  return MULTI_LABEL_SUFFIXES.find((s) => s.endsWith(`.${base}`));
}

// Why a host pattern may never be granted, or undefined (coversPublicSuffix in words). The one
// rule every approval path and the manifest's auto_approve apply.
export function publicSuffixWildcardProblem(pattern: string): string | undefined {
  const suffix = coversPublicSuffix(pattern);
  if (suffix === undefined) return undefined;
  if (suffix === '*') return '"*" matches every host';
  const base = pattern.trim().toLowerCase().replace(/\.$/, '').slice(2);
  if (suffix === base) return `${pattern} spans every site under the public suffix ${base}, of unrelated owners`;
  return `${pattern} spans the public suffix ${suffix}, whose sites belong to unrelated owners`;
}
