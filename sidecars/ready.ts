// A daemon's lifecycle toward init. Readiness, sd_notify style: init hands each daemon the write end of a pipe and names its fd in
// $BOTTLE_READY_FD; the daemon writes one line once it serves, and init turns that into a
// `daemon-ready` event on the events file, which the host waits for (no probe process, no
// polling interval inside the bundle). A daemon run by hand has no such fd: nothing happens.
import { closeSync, writeSync } from 'node:fs';

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
