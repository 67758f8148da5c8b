// Patch parsing and scanning for the git gate, on hand-written `git log -p -U0 --cc` output.
import t from 'tap';
import { gitScanner } from '../../lib/secrets/index.js';
import { MESSAGE_PATH, parsePatch, scanPatch, unquotePath } from '../../sidecars/git-gate/patch.js';
import { SECRETS } from '../fixtures/git-gate/world.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const head = (sha: string, msg: string): string => `\0${sha}\n${msg}\n\n\0\n`;

t.test('the planted test secrets are ones the scanner flags', async (t) => {
  const s = gitScanner();
  t.same(s.scan(`k = "${SECRETS.aws}"`).map((f) => f.ruleId), ['aws-access-key-id']);
  t.same(s.scan(`k = "${SECRETS.github}"`).map((f) => f.ruleId), ['github-pat']);
  t.same(s.scan(SECRETS.privateKey).map((f) => f.ruleId), ['private-key']);
});

t.test('added lines keep their new-file line numbers across hunks and files', async (t) => {
  const log = head(A, 'two files') + [
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
  ].join('\n') + head(B, 'second') + 'diff --git a/z b/z\n--- /dev/null\n+++ b/z\n@@ -0,0 +1 @@\n+zed\n';
  const commits = parsePatch(log);
  t.same(commits.map((c) => [c.sha, c.message]), [[A, 'two files'], [B, 'second']]);
  t.same(commits[0]!.files, [
    { path: 'src/x.ts', binary: false, added: [{ line: 3, text: 'new three' }, { line: 11, text: 'eleven' }, { line: 12, text: '+++ twelve starts with pluses' }] },
    { path: '', binary: true, added: [] },
    { path: 'n.txt', binary: false, added: [{ line: 1, text: 'y' }] },
  ]);
  t.same(commits[1]!.files, [{ path: 'z', binary: false, added: [{ line: 1, text: 'zed' }] }]);
});

t.test('a "+++ " line inside a hunk is content, not a file header', async (t) => {
  const log = head(A, 'm') + 'diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+first\n+++ b/other\n';
  t.same(parsePatch(log)[0]!.files, [{ path: 'f', binary: false, added: [{ line: 1, text: 'first' }, { line: 2, text: '++ b/other' }] }]);
});

t.test('combined (merge) hunks: only lines in no parent count as added', async (t) => {
  const log = head(A, 'merge') + [
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
  t.same(parsePatch(log)[0]!.files, [{ path: 'g', binary: false, added: [{ line: 2, text: 'evil' }] }]);
});

t.test("quoted paths are decoded (git's C-style quoting, octal UTF-8)", async (t) => {
  t.equal(unquotePath('"b/caf\\303\\251 \\"menu\\".txt"'), 'b/café "menu".txt');
  t.equal(unquotePath('"b/tab\\there"'), 'b/tab\there');
  t.equal(unquotePath('plain'), 'plain');
  const log = head(A, 'm') + 'diff --git "a/caf\\303\\251" "b/caf\\303\\251"\n--- /dev/null\n+++ "b/caf\\303\\251"\n@@ -0,0 +1 @@\n+x\n';
  t.equal(parsePatch(log)[0]!.files[0]!.path, 'café');
});

t.test('scanPatch maps findings to file:line, commit messages included; a PEM block is seen whole', async (t) => {
  const pem = SECRETS.privateKey.split('\n');
  const log = head(A, `subject\n\nbody with ${SECRETS.github}`) + [
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
    [A, MESSAGE_PATH, 3, 'github-pat'],
    [A, 'keys/id', 5, 'private-key'],
    [A, 'cfg.ini', 41, 'aws-access-key-id'],
  ]);
  for (const h of hits) t.notOk(Object.values(SECRETS).some((s) => h.finding.redacted.includes(s)), 'redacted');
});

t.test('binary files are skipped, not scanned', async (t) => {
  const commits = [{ sha: A, message: '', files: [{ path: 'x.bin', binary: true, added: [{ line: 1, text: SECRETS.aws }] }] }];
  t.same(scanPatch(commits, gitScanner()), []);
});
