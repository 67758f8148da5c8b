// Operator-granted exceptions (issue 13 class 1): a known dummy value, named by its finding
// fingerprint in the manifest's dlp.ignore, passes the real gateway and the real git gate; any
// other secret, including one glued to the dummy, is still refused and never reaches upstream.
// The fingerprint is taken the way an operator takes it: from `bottle scan`'s report.
import { join } from 'node:path';
import t from 'tap';
import { scanTarget } from '../../commands/scan.js';
import { policyTextFromPlan } from '../../lib/lifecycle/policy.js';
import { parseManifest } from '../../lib/manifest/parse.js';
import { preparePlan, renderPlan } from '../../lib/plan/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { fingerprint } from '../../lib/secrets/index.js';
import { upstreamsJson } from '../../lib/backends/bundle/plan.js';
import { parseUpstreams } from '../../sidecars/git-gate/config.js';
import { startGitGate } from '../../sidecars/git-gate/daemon.js';
import { httpsViaProxy } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld } from '../fixtures/gateway/world.js';
import { SECRETS, bareUpstream, commit, freePort, git, gitProbe, gitWorld, identity, rev } from '../fixtures/git-gate/world.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

// What `bottle scan -` reports for `text`: the fingerprints an operator would copy.
async function fingerprintsOf(text: string): Promise<string[]> {
  const report = await scanTarget('-', '/', async () => text);
  return report.findings.map((f) => f.fingerprint);
}

t.test('a manifest dlp.ignore reaches the preflight, the bottle policy and the git gate settings', async (t) => {
  const [a, b, c] = [fingerprint('a'), fingerprint('b'), fingerprint('c')];
  const text = `version: 1
defaults:
  dlp: { ignore: ["${a}", "${b}"] }
agents:
  dev:
    git: [{ name: origin, upstream: "https://example.test/app.git" }]
    dlp:
      ignore: ["${b}", "${c}"]
`;
  const parsed = parseManifest(text, 'bottle.yaml');
  t.same(parsed.issues, []);
  const plan = preparePlan({ path: '/m/bottle.yaml', manifest: parsed.manifest! }, 'dev');
  t.same(plan.dlpIgnore, [a, b, c], 'defaults then the agent, once each');
  t.match(renderPlan(plan), /^dlp ignore  3 known values$/m);
  t.same(loadPolicy(policyTextFromPlan(plan)).dlp.ignore, [a, b, c], 'written into the bottle policy');
  t.same(parseUpstreams(upstreamsJson(plan), 'upstreams.json', '/')[0]!.dlpIgnore, [a, b, c], 'and into the git gate upstreams file');
});

t.test('gateway: the ignored value is forwarded byte-exact; another secret, or one glued to it, is refused and never forwarded', async (t) => {
  const [ignored] = await fingerprintsOf(`token = ${FAKE.github}\n`);
  t.equal(ignored, fingerprint(FAKE.github), 'bottle scan reports the fingerprint of the value');
  // The canary is never ignorable: listing the route secret's fingerprint changes nothing.
  const policy = `${BASE_POLICY}dlp:\n  ignore: ["${ignored}", "${fingerprint(FAKE.routeToken)}"]\n`;
  const w = await startWorld(t, { policy, env: { GW_TEST_TOKEN: FAKE.routeToken } });
  const post = (path: string, body: string) => httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', path), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  });

  const dummy = JSON.stringify({ fixture: `my test token is ${FAKE.github}` });
  const ok = await post('/ignored', dummy);
  t.equal(ok.status, 200);
  const got = w.upstream.requests.find((r) => r.url === '/ignored');
  t.ok(got?.body.equals(Buffer.from(dummy)), 'the upstream received the body byte for byte');

  const refused: Array<[string, string]> = [
    ['another secret', JSON.stringify({ key: FAKE.awsKeyId })],
    ['a secret after the ignored one', JSON.stringify({ fixture: FAKE.github, key: FAKE.slack })],
    ['the route secret', JSON.stringify({ echo: FAKE.routeToken })],
  ];
  for (const [what, body] of refused) {
    const r = await post(`/refused-${what.replace(/ /g, '-')}`, body);
    t.equal(r.status, 403, what);
  }
  t.same(w.upstream.requests.map((r) => r.url), ['/ignored'], 'nothing else reached the upstream');
  t.same(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => d.stage), ['done', 'body-dlp', 'body-dlp', 'canary']);
});

t.test('git gate: a push with the ignored value is forwarded; a different secret is rejected with its fingerprint, not forwarded', async (t) => {
  const { root, env } = gitWorld(t);
  const upstream = join(root, 'upstreams', 'app.git');
  await bareUpstream(env, upstream);
  const dummyFile = `export const TEST_KEY = '${SECRETS.aws}';\n`;
  const ignore = await fingerprintsOf(dummyFile);
  t.equal(ignore.length, 1);
  const gate = await startGitGate({
    reposDir: join(root, 'gate'),
    upstreams: [{ name: 'app', upstream, kind: 'file', dlpIgnore: ignore }],
    host: '127.0.0.1',
    port: await freePort(),
    env,
    out: () => {},
    err: () => {},
  });
  t.teardown(() => gate.stop());
  const work = join(root, 'work');
  await git(env, root, 'clone', '--quiet', gate.repos[0]!.url, work);
  await identity(env, work);

  const clean = await commit(env, work, { 'test/fixture.ts': dummyFile }, 'test fixture with a known dummy key');
  const accepted = await gitProbe(env, work, 'push', 'origin', 'HEAD:refs/heads/main');
  t.equal(accepted.exitCode, 0, accepted.stderr);
  t.equal(await rev(env, upstream, 'refs/heads/main'), clean, 'the upstream has the commit');

  const bad = await commit(env, work, { 'test/other.ts': `const token = '${SECRETS.github}';\n` }, 'another key');
  const rejected = await gitProbe(env, work, 'push', 'origin', 'HEAD:refs/heads/main');
  t.not(rejected.exitCode, 0);
  t.match(rejected.stderr, `(${fingerprint(SECRETS.github)})`, 'the rejection names the fingerprint to copy');
  t.notMatch(rejected.stderr, SECRETS.github, 'never the secret');
  t.notMatch(rejected.stderr, 'fixture.ts', 'the ignored value is not a finding');
  t.equal(await rev(env, upstream, 'refs/heads/main'), clean, 'the upstream did not get the second commit');
  t.not(clean, bad);
});

t.test('the git gate upstreams file: dlpIgnore must be a list of fingerprints', async (t) => {
  const entry = (dlpIgnore: unknown) => JSON.stringify([{ name: 'app', upstream: '/srv/app.git', dlpIgnore }]);
  t.same(parseUpstreams(entry([fingerprint('x')]), 'u.json', '/')[0]!.dlpIgnore, [fingerprint('x')]);
  t.throws(() => parseUpstreams(entry(fingerprint('x')), 'u.json', '/'), /u\.json: entry 1: dlpIgnore must be a list/);
  t.throws(() => parseUpstreams(entry([SECRETS.aws]), 'u.json', '/'), /u\.json: entry 1: dlpIgnore: expected a finding fingerprint/);
});
