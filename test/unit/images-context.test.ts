// Build contexts: exactly the listed files (never the checkout), and a source hash that
// changes with any input and nothing else; plus the dist/ staleness check.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assembleContext, contextEntries, hashContext, isRuntimeAsset, listFiles, projectContextEntries, SOURCE_DIRS } from '../../lib/images/context.js';
import { clearDistStamp, distStaleness, markDistBuilt } from '../../lib/images/dist.js';
import { projectRoot } from '../../lib/paths.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-images-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(root: string, rel: string, text = rel, mode = 0o644): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text, { mode });
}

const REPO_FILES = [
  'package.json', 'package-lock.json', 'bin/bottle.js',
  'dist/commands/main.js', 'dist/commands/main.js.map', 'dist/chunks/chunk-A1.js', 'dist/sidecars/git-gate/hook-main.js',
  'dist/.bottle-build-ok', 'dist/test/unit/x.test.js',
  'lib/secrets/index.ts', 'lib/secrets/gitleaks.toml', 'lib/secrets/README.md', 'lib/secrets/.hidden',
  'sidecars/init/cli.ts', 'sidecars/git-gate/hook.sh', 'test/fixtures/x.json', 'images/Dockerfile.agent',
];

t.test('agent context: Dockerfile and the build helper only', async (t) => {
  t.same(contextEntries('agent', REPO_FILES), [
    { from: 'images/Dockerfile.agent', to: 'Dockerfile' },
    { from: 'images/build-helper.sh', to: 'build-helper.sh' },
  ]);
});

t.test('sidecars context: package.json, bin/, the bundled dist/, runtime assets; no lockfile (nothing is installed)', async (t) => {
  const entries = contextEntries('sidecars', REPO_FILES);
  t.same(entries.map((e) => `${e.from} -> ${e.to}`), [
    'images/Dockerfile.sidecars -> Dockerfile',
    'images/build-helper.sh -> build-helper.sh',
    'bin/bottle.js -> app/bin/bottle.js',
    'dist/chunks/chunk-A1.js -> app/dist/chunks/chunk-A1.js',
    'dist/commands/main.js -> app/dist/commands/main.js',
    'dist/commands/main.js.map -> app/dist/commands/main.js.map',
    'dist/sidecars/git-gate/hook-main.js -> app/dist/sidecars/git-gate/hook-main.js',
    'lib/secrets/gitleaks.toml -> app/lib/secrets/gitleaks.toml',
    'package.json -> app/package.json',
    'sidecars/git-gate/hook.sh -> app/sidecars/git-gate/hook.sh',
  ], 'no TypeScript, docs, dotfiles, tests, compiled tests or the build stamp');
});

t.test('this checkout: the source dirs are tsconfig.build.json\'s, and every runtime asset is in the package', async (t) => {
  const root = projectRoot();
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  t.same([...SOURCE_DIRS].sort(), [...config.include].sort(), 'SOURCE_DIRS = tsconfig.build.json include');
  const files = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files;
  const shipped = (f: string) => files.some((entry) => (entry.endsWith('/') ? f.startsWith(entry) : f === entry));
  const assets = listFiles(root, SOURCE_DIRS, []).filter(isRuntimeAsset);
  t.ok(assets.includes('lib/secrets/gitleaks.toml'));
  t.same(assets.filter((f) => !shipped(f)), [], 'package.json "files" ships every runtime asset');
  const tos = projectContextEntries('sidecars', root).map((e) => e.to);
  t.ok(tos.includes('app/lib/secrets/gitleaks.toml') && tos.includes('app/package.json') && tos.includes('app/bin/bottle.js'));
  t.notOk(tos.some((p) => p.startsWith('app/node_modules') || p.endsWith('.ts')));
});

t.test('assembleContext copies entries with their modes and writes build-ca.crt', async (t) => {
  const root = tempDir(t);
  const dest = tempDir(t);
  write(root, 'images/Dockerfile.sidecars', 'FROM x\n');
  write(root, 'images/build-helper.sh', '#!/bin/sh\n', 0o755);
  write(root, 'bin/bottle.js', '// bin\n', 0o755);
  const top = assembleContext(root, [
    { from: 'images/Dockerfile.sidecars', to: 'Dockerfile' },
    { from: 'images/build-helper.sh', to: 'build-helper.sh' },
    { from: 'bin/bottle.js', to: 'app/bin/bottle.js' },
  ], '', dest);
  t.same(top, ['Dockerfile', 'app', 'build-ca.crt', 'build-helper.sh']);
  t.equal(readFileSync(join(dest, 'build-ca.crt'), 'utf8'), '', 'empty CA file is always present');
  t.equal(statSync(join(dest, 'app/bin/bottle.js')).mode & 0o777, 0o755);
});

t.test('hashContext: stable, and sensitive to content, paths, exec bits and inputs', async (t) => {
  const dir = tempDir(t);
  write(dir, 'Dockerfile', 'FROM x\n');
  write(dir, 'app/dist/a.js', 'a');
  const h = (inputs = { BASE: 'b', baseId: 'sha256:1' }) => hashContext(dir, inputs);
  const first = h();
  t.equal(h(), first, 'same inputs, same hash');
  t.match(first, /^[0-9a-f]{64}$/);
  t.not(h({ BASE: 'b', baseId: 'sha256:2' }), first, 'a rebuilt base changes the hash');
  write(dir, 'app/dist/a.js', 'A');
  const changed = h();
  t.not(changed, first, 'content');
  chmodSync(join(dir, 'app/dist/a.js'), 0o755);
  t.not(h(), changed, 'executable bit');
  write(dir, 'app/dist/b.js', '');
  t.not(h(), changed, 'a new file');
});

t.test('distStaleness: missing, never built cleanly, a newer source, then up to date', async (t) => {
  const root = tempDir(t);
  write(root, 'package.json', '{}');
  const old = new Date(Date.now() - 120_000);
  utimesSync(join(root, 'package.json'), old, old);
  write(root, 'lib/a.ts', 'export {}');
  write(root, 'commands/main.ts', 'export {}');
  utimesSync(join(root, 'commands/main.ts'), old, old);
  t.equal(distStaleness(root, ['lib']), 'dist/ is missing');
  write(root, 'dist/commands/main.js', '');
  t.equal(distStaleness(root, ['lib']), 'dist/ has no record of a successful npm run build',
    'a failed build leaves the old dist/: a dist/ alone does not count');
  markDistBuilt(root, Date.now() - 60_000);
  t.equal(distStaleness(root, ['lib']), 'lib/a.ts is newer than dist/', 'a source saved after the build started');
  markDistBuilt(root, Date.now() + 1000);
  t.equal(distStaleness(root, ['lib']), undefined);
  write(root, 'scripts/build.mjs', '// the bundler');
  const later = new Date(Date.now() + 5000);
  utimesSync(join(root, 'scripts/build.mjs'), later, later);
  t.equal(distStaleness(root, ['lib']), 'scripts/build.mjs is newer than dist/', 'the bundler script is a build input too');
  markDistBuilt(root, Date.now() + 10_000);
  t.equal(distStaleness(root, ['lib']), undefined);
  clearDistStamp(root);
  t.equal(distStaleness(root, ['lib']), 'dist/ has no record of a successful npm run build', 'a new attempt forgets the old success');
});

t.test('distStaleness: an installed package (dist/, no sources) is never rebuilt; one with neither is a user error', async (t) => {
  const root = tempDir(t);
  write(root, 'package.json', '{}');
  t.throws(() => distStaleness(root, ['lib']), /neither dist\/ nor the sources to build it; reinstall bottle/);
  write(root, 'dist/commands/main.js', '');
  t.equal(distStaleness(root, ['lib']), undefined, 'no stamp needed: there is nothing to build from');
});
