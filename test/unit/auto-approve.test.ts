// Pre-approval (issue 15): manifest `supervise.auto_approve` parsed and checked with
// file:line:col (a wildcard over a public suffix refused), merged from defaults and the agent
// into the plan, and matched against proposals (allowlist only, never routes). Pure parts only;
// supervise-server.test.ts and test/cli/auto-approve.test.ts run it against real processes.
import t from 'tap';
import { formatIssue, parseManifest } from '../../lib/manifest/index.js';
import { autoApproveProblem } from '../../lib/manifest/supervise.js';
import { preparePlan, renderPlan } from '../../lib/plan/index.js';
import { coversPublicSuffix, isPublicSuffix } from '../../lib/policy/index.js';
import { matchAutoApprove } from '../../lib/proposals/index.js';

const errors = (text: string): string[] => parseManifest(text, 'bottle.yaml').issues.map(formatIssue);
const plan = (text: string, agent = 'a') => {
  const r = parseManifest(text, 'bottle.yaml');
  if (!r.manifest) throw new Error(r.issues.map(formatIssue).join('\n'));
  return preparePlan({ path: '/m/bottle.yaml', manifest: r.manifest }, agent);
};

t.test('coversPublicSuffix: the suffix a wildcard reaches across, or undefined', async (t) => {
  const covered: Array<[string, string]> = [
    ['*', '*'], ['*.com', 'com'], ['*.uk', 'uk'], ['*.co.uk', 'co.uk'], ['*.com.au', 'com.au'], ['*.or.jp', 'or.jp'],
    ['*.github.io', 'github.io'], ['*.githubusercontent.com', 'githubusercontent.com'], ['*.herokuapp.com', 'herokuapp.com'],
    ['*.xn--p1ai', 'xn--p1ai'], ['*.CO.UK.', 'co.uk'],
    // Holds a suffix below it: every S3 bucket host is somebody else's.
    ['*.amazonaws.com', 's3.amazonaws.com'],
  ];
  for (const [pattern, suffix] of covered) t.equal(coversPublicSuffix(pattern), suffix, pattern);
  for (const pattern of ['*.npmjs.org', '*.example.co.uk', '*.acme.github.io', '*.s3-bucket.example.com', 'github.io', 'com', 'registry.npmjs.org', '10.0.0.5']) {
    t.equal(coversPublicSuffix(pattern), undefined, `${pattern}: one owner's names`);
  }
  t.ok(isPublicSuffix('net') && isPublicSuffix('ac.uk') && isPublicSuffix('pages.dev'));
  t.notOk(isPublicSuffix('example.com') || isPublicSuffix('co.example') || isPublicSuffix(''));
});

t.test('auto_approve per agent and in defaults: normalised, merged into the plan, shown in the preflight', async (t) => {
  const text = [
    'version: 1',
    'defaults:',
    '  supervise: { auto_approve: [registry.npmjs.org, "*.PyPI.org"] }',
    'agents:',
    '  a:',
    '    supervise:',
    '      auto_approve: ["*.pythonhosted.org", registry.npmjs.org, 10.1.2.3]',
    '  b: {}',
    '  c: { supervise: false }',
    '  d: { supervise: true }',
    '',
  ].join('\n');
  const r = parseManifest(text, 'bottle.yaml');
  t.same(r.issues, []);
  t.same(r.manifest!.defaults.supervise, { autoApprove: ['registry.npmjs.org', '*.pypi.org'] });
  t.match(r.manifest!.agents.a, { supervise: true, superviseSpec: { autoApprove: ['*.pythonhosted.org', 'registry.npmjs.org', '10.1.2.3'] } });
  t.same(r.positions.get('agents.a.supervise.auto_approve[1]'), { line: 7, col: 44 }, 'each entry has a position for later checks');
  t.same(plan(text).autoApprove, ['registry.npmjs.org', '*.pypi.org', '*.pythonhosted.org', '10.1.2.3'], 'defaults first, once each');
  t.same(plan(text, 'b').autoApprove, ['registry.npmjs.org', '*.pypi.org'], 'an agent without its own gets the defaults');
  t.notOk('autoApprove' in plan(text, 'c'), 'supervise off: nothing to approve');
  t.same(plan(text, 'd').autoApprove, ['registry.npmjs.org', '*.pypi.org']);
  t.notOk('autoApprove' in plan('version: 1\nagents: { a: {} }\n'), 'no rules: no key');
  t.match(renderPlan(plan(text, 'b')), /^supervise   on \(agent can propose policy changes\)\n {12}auto-approves allowlist proposals for registry\.npmjs\.org\n {12}auto-approves allowlist proposals for \*\.pypi\.org$/m);
});

t.test('a wildcard over a public suffix, "*" and non-hosts are refused at check, each at its entry', async (t) => {
  const text = [
    'version: 1',
    'defaults:',
    '  supervise: { auto_approve: ["*.co.uk"] }',
    'agents:',
    '  a:',
    '    supervise:',
    '      auto_approve:',
    '        - "*.com"',
    '        - "*"',
    '        - "*.github.io"',
    '        - https://registry.npmjs.org/',
    '        - 42',
    '        - "*.npmjs.org"',
    '  b: { supervise: { auto_aprove: [x.example.com] } }',
    '  c: { supervise: [x.example.com] }',
    '  d: { supervise: { auto_approve: x.example.com } }',
    '',
  ].join('\n');
  const span = (p: string, s: string) => `"${p}" spans the public suffix ${s}, whose names belong to many different owners; list the hosts or the *.domain of one owner you trust (e.g. *.example.com)`;
  t.same(errors(text), [
    `bottle.yaml:3:31: defaults.supervise.auto_approve[0]: ${span('*.co.uk', 'co.uk')}`,
    `bottle.yaml:8:11: agents.a.supervise.auto_approve[0]: ${span('*.com', 'com')}`,
    'bottle.yaml:9:11: agents.a.supervise.auto_approve[1]: "*" would approve every host the agent asks for; list the hosts or *.domain you trust',
    `bottle.yaml:10:11: agents.a.supervise.auto_approve[2]: ${span('*.github.io', 'github.io')}`,
    'bottle.yaml:11:11: agents.a.supervise.auto_approve[3]: expected a hostname, *.domain or an IP address',
    'bottle.yaml:12:11: agents.a.supervise.auto_approve[4]: expected a host or *.domain, got a number (42)',
    'bottle.yaml:14:21: agents.b.supervise.auto_aprove: unknown key; did you mean auto_approve?',
    'bottle.yaml:15:19: agents.c.supervise: expected true, false or a mapping (auto_approve: [hosts]), got a list',
    'bottle.yaml:16:35: agents.d.supervise.auto_approve: expected a list, got a string',
  ]);
  t.equal(autoApproveProblem('*.amazonaws.com'), span('*.amazonaws.com', 's3.amazonaws.com'));
  t.equal(autoApproveProblem('*.npmjs.org'), undefined);
});

t.test('matchAutoApprove: allowlist proposals only, exact hosts and wildcards of one owner', async (t) => {
  const rules = ['registry.npmjs.org', '*.pypi.org', '10.1.2.3'];
  const m = (host: string, kind: 'allowlist' | 'route' = 'allowlist') => matchAutoApprove({ kind, payload: { host } }, rules);
  t.equal(m('registry.npmjs.org'), 'registry.npmjs.org');
  t.equal(m('pypi.org'), '*.pypi.org', '*.d covers d itself, as a policy allow entry does');
  t.equal(m('files.pypi.org'), '*.pypi.org');
  t.equal(m('*.files.pypi.org'), '*.pypi.org', 'a narrower wildcard is inside the rule');
  t.equal(m('*.pypi.org'), '*.pypi.org');
  t.equal(m('10.1.2.3'), '10.1.2.3');
  for (const host of ['npmjs.org', 'www.npmjs.org', '*.npmjs.org', 'evilpypi.org', 'pypi.org.evil.example', '10.1.2.4']) t.equal(m(host), undefined, host);
  t.equal(m('registry.npmjs.org', 'route'), undefined, 'a route proposal (credential injection) is never pre-approved');
  t.equal(m('files.pypi.org', 'route'), undefined);
  t.equal(matchAutoApprove({ kind: 'allowlist', payload: { host: 'evil.com' } }, ['*', '*.com']), undefined, 'refused rules never match, even from a hand-edited launch.json');
});
