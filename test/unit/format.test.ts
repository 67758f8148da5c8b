// The shared presentation helpers: one age spelling for `bottle ls`, `bottle proposals` and the
// dashboard, one rule for agent text on the operator's terminal.
import t from 'tap';
import { clip, formatAge, sanitize, UNSAFE_TEXT } from '../../lib/format.js';

const NOW = Date.parse('2026-03-02T00:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

// Regression: `bottle ls` said "1d" where the dashboard said "30h" for the same bottle, and
// `bottle proposals` printed "NaNd" for an unparsable time where the dashboard printed '?'.
t.test('formatAge: compact units, never negative, ? for garbage', async (t) => {
  t.same([5, 59, 60, 300, 3599, 3600, 23 * 3600, 30 * 3600, 48 * 3600 - 1, 48 * 3600, 10 * 86400].map((s) => formatAge(ago(s), NOW)),
    ['5s', '59s', '1m', '5m', '59m', '1h', '23h', '30h', '47h', '2d', '10d']);
  t.equal(formatAge(ago(119.9), NOW), '1m', 'rounds down, as every unit does');
  t.equal(formatAge(new Date(NOW + 5000).toISOString(), NOW), '0s', 'clock skew');
  t.equal(formatAge('garbage', NOW), '?');
  t.equal(formatAge('', NOW), '?');
});

t.test('sanitize: agent text cannot drive the terminal', async (t) => {
  t.equal(sanitize('ok\x1b[2Jboom\u202e'), 'ok?[2Jboom?');
  t.equal(sanitize('tab\there\u0085\u2066x'), 'tab?here??x');
  t.ok(UNSAFE_TEXT.test('a\u202eb'));
  t.notOk(UNSAFE_TEXT.test('plain text, ünïcödé'));
  t.equal(UNSAFE_TEXT.global, false, 'test() keeps no lastIndex between calls');
});

t.test('clip: sanitized, then cut with an ellipsis', async (t) => {
  t.equal(clip('abc', 3), 'abc');
  t.equal(clip('abcd', 3), 'ab…');
  t.equal(clip('a\x1bbcd', 4), 'a?b…');
});
