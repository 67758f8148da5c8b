#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (built by `npm install` through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/commands/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('bottle: the CLI is not built; run `npm install` (or `npm run build`) in the bottle checkout\n');
  process.exit(1);
}
await import(compiled.href);
