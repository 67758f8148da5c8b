// The risk summary the popup and `bottle proposals decide` show (lib/proposals/risk.ts), the
// public-suffix rule behind it (lib/policy/public-suffix.ts), and approval refusing a wildcard
// over a public suffix in planApproval, the one place the CLI and the dashboard approve through.
import t from 'tap';
import { UserError } from '../../lib/errors.js';
import {
  isPublicSuffix, loadPolicy, publicSuffixOf, publicSuffixWildcardProblem, registrableDomain,
} from '../../lib/policy/index.js';
import {
  assessRisk, defaultRouteHeaders, planApproval, riskLines, suggestEnvVar, type Proposal, type RiskSummary,
} from '../../lib/proposals/index.js';

const POLICY_TEXT = `version: 1
allow: [registry.npmjs.org, "*.github.com"]
block: [evil.example.com]
routes:
  - host: api.example.com
    headers: { X-Key: "\${EX_KEY}" }
`;
const policy = loadPolicy(POLICY_TEXT);

t.test('public suffixes: every single label, the embedded multi-label ones, nothing else', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['com', true], ['zz', true], ['co.uk', true], ['github.io', true], ['s3.amazonaws.com', true],
    ['example.com', false], ['github.com', false], ['amazonaws.com', false], ['user.github.io', false],
  ];
  for (const [name, want] of cases) t.equal(isPublicSuffix(name), want, name);
  t.equal(publicSuffixOf('a.b.example.co.uk'), 'co.uk');
  t.equal(publicSuffixOf('api.github.com'), 'com');
  t.equal(registrableDomain('a.b.example.co.uk'), 'example.co.uk');
  t.equal(registrableDomain('me.github.io'), 'me.github.io');
  t.equal(registrableDomain('co.uk'), undefined);
});

t.test('publicSuffixWildcardProblem: wildcards over or above a public suffix', async (t) => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['*.com', /spans every site under the public suffix com/],
    ['*.co.uk', /public suffix co\.uk/],
    ['*.github.io', /public suffix github\.io/],
    ['*.amazonaws.com', /spans the public suffix s3\.amazonaws\.com/],
    ['*', /every host/],
    ['*.example.co.uk', undefined],
    ['*.github.com', undefined],
    ['*.me.github.io', undefined],
    ['co.uk', undefined], // not a wildcard: an exact host, judged elsewhere
  ];
  for (const [pattern, want] of cases) {
    const got = publicSuffixWildcardProblem(pattern);
    if (want) t.match(got, want, pattern);
    else t.equal(got, undefined, pattern);
  }
});

// [what, input, expected subset of the summary]
const TABLE: Array<[string, { kind: 'allowlist' | 'route'; host: string; headers?: Record<string, string>; policy?: null }, Record<string, unknown>]> = [
  ['a new exact host', { kind: 'allowlist', host: 'docs.example.org' },
    { level: 'low', policy: { state: 'new' }, credentials: [], address: undefined, service: undefined, wildcard: undefined, refusal: undefined }],
  ['a host the policy covers already', { kind: 'allowlist', host: 'api.github.com' },
    { level: 'low', policy: { state: 'covered', by: '*.github.com' } }],
  ['an exact entry does not cover a wildcard', { kind: 'allowlist', host: '*.registry.npmjs.org' },
    { level: 'medium', policy: { state: 'new' }, wildcard: { base: 'registry.npmjs.org', breadth: 'subdomains' } }],
  ['no policy to compare with', { kind: 'allowlist', host: 'docs.example.org', policy: null }, { policy: { state: 'unknown' } }],
  ['a blocked host is refused', { kind: 'allowlist', host: 'evil.example.com' },
    { level: 'refused', policy: { state: 'blocked', by: 'evil.example.com' }, refusal: 'evil.example.com is blocked by "evil.example.com"' }],
  ['a domain-wide wildcard', { kind: 'allowlist', host: '*.example.org' },
    { level: 'medium', wildcard: { base: 'example.org', breadth: 'domain' } }],
  ['a wildcard under a two-label suffix', { kind: 'allowlist', host: '*.example.co.uk' },
    { level: 'medium', wildcard: { base: 'example.co.uk', breadth: 'domain' } }],
  ['*.co.uk is refused', { kind: 'allowlist', host: '*.co.uk' },
    { level: 'refused', wildcard: { base: 'co.uk', breadth: 'public-suffix' }, refusal: '*.co.uk spans every site under the public suffix co.uk, of unrelated owners' }],
  ['*.github.io is refused', { kind: 'allowlist', host: '*.github.io' }, { level: 'refused', wildcard: { base: 'github.io', breadth: 'public-suffix' } }],
  ['*.com is refused for the public suffix (not only as malformed)', { kind: 'allowlist', host: '*.com' },
    { level: 'refused', refusal: '*.com spans every site under the public suffix com, of unrelated owners' }],
  ['a route names its header and host variable', { kind: 'route', host: 'api.github.com', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } },
    { level: 'medium', policy: { state: 'new' }, credentials: [{ header: 'Authorization', vars: ['GITHUB_TOKEN'] }] }],
  ['a route keeps the existing headers it does not replace', { kind: 'route', host: 'api.example.com', headers: { Authorization: 'Bearer ${EX_TOKEN}' } },
    { policy: { state: 'covered', by: 'route api.example.com (X-Key)' }, credentials: [{ header: 'X-Key', vars: ['EX_KEY'] }, { header: 'Authorization', vars: ['EX_TOKEN'] }] }],
  ['a route without headers yet', { kind: 'route', host: 'api.acme.dev' }, { credentials: [] }],
  ['the metadata address', { kind: 'allowlist', host: '169.254.169.254' },
    { level: 'refused', address: '169.254.169.254 is a cloud metadata endpoint' }],
  ['a private address in another spelling', { kind: 'allowlist', host: '0x0a000001' },
    { host: '0x0a000001', address: '10.0.0.1 is in the private 10.0.0.0/8 range', level: 'refused' }],
  ['a metadata name', { kind: 'allowlist', host: 'metadata.google.internal' }, { level: 'high', address: 'metadata.google.internal is a cloud metadata endpoint' }],
  ['a localhost name', { kind: 'allowlist', host: 'app.localhost' }, { level: 'high', address: 'app.localhost is a local-only name (.localhost)' }],
  ['a name that resolves to loopback', { kind: 'allowlist', host: 'x.lvh.me' }, { level: 'high', address: /resolves to 127\.0\.0\.1/ }],
  ['a name that resolves to the private address in it', { kind: 'allowlist', host: 'app-10-1-2-3.sslip.io' },
    { level: 'high', address: /here 10\.1\.2\.3 \(private 10\.0\.0\.0\/8\)/ }],
  ['a paste service', { kind: 'allowlist', host: 'pastebin.com' }, { level: 'high', service: 'pastebin.com' }],
  ['a tunnel under a listed wildcard', { kind: 'allowlist', host: 'abc123.ngrok-free.app' }, { level: 'high', service: '*.ngrok-free.app' }],
  ['a request-capture service', { kind: 'allowlist', host: 'webhook.site' }, { level: 'high', service: 'webhook.site' }],
  ['a wildcard that covers a capture service', { kind: 'allowlist', host: '*.pipedream.net' }, { level: 'high', service: '*.m.pipedream.net' }],
  ['a file drop', { kind: 'allowlist', host: 'transfer.sh' }, { level: 'high', service: 'transfer.sh' }],
];

for (const [what, input, want] of TABLE) {
  t.test(`assessRisk: ${what}`, async (t) => {
    const got = assessRisk({ kind: input.kind, host: input.host, policy: input.policy === null ? null : policy, ...(input.headers ? { headers: input.headers } : {}) });
    t.match(got, want);
    for (const [k, v] of Object.entries(want)) if (v === undefined) t.equal(got[k as keyof RiskSummary], undefined, `${k} unset`);
    t.equal(got.refusal !== undefined, got.level === 'refused', 'refused iff there is a refusal');
  });
}

t.test('a time-boxed grant covers a host only until it lapses (an agent re-proposing after it sees "new")', async (t) => {
  const timed = loadPolicy('version: 1\nallow: [{ host: docs.example.org, until: "2030-01-01T00:00:00Z" }]\n');
  const at = (now: number) => assessRisk({ kind: 'allowlist', host: 'docs.example.org', policy: timed, now }).policy;
  t.same(at(Date.parse('2029-12-31T23:59:59Z')), { state: 'covered', by: 'docs.example.org' });
  t.same(at(Date.parse('2030-01-01T00:00:00Z')), { state: 'new' });
});

t.test('riskLines: the verdict first, then one labelled line per topic', async (t) => {
  const lines = riskLines(assessRisk({ kind: 'route', host: 'api.github.com', policy, headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }));
  t.same(lines, [
    'risk: MEDIUM',
    '  policy       new route: no credential is injected for this host today',
    '  breadth      exact host',
    '  credentials  Authorization <- $GITHUB_TOKEN',
    '  address      public name',
    '  service      not a known paste/tunnel/capture service',
  ]);
  const refused = riskLines(assessRisk({ kind: 'allowlist', host: '*.github.io', policy }));
  t.match(refused[0], /^risk: REFUSED - \*\.github\.io spans every site under the public suffix github\.io/);
  t.match(refused[2], /breadth\s+REFUSED: spans a public suffix/);
  t.match(riskLines(assessRisk({ kind: 'allowlist', host: '8.8.8.8', policy }))[4], /address\s+public IP address/);
});

t.test('route header suggestion: the existing route, else Authorization over <DOMAIN>_TOKEN', async (t) => {
  t.equal(suggestEnvVar('api.github.com'), 'GITHUB_TOKEN');
  t.equal(suggestEnvVar('api.example.co.uk'), 'EXAMPLE_TOKEN', 'the registrable domain, not the "co" of co.uk');
  t.equal(suggestEnvVar('registry.npm-js.org:443'), 'NPM_JS_TOKEN');
  t.same(defaultRouteHeaders(policy, 'api.example.com'), { 'X-Key': '${EX_KEY}' });
  t.same(defaultRouteHeaders(policy, 'api.github.com'), { Authorization: 'Bearer ${GITHUB_TOKEN}' });
  t.same(defaultRouteHeaders(null, 'api.github.com'), { Authorization: 'Bearer ${GITHUB_TOKEN}' });
});

t.test('planApproval refuses a wildcard over a public suffix (CLI and dashboard approve through it)', async (t) => {
  const proposal = (host: string): Proposal => ({
    id: '20260301T100000000Z-a1b2c3d4e5f6', kind: 'allowlist', payload: { host }, reason: 'r', created: '2026-03-01T10:00:00.000Z', policyHash: null,
  });
  const current = { file: '/x/policy.yaml', text: POLICY_TEXT, policy };
  for (const host of ['*.co.uk', '*.github.io', '*.amazonaws.com']) {
    t.throws(() => planApproval(proposal(host), current, undefined, {}), UserError, host);
    t.throws(() => planApproval(proposal(host), current, undefined, {}), /cannot approve 20260301T100000000Z-a1b2c3d4e5f6: .*public suffix.*bottle proposals reject/, host);
  }
  t.same(planApproval(proposal('*.example.co.uk'), current, undefined, {}).summary, ['+ allow *.example.co.uk']);
});
