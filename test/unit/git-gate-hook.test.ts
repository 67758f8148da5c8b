// The pre-receive logic in-process against real repos: pushed objects are placed in the gate
// unreferenced (as in git's quarantine), then preReceive judges the ref updates.
import { join } from 'node:path';
import t from 'tap';
import { run, type Runner } from '../../lib/run/index.js';
import { gitScanner } from '../../lib/secrets/index.js';
import { readCapped, readObjects, type CappedReader, type ObjectReader } from '../../sidecars/git-gate/capped.js';
import type { GateEvent, PushDecision } from '../../sidecars/git-gate/decisions.js';
import { preReceive } from '../../sidecars/git-gate/prereceive.js';
import { DEFAULTS, type RepoSettings } from '../../sidecars/git-gate/settings.js';
import { SECRETS, bareUpstream, commit, git, gitWorld, identity, rev } from '../fixtures/git-gate/world.js';

const ZERO = '0'.repeat(40);

async function setup(t: Parameters<typeof gitWorld>[0], settings: Partial<RepoSettings> = {}) {
  const { root, env } = gitWorld(t, 'bottle-git-gate-hook-');
  const upstream = join(root, 'up.git');
  await bareUpstream(env, upstream);
  const gateDir = join(root, 'gate.git');
  await git(env, root, 'clone', '--quiet', '--bare', upstream, gateDir);
  const work = join(root, 'work');
  await git(env, root, 'clone', '--quiet', upstream, work);
  await identity(env, work);
  const base = (await git(env, work, 'rev-parse', 'HEAD')).stdout;
  const s: RepoSettings = { name: 'app', upstream, kind: 'file', ...DEFAULTS, ...settings };
  const wrappedRun: Runner = (argv, o = {}) => run(argv, { ...o, env: { ...env, ...o.env }, extendEnv: false });
  const capped: CappedReader = (argv, o) => readCapped(argv, { ...o, env });
  const objects: ObjectReader = (argv, ids, o) => readObjects(argv, ids, { ...o, env });
  const lines: string[] = [];
  const events: GateEvent[] = [];
  // Copies `revs` objects into the gate without creating refs there, like a push's quarantine.
  const stage = async (...revs: string[]): Promise<void> => {
    for (const r of revs) {
      await git(env, work, 'push', '--quiet', gateDir, `${r}:refs/staging/x`);
      await git(env, gateDir, 'update-ref', '-d', 'refs/staging/x');
    }
  };
  const hook = (stdin: string): Promise<number> => preReceive(gateDir, stdin, s, {
    run: wrappedRun, readCapped: capped, readObjects: objects, scanner: gitScanner(), err: (l) => lines.push(l), record: (e) => events.push(e),
  });
  return { env, upstream, gateDir, work, base, lines, events, stage, hook, decisions: () => events as PushDecision[] };
}

t.test('a secret in a commit message is found at <commit message>:line', async (t) => {
  const w = await setup(t);
  const sha = await commit(w.env, w.work, { 'a.txt': 'a\n' }, `fix login\n\nused token ${SECRETS.github} to test`);
  await w.stage(sha);
  t.equal(await w.hook(`${w.base} ${sha} refs/heads/main\n`), 1);
  t.match(w.lines.join('\n'), `${sha.slice(0, 7)} <commit message>:3: github-pat: ghp_`);
  t.equal(await rev(w.env, w.upstream, 'main'), w.base, 'nothing forwarded');
});

t.test("an annotated tag's message is scanned too", async (t) => {
  const w = await setup(t);
  await git(w.env, w.work, 'tag', '-a', 'v1', '-m', `release\nkey ${SECRETS.aws}`);
  const tag = (await git(w.env, w.work, 'rev-parse', 'v1')).stdout;
  await w.stage('refs/tags/v1');
  t.equal(await w.hook(`${ZERO} ${tag} refs/tags/v1\n`), 1);
  t.match(w.lines.join('\n'), `rejected refs/tags/v1: ${tag.slice(0, 7)} <tag message>:2: aws-access-key-id`);
});

t.test('past the scan cap the push is rejected, never passed unscanned', async (t) => {
  const w = await setup(t, { maxScanBytes: 2048 });
  const sha = await commit(w.env, w.work, { 'big.txt': 'clean line\n'.repeat(1000) }, 'big');
  await w.stage(sha);
  t.equal(await w.hook(`${w.base} ${sha} refs/heads/main\n`), 1);
  t.match(w.lines.join('\n'), /rejected refs\/heads\/main: too much to scan .*2 KB scan budget/);
  t.match(w.decisions()[0], { verdict: 'rejected', reason: 'unscannable' });
  t.equal(await rev(w.env, w.upstream, 'main'), w.base);
});

t.test('objects past the scan cap are rejected too (a ref at a big blob has no diff to cap)', async (t) => {
  const w = await setup(t, { maxScanBytes: 2048 });
  const blob = (await run(['git', 'hash-object', '-w', '--stdin'], { cwd: w.work, env: w.env, extendEnv: false, input: 'clean line\n'.repeat(1000) })).stdout.trim();
  await git(w.env, w.work, 'push', '--quiet', w.gateDir, `${blob}:refs/tags/staging`);
  await git(w.env, w.gateDir, 'update-ref', '-d', 'refs/tags/staging');
  t.equal(await w.hook(`${ZERO} ${blob} refs/tags/big\n`), 1);
  t.match(w.lines.join('\n'), /rejected refs\/tags\/big: too much to scan .*2 KB scan budget/);
  t.equal(await rev(w.env, w.upstream, 'refs/tags/big'), undefined);
});

t.test('blobs the diff showed as text are not read again; the rest of the new objects are', async (t) => {
  const w = await setup(t);
  const sha = await commit(w.env, w.work, { 'src/a.ts': 'export const a = 1;\n', 'img.bin': '\0\x01binary\0' }, 'two files');
  await w.stage(sha);
  t.equal(await w.hook(`${w.base} ${sha} refs/heads/main\n`), 0, w.lines.join('\n'));
  // The commit, its root tree, src/ and img.bin; src/a.ts was scanned as the diff's added lines.
  t.match(w.decisions()[0], { verdict: 'accepted', binaryFiles: 1, objects: 4 });
});

t.test('one bad ref rejects the whole push; clean refs say why they were not forwarded', async (t) => {
  const w = await setup(t);
  const clean = await commit(w.env, w.work, { 'ok.txt': 'ok\n' }, 'ok');
  await git(w.env, w.work, 'checkout', '--quiet', '-b', 'leaky', w.base);
  const leaky = await commit(w.env, w.work, { 'x.env': `K=${SECRETS.aws}\n` }, 'leak');
  await w.stage(clean, leaky);
  t.equal(await w.hook(`${w.base} ${clean} refs/heads/main\n${ZERO} ${leaky} refs/heads/leaky\n`), 1);
  t.match(w.lines.join('\n'), 'rejected refs/heads/main: not forwarded, another ref in this push was rejected');
  t.match(w.lines.join('\n'), `rejected refs/heads/leaky: ${leaky.slice(0, 7)} x.env:1: aws-access-key-id`);
  t.same(w.decisions().map((d) => [d.ref, d.verdict, d.reason]), [
    ['refs/heads/main', 'rejected', 'batch'], ['refs/heads/leaky', 'rejected', 'secret'],
  ]);
  t.equal(await rev(w.env, w.upstream, 'main'), w.base);
});

t.test('an evil merge (a line in no parent) is caught; merged-in history is not rescanned', async (t) => {
  const w = await setup(t);
  await git(w.env, w.work, 'checkout', '--quiet', '-b', 'side');
  const side = await commit(w.env, w.work, { 'side.txt': 'side\n' }, 'side');
  await git(w.env, w.work, 'push', '--quiet', w.gateDir, 'side'); // already in the gate
  await git(w.env, w.work, 'checkout', '--quiet', 'main');
  await commit(w.env, w.work, { 'main.txt': 'main\n' }, 'main');
  await git(w.env, w.work, 'merge', '--quiet', '--no-ff', '--no-commit', 'side');
  await commit(w.env, w.work, { 'side.txt': `side\nAWS=${SECRETS.aws}\n` }, 'merge side');
  const merge = (await git(w.env, w.work, 'rev-parse', 'HEAD')).stdout;
  await w.stage(merge);
  t.equal(await w.hook(`${w.base} ${merge} refs/heads/main\n`), 1);
  t.match(w.lines.join('\n'), `${merge.slice(0, 7)} side.txt:2: aws-access-key-id`);
  const d = w.decisions()[0]!;
  t.equal(d.scanned, 2, 'the main commit and the merge; side was already in the gate');
  t.notOk(d.commits.includes(side));
});

t.test('a range git cannot list is rejected', async (t) => {
  const w = await setup(t);
  const missing = 'f'.repeat(40);
  t.equal(await w.hook(`${w.base} ${missing} refs/heads/main\n`), 1);
  t.match(w.lines.join('\n'), 'rejected refs/heads/main: could not list the pushed objects');
});

t.test('a clean multi-ref push is forwarded in one atomic push', async (t) => {
  const w = await setup(t);
  const a = await commit(w.env, w.work, { 'a.txt': 'a\n' }, 'a');
  await git(w.env, w.work, 'checkout', '--quiet', '-b', 'b', w.base);
  const b = await commit(w.env, w.work, { 'b.txt': 'b\n' }, 'b');
  await w.stage(a, b);
  t.equal(await w.hook(`${w.base} ${a} refs/heads/main\n${ZERO} ${b} refs/heads/b\n`), 0, w.lines.join('\n'));
  t.equal(await rev(w.env, w.upstream, 'main'), a);
  t.equal(await rev(w.env, w.upstream, 'b'), b);
  t.same(w.decisions().map((d) => [d.ref, d.verdict, d.scanned]), [['refs/heads/main', 'accepted', 1], ['refs/heads/b', 'accepted', 1]]);
});

t.test('a force push is leased: it fails if upstream moved past what the agent replaced', async (t) => {
  const w = await setup(t);
  const first = await commit(w.env, w.work, { 'a.txt': '1\n' }, 'one');
  await git(w.env, w.work, 'push', '--quiet', 'origin', 'main');
  await git(w.env, w.work, 'push', '--quiet', w.gateDir, 'main');
  // Upstream moves on without the gate seeing it.
  const theirs = await commit(w.env, w.work, { 'a.txt': '2\n' }, 'theirs');
  await git(w.env, w.work, 'push', '--quiet', 'origin', 'main');
  await git(w.env, w.work, 'reset', '--quiet', '--hard', w.base);
  const rewrite = await commit(w.env, w.work, { 'a.txt': 'rewritten\n' }, 'rewrite');
  await w.stage(rewrite);
  t.equal(await w.hook(`${first} ${rewrite} refs/heads/main\n`), 1);
  t.match(w.lines.join('\n'), /git-gate: upstream rejected: .*stale info/);
  t.equal(await rev(w.env, w.upstream, 'main'), theirs, "upstream keeps the commit the agent never saw");
});
