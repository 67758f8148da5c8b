// Waiting in tests: for a condition (pollUntil) or for an event's promise (within), always with a
// bound, and on timeout an error that names what was awaited and dumps the state that matters.
// Never a fixed sleep that hopes the event has happened by then.
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

// What a timeout error should show besides what was awaited (the last screen, a log, a queue).
type Describe = () => Promise<string> | string;

async function timedOut(what: string, timeoutMs: number, describe?: Describe): Promise<Error> {
  const detail = describe ? `\n${await describe()}` : '';
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}

// Polls `check` until it returns something other than undefined/false; the error names what was
// awaited and includes `describe()` (e.g. the last screen).
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: PollOptions & { describe?: Describe } = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 50 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) throw await timedOut(what, timeoutMs, opts.describe);
    await sleep(intervalMs);
  }
}

// Resolves with `event` (a promise that settles when the thing happens: a socket's 'data', a
// child's 'exit'), or rejects after `timeoutMs` with what was awaited and `describe()`.
export async function within<T>(what: string, event: Promise<T>, opts: { timeoutMs?: number; describe?: Describe } = {}): Promise<T> {
  const { timeoutMs = 5000 } = opts;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void timedOut(what, timeoutMs, opts.describe).then(reject), timeoutMs);
  });
  try {
    return await Promise.race([event, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
