// Waiting for the bundle: each daemon tells init once it serves, and init appends a
// `daemon-ready` event to the events file (sidecars/ready.ts). The host follows that file into
// its copy through the engine API (channel.ts) and tails the copy from where it ended before the
// bundle started: no probe process in the bundle, no polling inside it. Bounded; a daemon that keeps dying, or a bundle that stopped,
// ends the wait early, and either way the error carries the bundle's log tail.
import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DockerEngine, type EngineContainer, engineMessage, logTail } from '../../docker/api.js';
import { followBundle } from './channel.js';
import type { LaunchContext } from '../types.js';
import type { BundlePlan } from './plan.js';

// A daemon that exited this often before it was ready will not come up by waiting.
const CRASH_LIMIT = 3;
// How often the events file is read, and how often the engine is asked whether the bundle still runs.
const TICK_MS = 20;
const READ_SLICE = 1 << 20; // bytes of the events file read per tick
const INSPECT_EVERY_MS = 500;

// Bounds of the wait.
export interface ReadyOptions {
  timeoutMs: number;
  /** Size of the host events file before the bundle started (a resumed bottle has history). */
  eventsOffset: number;
}

// Reads what was appended to `file` since `offset` (nothing while it does not exist).
async function readFrom(file: string, offset: number): Promise<Buffer> {
  let fh;
  try {
    // The bundle writes this file: a symlink or FIFO planted in its place is not followed or
    // waited on (O_NONBLOCK), and one tick reads a bounded slice.
    fh = await open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return Buffer.alloc(0);
    const buf = Buffer.alloc(Math.min(READ_SLICE, Math.max(0, st.size - offset)));
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

// Resolves when every daemon of the plan has reported ready; logs `<daemon> ready (1.2s)` for each.
export async function waitReady(engine: DockerEngine, bp: Pick<BundlePlan, 'bundle' | 'host' | 'daemons'>, ctx: LaunchContext, o: ReadyOptions): Promise<void> {
  const bundle = engine.getContainer(bp.bundle.name);
  const follow = new AbortController();
  const problem: { error?: Error } = {};
  // The follow is started again if its stream ends early (it ends for good when the wait does).
  const following = (async () => {
    while (!follow.signal.aborted) {
      try {
        await followBundle(bundle, { eventsFile: bp.host.eventsFile, superviseQueue: bp.host.queueDir }, { signal: follow.signal });
      } catch (e) {
        problem.error = e as Error;
        return;
      }
      await sleep(TICK_MS * 5, undefined, { signal: follow.signal }).catch(() => undefined);
    }
  })();
  try {
    await waitForEvents(bundle, bp, ctx, o, problem);
  } finally {
    follow.abort();
    await following;
  }
}

async function waitForEvents(bundle: EngineContainer, bp: Pick<BundlePlan, 'bundle' | 'host' | 'daemons'>, ctx: LaunchContext, o: ReadyOptions, problem: { error?: Error }): Promise<void> {
  const t0 = Date.now();
  const ready = new Set<string>();
  const exits = new Map<string, number>();
  let offset = o.eventsOffset;
  let partial = '';
  let inspectedAt = t0;
  const fail = async (why: string): Promise<never> => {
    const state = await bundle.inspect().then((i) => i.State.Status, () => 'unknown');
    const logs = await logTail(bundle, 40);
    throw new Error(`the sidecars did not get ready: ${why} (container ${state})${logs ? `\n--- ${bp.bundle.name} log (tail) ---\n${logs}` : ''}`);
  };
  for (;;) {
    ctx.signal.throwIfAborted();
    const chunk = await readFrom(bp.host.eventsFile, offset);
    offset += chunk.length;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let e: { type?: string; daemon?: string };
      try { e = JSON.parse(line) as typeof e; } catch { continue; } // torn or foreign line
      if (!e.daemon || !(bp.daemons as readonly string[]).includes(e.daemon)) continue;
      if (e.type === 'daemon-ready' && !ready.has(e.daemon)) {
        ready.add(e.daemon);
        ctx.log(`${e.daemon} ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      }
      if (e.type === 'daemon-exited' && !ready.has(e.daemon)) exits.set(e.daemon, (exits.get(e.daemon) ?? 0) + 1);
    }
    if (bp.daemons.every((d) => ready.has(d))) return;
    if (problem.error) return fail(`cannot read the bundle's events (${engineMessage(problem.error)})`);
    const looping = [...exits].find(([, n]) => n >= CRASH_LIMIT);
    if (looping) return fail(`${looping[0]} exited ${looping[1]} times while starting`);
    const now = Date.now();
    if (now - t0 > o.timeoutMs) {
      return fail(`${bp.daemons.filter((d) => !ready.has(d)).join(', ')} not ready within ${Math.round(o.timeoutMs / 1000)}s`);
    }
    if (now - inspectedAt >= INSPECT_EVERY_MS) {
      inspectedAt = now;
      const running = await bundle.inspect().then((i) => i.State.Running !== false, () => false);
      if (!running) return fail('the bundle container is not running');
    }
    await sleep(TICK_MS, undefined, { signal: ctx.signal });
  }
}
