// bench/lib/table.ts: durations read the same whatever their sign or size.
import t from 'tap';
import { formatMs, formatTable } from '../../bench/lib/table.js';

t.test('formatMs picks the unit by magnitude', async (t) => {
  t.equal(formatMs(0.0004), '400 ns');
  t.equal(formatMs(0.0123), '12.3 µs');
  t.equal(formatMs(12.34), '12.3 ms');
  t.equal(formatMs(4200), '4.20 s');
});

t.test('a negative duration keeps its unit (added latency below the baseline)', async (t) => {
  t.equal(formatMs(-0.742), '-742 µs');
  t.equal(formatMs(-0.0004), '-400 ns');
  t.equal(formatMs(-1500), '-1.50 s');
});

t.test('negative durations align right like the rest of their column', async (t) => {
  const text = formatTable('', ['case', 'added'], [['a', formatMs(0.25)], ['b', formatMs(-0.742)]]);
  const rows = text.split('\n').filter((l) => /^[ab] /.test(l));
  t.equal(rows.length, 2);
  t.equal(rows[0]!.length, rows[1]!.length);
  t.match(rows[0]!, / 250 µs$/);
  t.match(rows[1]!, /-742 µs$/);
});
