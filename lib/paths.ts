// Locations inside the bottle checkout, valid both from source (tsx) and from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let cached: string | undefined;

// The directory holding bottle's own package.json.
export function projectRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bottle') {
      cached = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('bottle: cannot find the bottle package root');
    dir = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

// The CLI entry point as argv, for tmux key bindings and panes that call back into bottle: the
// bundle when this code runs from dist/, the sources (through tsx) when it runs from them, so
// a child never runs other code than its parent.
export function selfArgv(): string[] {
  const root = projectRoot();
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) return [process.execPath, join(root, 'dist', 'commands', 'main.js')];
  const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  return [process.execPath, '--import', tsx, join(root, 'commands', 'main.ts')];
}

// This invocation's way to run the CLI again (an injected one, else selfArgv()).
export function selfArgvOf(ctx: { self?: readonly string[] }): string[] {
  return ctx.self ? [...ctx.self] : selfArgv();
}
