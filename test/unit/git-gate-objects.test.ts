// Issue 13 class 8, through the real git gate: every object a push adds is scanned (refs at
// blobs and trees, tag chains, binary files, raw commit headers and encodings, file names, ref
// names, wrapped base64), and a rejected push leaves the upstream bare repo without the ref or
// any of its objects.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { run } from '../../lib/run/index.js';
import type { PushDecision } from '../../sidecars/git-gate/decisions.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { commit, gateWithApp, git, gitProbe, identity, rev } from '../fixtures/git-gate/world.js';

const out: string[] = [];
const { root, env, upstream, gate } = await gateWithApp(t, 'bottle-git-gate-objects-', (l) => out.push(l));

// One clone for every case (each clone and push starts the gate's hooks, which is the slow part);
// each case starts from upstream's main, which no rejected push moves.
let objects = 0;
const shared = join(root, 'work');
await git(env, root, 'clone', '--quiet', gate.repos[0]!.url, shared);
await identity(env, shared);
async function fresh(): Promise<string> {
  await git(env, shared, 'reset', '--quiet', '--hard', 'origin/main');
  return shared;
}

// The hooks log asynchronously (the daemon tails a file); waits for the decision about `sha`.
async function decisionFor(sha: string): Promise<PushDecision> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const d = out.map((l) => JSON.parse(l) as PushDecision).find((x) => x.event === 'push' && x.new === sha);
    if (d) return d;
    if (Date.now() > deadline) throw new Error(`no decision for ${sha}\n${out.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Writes an object with `git hash-object` (literally: headers git itself would not write).
async function hashObject(work: string, type: string, data: string | Buffer): Promise<string> {
  const path = join(root, `object-${++objects}`);
  writeFileSync(path, data);
  return (await git(env, work, 'hash-object', '-w', '-t', type, '--literally', path)).stdout.trim();
}

async function upstreamHas(id: string): Promise<boolean> {
  return (await run(['git', '--git-dir', upstream, 'cat-file', '-e', id], { env, extendEnv: false, probe: true })).exitCode === 0;
}

// The push is refused with `expected` in its output, and upstream got neither the ref nor `ids`.
async function refused(t: Test, work: string, spec: string, ref: string, expected: string | RegExp, ids: string[], secret: string): Promise<string> {
  const before = await rev(env, upstream, ref);
  const push = await gitProbe(env, work, 'push', 'origin', spec);
  t.not(push.exitCode, 0, 'push fails');
  t.match(push.stderr, expected);
  t.equal(await rev(env, upstream, ref), before, 'upstream ref unchanged');
  for (const id of ids) t.notOk(await upstreamHas(id), `upstream never received ${id.slice(0, 7)}`);
  // git itself echoes the refspec it sent; the gate's own lines must not repeat a secret.
  const gateLines = push.stderr.split('\n').filter((l) => l.includes('git-gate:')).join('\n');
  t.notOk(gateLines.includes(secret), "the gate's rejection never prints the whole secret");
  return gateLines;
}

async function tree(work: string, entries: Record<string, string>): Promise<string> {
  const lines = await Promise.all(Object.entries(entries).map(async ([name, text]) => `100644 blob ${await hashObject(work, 'blob', text)}\t${name}`));
  return (await run(['git', 'mktree'], { cwd: work, env, extendEnv: false, input: `${lines.join('\n')}\n` })).stdout.trim();
}

async function rawCommit(work: string, headers: string[], message: string | Buffer): Promise<string> {
  const head = (await git(env, work, 'rev-parse', 'HEAD')).stdout.trim();
  const treeId = (await git(env, work, 'rev-parse', 'HEAD^{tree}')).stdout.trim();
  const who = 'Test Agent <agent@example.test> 1700000000 +0000';
  const header = [`tree ${treeId}`, `parent ${head}`, `author ${who}`, `committer ${who}`, ...headers].join('\n');
  return hashObject(work, 'commit', Buffer.concat([Buffer.from(`${header}\n\n`), Buffer.from(message)]));
}

t.test('(a) a ref pointing straight at a blob', async (t) => {
  const work = await fresh();
  const blob = await hashObject(work, 'blob', `token: ${FAKE.github}\n`);
  await refused(t, work, `${blob}:refs/tags/just-a-blob`, 'refs/tags/just-a-blob',
    `rejected refs/tags/just-a-blob: ${blob.slice(0, 7)} <blob>:1: github-pat`, [blob], FAKE.github);
});

t.test('(b) an annotated tag of a tree', async (t) => {
  const work = await fresh();
  const treeId = await tree(work, { 'README.md': 'docs\n', 'deploy.env': `AWS_ACCESS_KEY_ID=${FAKE.awsKeyId}\n` });
  await git(env, work, 'tag', '-a', 'tree-tag', '-m', 'a tree, no commit', treeId);
  const tag = (await git(env, work, 'rev-parse', 'tree-tag')).stdout.trim();
  await refused(t, work, 'refs/tags/tree-tag', 'refs/tags/tree-tag', /rejected refs\/tags\/tree-tag: [0-9a-f]{7} deploy\.env:1: aws-access-token/, [tag, treeId], FAKE.awsKeyId);
});

t.test('(c) a chain of annotated tags: the innermost message is scanned (3 deep and 12 deep)', async (t) => {
  for (const depth of [3, 12]) {
    const work = await fresh();
    await git(env, work, 'tag', '-a', `t${depth}-1`, '-m', `release\n\nsigned off with ${FAKE.slack}`);
    for (let i = 2; i <= depth; i++) await git(env, work, '-c', 'advice.nestedTag=false', 'tag', '-a', `t${depth}-${i}`, '-m', `layer ${i}`, `t${depth}-${i - 1}`);
    const inner = (await git(env, work, 'rev-parse', `t${depth}-1`)).stdout.trim();
    const outer = (await git(env, work, 'rev-parse', `t${depth}-${depth}`)).stdout.trim();
    await git(env, work, 'tag', '-d', `t${depth}-1`); // only the outermost tag is pushed
    await refused(t, work, `refs/tags/t${depth}-${depth}`, `refs/tags/t${depth}-${depth}`,
      `rejected refs/tags/t${depth}-${depth}: ${inner.slice(0, 7)} <tag message>:3: slack-token`, [outer, inner], FAKE.slack);
  }
});

t.test('(d) a binary file: printable runs, ASCII and UTF-16LE, are scanned', async (t) => {
  const work = await fresh();
  const noise = Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
  writeFileSync(join(work, 'blob.bin'), Buffer.concat([noise, Buffer.from(`AWS_ACCESS_KEY_ID=${FAKE.awsKeyId}`), noise]));
  const sha = await commit(env, work, {}, 'add a binary');
  await refused(t, work, 'HEAD:main', 'refs/heads/main', `rejected refs/heads/main: ${sha.slice(0, 7)} blob.bin:3: aws-access-token`, [sha], FAKE.awsKeyId);
  await git(env, work, 'reset', '--quiet', '--hard', 'HEAD~1');
  writeFileSync(join(work, 'strings.dat'), Buffer.concat([noise, Buffer.from(`token=${FAKE.github}`, 'utf16le'), noise]));
  const wide = await commit(env, work, {}, 'add UTF-16 data');
  await refused(t, work, 'HEAD:main', 'refs/heads/main', `${wide.slice(0, 7)} strings.dat:3: github-pat`, [wide], FAKE.github);
});

t.test('(e) a secret in the author name or an extra commit header', async (t) => {
  const work = await fresh();
  await git(env, work, '-c', `user.name=ci ${FAKE.github}`, 'commit', '--quiet', '--allow-empty', '-m', 'innocent message');
  const byAuthor = (await git(env, work, 'rev-parse', 'HEAD')).stdout.trim();
  await refused(t, work, 'HEAD:main', 'refs/heads/main', `${byAuthor.slice(0, 7)} <commit header>:3: github-pat`, [byAuthor], FAKE.github);
  await git(env, work, 'reset', '--quiet', '--hard', 'HEAD~1');
  const extra = await rawCommit(work, [`x-ci-token ${FAKE.awsKeyId}`], 'innocent message\n');
  await refused(t, work, `${extra}:refs/heads/main`, 'refs/heads/main', `${extra.slice(0, 7)} <commit header>:5: aws-access-token`, [extra], FAKE.awsKeyId);
});

t.test('(f) an encoding header does not hide the message: ISO-2022-JP and UTF-16', async (t) => {
  const work = await fresh();
  // ESC $ B switches ISO-2022-JP to two-byte JIS: transcoded, the ASCII key becomes kanji.
  const jis = await rawCommit(work, ['encoding ISO-2022-JP'], Buffer.from(`fix\n\n\x1b$B${FAKE.awsKeyId}\x1b(B\n`, 'latin1'));
  await refused(t, work, `${jis}:refs/heads/main`, 'refs/heads/main', new RegExp(`${jis.slice(0, 7)} <commit message>:3: aws-access-`), [jis], FAKE.awsKeyId);
  const utf16 = await rawCommit(work, ['encoding UTF-16'], `fix\n\nkey ${FAKE.github}\n`);
  await refused(t, work, `${utf16}:refs/heads/main`, 'refs/heads/main', `${utf16.slice(0, 7)} <commit message>:3: github-pat`, [utf16], FAKE.github);
});

t.test('(g) a secret in a file name', async (t) => {
  const work = await fresh();
  const sha = await commit(env, work, { [`notes/${FAKE.awsKeyId}.txt`]: 'nothing to see\n' }, 'add notes');
  await refused(t, work, 'HEAD:main', 'refs/heads/main', /rejected refs\/heads\/main: [0-9a-f]{7} <path name>:1: aws-access-token/, [sha], FAKE.awsKeyId);
});

t.test('(h) a secret in a ref name', async (t) => {
  const work = await fresh();
  const sha = await commit(env, work, { 'clean.txt': 'clean\n' }, 'clean');
  const ref = `refs/heads/${FAKE.github}`;
  const stderr = await refused(t, work, `HEAD:${ref}`, ref, `${sha.slice(0, 7)} <ref name>:1: github-pat`, [sha], FAKE.github);
  t.match(stderr, 'rejected refs/heads/ghp_');
  const d = await decisionFor(sha);
  t.match(d, { verdict: 'rejected', reason: 'secret', ref: /^refs\/heads\/ghp_…/ }, 'the decision is logged');
  t.notOk(JSON.stringify(d).includes(FAKE.github), 'with the ref name redacted');
});

t.test('(i) base64 of a secret, wrapped at 76 columns, in a text file', async (t) => {
  const work = await fresh();
  const encoded = Buffer.from(`${'#'.repeat(30)}\naws_access_key_id = ${FAKE.awsKeyId}\nregion = eu-west-1\n`).toString('base64');
  const wrapped = encoded.match(/.{1,76}/g)!;
  t.ok(wrapped.length > 1 && !wrapped.some((l) => Buffer.from(l, 'base64').toString('latin1').includes(FAKE.awsKeyId)), 'the key straddles a wrap');
  const sha = await commit(env, work, { 'fixtures/config.b64': `# fixture\n${wrapped.join('\n')}\n` }, 'add fixture');
  await refused(t, work, 'HEAD:main', 'refs/heads/main', `${sha.slice(0, 7)} fixtures/config.b64:2: aws-access-token`, [sha], FAKE.awsKeyId);
});

t.test('clean binaries, ordinary files and a tag of a tree arrive upstream', async (t) => {
  const work = await fresh();
  const png = Buffer.alloc(4096);
  for (let i = 0; i < png.length; i++) png[i] = (i * 7919 + (i >> 3) * 31) & 0xff;
  writeFileSync(join(work, 'logo.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), png]));
  writeFileSync(join(work, 'words.bin'), Buffer.from('\0\0\0header section: version 1.2.3 build 20240101\0\0utf-8 encoded content follows\0'));
  const sha = await commit(env, work, {
    'src/app.ts': 'export const token = process.env.API_TOKEN;\n',
    'docs/sample.b64': `${Buffer.from('hello world, this is a perfectly ordinary document '.repeat(5)).toString('base64').match(/.{1,76}/g)!.join('\n')}\n`,
  }, 'ordinary work');
  const treeId = await tree(work, { 'data.txt': 'plain data\n' });
  await git(env, work, 'tag', '-a', 'snapshot', '-m', 'a tree snapshot', treeId);
  const push = await gitProbe(env, work, 'push', 'origin', 'HEAD:main', 'refs/tags/snapshot');
  t.equal(push.exitCode, 0, `accepted\n${push.stderr}`);
  t.equal(await rev(env, upstream, 'refs/heads/main'), sha, 'upstream main is the pushed commit');
  t.ok(await upstreamHas(treeId), 'the tagged tree arrived');
  const d = await decisionFor(sha);
  t.match(d, { verdict: 'accepted', binaryFiles: 2 });
  t.ok(d.objects > 0, 'binary blobs, trees and the commit were read whole');
});
