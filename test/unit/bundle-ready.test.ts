// Waiting for the bundle's daemons follows the bundle container's log, where init prints its
// events as JSON lines (its children's lines are prefixed `[name] `): the wait ends when every
// daemon is ready, and early, with the reason, when a daemon keeps dying or the log ends.
import { Readable } from 'node:stream';
import t from 'tap';
import type { DockerEngine } from '../../lib/docker/api.js';
import { waitReady } from '../../lib/backends/bundle/ready.js';
import type { LaunchContext } from '../../lib/backends/types.js';

// One multiplexed stdout frame, as the engine sends a non-TTY log.
const frame = (text: string): Buffer => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = 1;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};
const ev = (type: string, daemon: string): string => `${JSON.stringify({ time: new Date().toISOString(), type, daemon })}\n`;

// The bundle container: running, its log follow streams `chunks` (then stays open unless `end`).
function engineWith(chunks: Buffer[], o: { end?: boolean } = {}): { engine: DockerEngine; destroyed: () => boolean } {
  let stream: Readable | undefined;
  const engine = {
    getContainer: () => ({
      inspect: async () => ({ State: { Running: true, Status: 'running' } }),
      logs: async (opts: { follow?: boolean }) => {
        if (!opts.follow) return frame('tail of the log');
        stream = new Readable({ read() {} });
        for (const c of chunks) stream.push(c);
        if (o.end) stream.push(null);
        return stream;
      },
    }),
  } as unknown as DockerEngine;
  return { engine, destroyed: () => stream?.destroyed === true };
}

function setup() {
  const lines: string[] = [];
  const ctx = { log: (l: string) => lines.push(l), signal: new AbortController().signal } as unknown as LaunchContext;
  const bp = { bundle: { name: 'bottle-x-sidecars' }, daemons: ['gateway', 'supervise'] } as unknown as Parameters<typeof waitReady>[1];
  return { ctx, bp, lines };
}

t.test('ready events in the log end the wait, whatever the frames cut; the stream is closed after', async (t) => {
  const s = setup();
  const text = `[gateway] listening\n${ev('daemon-ready', 'gateway')}${ev('daemon-ready', 'supervise')}`;
  const cut = text.length - 20;
  const { engine, destroyed } = engineWith([frame(text.slice(0, cut)), frame(text.slice(cut))]);
  await waitReady(engine, s.bp, s.ctx, { timeoutMs: 5000 });
  t.match(s.lines, [/^gateway ready/, /^supervise ready/]);
  t.ok(destroyed(), 'the log follow is closed');
});

t.test('a child\'s line that looks like an event does not count: the wait times out as bounded', async (t) => {
  const s = setup();
  const { engine } = engineWith([frame(`[gateway] ${ev('daemon-ready', 'gateway')}`), frame(ev('daemon-ready', 'supervise'))]);
  const t0 = Date.now();
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 300 }), /gateway not ready within/);
  t.ok(Date.now() - t0 < 5000, 'bounded');
  t.match(s.lines, [/^supervise ready/]);
});

t.test('a daemon that keeps exiting ends the wait early, with the log tail', async (t) => {
  const s = setup();
  const { engine } = engineWith([frame(ev('daemon-exited', 'gateway').repeat(3))]);
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 30_000 }), /gateway exited 3 times while starting \(container running\)\n--- bottle-x-sidecars log \(tail\) ---\ntail of the log/);
});

t.test('a log that ends while the container runs ends the wait at once', async (t) => {
  const s = setup();
  const { engine } = engineWith([frame(ev('daemon-ready', 'gateway'))], { end: true });
  const t0 = Date.now();
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 30_000 }), /its log ended while it runs/);
  t.ok(Date.now() - t0 < 5000, 'not at the deadline');
});

t.test('an abort ends the wait; log chunks still in flight are not reported after it', async (t) => {
  const s = setup();
  const ac = new AbortController();
  const ctx = { ...s.ctx, signal: ac.signal } as LaunchContext;
  ac.abort();
  const { engine, destroyed } = engineWith([frame(`${ev('daemon-ready', 'gateway')}${ev('daemon-ready', 'supervise')}`)]);
  await t.rejects(waitReady(engine, s.bp, ctx, { timeoutMs: 5000 }), { name: 'AbortError' });
  await new Promise((r) => setTimeout(r, 50));
  t.same(s.lines, [], 'no "ready" line after the abort (the unwind prints its own)');
  t.ok(destroyed());
});

// Issue 17: the liveness check took the loop with it, so a ready line that came while the engine
// answered it (a round trip on a remote engine) was seen only after the answer.
t.test('the periodic liveness check never holds up a ready line that comes meanwhile', async (t) => {
  const s = setup();
  let stream: Readable | undefined;
  let inspects = 0;
  const engine = {
    getContainer: () => ({
      // Answers only after 5 s: a ready line must not wait for it.
      inspect: () => {
        inspects++;
        return new Promise((r) => setTimeout(() => r({ State: { Running: true, Status: 'running' } }), 5000).unref());
      },
      logs: async () => {
        stream = new Readable({ read() {} });
        return stream;
      },
    }),
  } as unknown as DockerEngine;
  const wait = waitReady(engine, s.bp, s.ctx, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 700)); // past the first liveness check
  t.equal(inspects, 1, 'one check in flight');
  const t0 = Date.now();
  stream!.push(frame(`${ev('daemon-ready', 'gateway')}${ev('daemon-ready', 'supervise')}`));
  await wait;
  t.ok(Date.now() - t0 < 1000, `seen at once (${Date.now() - t0} ms)`);
  t.equal(inspects, 1, 'no second check while the first is unanswered');
});

t.test('a bundle found stopped by the liveness check ends the wait', async (t) => {
  const s = setup();
  const engine = {
    getContainer: () => ({
      inspect: async () => ({ State: { Running: false, Status: 'exited' } }),
      logs: async (opts: { follow?: boolean }) => (opts.follow ? new Readable({ read() {} }) : frame('tail of the log')),
    }),
  } as unknown as DockerEngine;
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 30_000 }), /the bundle container is not running \(container exited\)/);
});
