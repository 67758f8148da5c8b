// Credential sources (issue 20): a route variable's value from the environment, a 0600 file or
// a command named in $XDG_CONFIG_HOME/bottle/credentials.yaml, resolved by the command that
// starts the bottle. A dashboard whose environment lacks the variable (a tmux server started
// before it was exported) can then start bottles; values never reach output or files.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadCredentialConfig, resolveCredentials, takeCredentialHandoff, withCredentials, writeCredentialHandoff } from '../../lib/credentials.js';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/run/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';

const API_VALUE = `sk-ant-api03-${'Q'.repeat(8)}credtest${'z'.repeat(20)}`; // gitleaks:allow (test dummy)
const GH_VALUE = `ghp_${'credtest'}${'A'.repeat(28)}`; // gitleaks:allow (test dummy)

function world(t: { teardown(fn: () => unknown): void }, config?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-cred-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configDir = join(dir, 'config', 'bottle');
  mkdirSync(configDir, { recursive: true });
  if (config !== undefined) writeFileSync(join(configDir, 'credentials.yaml'), config);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '1' };
  return { dir, env, file: join(configDir, 'credentials.yaml') };
}

t.test('config: each variable names exactly one source; mistakes are one line with file:line:col', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['A: { env: B, file: x }\n', /credentials\.yaml:1:1: A needs exactly one source: \{ env: NAME \}, \{ file: PATH \} or \{ command: "\.\.\." \}$/],
    ['ok: { env: B }\n"not-a-var": { env: B }\n', /credentials\.yaml:2:1: "not-a-var" is not an environment variable name$/],
    ['A: { vault: x }\n', /credentials\.yaml:1:1: A: unknown source "vault" \(use env, file or command\)$/],
    ['A: [1\n', /credentials\.yaml:\d+:\d+: not valid YAML/],
    ['- A\n', /credentials\.yaml:1:1: expected a map of VARIABLE/],
  ];
  for (const [text, message] of cases) {
    const w = world(t, text);
    t.throws(() => loadCredentialConfig(w.env), message, text);
  }
  const empty = world(t);
  t.same([...loadCredentialConfig(empty.env).sources], [], 'no file: no sources');
  const ok = world(t, 'A: { env: B }\nC: { file: ~/c.txt }\nD: { command: "echo d" }\n');
  t.same([...loadCredentialConfig(ok.env).sources], [
    ['A', { kind: 'env', name: 'B' }], ['C', { kind: 'file', path: join(ok.dir, 'c.txt') }], ['D', { kind: 'command', command: 'echo d' }],
  ]);
});

t.test('resolve: env redirect, a 0600 file, a command; a readable file, a failing or silent command are named, never their values', async (t) => {
  const w = world(t, [
    'FROM_ENV: { env: OTHER }', 'FROM_FILE: { file: ~/token }', 'LOOSE: { file: ~/loose }', 'FROM_CMD: { command: "printf %s \\"$SEED\\"-cmd" }',
    'FAILS: { command: "echo nope >&2; exit 3" }', 'SILENT: { command: "true" }', '',
  ].join('\n'));
  writeFileSync(join(w.dir, 'token'), 'file-value-123\n', { mode: 0o600 });
  writeFileSync(join(w.dir, 'loose'), 'loose-value-456\n');
  chmodSync(join(w.dir, 'loose'), 0o644);
  const env = { ...w.env, OTHER: 'other-value', SEED: 'seed', PLAIN: 'plain-value' };
  const r = await resolveCredentials(['FROM_ENV', 'FROM_FILE', 'LOOSE', 'FROM_CMD', 'FAILS', 'SILENT', 'PLAIN', 'NOWHERE'], env, run);
  t.same(r.values, { FROM_ENV: 'other-value', FROM_FILE: 'file-value-123', FROM_CMD: 'seed-cmd', PLAIN: 'plain-value' });
  t.same(r.unset, ['NOWHERE']);
  t.same(r.problems, [
    `LOOSE: ${join(w.dir, 'loose')} is readable by others (mode 644); run chmod 600 ${join(w.dir, 'loose')}`,
    'FAILS: command `echo nope >&2; exit 3` exited 3: nope',
    'SILENT: command `true` printed nothing',
  ]);
  t.notMatch(r.problems.join('\n'), /loose-value/, 'a refused file is not read into any message');
  const err = await withCredentials(['NOWHERE', 'LOOSE'], env, run, 'before starting (the routes need them)').catch((e: unknown) => e);
  t.type(err, UserError);
  t.match((err as Error).message, /^host env not set: NOWHERE; export it before starting \(the routes need them\), or name a source in \S+credentials\.yaml, e.g\. NOWHERE: \{ command: "pass show nowhere" \}; LOOSE: .* is readable by others/);
});

t.test('start with neither value in its environment: credentials.yaml supplies them, and launch sees exactly those values', async (t) => {
  const w = world(t, `ANTHROPIC_API_KEY: { command: "cat ~/api-key" }\nGITHUB_TOKEN: { file: ~/gh-token }\n`);
  writeFileSync(join(w.dir, 'api-key'), `${API_VALUE}\n`, { mode: 0o600 });
  writeFileSync(join(w.dir, 'gh-token'), `${GH_VALUE}\n`, { mode: 0o600 });
  const dry = await bottleProcess(['start', 'implementer', '--dry-run'], { env: w.env, cwd: w.dir, fake: true });
  t.equal(dry.exitCode, 0, dry.stderr);
  t.notMatch(dry.stdout, /host env not set/, 'a variable with a source is not reported missing');
  const r = await bottleProcess(['start', 'implementer', '--yes', '--no-attach'], { env: w.env, cwd: w.dir, fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  const slug = r.stdout.trim();
  const rec = JSON.parse(readFileSync(join(bottlePaths(join(w.dir, 'state'), slug).dir, 'fake-engine.json'), 'utf8')) as { routeValues: Record<string, string> };
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  t.same(rec.routeValues, { ANTHROPIC_API_KEY: sha(API_VALUE), GITHUB_TOKEN: sha(GH_VALUE) }, 'launch got the values from the command and the file');
  t.notMatch(r.stdout + r.stderr + dry.stdout + dry.stderr, /credtest/, 'no value in any output');

  chmodSync(join(w.dir, 'gh-token'), 0o640);
  const loose = await bottleProcess(['start', 'implementer', '--yes', '--no-attach'], { env: w.env, cwd: w.dir, fake: true });
  t.equal(loose.exitCode, 1);
  t.match(loose.stderr, /bottle: GITHUB_TOKEN: \S+gh-token is readable by others \(mode 640\); run chmod 600 /);
});

t.test('handoff: a private file read once; expired, symlinked or malformed ones hand over nothing', async (t) => {
  const w = world(t);
  const root = join(w.dir, 'state');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const file = writeCredentialHandoff(root, { GITHUB_TOKEN: 'ghp-x' }, 1000);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(takeCredentialHandoff(root, 2000), { GITHUB_TOKEN: 'ghp-x' });
  t.notOk(existsSync(file), 'deleted once read');
  t.same(takeCredentialHandoff(root, 2000), {}, 'read once');
  writeCredentialHandoff(root, { GITHUB_TOKEN: 'ghp-x' }, 1000);
  t.same(takeCredentialHandoff(root, 1000 + 61_000), {}, 'expired after a minute');
  t.notOk(existsSync(file), 'an expired one is removed too');
  const elsewhere = join(w.dir, 'planted.json');
  writeFileSync(elsewhere, JSON.stringify({ expires: 9e15, values: { GITHUB_TOKEN: 'planted' } }));
  symlinkSync(elsewhere, file);
  t.same(takeCredentialHandoff(root), {}, 'a symlink is not followed');
  writeFileSync(file, JSON.stringify({ expires: 9e15, values: { 'bad name': 'x', OK_NAME: 7, GOOD: 'v' } }), { mode: 0o600 });
  t.same(takeCredentialHandoff(root), { GOOD: 'v' }, 'only variable names with string values');
});
