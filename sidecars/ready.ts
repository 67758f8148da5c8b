// A daemon's lifecycle toward init. Readiness, sd_notify style: init hands each daemon the write end of a pipe and names its fd in
// $BOTTLE_READY_FD; the daemon writes one line once it serves, and init turns that into a
// `daemon-ready` event on the events file, which the host waits for (no probe process, no
// polling interval inside the bundle). A daemon run by hand has no such fd: nothing happens.
import { closeSync, writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const READY_FD_ENV = 'BOTTLE_READY_FD';

// Tells init this daemon now serves. Once; children started later do not inherit the duty.
export function notifyReady(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env[READY_FD_ENV];
  if (raw === undefined) return;
  delete env[READY_FD_ENV];
  const fd = Number(raw);
  if (!/^\d+$/.test(raw) || fd < 3) return;
  try {
    writeSync(fd, 'ready\n');
    closeSync(fd);
  } catch { /* not ours to report: init is gone or the fd is not a pipe */ }
}

// Resolves with the first SIGTERM/SIGINT from now on (and stops listening): install it before
// a daemon's slow start, so a stop request during it is handled, not fatal.
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (s: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(s);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

// How long after readiness a daemon gives back its start-up memory (settleAfterStart).
export const SETTLE_DELAY_MS = 1000;

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };

// Issue 19 (the bundle's idle memory): a daemon's start-up (loading its modules, building its
// state) leaves V8 with a grown young generation, pooled pages and garbage that an idle process
// does not collect: V8's memory reducer gets to it minutes later, if ever. One full,
// memory-reducing collection once the daemon serves (V8's last-resort GC: it also shrinks the
// young generation and releases pooled pages); RssAnon measured in the bundle, 10 s after start:
// gateway 32 → 25 MiB, supervise 28 → 22, git-gate 17 → 13, init 11 → 9, for a pause of
// ~40-50 ms, once. It also drops compiled code (bytecode, regexps), compiled again on next use:
// the gateway therefore runs it before its warm-up (server.ts), not after. gc() is exposed for
// that one call only (in a throwaway context, the way jest's leak detector gets it), so the
// daemon's own code never sees it and V8's flags (which key the compile cache) are as before.
export function collectStartupGarbage(): void {
  const own = (globalThis as { gc?: (o: GcOptions) => void }).gc;
  if (own) return own({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as (o: GcOptions) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

// Schedules collectStartupGarbage, past what a daemon does right after saying it serves (never
// keeping the process alive for it).
export function settleAfterStart(delayMs = SETTLE_DELAY_MS): void {
  setTimeout(collectStartupGarbage, delayMs).unref();
}
