// The git gate's object scan, pure parts: binary views, wrapped base64, raw trees, commits and
// tags as scanned by scanObjects; and the cat-file reader's budget against a real git.
import { join } from 'node:path';
import t from 'tap';
import { run } from '../../lib/run/index.js';
import { gitScanner } from '../../lib/secrets/index.js';
import { readObjects } from '../../sidecars/git-gate/capped.js';
import { COMMIT_HEADER_PATH, MESSAGE_PATH, NAME_PATH, parseTree, scanObjects } from '../../sidecars/git-gate/objects.js';
import { bytesView, scanBytes } from '../../sidecars/git-gate/views.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { git, gitWorld } from '../fixtures/git-gate/world.js';

const scanner = gitScanner();
const id = (c: string): string => c.repeat(40);
const treeEntry = (mode: string, name: string, hex: string): Buffer => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(hex, 'hex')]);

t.test('binary data is read as printable runs, ASCII and UTF-16LE at either alignment', async (t) => {
  const wide = Buffer.from(`key=${FAKE.github}`, 'utf16le');
  const data = Buffer.concat([Buffer.from([0, 0xff, 10, 10, 0x41]), wide, Buffer.from([0, 1, 10]), Buffer.from(`tail ${FAKE.awsKeyId}`), Buffer.from([0])]);
  const view = bytesView(data);
  t.ok(view.text.includes(`key=${FAKE.github}`), 'the odd-aligned UTF-16 run is read');
  t.ok(view.text.includes(`tail ${FAKE.awsKeyId}`));
  t.same(scanBytes(scanner, data).map((f) => [f.finding.ruleId, f.line]).sort(), [['aws-access-token', 4], ['github-pat', 3]]);
  t.same(bytesView(Buffer.from('plain text\n')), { text: 'plain text\n' }, 'text without NULs is taken as is');
});

t.test('base64 wrapped at 64 columns (openssl) is decoded as one block', async (t) => {
  const b64 = Buffer.from(`${'='.repeat(30)}\ntoken: ${FAKE.github}\n`).toString('base64').match(/.{1,64}/g)!;
  t.notOk(b64.some((l) => Buffer.from(l, 'base64').toString('latin1').includes(FAKE.github)), 'the token straddles a wrap');
  t.same(scanBytes(scanner, Buffer.from(`-----BEGIN DATA-----\n${b64.join('\n')}\n-----END DATA-----\n`)).map((f) => [f.finding.ruleId, f.line]), [['github-pat', 2]]);
});

t.test('parseTree reads names with spaces and newlines, SHA-1 and SHA-256 ids', async (t) => {
  const data = Buffer.concat([treeEntry('100644', 'a b\nc.txt', id('1')), treeEntry('40000', 'dir', id('2'))]);
  t.same(parseTree(data, 20), [{ mode: '100644', name: 'a b\nc.txt', id: id('1') }, { mode: '40000', name: 'dir', id: id('2') }]);
  t.same(parseTree(treeEntry('100644', 'x', 'ab'.repeat(32)), 32)[0]!.id, 'ab'.repeat(32));
  t.throws(() => parseTree(Buffer.from('100644 x\0short'), 20), /malformed tree/);
});

t.test('scanObjects: nested paths, path names, raw commit headers and an encoding view', async (t) => {
  const root = { id: id('a'), type: 'tree', data: Buffer.concat([treeEntry('40000', 'config', id('b')), treeEntry('100644', `${FAKE.slack}.txt`, id('d'))]) };
  const sub = { id: id('b'), type: 'tree', data: treeEntry('100644', 'prod.env', id('c')) };
  const blob = { id: id('c'), type: 'blob', data: Buffer.from(`# prod\nAWS_ACCESS_KEY_ID=${FAKE.awsKeyId}\n`) };
  const header = `tree ${id('a')}\nauthor A <a@b> 1 +0000\ncommitter ${FAKE.github} <a@b> 1 +0000\nencoding UTF-16LE\n\n`;
  const commit = { id: id('e'), type: 'commit', data: Buffer.concat([Buffer.from(header), Buffer.from(`subject\n\nkey ${FAKE.anthropic}\n`, 'utf16le')]) };
  const hits = scanObjects([root, sub, blob, commit], scanner);
  t.same(hits.map((h) => [h.commit, h.file, h.line, h.finding.ruleId]), [
    [id('a'), NAME_PATH, 1, 'slack-token'],
    [id('c'), 'config/prod.env', 2, 'aws-access-token'],
    [id('e'), COMMIT_HEADER_PATH, 3, 'github-pat'],
    [id('e'), MESSAGE_PATH, 3, 'anthropic-api-key'],
  ]);
});

t.test('readObjects: one cat-file for all ids; past the budget it stops and says truncated; missing ids are named', async (t) => {
  const { root, env } = gitWorld(t, 'bottle-git-gate-views-');
  const repo = join(root, 'r.git');
  await git(env, root, 'init', '--bare', '--quiet', repo);
  const put = async (text: string): Promise<string> => {
    const r = await run(['git', '--git-dir', repo, 'hash-object', '-w', '--stdin'], { env, extendEnv: false, input: text });
    return r.stdout.trim();
  };
  const small = await put('small\n');
  const big = await put('x'.repeat(5000));
  const argv = ['git', '--git-dir', repo, 'cat-file', '--batch'];
  const all = await readObjects(argv, [small, big], { env, maxBytes: 1_000_000 });
  t.same(all.objects.map((o) => [o.id, o.type, o.data.length]), [[small, 'blob', 6], [big, 'blob', 5000]]);
  t.equal(all.truncated, false);
  const capped = await readObjects(argv, [small, big], { env, maxBytes: 1000 });
  t.equal(capped.truncated, true);
  t.same(capped.objects.map((o) => o.id), [small]);
  const gone = await readObjects(argv, [small, id('f')], { env, maxBytes: 1000 });
  t.same(gone.missing, [id('f')]);
});
