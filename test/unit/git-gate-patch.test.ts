// Patch parsing and scanning for the git gate, on hand-written `git log -p -U0 --cc` output.
import t from 'tap';
import { gitScanner } from '../../lib/secrets/index.js';
import { parsePatch, scanPatch, textBlobs, unquotePath } from '../../sidecars/git-gate/patch.js';
import { SECRETS } from '../fixtures/git-gate/world.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const head = (sha: string): string => `\0${sha}\n\n`;

t.test('the planted test secrets are ones the scanner flags', async (t) => {
  const s = gitScanner();
  t.same(s.scan(`k = "${SECRETS.aws}"`).map((f) => f.ruleId), ['aws-access-key-id']);
  t.same(s.scan(`k = "${SECRETS.github}"`).map((f) => f.ruleId), ['github-pat']);
  t.same(s.scan(SECRETS.privateKey).map((f) => f.ruleId), ['private-key']);
});

t.test('added lines keep their new-file line numbers across hunks and files', async (t) => {
  const log = head(A) + [
    'diff --git a/src/x.ts b/src/x.ts',
    'index 1111111..2222222 100644',
    '--- a/src/x.ts',
    '+++ b/src/x.ts',
    '@@ -3 +3 @@ export const a = 1;',
    '-old',
    '+new three',
    '@@ -10,0 +11,2 @@',
    '+eleven',
    '++++ twelve starts with pluses',
    'diff --git a/gone.txt b/gone.txt',
    'deleted file mode 100644',
    '--- a/gone.txt',
    '+++ /dev/null',
    '@@ -1 +0,0 @@',
    '-bye',
    'diff --git a/img.png b/img.png',
    'new file mode 100644',
    'Binary files /dev/null and b/img.png differ',
    'diff --git a/n.txt b/n.txt',
    '--- a/n.txt',
    '+++ b/n.txt',
    '@@ -1 +1 @@',
    '-x',
    '+y',
    '\\ No newline at end of file',
    '',
  ].join('\n') + head(B) + 'diff --git a/z b/z\n--- /dev/null\n+++ b/z\n@@ -0,0 +1 @@\n+zed\n';
  const commits = parsePatch(log);
  t.same(commits.map((c) => c.sha), [A, B]);
  t.same(commits[0]!.files, [
    { path: 'src/x.ts', binary: false, blob: '2222222', added: [{ line: 3, text: 'new three' }, { line: 11, text: 'eleven' }, { line: 12, text: '+++ twelve starts with pluses' }] },
    { path: 'img.png', binary: true, added: [] },
    { path: 'n.txt', binary: false, added: [{ line: 1, text: 'y' }] },
  ]);
  t.same(commits[1]!.files, [{ path: 'z', binary: false, added: [{ line: 1, text: 'zed' }] }]);
});

t.test('a "+++ " line inside a hunk is content, not a file header', async (t) => {
  const log = head(A) + 'diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+first\n+++ b/other\n';
  t.same(parsePatch(log)[0]!.files, [{ path: 'f', binary: false, added: [{ line: 1, text: 'first' }, { line: 2, text: '++ b/other' }] }]);
});

t.test('combined (merge) hunks: only lines in no parent count as added', async (t) => {
  const log = head(A) + [
    'diff --cc g',
    'index 573541a,0000000..80da1e0',
    '--- a/g',
    '+++ b/g',
    '@@@ -1,1 -1,0 +1,3 @@@',
    ' +from side',
    '- gone in result',
    '++evil',
    '+ from main',
  ].join('\n');
  t.same(parsePatch(log)[0]!.files, [{ path: 'g', binary: false, blob: '80da1e0', added: [{ line: 2, text: 'evil' }] }]);
});

t.test("quoted paths are decoded (git's C-style quoting, octal UTF-8)", async (t) => {
  t.equal(unquotePath('"b/caf\\303\\251 \\"menu\\".txt"'), 'b/café "menu".txt');
  t.equal(unquotePath('"b/tab\\there"'), 'b/tab\there');
  t.equal(unquotePath('plain'), 'plain');
  const log = head(A) + 'diff --git "a/caf\\303\\251" "b/caf\\303\\251"\n--- /dev/null\n+++ "b/caf\\303\\251"\n@@ -0,0 +1 @@\n+x\n';
  t.equal(parsePatch(log)[0]!.files[0]!.path, 'café');
});

t.test('scanPatch maps findings to file:line; a PEM block is seen whole', async (t) => {
  const pem = SECRETS.privateKey.split('\n');
  const log = head(A) + [
    'diff --git a/keys/id b/keys/id',
    '--- /dev/null',
    '+++ b/keys/id',
    `@@ -0,0 +5,${pem.length} @@`,
    ...pem.map((l) => `+${l}`),
    'diff --git a/cfg.ini b/cfg.ini',
    '--- a/cfg.ini',
    '+++ b/cfg.ini',
    '@@ -2 +2 @@',
    '-key=',
    '+nothing here',
    '@@ -40,0 +41 @@',
    `+key=${SECRETS.aws}`,
  ].join('\n');
  const hits = scanPatch(parsePatch(log), gitScanner());
  t.same(hits.map((h) => [h.commit, h.file, h.line, h.finding.ruleId]), [
    [A, 'keys/id', 5, 'private-key'],
    [A, 'cfg.ini', 41, 'aws-access-key-id'],
  ]);
  for (const h of hits) t.notOk(Object.values(SECRETS).some((s) => h.finding.redacted.includes(s)), 'redacted');
});

t.test('binary files are skipped, not scanned', async (t) => {
  const commits = [{ sha: A, files: [{ path: 'x.bin', binary: true, added: [{ line: 1, text: SECRETS.aws }] }] }];
  t.same(scanPatch(commits, gitScanner()), [], 'they are read whole by the object scan instead');
});

t.test('--full-index blob ids: text diffs cover their blob, binary or NUL-bearing ones do not', async (t) => {
  const C = 'c'.repeat(40);
  const D = 'd'.repeat(40);
  const E = 'e'.repeat(40);
  const log = head(A) + [
    'diff --git a/t.txt b/t.txt',
    `index ${'1'.repeat(40)}..${C} 100644`,
    '--- a/t.txt',
    '+++ b/t.txt',
    '@@ -1 +1 @@',
    '-a',
    '+b',
    'diff --git a/only-removed.txt b/only-removed.txt',
    `index ${'2'.repeat(40)}..${D} 100644`,
    '--- a/only-removed.txt',
    '+++ b/only-removed.txt',
    '@@ -2 +1,0 @@',
    '-gone',
    'diff --git a/img.png b/img.png',
    `index ${'0'.repeat(40)}..${E} 100644`,
    'Binary files /dev/null and b/img.png differ',
    'diff --git a/late-nul.txt b/late-nul.txt',
    `index ${'0'.repeat(40)}..${B} 100644`,
    '--- /dev/null',
    '+++ b/late-nul.txt',
    '@@ -0,0 +1 @@',
    '+x\0y',
  ].join('\n');
  const commits = parsePatch(log);
  t.same(commits[0]!.files.map((f) => [f.path, f.blob, f.binary]), [
    ['t.txt', C, false], ['only-removed.txt', D, false], ['img.png', E, true], ['late-nul.txt', B, false],
  ]);
  t.same([...textBlobs(commits)], [C, D]);
});

t.test('base64 of a secret in added lines is decoded, also when wrapped at 76 columns', async (t) => {
  const b64 = Buffer.from(`${'#'.repeat(40)}\nAWS_KEY=${SECRETS.aws}\n`).toString('base64');
  const wrapped = b64.match(/.{1,76}/g)!;
  t.ok(wrapped.length > 1);
  t.notOk(wrapped.some((l) => Buffer.from(l, 'base64').toString().includes(SECRETS.aws)), 'no single line decodes to the whole key');
  const commits = [{ sha: A, files: [{ path: 'notes.txt', binary: false, added: [{ line: 7, text: 'blob:' }, ...wrapped.map((text, i) => ({ line: 8 + i, text }))] }] }];
  t.same(scanPatch(commits, gitScanner()).map((h) => [h.file, h.line, h.finding.ruleId]), [['notes.txt', 8, 'aws-access-key-id']]);
});
