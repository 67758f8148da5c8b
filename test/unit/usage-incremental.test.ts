// IncrementalUsage: the dashboard's per-bottle usage, read from where the last read stopped.
import { appendFileSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_PRICES, IncrementalUsage, costUsd, rateOf, readUsage } from '../../lib/usage/index.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const SONNET = DEFAULT_PRICES['claude-sonnet-4']!;
const line = (o: Record<string, unknown> = {}): string => `${JSON.stringify({
  type: 'usage', time: new Date(T0).toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5', input: 1000, output: 500,
  cacheRead: 0, cacheWrite: 0, requestId: 'r', path: '/v1/messages', status: 200, ...o,
})}\n`;
const ONE = costUsd({ input: 1000, output: 500, cacheRead: 0, cacheWrite: 0 }, SONNET);
const round = (n: number) => Math.round(n * 1e6) / 1e6;

function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-usage-inc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let now = T0;
  const file = join(dir, 'events.jsonl');
  const usage = new IncrementalUsage(file, { clock: () => now });
  return { dir, file, usage, advance: (ms: number) => { now += ms; } };
}

t.test('absent file: no usage; first sight reads the whole file; appends are read from the offset', async (t) => {
  const s = setup(t);
  t.equal(s.usage.update(), false);
  t.equal(s.usage.totals().requests, 0);
  writeFileSync(s.file, `{"type":"agent-active"}\n${line()}${line()}`);
  t.equal(s.usage.update(), true, 'first read');
  t.equal(s.usage.totals().requests, 2);
  t.equal(s.usage.totals().usd, round(2 * ONE));
  t.equal(s.usage.update(), false, 'nothing new');
  appendFileSync(s.file, '{"type":"agent-waiting","time":"x"}\n');
  t.equal(s.usage.update(), false, 'a non-usage line: usage unchanged');
  appendFileSync(s.file, line({ output: 1000 }));
  t.equal(s.usage.update(), true);
  t.equal(s.usage.totals().requests, 3);
  t.equal(s.usage.totals().output, 2000);
  t.equal(s.usage.offset, Buffer.byteLength(`{"type":"agent-active"}\n${line()}${line()}{"type":"agent-waiting","time":"x"}\n${line({ output: 1000 })}`));
  const whole = await readUsage(s.file, { now: T0 });
  t.same(s.usage.totals(), whole.totals, 'same totals as reading the whole file');
});

t.test('a partial last line waits for its end (also split inside a multi-byte character)', async (t) => {
  const s = setup(t);
  const full = line({ model: 'claude-sonnet-4-é' });
  const bytes = Buffer.from(full);
  const cut = bytes.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  writeFileSync(s.file, bytes.subarray(0, cut));
  t.equal(s.usage.update(), false, 'no complete line yet');
  t.equal(s.usage.totals().requests, 0);
  appendFileSync(s.file, bytes.subarray(cut, bytes.length - 1));
  t.equal(s.usage.update(), false, 'still no newline');
  appendFileSync(s.file, '\n');
  t.equal(s.usage.update(), true);
  t.equal(s.usage.totals().requests, 1);
  t.same(s.usage.totals().unknownModels, [], 'the model name survived the split: sonnet-4 prefix priced');
  t.equal(s.usage.totals().usd, round(ONE));
});

t.test('a file that shrank or was replaced is read again from the start', async (t) => {
  const s = setup(t);
  writeFileSync(s.file, line() + line() + line());
  s.usage.update();
  t.equal(s.usage.totals().requests, 3);
  truncateSync(s.file, 0);
  appendFileSync(s.file, line());
  t.equal(s.usage.update(), true, 'shrank');
  t.equal(s.usage.totals().requests, 1);
  // Replaced by a longer file (another inode): not read from the old offset.
  const other = join(s.dir, 'new.jsonl');
  writeFileSync(other, line({ input: 7 }) + line({ input: 7 }) + line({ input: 7 }) + line({ input: 7 }));
  renameSync(other, s.file);
  t.equal(s.usage.update(), true, 'replaced');
  t.equal(s.usage.totals().requests, 4);
  t.equal(s.usage.totals().input, 28);
  rmSync(s.file);
  t.equal(s.usage.update(), true, 'removed: usage gone');
  t.equal(s.usage.totals().requests, 0);
  symlinkSync(other, s.file);
  t.equal(s.usage.update(), false, 'a symlink in its place is not followed');
});

t.test('the rate window moves with the clock, without new lines', async (t) => {
  const s = setup(t);
  writeFileSync(s.file, line({ time: new Date(T0 - 10 * 60_000).toISOString() }) + line({ time: new Date(T0 - 60_000).toISOString() }));
  s.usage.update();
  t.equal(s.usage.totals().requests, 2, 'both in the life total');
  let r = s.usage.rate();
  t.equal(r.requests, 1, 'only the last 5 minutes in the rate');
  t.equal(r.usdPerHour, round(ONE * 12));
  t.equal(r.tokensPerMinute, 1500 / 5);
  s.advance(3 * 60_000);
  appendFileSync(s.file, line({ time: new Date(T0 + 3 * 60_000).toISOString() }));
  s.usage.update();
  t.equal(s.usage.rate().requests, 2);
  s.advance(2 * 60_000); // the first recent request is now 6 minutes old
  r = s.usage.rate();
  t.equal(r.requests, 1, 'the window moved on');
  t.equal(s.usage.recent().length, 1);
  s.advance(10 * 60_000);
  r = s.usage.rate();
  t.equal(r.requests, 0);
  t.equal(r.usdPerHour, 0);
  t.equal(s.usage.totals().requests, 3, 'the life total stays');
});

t.test('rateOf: unpriced requests make the rate unknown, not zero', async (t) => {
  t.equal(rateOf([{ at: T0, tokens: 10, usd: undefined }], T0).usdPerHour, null);
  t.equal(rateOf([{ at: T0, tokens: 10, usd: undefined }, { at: T0, tokens: 10, usd: 1 }], T0).usdPerHour, 12);
  t.equal(rateOf([{ at: T0 + 1000, tokens: 10, usd: 1 }], T0).requests, 1, 'slightly in the future still counts');
});

t.test('over-long lines are skipped whole, even when split across reads', async (t) => {
  const s = setup(t);
  const long = `{"type":"usage","pad":"${'x'.repeat(70 * 1024)}`;
  writeFileSync(s.file, long.slice(0, 40 * 1024));
  s.usage.update();
  appendFileSync(s.file, long.slice(40 * 1024));
  s.usage.update();
  appendFileSync(s.file, `"}\n${line()}`);
  t.equal(s.usage.update(), true);
  t.equal(s.usage.totals().requests, 1, 'the line after it counts');
});
