// Process entry for the hooks git runs inside the gate (like commands/main.ts, it only sets the
// exit code): `pre-receive` per push, `access <service> <repo> ...` per connection. A direct
// entry rather than the full CLI, because the access hook runs before every fetch.
import { readFileSync } from 'node:fs';
import { run } from '../../lib/run/index.js';
import { gitScanner } from '../../lib/secrets/index.js';
import { readCapped, readObjects } from './capped.js';
import { announceProposal } from '../supervise/events.js';
import { appendEvent } from './decisions.js';
import { accessHook } from './mirror.js';
import { preReceive } from './prereceive.js';
import { hangupCheck, type HangupWatch } from './review.js';
import { readSettings } from './settings.js';

const err = (line: string): void => { process.stderr.write(`${line}\n`); };
const out = (line: string): void => { process.stdout.write(`${line}\n`); };
const [kind, ...args] = process.argv.slice(2);

// While a push is held: a line to the agent now and then (it sees the wait go on), and a look at
// whether it is still there. BOTTLE_GIT_GATE_REVIEW_KEEPALIVE_MS shortens the period (tests).
const KEEPALIVE_MS = Number(process.env.BOTTLE_GIT_GATE_REVIEW_KEEPALIVE_MS) > 0 ? Number(process.env.BOTTLE_GIT_GATE_REVIEW_KEEPALIVE_MS) : 30_000;
const CHECK_MS = Math.min(1000, KEEPALIVE_MS);

function watchHangup(): HangupWatch {
  const gone = hangupCheck(process.ppid);
  const timers: NodeJS.Timeout[] = [];
  const left = new Promise<null>((resolve) => {
    process.stderr.on('error', () => resolve(null));
    timers.push(setInterval(() => { process.stderr.write('git-gate: still waiting for operator review\n'); }, KEEPALIVE_MS));
    timers.push(setInterval(() => { if (gone()) resolve(null); }, CHECK_MS));
  });
  return { gone: left, stop: () => { for (const t of timers) clearInterval(t); } };
}

async function main(): Promise<number> {
  if (kind === 'pre-receive') {
    const stdin = readFileSync(0, 'utf8');
    const gitDir = process.env.GIT_DIR || '.';
    const s = await readSettings(run, gitDir);
    if (!s) {
      err('git-gate: rejected: this repository has no gate settings (gitgate.*); restart git-gate to repair it');
      return 1;
    }
    return preReceive(gitDir, stdin, s, {
      run, readCapped, readObjects, scanner: gitScanner(), err, record: (e) => appendEvent(s.decisionLog, e), hangup: watchHangup,
      // The bundle's events file (init's env, which git daemon and receive-pack pass down).
      announce: (p) => void announceProposal(process.env.BOTTLE_EVENTS_FILE, p),
    });
  }
  if (kind === 'access' && args[0] && args[1]) {
    return accessHook(args[0], args[1], { run, out, record: (e, s) => appendEvent(s.decisionLog, e) });
  }
  err(`git-gate hook: usage: hook-main pre-receive | hook-main access <service> <repo-path> ...; got ${JSON.stringify(process.argv.slice(2))}`);
  return 2;
}

try {
  process.exitCode = await main();
} catch (e) {
  // Failing closed: a push the hook could not judge is rejected; so is the connection.
  const line = `git-gate: internal error, request refused: ${(e as Error).message}`;
  if (kind === 'access') out(line);
  else err(line);
  process.exitCode = 1;
}
