// The gate's log: one JSON line per push decision (and per failed mirror refresh). Hooks append
// to a file, because git sends a hook's stdout to the pushing client; the daemon tails the file
// to its own stdout, where init collects it.
import { appendFileSync, closeSync, openSync, readSync, statSync } from 'node:fs';

// One ref of one push: what the gate decided and why.
export interface PushDecision {
  event: 'push';
  time: string;
  repo: string;
  ref: string;
  old: string;
  new: string;
  verdict: 'accepted' | 'rejected';
  /** secret: findings; unscannable: over the cap or git failed; batch: another ref of the push was
   *  rejected; review: the operator rejected it; review-timeout: nobody decided in time; hangup:
   *  the agent left while it was held. */
  reason?: 'secret' | 'unscannable' | 'batch' | 'upstream' | 'review' | 'review-timeout' | 'hangup';
  /** The proposal id a push was held under for review. */
  review?: string;
  findings: number;
  rules: string[];
  /** How many commits were scanned, and the first few of them. */
  scanned: number;
  commits: string[];
  /** Binary files in the pushed diffs (each is scanned whole, as one of `objects`). */
  binaryFiles: number;
  /** New objects read and scanned whole: trees, commits, tags and every blob the diff did not show as text. */
  objects: number;
}

// A mirror refresh that failed (the fetch is then served from the last good state).
export interface RefreshFailed {
  event: 'refresh-failed';
  time: string;
  repo: string;
  error: string;
}

export type GateEvent = PushDecision | RefreshFailed;

export const MAX_LOGGED_COMMITS = 20;

// Appends one event; the log is advisory, so a write failure never changes a decision.
export function appendEvent(file: string | undefined, event: GateEvent): void {
  if (!file) return;
  try {
    appendFileSync(file, `${JSON.stringify(event)}\n`);
  } catch { /* the decision stands; the operator loses one log line */ }
}

// Follows a file from its current end, calling onLine per complete line; stop() drains what is left.
export function tailLines(file: string, onLine: (line: string) => void, intervalMs = 200): { stop(): void } {
  let offset = sizeOf(file);
  let partial = '';
  const drain = (): void => {
    const size = sizeOf(file);
    if (size < offset) offset = 0; // truncated or replaced
    if (size === offset) return;
    let chunk: string;
    try {
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        const n = readSync(fd, buf, 0, buf.length, offset);
        offset += n;
        chunk = buf.subarray(0, n).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // removed between stat and open: nothing to follow until it reappears
    }
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  };
  const timer = setInterval(drain, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      drain();
    },
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
