// `bottle allowlist edit` / `bottle routes edit` as a real subprocess with a fake $EDITOR: a
// script that rewrites the file (valid or invalid), and a fakebin that leaves it as is.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import t from 'tap';
import { loadPolicy } from '../../lib/policy/index.js';
import { createBottle } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';
import { fakeBins } from '../helpers/fakebin.js';

const POLICY = `# operator's policy
version: 1
allow:
  - registry.npmjs.org # npm
routes:
  - host: api.github.com
    headers: { Authorization: "Bearer \${GITHUB_TOKEN}" }
`;

// Edits the file named by its last argument: `add` allows example.com, `bad` adds a URL,
// `route` adds a route. Logs its argv so the test sees what the CLI ran.
const EDITOR_SCRIPT = `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const [mode, file] = [args[0], args[args.length - 1]];
appendFileSync(process.env.FAKE_EDITOR_LOG, JSON.stringify(args) + '\\n');
let text = readFileSync(file, 'utf8');
if (mode === 'add') text = text.replace('\\nallow:\\n', '\\nallow:\\n  - example.com\\n');
if (mode === 'bad') text = text.replace('\\nallow:\\n', '\\nallow:\\n  - https://bad.example.com/path\\n');
if (mode === 'star') text = text.replace('\\nallow:\\n', '\\nallow:\\n  - "*"\\n');
if (mode === 'route') text = text.replace('\\nroutes:\\n', '\\nroutes:\\n  - host: api.x.com\\n    headers: { X-Key: \"\${X_KEY}\" }\\n');
writeFileSync(file, text);
`;

async function setup(t: { teardown(fn: () => unknown): void }) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-edit-cli-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const b = await createBottle(join(root, 'state'), 'implementer', { backend: 'docker' });
  const file = join(b.paths.policy, 'policy.yaml');
  writeFileSync(file, POLICY);
  const script = join(root, 'editor.mjs');
  writeFileSync(script, EDITOR_SCRIPT);
  const log = join(root, 'editor.log');
  writeFileSync(log, '');
  const env = (mode: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, BOTTLE_STATE_DIR: join(root, 'state'), FAKE_EDITOR_LOG: log, EDITOR: quote([process.execPath, script, mode]), ...extra };
    delete e.VISUAL;
    return e;
  };
  const calls = () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  return { slug: b.slug, root: join(root, 'state'), file, env, calls };
}

t.test('allowlist edit: a valid change is applied and summarised; the temp file is gone', async (t) => {
  const s = await setup(t);
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env: s.env('add') });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), `${s.slug}: + allow example.com`);
  t.match(r.stderr, /warning: .*applies when/);
  const text = readFileSync(s.file, 'utf8');
  t.same(loadPolicy(text).allow, ['example.com', 'registry.npmjs.org']);
  t.match(text, /# npm/);
  const [argv] = s.calls();
  t.equal(argv![0], 'add', 'EDITOR arguments are passed through');
  t.match(argv![1], new RegExp(`${s.slug}\\.allowlist\\.yaml$`));
  t.notOk(existsSync(argv![1]!), 'temp file removed');
});

t.test('allowlist edit: an invalid change with stdin not a TTY exits 1 with file:line:col and keeps the text to re-apply', async (t) => {
  const s = await setup(t);
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env: s.env('bad') });
  t.equal(r.exitCode, 1);
  const m = /^bottle: \S+\.allowlist\.yaml:\d+:\d+: allow\[0\]: "https:\/\/bad\.example\.com\/path" is a URL; write the bare host name; \S+'s policy is unchanged\. Your text is kept in (\S+); after fixing it there, apply it with: EDITOR='cp \S+' bottle allowlist edit \S+$/.exec(r.stderr);
  t.ok(m, r.stderr);
  t.notMatch(r.stderr, /Re-edit/, 'no prompt without a terminal');
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy unchanged');
  t.equal(s.calls().length, 1, 'editor opened once');
  const kept = m![1]!;
  t.match(readFileSync(kept, 'utf8'), /https:\/\/bad\.example\.com\/path/, 'the rejected text is kept');
  t.equal(statSync(kept).mode & 0o777, 0o600, 'privately');
  writeFileSync(kept, readFileSync(kept, 'utf8').replace('https://bad.example.com/path', 'bad.example.com'));
  const again = await bottleProcess(['allowlist', 'edit', s.slug], { env: { ...s.env('x'), EDITOR: `cp ${kept}` } });
  t.equal(again.exitCode, 0, again.stderr);
  t.equal(again.stdout.trim(), `${s.slug}: + allow bad.example.com`, 'the printed command applies the fixed text');
});

t.test('allowlist edit: adding "*" needs a confirmation (--allow-all without a terminal); the text is kept', async (t) => {
  const s = await setup(t);
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env: s.env('star') });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: adding "\*" allows every host and needs a confirmation: run this in a terminal, or pass --allow-all; \S+'s policy is unchanged\. Your text is kept in \S+allowlist\.rejected\.yaml$/);
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy unchanged');
  const yes = await bottleProcess(['allowlist', 'edit', s.slug, '--allow-all'], { env: s.env('star') });
  t.equal(yes.exitCode, 0, yes.stderr);
  t.same(loadPolicy(readFileSync(s.file, 'utf8')).allow, ['*', 'registry.npmjs.org']);
});

t.test('allowlist edit: no terminal and no $EDITOR → refused before any editor runs', async (t) => {
  const s = await setup(t);
  const bins = await fakeBins(t, { vi: {} });
  const env = { ...s.env('x', { PATH: bins.env.PATH }) };
  delete env.EDITOR;
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env });
  t.equal(r.exitCode, 1);
  t.equal(r.stderr, 'bottle: no terminal to run an editor in (stdin is not a terminal and neither $VISUAL nor $EDITOR is set); run this in a terminal, or set EDITOR to a command that edits the file it is given');
  t.same(await bins.calls('vi'), [], 'vi was not started');
});

t.test('allowlist edit: a unique slug prefix works; an ambiguous one is named as such', async (t) => {
  const s = await setup(t);
  const r = await bottleProcess(['allowlist', 'edit', 'impl'], { env: s.env('add') });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), `${s.slug}: + allow example.com`);
  const other = await createBottle(s.root, 'implementer', { backend: 'docker' });
  const amb = await bottleProcess(['allowlist', 'edit', 'impl'], { env: s.env('add') });
  t.equal(amb.exitCode, 1);
  t.equal(amb.stderr, `bottle: impl is ambiguous: it starts ${[s.slug, other.slug].sort().join(', ')}; give more of the slug`);
  const none = await bottleProcess(['allowlist', 'edit', 'nosuch'], { env: s.env('add') });
  t.match(none.stderr, /^bottle: no bottle named nosuch; bottles: /);
  t.notMatch(none.stderr, /metadata\.json/, 'no internal path');
});

t.test('routes edit: a new route needs its env var in this shell', async (t) => {
  const s = await setup(t);
  let r = await bottleProcess(['routes', 'edit', s.slug], { env: s.env('route') });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: host env not set: X_KEY; export it in this shell \(the running gateway is handed it for the edited routes\), or name a source in \S+credentials\.yaml/);
  t.match(r.stderr, /policy is unchanged\. Your text is kept in /);
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
  const config = join(s.root, '..', 'config');
  mkdirSync(join(config, 'bottle'), { recursive: true });
  writeFileSync(join(config, 'bottle', 'credentials.yaml'), 'X_KEY: { command: "printf from-a-command-x" }\n');
  const sourced = await bottleProcess(['routes', 'edit', s.slug], { env: s.env('route', { XDG_CONFIG_HOME: config }) });
  t.equal(sourced.exitCode, 0, sourced.stderr);
  t.equal(sourced.stdout.trim(), `${s.slug}: + route api.x.com (X-Key: \${X_KEY})`, 'a source in credentials.yaml counts');
  t.notMatch(sourced.stdout + sourced.stderr + readFileSync(s.file, 'utf8'), /from-a-command/);
  writeFileSync(s.file, POLICY);
  r = await bottleProcess(['routes', 'edit', s.slug], { env: s.env('route', { X_KEY: 'secret-value-x' }) });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), `${s.slug}: + route api.x.com (X-Key: \${X_KEY})`);
  t.notMatch(r.stdout + r.stderr + readFileSync(s.file, 'utf8'), /secret-value-x/);
});

t.test('allowlist edit: saved unchanged → "no changes" (fakebin editor; argv recorded)', async (t) => {
  const s = await setup(t);
  const bins = await fakeBins(t, { 'fake-editor': {} });
  const env = { ...s.env('x', { PATH: bins.env.PATH }), VISUAL: 'fake-editor --wait' };
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), `${s.slug}: no changes`);
  const [call] = await bins.calls('fake-editor');
  t.equal(call!.argv[0], '--wait', '$VISUAL wins over $EDITOR and keeps its arguments');
  t.notOk(existsSync(call!.argv[1]!), 'temp file removed');
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
  const missing = await bottleProcess(['allowlist', 'edit', 'nope-aaaaaa'], { env });
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, /^bottle: no bottle named nope-aaaaaa; bottles: /);
});
