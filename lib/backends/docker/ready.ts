// Waiting for the bundle: its ports are probed from inside the bundle (the host cannot reach
// them: nothing is published), bounded; init's events file on the host cuts the wait short
// when a daemon is crash-looping, and either way the error carries the bundle's log tail.
import { open } from 'node:fs/promises';
import type { LaunchContext } from '../types.js';
import { type DockerEngine, engineMessage, execIn, type ExecResult, logTail } from './engine.js';
import { PORTS } from './names.js';
import type { DockerPlan } from './plan.js';

// Polls the ports; prints {port: msSinceStart} for those that answered; exit 0 = all did.
const READY_SCRIPT = `
const net = require('net');
const ports = JSON.parse(process.argv[1]); const limit = Number(process.argv[2]);
const t0 = Date.now(); const ready = {};
const probe = (p) => new Promise((r) => { const s = net.connect(p, '127.0.0.1');
  s.setTimeout(500, () => { s.destroy(); r(false); });
  s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
(async () => {
  for (;;) {
    for (const p of ports) if (!(p in ready) && await probe(p)) ready[p] = Date.now() - t0;
    if (ports.every((p) => p in ready) || Date.now() - t0 > limit) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify(ready)); process.exit(ports.every((p) => p in ready) ? 0 : 1);
})();`;

// A daemon that exited this often before the ports answered will not come up by waiting.
const CRASH_LIMIT = 3;

// Counts `daemon-exited` events appended after `offset`; resolves with a verdict at the limit.
function crashLoop(file: string, offset: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const timer = setInterval(async () => {
      let text = '';
      try {
        const fh = await open(file, 'r');
        try {
          const { size } = await fh.stat();
          const buf = Buffer.alloc(Math.max(0, size - offset));
          await fh.read(buf, 0, buf.length, offset);
          text = buf.toString('utf8');
        } finally {
          await fh.close();
        }
      } catch {
        return;
      }
      const exits = new Map<string, number>();
      for (const line of text.split('\n')) {
        try {
          const e = JSON.parse(line) as { type?: string; daemon?: string };
          if (e.type === 'daemon-exited' && e.daemon) exits.set(e.daemon, (exits.get(e.daemon) ?? 0) + 1);
        } catch { /* torn or foreign line */ }
      }
      for (const [daemon, n] of exits) {
        if (n < CRASH_LIMIT || signal.aborted) continue;
        clearInterval(timer);
        resolve(`${daemon} exited ${n} times`);
        return;
      }
    }, 250);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  });
}

// Bounds of the wait.
export interface ReadyOptions {
  timeoutMs: number;
  /** Size of the host events file before the bundle started (a resumed bottle has history). */
  eventsOffset: number;
}

// Resolves when every daemon's port answers; logs `<daemon> ready (1.2s)` for each.
export async function waitReady(engine: DockerEngine, dp: DockerPlan, ctx: LaunchContext, o: ReadyOptions): Promise<void> {
  const bundle = engine.getContainer(dp.bundle.name);
  const ports = dp.daemons.map((d) => PORTS[d]);
  const stop = new AbortController();
  let crashed: string | undefined;
  void crashLoop(dp.host.eventsFile, o.eventsOffset, stop.signal).then((why) => {
    crashed = why;
    stop.abort();
  });
  let result: ExecResult;
  try {
    const argv = ['node', '-e', READY_SCRIPT, JSON.stringify(ports), String(o.timeoutMs)];
    result = await execIn(bundle, argv, { user: dp.bundle.create.User ?? '', signal: AbortSignal.any([ctx.signal, stop.signal]) });
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    result = { exitCode: -1, stdout: '', stderr: crashed ? '' : engineMessage(e) };
  } finally {
    stop.abort();
  }
  let ready: Record<string, number> = {};
  try {
    ready = JSON.parse(result.stdout.trim().split('\n').pop() || '{}') as Record<string, number>;
  } catch { /* reported below */ }
  for (const d of dp.daemons) {
    const ms = ready[PORTS[d]];
    if (ms !== undefined) ctx.log(`${d} ready (${(ms / 1000).toFixed(1)}s)`);
  }
  if (result.exitCode === 0) return;
  const missing = dp.daemons.filter((d) => ready[PORTS[d]] === undefined).map((d) => `${d} (${PORTS[d]})`);
  const state = await bundle.inspect().then((i) => i.State.Status, () => 'unknown');
  const logs = await logTail(bundle, 40);
  const why = crashed ? `${crashed} while starting` : `${missing.join(', ') || 'the probe'} not answering within ${Math.round(o.timeoutMs / 1000)}s`;
  throw new Error(
    `the sidecars did not get ready: ${why} (container ${state}${result.stderr ? `; ${result.stderr.trim()}` : ''})` +
    `${logs ? `\n--- ${dp.bundle.name} log (tail) ---\n${logs}` : ''}`,
  );
}
