// The git gate end to end on loopback: a real git daemon in front of local bare upstreams and
// one upstream behind a second real git daemon (git://), with agents cloning and pushing.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { upstreamKind } from '../../sidecars/git-gate/config.js';
import {
  SECRETS, bareUpstreams, commit, git, gitProbe, gitWorld, loopbackGate, rev, serveUpstreams,
} from '../fixtures/git-gate/world.js';

const { root, env } = gitWorld(t);
const { dir: upstreams, up, seeds } = await bareUpstreams(env, root, ['app', 'net', 'guarded'] as const);
// An upstream with its own rules: it refuses every push with a message.
writeFileSync(join(up('guarded'), 'hooks', 'pre-receive'), '#!/bin/sh\necho "upstream says no: main is protected" >&2\nexit 1\n', { mode: 0o755 });
const upstreamDaemon = await serveUpstreams(t, env, upstreams);

const { gate, out, errLog, clone, decisionFor } = await loopbackGate(t, { root, env }, {
  upstreams: [
    { name: 'app', upstream: up('app'), kind: 'file' },
    { name: 'net', upstream: `git://127.0.0.1:${upstreamDaemon.port}/net.git`, kind: 'git' },
    { name: 'guarded', upstream: up('guarded'), kind: 'file' },
  ],
});
t.equal(upstreamKind(`git://127.0.0.1:${upstreamDaemon.port}/net.git`), 'git');

function assertNoSecret(t: Test, text: string, secrets: string[]): void {
  for (const s of secrets) t.notOk(text.includes(s), `the full secret ${s.slice(0, 4)}… appears nowhere`);
  for (const s of secrets.filter((x) => x.includes('\n'))) t.notOk(text.includes(s.split('\n')[1]!), 'no key body line appears');
}

t.test('(a) a planted AWS key is rejected with rule and file:line; upstream unchanged', async (t) => {
  const work = await clone('app');
  const before = await rev(env, up('app'), 'refs/heads/main');
  const sha = await commit(env, work, { 'config/settings.py': `DEBUG = True\nAWS_KEY = "${SECRETS.aws}"\nREGION = "eu"\n` }, 'add settings');
  const push = await gitProbe(env, work, 'push', 'origin', 'HEAD:main');
  t.not(push.exitCode, 0, 'push fails');
  t.match(push.stderr, `git-gate: rejected refs/heads/main: ${sha.slice(0, 7)} config/settings.py:2: aws-access-key-id: AKIA`);
  t.match(push.stderr, /git-gate: hint: .*rebase/);
  t.equal(await rev(env, up('app'), 'refs/heads/main'), before, 'upstream ref unchanged');
  t.equal(await rev(env, join(root, 'gate', 'app.git'), 'refs/heads/main'), before, "gate's ref unchanged");
  const d = await decisionFor(sha);
  t.match(d, { repo: 'app', ref: 'refs/heads/main', verdict: 'rejected', reason: 'secret', findings: 1, rules: ['aws-access-key-id'] });
  assertNoSecret(t, [push.stdout, push.stderr, ...out, ...errLog].join('\n'), [SECRETS.aws]);
});

t.test('(b) three commits with three kinds of secret: all named', async (t) => {
  const work = await clone('app');
  const before = await rev(env, up('app'), 'refs/heads/main');
  const a = await commit(env, work, { 'aws.env': `AWS_ACCESS_KEY_ID=${SECRETS.aws}\n` }, 'aws');
  const g = await commit(env, work, { 'ci/gh.yml': `steps:\n  - run: echo\n    env:\n      TOKEN: ${SECRETS.github}\n` }, 'gh');
  const k = await commit(env, work, { 'keys/deploy.pem': `${SECRETS.privateKey}\n` }, 'key');
  const push = await gitProbe(env, work, 'push', 'origin', 'HEAD:main');
  t.not(push.exitCode, 0);
  t.match(push.stderr, `${a.slice(0, 7)} aws.env:1: aws-access-key-id:`);
  t.match(push.stderr, `${g.slice(0, 7)} ci/gh.yml:4: github-pat:`);
  t.match(push.stderr, `${k.slice(0, 7)} keys/deploy.pem:1: private-key:`);
  t.equal(await rev(env, up('app'), 'refs/heads/main'), before);
  const d = await decisionFor(k);
  t.same([...d.rules].sort(), ['aws-access-key-id', 'github-pat', 'private-key']);
  t.equal(d.scanned, 3);
  assertNoSecret(t, [push.stdout, push.stderr, ...out, ...errLog].join('\n'), Object.values(SECRETS));
});

t.test('(c) a clean push arrives upstream, over file and git:// transports', async (t) => {
  for (const name of ['app', 'net'] as const) {
    const work = await clone(name);
    const sha = await commit(env, work, { 'src/hello.ts': 'export const hello = () => "world";\n' }, `clean ${name}`);
    const push = await gitProbe(env, work, 'push', 'origin', 'HEAD:main');
    t.equal(push.exitCode, 0, `${name}: push accepted\n${push.stderr}`);
    t.equal(await rev(env, up(name), 'refs/heads/main'), sha, `${name}: upstream main is the pushed commit`);
    t.equal(await rev(env, join(root, 'gate', `${name}.git`), 'refs/heads/main'), sha, `${name}: gate agrees`);
    t.match(await decisionFor(sha), { verdict: 'accepted', findings: 0, scanned: 1, commits: [sha] });
  }
});

t.test('(d) a new branch scans only the commits the gate has not seen', async (t) => {
  // Someone pushes a secret-bearing commit straight to upstream, bypassing the gate; the gate
  // mirrors it. A branch built on it must not be blamed for it.
  await git(env, seeds.app, 'pull', '--quiet', '--rebase', 'origin', 'main');
  const old = await commit(env, seeds.app, { 'legacy.env': `KEY=${SECRETS.aws}\n` }, 'legacy secret, pushed directly');
  await git(env, seeds.app, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
  const work = await clone('app');
  t.equal((await git(env, work, 'rev-parse', 'HEAD')).stdout, old, 'the clone has the direct push');
  await git(env, work, 'checkout', '--quiet', '-b', 'feature');
  const fresh = await commit(env, work, { 'feature.txt': 'a clean feature\n' }, 'feature');
  const push = await gitProbe(env, work, 'push', 'origin', 'feature');
  t.equal(push.exitCode, 0, `accepted\n${push.stderr}`);
  t.equal(await rev(env, up('app'), 'refs/heads/feature'), fresh);
  t.match(await decisionFor(fresh), { ref: 'refs/heads/feature', verdict: 'accepted', scanned: 1, commits: [fresh] });
  // Rewrite main without the legacy commit (force push, leased on what the agent saw).
  await git(env, work, 'checkout', '--quiet', 'main');
  await git(env, work, 'reset', '--quiet', '--hard', 'HEAD~1');
  const rewritten = await commit(env, work, { 'legacy.env': 'KEY=from-the-vault\n' }, 'no secret');
  const force = await gitProbe(env, work, 'push', '--force', 'origin', 'main');
  t.equal(force.exitCode, 0, `forced update accepted\n${force.stderr}`);
  t.equal(await rev(env, up('app'), 'refs/heads/main'), rewritten, 'upstream was force-updated');
});

t.test('(e) an upstream rejection fails the agent push with its message', async (t) => {
  const work = await clone('guarded');
  const before = await rev(env, join(root, 'gate', 'guarded.git'), 'refs/heads/main');
  const sha = await commit(env, work, { 'ok.txt': 'fine\n' }, 'clean but unwanted');
  const push = await gitProbe(env, work, 'push', 'origin', 'HEAD:main');
  t.not(push.exitCode, 0);
  t.match(push.stderr, /git-gate: upstream rejected: .*upstream says no: main is protected/);
  t.equal(await rev(env, join(root, 'gate', 'guarded.git'), 'refs/heads/main'), before, "gate's ref unchanged");
  t.equal(await rev(env, up('guarded'), 'refs/heads/main'), before, 'upstream unchanged');
  t.match(await decisionFor(sha), { verdict: 'rejected', reason: 'upstream' });
});

t.test('(f) a fetch returns what someone else pushed directly upstream', async (t) => {
  for (const name of ['app', 'net'] as const) {
    const work = await clone(name);
    await git(env, seeds[name], 'pull', '--quiet', '--rebase', 'origin', 'main');
    const theirs = await commit(env, seeds[name], { 'theirs.txt': `${name} by someone else\n` }, 'direct');
    await git(env, seeds[name], 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    await git(env, work, 'fetch', '--quiet', 'origin');
    t.equal((await git(env, work, 'rev-parse', 'origin/main')).stdout, theirs, `${name}: fetch saw the new commit`);
  }
});

t.test('(g) deleting a branch is not scanned and is forwarded', async (t) => {
  const work = await clone('net');
  await git(env, work, 'checkout', '--quiet', '-b', 'doomed');
  const sha = await commit(env, work, { 'doomed.txt': 'short-lived\n' }, 'doomed');
  t.equal((await gitProbe(env, work, 'push', 'origin', 'doomed')).exitCode, 0);
  t.equal(await rev(env, up('net'), 'refs/heads/doomed'), sha);
  const del = await gitProbe(env, work, 'push', 'origin', '--delete', 'doomed');
  t.equal(del.exitCode, 0, `deletion accepted\n${del.stderr}`);
  t.equal(await rev(env, up('net'), 'refs/heads/doomed'), undefined, 'gone upstream');
  t.equal(await rev(env, join(root, 'gate', 'net.git'), 'refs/heads/doomed'), undefined, 'gone from the gate');
  t.match(await decisionFor('0'.repeat(40)), { ref: 'refs/heads/doomed', old: sha, verdict: 'accepted', scanned: 0 });
});

const hasProc = existsSync('/proc/self/stat');
t.test('git daemon reaps its per-connection children (no zombies left)', { skip: hasProc ? false : 'needs /proc' }, async (t) => {
  const zombies = (): number[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(ppid) === gate.pid && state === 'Z' ? [Number(d)] : [];
    } catch { return []; }
  });
  const deadline = Date.now() + 5_000;
  while (zombies().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.same(zombies(), [], 'every finished connection was waited for');
});
