// Issue 13, class 1: in the gateway and the git gate nothing the agent writes may switch secret
// detection off: no `gitleaks:allow` marker, no stopword or `false` appended to a secret, no file
// name that gitleaks skips (lock files, node_modules/, vendor/, a text file named *.pdf). Each
// attempt goes through the real daemon and the upstream must not receive it.
import { join } from 'node:path';
import t from 'tap';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { httpsViaProxy } from '../fixtures/gateway/client.js';
import { startWorld } from '../fixtures/gateway/world.js';
import { SECRETS, commit, gateWithApp, git, gitProbe, identity, rev } from '../fixtures/git-gate/world.js';

t.test('gateway: a fake token with an opt-out in a URL, a header or a body → 403, never forwarded', async (t) => {
  const w = await startWorld(t);
  // Each suffix once turned a finding off: the marker on the line, gitleaks's global
  // `(?i)^true|false|null$` (unanchored alternation), its global alphabet stopword, and
  // generic-api-key's stopwords (`client`, `example`).
  const tokens = {
    marker: `${FAKE.github} gitleaks:allow`,
    false: `${FAKE.anthropic}false`,
    alphabet: `${FAKE.anthropic}abcdefghijklmnopqrstuvwxyz`,
    stopword: `${FAKE.anthropic}client`,
  };
  const cases: Array<[string, string, Parameters<typeof httpsViaProxy>[3]]> = [];
  for (const [name, v] of Object.entries(tokens)) {
    cases.push([`${name} in the query`, `/optout/q?note=${encodeURIComponent(v)}`, {}]);
    cases.push([`${name} in a header`, '/optout/h', { headers: { 'x-note': v } }]);
    cases.push([`${name} in a body`, '/optout/b', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `key: ${v}\n` }]);
  }
  const generic = 'Zq8vK2pW7xY4aB9cD3eF';
  cases.push(['generic-api-key + stopword in a body', '/optout/g', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `api_key=${generic}client`,
  }]);
  for (const [what, path, opts] of cases) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', path), opts);
    t.equal(r.status, 403, what);
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  // The secret scanner itself blocks each one (not a later stage such as entropy).
  const stages = w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => d.stage);
  t.same(stages, cases.map(([what]) => (what.includes('query') ? 'url-dlp' : what.includes('header') ? 'header-dlp' : 'body-dlp')));
  const control = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/optout/clean'), { headers: { 'x-note': 'gitleaks:allow false client' } });
  t.equal(control.status, 200, 'the words alone pass: only the secret is blocked');
  t.equal(w.upstream.requests.length, 1);
});

t.test('git gate: a secret in a file gitleaks skips by name, or on a gitleaks:allow line → rejected, upstream never has it', async (t) => {
  const { root, env, upstream, gate } = await gateWithApp(t);
  const url = gate.repos.find((r) => r.name === 'app')!.url;
  const before = await rev(env, upstream, 'refs/heads/main');
  const secret = SECRETS.github;
  const cases: Record<string, Record<string, string>> = {
    'package-lock.json': { 'package-lock.json': `{\n  "name": "app",\n  "token": "${secret}"\n}\n` },
    'node_modules/': { 'node_modules/x.js': `module.exports = "${secret}";\n` },
    'vendor/': { 'vendor/a.txt': `${secret}\n` },
    'a text file named .pdf': { 'notes.pdf': `meeting notes\ntoken ${secret}\n` },
    'gitleaks:allow': { 'src/app.js': `const token = "${secret}"; // gitleaks:allow\n` },
  };
  let n = 0;
  for (const [what, files] of Object.entries(cases)) {
    const work = join(root, `work-${++n}`);
    await git(env, root, 'clone', '--quiet', url, work);
    await identity(env, work);
    const sha = await commit(env, work, files, `add ${what}`);
    const branch = `refs/heads/optout-${n}`;
    const push = await gitProbe(env, work, 'push', 'origin', `HEAD:${branch}`);
    t.not(push.exitCode, 0, `${what}: push rejected`);
    t.match(push.stderr, /git-gate: rejected/, `${what}: by the gate`);
    t.equal(await rev(env, upstream, branch), undefined, `${what}: upstream has no ${branch}`);
    const has = await gitProbe(env, root, '--git-dir', upstream, 'cat-file', '-e', sha);
    t.not(has.exitCode, 0, `${what}: upstream does not have the commit`);
  }
  t.equal(await rev(env, upstream, 'refs/heads/main'), before, 'upstream main unchanged');
});
