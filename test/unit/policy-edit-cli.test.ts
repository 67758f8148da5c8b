// `bottle allowlist edit` / `bottle routes edit` as a real subprocess with a fake $EDITOR: a
// script that rewrites the file (valid or invalid), and a fakebin that leaves it as is.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  return { slug: b.slug, file, env, calls };
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

t.test('allowlist edit: an invalid change with stdin not a TTY exits 1 with file:line:col', async (t) => {
  const s = await setup(t);
  const r = await bottleProcess(['allowlist', 'edit', s.slug], { env: s.env('bad') });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: \S+\.allowlist\.yaml:\d+:\d+: allow\[0\]: "https:\/\/bad\.example\.com\/path" is a URL; write the bare host name$/);
  t.notMatch(r.stderr, /Re-edit/, 'no prompt without a terminal');
  t.equal(readFileSync(s.file, 'utf8'), POLICY, 'policy unchanged');
  t.equal(s.calls().length, 1, 'editor opened once');
});

t.test('routes edit: a new route needs its env var in this shell', async (t) => {
  const s = await setup(t);
  let r = await bottleProcess(['routes', 'edit', s.slug], { env: s.env('route') });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /needs host env var X_KEY, not set in this shell; nothing was changed/);
  t.equal(readFileSync(s.file, 'utf8'), POLICY);
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
  t.match(missing.stderr, /^bottle: no bottle nope-aaaaaa/);
});
