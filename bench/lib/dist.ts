// The compiled CLI (bin/bottle.js on dist/), as users run it: benches that time it rebuild dist/
// first when it is stale (lib/images/dist.ts decides), so they never measure old code.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SOURCE_DIRS } from '../../lib/images/context.js';
import { clearDistStamp, distStaleness, markDistBuilt } from '../../lib/images/dist.js';
import { projectRoot } from '../../lib/paths.js';

// Runs `npm run build` when dist/ is missing or older than the sources; says why on stdout.
export async function ensureDistBuilt(bench: string): Promise<void> {
  const stale = distStaleness(projectRoot(), SOURCE_DIRS);
  if (!stale) return;
  process.stdout.write(`${bench}: ${stale}: npm run build\n`);
  const t0 = Date.now();
  clearDistStamp(projectRoot());
  await promisify(execFile)('npm', ['run', 'build'], { cwd: projectRoot() });
  markDistBuilt(projectRoot(), t0);
}
