// `bottle policy explain|check`: output shape and exit codes, via a real subprocess where stdin
// or the process exit code matters, in-process otherwise.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bottleInProcess, bottleProcess } from '../helpers/cli.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const fixtures = fileURLToPath(new URL('../fixtures/policy/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bottle-policy-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
  return path;
};
const parse = (stdout: string) => JSON.parse(stdout.trim()) as Record<string, unknown>;

t.test('acceptance: base64 secret on stdin is blocked by a DLP stage; exit 0', async (t) => {
  const q = Buffer.from(FAKE.anthropic).toString('base64');
  const r = await bottleProcess(['policy', 'explain', '/dev/stdin'], { input: JSON.stringify({ method: 'GET', url: `https://x.test/?q=${q}` }) });
  t.equal(r.exitCode, 0, r.stderr);
  const v = parse(r.stdout);
  t.same(Object.keys(v), ['verdict', 'stage', 'reason', 'rule']);
  t.equal(v.verdict, 'block');
  t.match(v.stage, /dlp/);
});

t.test('acceptance: the GitHub issues call is allowed; "-" reads stdin', async (t) => {
  const r = await bottleProcess(['policy', 'explain', '-'], { input: '{"method":"GET","url":"https://api.github.com/repos/x/y/issues?state=open"}' });
  t.equal(r.exitCode, 0, r.stderr);
  t.same(parse(r.stdout), { verdict: 'allow', stage: 'done', reason: 'allowed by "*"', rule: '*' });
});

t.test('explain with --policy, headers and body_base64', async (t) => {
  const policy = join(fixtures, 'example.yaml');
  const off = write('off.json', { method: 'GET', url: 'https://example.org/' });
  let r = await bottleInProcess(['policy', 'explain', off, '--policy', policy]);
  t.equal(r.exitCode, 0);
  t.match(parse(r.stdout), { verdict: 'block', stage: 'allowlist', rule: 'not-allowed' });
  const body = write('body.json', { method: 'POST', url: 'https://registry.npmjs.org/-/v1/x', headers: { 'Content-Type': 'text/plain' }, body_base64: Buffer.from(`k ${FAKE.github}`).toString('base64') });
  r = await bottleInProcess(['policy', 'explain', body, '--policy', policy]);
  t.match(parse(r.stdout), { verdict: 'block', stage: 'body-dlp', rule: 'github-token' });
  const hdr = write('hdr.json', { method: 'GET', url: 'https://registry.npmjs.org/', headers: { 'X-Custom': [FAKE.slack] } });
  r = await bottleInProcess(['policy', 'explain', hdr, '--policy', policy]);
  t.match(parse(r.stdout), { verdict: 'block', stage: 'header-dlp' });
});

t.test('explain: a block hit names the block entry that matched, as an allow hit names its allow entry', async (t) => {
  // Regression (issue 20): block hits said rule "blocked", not which entry blocked.
  const policy = write('blocking.yaml', 'version: 1\nallow: ["*.example.com"]\nblock: ["*.evil.example.com"]\n');
  const ok = await bottleInProcess(['policy', 'explain', write('ok.json', { url: 'https://docs.example.com/' }), '--policy', policy]);
  t.same(parse(ok.stdout), { verdict: 'allow', stage: 'done', reason: 'allowed by "*.example.com"', rule: '*.example.com' });
  const hit = await bottleInProcess(['policy', 'explain', write('hit.json', { url: 'https://x.evil.example.com/' }), '--policy', policy]);
  t.equal(hit.exitCode, 0);
  t.same(parse(hit.stdout), { verdict: 'block', stage: 'blocklist', reason: 'x.evil.example.com is blocked by "*.evil.example.com"', rule: '*.evil.example.com' });
});

t.test('explain uses route env values from the environment as canaries', async (t) => {
  const policy = write('route.yaml', 'version: 1\nallow: [x.test]\nroutes: [{ host: api.github.com, headers: { Authorization: "Bearer ${GH_ROUTE}" } }]\n');
  const req = write('leak.json', { method: 'GET', url: `https://x.test/?v=${Buffer.from(FAKE.routeToken).toString('hex')}` });
  const r = await bottleInProcess(['policy', 'explain', req, '--policy', policy], { env: { GH_ROUTE: FAKE.routeToken } });
  t.match(parse(r.stdout), { verdict: 'block', stage: 'canary', rule: 'canary-hex' });
  t.notMatch(r.stdout, FAKE.routeToken);
  const without = await bottleInProcess(['policy', 'explain', req, '--policy', policy], { env: {} });
  t.match(parse(without.stdout), { verdict: 'allow' });
});

t.test('explain: bad input exits 2 with one line', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['not JSON', [write('bad.json', '{nope')], /not valid JSON/],
    ['no url', [write('nourl.json', { method: 'GET' })], /"url" must be a non-empty string/],
    ['unknown key', [write('extra.json', { url: 'https://x.test/', verb: 'GET' })], /unknown key "verb"/],
    ['bad header', [write('hdrbad.json', { url: 'https://x.test/', headers: { a: 1 } })], /header "a" must be a string/],
    ['both bodies', [write('both.json', { url: 'https://x.test/', body: 'a', body_base64: 'YQ==' })], /not both/],
    ['missing file', [join(dir, 'missing.json')], /cannot read request .*ENOENT/],
    ['invalid policy', [write('ok.json', { url: 'https://x.test/' }), '--policy', write('bad.yaml', 'version: 1\nallow: [https://x]\n')], /bad\.yaml:2:9: allow\[0\]/],
  ];
  for (const [name, args, re] of cases) {
    const r = await bottleInProcess(['policy', 'explain', ...args]);
    t.equal(r.exitCode, 2, name);
    t.match(r.stderr, re, name);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    t.equal(r.stdout, '', `${name}: no verdict printed`);
  }
});

t.test('check: ok exits 0; invalid exits 1 with file:line:col', async (t) => {
  const good = await bottleInProcess(['policy', 'check', join(fixtures, 'example.yaml')]);
  t.equal(good.exitCode, 0);
  t.match(good.stdout, /example\.yaml: ok \(4 allow, 1 block, 1 routes, 1 passthrough\)/);
  const bad = write('unknown.yaml', 'version: 1\nallow: [a.com]\nroutes:\n  - host: a.com\n    headers: { X-Key: "abc ${def" }\n');
  const r = await bottleProcess(['policy', 'check', bad]);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /unknown\.yaml:5:23: routes\[0\]\.headers\.X-Key: unclosed \$\{ at character 5/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});
