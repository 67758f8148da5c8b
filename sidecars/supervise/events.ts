// The bundle's events file: JSON lines appended by init (daemon deaths and restarts), by
// supervise (the agent waiting or idle), by the gateway (a lapsed grant still in use) and by the
// host (auto-approved proposals), read by the host's dashboard and by GET /events.
import { appendFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { readFileNoFollow, UnsafeFileError } from '../../lib/fs-safe.js';
import type { GrantLapsedEvent } from '../../lib/policy/index.js';
import type { AutoApprovedEvent } from '../../lib/proposals/auto.js';
import type { UsageEvent } from '../../lib/usage/meter.js';

interface Base { time: string }

// Everything that can appear in the events file; `type` discriminates.
export type BundleEvent =
  | Base & { type: 'init-started'; pid: number; daemons: string[] }
  | Base & { type: 'daemon-started'; daemon: string; pid: number; restarts: number; replica?: number }
  | Base & {
    type: 'daemon-exited'; daemon: string; replica?: number; pid: number | null; exitCode: number | null;
    signal: string | null; uptimeMs: number; restartInMs: number | null; error?: string;
  }
  | Base & { type: 'daemon-ready'; daemon: string; replica?: number; pid: number; startMs: number }
  | Base & { type: 'signal'; signal: string; action: 'shutdown' | 'force-kill' | 'forward' | 'ignored'; daemons: string[] }
  | Base & { type: 'init-warning'; message: string }
  | Base & { type: 'init-exited'; exitCode: number }
  // From Claude Code hooks, which the agent configures and can forge: shown, never trusted.
  | Base & { type: 'agent-waiting' | 'agent-idle'; origin: 'agent'; hook: string; sessionId?: string; detail?: string }
  // Written by supervise and git-gate's review hold once a proposal's queue files are complete:
  // the host, which copies the queue through the engine API, fetches it on this line.
  // A proposal without a companion file (not a held push) comes whole, so the host needs no read.
  | Base & { type: 'proposal-queued'; id: string; kind: string; proposal?: unknown }
  // Written by the host (lib/proposals/auto.ts) when a manifest auto_approve rule approved a proposal.
  | AutoApprovedEvent
  // Written by the gateway the first time a request hits a lapsed time-boxed grant (lib/policy/grants.ts).
  | GrantLapsedEvent
  // Written by the gateway for each model answer whose token usage it read (lib/usage/meter.ts).
  | UsageEvent;

// For consumers that switch on the kind without holding an event.
export type BundleEventType = BundleEvent['type'];

// One line per event, so concurrent O_APPEND writers (init and supervise) never interleave.
export function formatEvent(ev: BundleEvent): string {
  return JSON.stringify(ev);
}

// Appends one event; errors are returned, not thrown, because losing an event must not kill a daemon.
export function appendEvent(file: string | undefined, ev: BundleEvent): Error | undefined {
  if (!file) return undefined;
  try {
    appendFileSync(file, `${formatEvent(ev)}\n`);
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

// An appender off the event loop's critical path, for events written while a response streams
// (the gateway's usage events): the write is queued, in order, and a request never waits on the
// disk. `onError` hears each failure.
export function queuedAppender(file: string, onError: (e: Error) => void): (ev: BundleEvent) => void {
  let tail: Promise<void> = Promise.resolve();
  return (ev) => {
    const line = `${formatEvent(ev)}\n`;
    tail = tail.then(() => appendFile(file, line)).catch((e: Error) => onError(e));
  };
}

// Proposals up to this size ride in their announcement (supervise's are far smaller).
const INLINE_MAX = 16 * 1024;

// Announces a proposal whose files are in the queue (best effort, as every event); one that is
// a single file (not a held push, whose diff is a second one) and small is carried whole.
export function announceProposal(file: string | undefined, p: { id: string; kind: string }): Error | undefined {
  const inline = p.kind !== 'push' && JSON.stringify(p).length <= INLINE_MAX;
  return appendEvent(file, { type: 'proposal-queued', time: new Date().toISOString(), id: p.id, kind: p.kind, ...(inline ? { proposal: p } : {}) });
}

// Parses one events-file line; anything else (torn tail, garbage) is skipped as null.
export function parseEventLine(line: string): BundleEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    const v = JSON.parse(line) as Partial<BundleEvent>;
    return typeof v.type === 'string' && typeof v.time === 'string' ? (v as BundleEvent) : null;
  } catch {
    return null;
  }
}

// The last `limit` events of the file, reading at most its last `maxBytes` bytes. The file sits in
// a directory the host shares with the bundle: a symlink or FIFO there is not read (no events).
export function readRecentEvents(file: string, limit = 200, maxBytes = 256 * 1024): BundleEvent[] {
  let read;
  try {
    read = readFileNoFollow(file, { maxBytes, overflow: 'tail' });
  } catch (e) {
    if (e instanceof UnsafeFileError) return [];
    throw e;
  }
  if (!read) return [];
  const lines = read.data.toString('utf8').split('\n');
  if (read.size > read.data.length) lines.shift(); // first line is probably cut
  return lines.map(parseEventLine).filter((e): e is BundleEvent => e !== null).slice(-limit);
}
