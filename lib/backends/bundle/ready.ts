// Waiting for the bundle: each daemon tells init once it serves, and init records a
// `daemon-ready` event (sidecars/ready.ts), which it also prints as a JSON line on its stdout,
// the container's log. The host follows that log through the engine API: one streamed request,
// on a local or a remote engine alike, no probe process in the bundle and no polling inside it.
// (The events file itself reaches the host's copy at the next pull: channel.ts.) Bounded; a
// daemon that keeps dying, or a bundle that stopped, ends the wait early, and either way the
// error carries the bundle's log tail.
import { type DockerEngine, engineMessage, logTail } from '../../docker/api.js';
import type { LaunchContext } from '../types.js';
import type { BundlePlan } from './plan.js';

// A daemon that exited this often before it was ready will not come up by waiting.
const CRASH_LIMIT = 3;
// How often the engine is asked whether the bundle still runs.
const INSPECT_EVERY_MS = 500;
// A log line longer than this is no event of init's (and is not kept whole).
const MAX_LINE = 64 * 1024;

// Bounds of the wait.
export interface ReadyOptions {
  timeoutMs: number;
}

// Resolves when every daemon of the plan has reported ready; logs `<daemon> ready (1.2s)` for each.
export async function waitReady(engine: DockerEngine, bp: Pick<BundlePlan, 'bundle' | 'daemons'>, ctx: LaunchContext, o: ReadyOptions): Promise<void> {
  const t0 = Date.now();
  const bundle = engine.getContainer(bp.bundle.name);
  const ready = new Set<string>();
  const exits = new Map<string, number>();
  const fail = async (why: string): Promise<never> => {
    const state = await bundle.inspect().then((i) => i.State.Status, () => 'unknown');
    const logs = await logTail(bundle, 40);
    throw new Error(`the sidecars did not get ready: ${why} (container ${state})${logs ? `\n--- ${bp.bundle.name} log (tail) ---\n${logs}` : ''}`);
  };
  let stream: NodeJS.ReadableStream & { destroy?: () => void };
  try {
    stream = await bundle.logs({ follow: true, stdout: true, stderr: false });
  } catch (e) {
    return fail(`cannot follow its log (${engineMessage(e)})`);
  }
  let pending = Buffer.alloc(0);
  let line = '';
  let ended = false;
  // Set by every chunk; the loop does not wait while it is set (a chunk during an await counts).
  let dirty = false;
  let wake: () => void = () => undefined;
  // init's lines start with `{` (its children's are prefixed `[name] `).
  const onLine = (l: string): void => {
    if (!l.startsWith('{')) return;
    let e: { type?: string; daemon?: string };
    try { e = JSON.parse(l) as typeof e; } catch { return; }
    if (!e.daemon || !(bp.daemons as readonly string[]).includes(e.daemon)) return;
    if (e.type === 'daemon-ready' && !ready.has(e.daemon)) {
      ready.add(e.daemon);
      ctx.log(`${e.daemon} ready (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    }
    if (e.type === 'daemon-exited' && !ready.has(e.daemon)) exits.set(e.daemon, (exits.get(e.daemon) ?? 0) + 1);
  };
  // Once the wait is over (ready, failed or aborted), a chunk still in flight says nothing more.
  let finished = false;
  stream.on('data', (chunk: Buffer) => {
    if (finished) return;
    pending = Buffer.concat([pending, chunk]);
    // Multiplexed frames (a bundle has no TTY): 8-byte header, then the payload.
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const lines = (line + pending.subarray(8, 8 + size).toString('utf8')).split('\n');
      line = (lines.pop() ?? '').slice(-MAX_LINE);
      for (const l of lines) onLine(l);
      pending = pending.subarray(8 + size);
    }
    dirty = true;
    wake();
  });
  const end = (): void => { ended = true; dirty = true; wake(); };
  stream.on('end', end);
  stream.on('close', end);
  stream.on('error', end);
  const running = (): Promise<boolean> => bundle.inspect().then((i) => i.State.Running !== false, () => false);
  // The periodic liveness check runs beside the wait, never in its way: a ready line that comes
  // while it is answered is seen at once (on a remote engine it takes a round trip).
  let checking = false;
  let stopped = false;
  try {
    let inspectedAt = t0;
    for (;;) {
      ctx.signal.throwIfAborted();
      dirty = false;
      if (bp.daemons.every((d) => ready.has(d))) return;
      const looping = [...exits].find(([, n]) => n >= CRASH_LIMIT);
      if (looping) return await fail(`${looping[0]} exited ${looping[1]} times while starting`);
      const now = Date.now();
      if (now - t0 > o.timeoutMs) {
        return await fail(`${bp.daemons.filter((d) => !ready.has(d)).join(', ')} not ready within ${Math.round(o.timeoutMs / 1000)}s`);
      }
      if (stopped) return await fail('the bundle container is not running');
      if (ended) return await fail((await running()) ? 'its log ended while it runs' : 'the bundle container is not running');
      if (!checking && now - inspectedAt >= INSPECT_EVERY_MS) {
        inspectedAt = now;
        checking = true;
        void running().then((r) => {
          checking = false;
          if (!r) stopped = true;
          dirty = true;
          wake();
        });
      }
      if (dirty) continue;
      // Until the next log chunk, the next liveness check, the deadline or an abort.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(INSPECT_EVERY_MS, Math.max(1, o.timeoutMs - (Date.now() - t0) + 1)));
        ctx.signal.addEventListener('abort', done, { once: true });
        wake = done;
      });
    }
  } finally {
    finished = true;
    stream.destroy?.();
  }
}
