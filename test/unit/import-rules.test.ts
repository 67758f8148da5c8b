// The house's arrows point down: commands/ and panes/ on top, tmux/ and sidecars/ beside each
// other, lib/ at the bottom; and the smolvm backend shares the sidecar bundle, not Docker's
// agent code. Regression: sidecars/*/cli.ts imported Outcome/Ctx from commands/, and
// lib/backends/smolvm/ imported ~20 names from lib/backends/docker/.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

const root = projectRoot();

// [importer folder, folders it must not import from]
// Nothing that ships imports test code (test doubles such as the fake backend are injected).
const RULES: Array<[string, string[]]> = [
  ['commands', ['test', 'bench']],
  ['lib', ['commands', 'panes', 'tmux', 'sidecars', 'test', 'bench']],
  ['sidecars', ['commands', 'panes', 'tmux', 'test', 'bench']],
  ['tmux', ['commands', 'panes', 'sidecars', 'test', 'bench']],
  ['panes', ['commands', 'sidecars', 'test', 'bench']],
  ['lib/backends/smolvm', ['lib/backends/docker']],
  ['lib/backends/bundle', ['lib/backends/docker', 'lib/backends/smolvm']],
];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

// Every relative module specifier of a file (static, dynamic and type-only imports, re-exports).
export function specifiers(source: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]+)['"]/g;
  return [...source.matchAll(re)].map((m) => m[1]!);
}

t.test('specifiers: static, type-only, dynamic and re-exports are all seen', async (t) => {
  t.same(specifiers("import a from './a.js';\nimport type { B } from '../b.js';\nexport { c } from './c/index.js';\nconst d = await import('./d.js');\nimport './e.js';\nimport x from 'node:fs';"),
    ['./a.js', '../b.js', './c/index.js', './d.js', './e.js']);
});

for (const [from, banned] of RULES) {
  t.test(`${from}/ imports nothing from ${banned.join(', ')}`, async (t) => {
    const dir = join(root, from);
    const files = tsFiles(dir);
    t.ok(files.length > 0, `${from}/ has sources`);
    const bad: string[] = [];
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const target = relative(root, resolve(dirname(file), spec));
        if (banned.some((b) => target === b || target.startsWith(`${b}/`))) bad.push(`${relative(root, file)} → ${target}`);
      }
    }
    t.same(bad, []);
  });
}
