// Live policy editing, in-process: text transforms that keep comments, error positions in the
// edited file, change summaries, editor argv, and the edit loop with a scripted editor.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import {
  applySection, diffPolicies, editorArgv, editPolicy, newRouteVars, requireEnv, rewritePolicy, sectionText, type EditDeps,
} from '../../lib/policy-edit/index.js';
import { loadPolicy, PolicyError, type Policy } from '../../lib/policy/index.js';
import { noopControl, type BundleControl } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';

const POLICY = `# operator's policy
version: 1
allow:
  - registry.npmjs.org # npm for the build
  - api.anthropic.com
block: [evil.example.com]
routes:
  - host: api.github.com
    headers:
      Authorization: "Bearer \${GITHUB_TOKEN}" # fine-grained PAT
passthrough: [api.anthropic.com, api.github.com]
limits:
  maxBodyBytes: 5MiB
`;

t.test('rewritePolicy patches entries in place and keeps comments; falls back to a fresh rendering', async (t) => {
  const cur = loadPolicy(POLICY);
  const next = { ...cur, allow: ['api.anthropic.com', 'example.com'], routes: [...cur.routes, { host: 'api.x.com', headers: { 'X-Key': 'X_KEY' } }] };
  const text = rewritePolicy(POLICY, next);
  t.match(text, /# operator's policy/);
  t.match(text, /# fine-grained PAT/);
  t.notMatch(text, /registry\.npmjs\.org/);
  t.same(loadPolicy(text), next);
  const aliased = 'version: 1\nallow: &a [a.example.org]\npassthrough: *a\n';
  const p = loadPolicy(aliased);
  const out = rewritePolicy(aliased, { ...p, allow: ['b.example.org'], passthrough: [] });
  t.same(loadPolicy(out).allow, ['b.example.org'], 'still means the intended policy');
});

t.test('sectionText shows a header and only the section, with the entries\' comments', async (t) => {
  const a = sectionText(POLICY, 'allowlist', 'impl-aaaaaa');
  t.match(a, /^# bottle allowlist edit impl-aaaaaa/);
  t.match(a, /# npm for the build/);
  t.match(a, /\nallow:\n/);
  t.match(a, /\nblock: /);
  t.match(a, /\npassthrough: /);
  t.notMatch(a, /routes:|version:|limits:/m);
  const r = sectionText('version: 1\n', 'routes', 'impl-aaaaaa');
  t.match(r, /\nroutes: \[\]\n$/, 'an absent section is shown empty');
  t.match(r, /never secrets/);
});

t.test('applySection: a valid edit merges; the rest of the policy and its comments stay', async (t) => {
  const edited = sectionText(POLICY, 'allowlist', 'x').replace('  - api.anthropic.com\n', '  - api.anthropic.com\n  - example.com # docs\n');
  const r = applySection(POLICY, '/s/policy.yaml', edited, '/tmp/e/x.allowlist.yaml', 'allowlist');
  t.same(r.next.allow, ['registry.npmjs.org', 'api.anthropic.com', 'example.com']);
  t.match(r.text, /example\.com # docs/);
  t.match(r.text, /# fine-grained PAT/);
  t.match(r.text, /maxBodyBytes: 5MiB/);
  t.same(loadPolicy(r.text), r.next);
});

t.test('allowlist edit round-trips a time-boxed grant: shown as { host, until }, kept, editable', async (t) => {
  const timed = POLICY.replace('  - api.anthropic.com\n', '  - api.anthropic.com\n  - { host: docs.example.com, until: "2030-01-01T00:00:00Z" } # for the migration\n');
  const shown = sectionText(timed, 'allowlist', 'x');
  t.match(shown, /\{ host: docs\.example\.com, until: "2030-01-01T00:00:00Z" \} # for the migration/);
  const same = applySection(timed, '/s/policy.yaml', shown, '/tmp/e/x.allowlist.yaml', 'allowlist');
  t.same(same.next.allowUntil, { 'docs.example.com': '2030-01-01T00:00:00.000Z' }, 'an unchanged edit keeps the expiry');
  const longer = applySection(timed, '/s/policy.yaml', shown.replace('2030-01-01', '2031-01-01'), '/tmp/e/x.allowlist.yaml', 'allowlist');
  t.same(longer.next.allowUntil, { 'docs.example.com': '2031-01-01T00:00:00.000Z' });
  t.same(diffPolicies(same.next, longer.next), ['~ allow docs.example.com (until 2031-01-01T00:00:00.000Z)']);
  const permanent = applySection(timed, '/s/policy.yaml', shown.replace(/\{ host: docs\.example\.com, until: "[^"]+" \}/, 'docs.example.com'), '/tmp/e/x.allowlist.yaml', 'allowlist');
  t.equal(permanent.next.allowUntil, undefined);
  t.same(diffPolicies(same.next, permanent.next), ['~ allow docs.example.com (permanent)']);
  t.throws(() => applySection(timed, '/s/p', shown.replace('"2030-01-01T00:00:00Z"', 'soon'), '/tmp/e/a.yaml', 'allowlist'), /a\.yaml:\d+:\d+: allow\[2\]\.until: must be an ISO 8601 time/);
});

t.test('applySection: errors point into the edited file (file:line:col)', async (t) => {
  const base = sectionText(POLICY, 'allowlist', 'x');
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const bad = base.replace('  - api.anthropic.com\n', '  - https://example.com/x\n');
  const err = (() => { try { applySection(POLICY, '/s/policy.yaml', bad, '/tmp/e/a.yaml', 'allowlist'); } catch (e) { return e; } })();
  t.type(err, PolicyError);
  t.match((err as Error).message, new RegExp(`^/tmp/e/a\\.yaml:${lineOf(bad, 'https://')}:5: allow\\[1\\]: .* is a URL`));
  t.throws(() => applySection(POLICY, '/s/p', `${base}routes: []\n`, '/tmp/e/a.yaml', 'allowlist'), /a\.yaml:\d+:1: routes: not editable here \(use `bottle routes edit`\)/);
  t.throws(() => applySection(POLICY, '/s/p', 'allow: [a.example.org\n', '/tmp/e/a.yaml', 'allowlist'), /^\/tmp\/e\/a\.yaml:\d+:\d+: /);
  t.throws(() => applySection(POLICY, '/s/p', '- a.example.org\n', '/tmp/e/a.yaml', 'allowlist'), /a\.yaml:1:1: must be a mapping/);
  // Removing a route that passthrough relies on: the error names the entry outside this editor
  // and where it is edited.
  const routes = sectionText(POLICY, 'routes', 'x');
  t.throws(() => applySection(POLICY, '/s/policy.yaml', 'routes: []\n', '/tmp/e/r.yaml', 'routes'),
    /^\/s\/policy\.yaml: passthrough\[1\]: api\.github\.com is not allowed; .*; passthrough\[1\] is not in this editor \(use `bottle allowlist edit`\): change your edit, or that entry first$/);
  t.throws(() => applySection(POLICY, '/s/p', routes.replace('"Bearer ${GITHUB_TOKEN}" #', '"Bearer ${1BAD}" #'), '/tmp/e/r.yaml', 'routes'), /r\.yaml:\d+:\d+: routes\[0\]\.headers\.Authorization: \$\{1BAD\} is not an environment variable name/);
});

t.test('diffPolicies, newRouteVars and requireEnv', async (t) => {
  const a = loadPolicy(POLICY);
  const b: Policy = { ...a, allow: [...a.allow.filter((h) => h !== 'registry.npmjs.org'), 'example.com'], routes: [{ host: 'api.github.com', headers: { Authorization: 'token ${GH2}' } }, { host: 'api.x.com', headers: { K: '${X_KEY}' } }] };
  t.same(diffPolicies(a, b), ['+ allow example.com', '- allow registry.npmjs.org', '~ route api.github.com (Authorization: token ${GH2})', '+ route api.x.com (K: ${X_KEY})']);
  t.same(diffPolicies(b, a).slice(-1), ['- route api.x.com']);
  t.same(newRouteVars(a, b), ['GH2', 'X_KEY']);
  t.same(newRouteVars(b, b), []);
  t.doesNotThrow(() => requireEnv(['A'], { A: 'value-of-a' }));
  t.throws(() => requireEnv(['A', 'B'], { A: 'short', B: 'long-enough' }, 'route x.test'),
    /^route x\.test: route secret A is shorter than 8 characters; a copy reflected in a response could not be masked safely, so it is refused: export the full credential; nothing was changed$/,
    'a route secret too short to mask is refused (never echoed)');
  t.throws(() => requireEnv(['A', 'B', 'C'], { B: 'secret-b', C: '' }), /needs host env vars A, C, not set/);
});

t.test('editorArgv: $VISUAL, then $EDITOR, then vi; arguments split like a shell, never run by one', async (t) => {
  t.same(editorArgv({}, '/f'), ['vi', '/f']);
  t.same(editorArgv({ EDITOR: 'nano' }, '/f'), ['nano', '/f']);
  t.same(editorArgv({ EDITOR: 'nano', VISUAL: 'code --wait' }, '/f'), ['code', '--wait', '/f']);
  t.same(editorArgv({ EDITOR: '"/opt/my editor/ed" -n $HOME', HOME: '/h' }, '/f'), ['/opt/my editor/ed', '-n', '/h', '/f']);
  t.throws(() => editorArgv({ EDITOR: 'vi; rm -rf ~' }, '/f'), /shell syntax/);
  t.throws(() => editorArgv({ EDITOR: '$NOPE' }, '/f'), /empty after expansion/);
});

async function bottle(t: { teardown(fn: () => unknown): void }, policy = POLICY) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-edit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, policy);
  return { paths: b.paths, file, tmpRoot: root };
}

// An editor that applies the next scripted change to the file each time it is opened.
function scripted(changes: Array<(text: string) => string>, tmpRoot: string, extra: Partial<EditDeps> = {}) {
  const seen: Array<{ file: string; dirMode: number }> = [];
  const errs: string[] = [];
  const deps: EditDeps = {
    tmpRoot,
    err: (s) => errs.push(s),
    edit: async (file) => {
      seen.push({ file, dirMode: statSync(dirname(file)).mode & 0o777 });
      const change = changes.shift();
      if (!change) throw new Error('editor opened more often than scripted');
      writeFileSync(file, change(readFileSync(file, 'utf8')));
    },
    ...extra,
  };
  return { deps, seen, errs };
}

function recording(): { control: BundleControl; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    control: { name: 'fake', live: true, reload: async (s) => { calls.push(`reload ${s}`); }, provideSecrets: async (_s, names) => { calls.push(`secrets ${names.join(',')}`); } },
  };
}

t.test('editPolicy: a valid edit is written atomically, secrets provided, bundle reloaded, temp dir gone', async (t) => {
  const b = await bottle(t);
  const ino = statSync(b.file).ino;
  const { deps, seen } = scripted([(s) => s.replace('\nroutes:\n', '\nroutes:\n  - host: api.x.com\n    headers: { X-Key: "${X_KEY}" }\n')], b.tmpRoot);
  const { control, calls } = recording();
  const r = await editPolicy(b.paths, 'routes', deps, control, { X_KEY: 'value-of-x-key' });
  t.same(r.summary, ['+ route api.x.com (X-Key: ${X_KEY})']);
  t.same(r.secrets, ['X_KEY']);
  t.same(calls, ['secrets X_KEY', `reload ${r.slug}`]);
  t.equal(seen[0]!.dirMode, 0o700, 'private temp dir');
  t.notOk(existsSync(dirname(seen[0]!.file)), 'temp dir removed');
  t.not(statSync(b.file).ino, ino, 'replaced by rename');
  t.same(readdirSync(b.paths.policy), ['policy.yaml']);
  t.match(readFileSync(b.file, 'utf8'), /# fine-grained PAT/);
});

t.test('editPolicy: unchanged (or reordered) → no changes, nothing written or signalled', async (t) => {
  const b = await bottle(t);
  const { control, calls } = recording();
  let r = await editPolicy(b.paths, 'allowlist', scripted([(s) => s], b.tmpRoot).deps, control, {});
  t.equal(r.changed, false);
  r = await editPolicy(b.paths, 'allowlist', scripted([(s) => s.replace('block: [ evil.example.com ]', 'block:\n  - evil.example.com')], b.tmpRoot).deps, control, {});
  t.equal(r.changed, false, 'same meaning');
  t.equal(readFileSync(b.file, 'utf8'), POLICY);
  t.same(calls, []);
});

t.test('editPolicy: invalid edit without a terminal fails at once with file:line:col; policy unchanged', async (t) => {
  const b = await bottle(t);
  const { deps, seen } = scripted([(s) => s.replace('  - api.anthropic.com\n', '  - "bad host"\n')], b.tmpRoot);
  await t.rejects(editPolicy(b.paths, 'allowlist', deps, noopControl, {}), /implementer-\w+\.allowlist\.yaml:\d+:\d+: allow\[1\]: /);
  t.equal(seen.length, 1, 'no loop');
  t.equal(readFileSync(b.file, 'utf8'), POLICY);
  t.notOk(existsSync(dirname(seen[0]!.file)), 'temp dir removed on failure too');
});

t.test('editPolicy: with a terminal, an invalid edit is shown and re-edited; "n" abandons', async (t) => {
  const b = await bottle(t);
  const questions: string[] = [];
  const confirm = async (q: string) => { questions.push(q); return true; };
  const { deps, errs } = scripted([
    (s) => s.replace('  - api.anthropic.com\n', '  - api.anthropic.com\n  - "bad host"\n'),
    (s) => s.replace('"bad host"', 'good.example.org'),
  ], b.tmpRoot, { confirm });
  const r = await editPolicy(b.paths, 'allowlist', deps, noopControl, {});
  t.same(questions, ['Re-edit? [Y/n] ']);
  t.match(errs[0], /^bottle: .*allowlist\.yaml:\d+:\d+: allow\[2\]/);
  t.same(r.summary, ['+ allow good.example.org']);
  t.equal(r.live, false);
  const no = scripted([(s) => `${s}bogus: 1\n`], b.tmpRoot, { confirm: async () => false });
  await t.rejects(editPolicy(b.paths, 'allowlist', no.deps, noopControl, {}), /edit abandoned/);
});

t.test('editPolicy: a new route whose env var is unset is refused before anything is written', async (t) => {
  const b = await bottle(t);
  const { deps } = scripted([(s) => s.replace('"Bearer ${GITHUB_TOKEN}" #', '"Bearer ${GH_OTHER}" #')], b.tmpRoot);
  const { control, calls } = recording();
  await t.rejects(editPolicy(b.paths, 'routes', deps, control, { GITHUB_TOKEN: 'x' }), /GH_OTHER, not set in this shell; nothing was changed/);
  t.equal(readFileSync(b.file, 'utf8'), POLICY);
  t.same(calls, []);
});

t.test('editPolicy: concurrent writers — elsewhere is merged, the same section is a conflict', async (t) => {
  const b = await bottle(t);
  // While the allowlist is open, an approval adds a route: both changes land.
  const other = POLICY.replace('routes:\n', 'routes:\n  - host: api.y.com\n    headers: { K: Y_KEY }\n');
  let r = await editPolicy(b.paths, 'allowlist', scripted([(s) => { writeFileSync(b.file, other); return s.replace('  - api.anthropic.com\n', '  - api.anthropic.com\n  - example.com\n'); }], b.tmpRoot).deps, noopControl, {});
  t.same(r.summary, ['+ allow example.com']);
  const p = loadPolicy(readFileSync(b.file, 'utf8'));
  t.ok(p.allow.includes('example.com'));
  t.ok(p.routes.some((x) => x.host === 'api.y.com'), 'the concurrent route survived');
  // While the allowlist is open, someone else changes the allowlist: refuse, write nothing.
  const before = readFileSync(b.file, 'utf8');
  const theirs = before.replace('  - example.com\n', '  - example.com\n  - theirs.example.org\n');
  await t.rejects(editPolicy(b.paths, 'allowlist', scripted([(s) => { writeFileSync(b.file, theirs); return s.replace('  - example.com\n', '  - mine.example.org\n'); }], b.tmpRoot).deps, noopControl, {}), /changed while you were editing/);
  t.equal(readFileSync(b.file, 'utf8'), theirs);
  r = await editPolicy(b.paths, 'allowlist', scripted([(s) => s], b.tmpRoot).deps, noopControl, {});
  t.equal(r.changed, false);
});
