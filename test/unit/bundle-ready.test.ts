// Waiting for the bundle's daemons reads the host copy of its events file: a FIFO or a symlink
// in its place must not hang the host (nor be followed); the wait ends at its bound.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import type { DockerEngine } from '../../lib/docker/api.js';
import { waitReady } from '../../lib/backends/bundle/ready.js';
import type { LaunchContext } from '../../lib/backends/types.js';

// Only what waitReady asks of the engine: the bundle container runs, its log is empty, and the
// follow of its events (channel.ts) finds nothing to copy.
const engine = {
  getContainer: () => ({
    inspect: async () => ({ State: { Running: true, Status: 'running' } }),
    logs: async () => Buffer.alloc(0),
    exec: async () => ({ start: async () => Readable.from([]), inspect: async () => ({ ExitCode: 0, Running: false }) }),
  }),
} as unknown as DockerEngine;

function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-ready-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const eventsFile = join(dir, 'events.jsonl');
  const lines: string[] = [];
  const ctx = { log: (l: string) => lines.push(l), signal: new AbortController().signal } as unknown as LaunchContext;
  const bp = { bundle: { name: 'bottle-x-sidecars' }, host: { eventsFile }, daemons: ['gateway'] } as unknown as Parameters<typeof waitReady>[1];
  return { dir, eventsFile, ctx, bp, lines };
}

t.test('ready events in a regular file end the wait', async (t) => {
  const s = setup(t);
  writeFileSync(s.eventsFile, `${JSON.stringify({ type: 'daemon-ready', daemon: 'gateway' })}\n`);
  await waitReady(engine, s.bp, s.ctx, { timeoutMs: 5000, eventsOffset: 0 });
  t.match(s.lines, [/^gateway ready/]);
});

t.test('a FIFO as the events file does not block: the wait times out as bounded', async (t) => {
  const s = setup(t);
  execFileSync('mkfifo', [s.eventsFile]);
  const t0 = Date.now();
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 300, eventsOffset: 0 }), /gateway not ready within/);
  t.ok(Date.now() - t0 < 20_000, 'returned (a blocking open would never return)');
});

t.test('a symlink as the events file is not followed', async (t) => {
  const s = setup(t);
  const elsewhere = join(s.dir, 'elsewhere.jsonl');
  appendFileSync(elsewhere, `${JSON.stringify({ type: 'daemon-ready', daemon: 'gateway' })}\n`);
  symlinkSync(elsewhere, s.eventsFile);
  await t.rejects(waitReady(engine, s.bp, s.ctx, { timeoutMs: 300, eventsOffset: 0 }), /gateway not ready within/, 'events behind a symlink do not count');
});
