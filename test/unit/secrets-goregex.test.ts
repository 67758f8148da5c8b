// Go (RE2) → JavaScript regex translation, as used to port gitleaks.toml.
import t from 'tap';
import { MAX_OPEN_REPEAT, UnportableRegexError, translateGoRegex } from '../../lib/secrets/goregex.js';
import { stripLazyPrefix } from '../../lib/secrets/gitleaks.js';

const re = (go: string): RegExp => {
  const x = translateGoRegex(go);
  return new RegExp(x.source, x.flags);
};

t.test('a leading (?i) becomes the i flag', async (t) => {
  const x = translateGoRegex('(?i)abc[a-f]');
  t.same(x, { source: 'abc[a-f]', flags: 'i' });
});

t.test('a mid-pattern (?i) applies to the rest of its group only', async (t) => {
  const r = re('\\b(p8e-(?i)[a-z0-9]{4})X');
  t.ok(r.test('p8e-AbC1X'));
  t.notOk(r.test('P8E-abc1X'), 'text before the flag stays case-sensitive');
  t.notOk(r.test('p8e-abc1x'), 'text after the group stays case-sensitive');
});

t.test('(?i:...) and (?-i:...) islands', async (t) => {
  const r = re('k(?i:ey(?-i:[Aa]pi|API)z)');
  t.ok(r.test('kEYApiZ'));
  t.ok(r.test('keyAPIz'));
  t.notOk(r.test('keyaPIz'), 'the -i island is case-sensitive');
  t.notOk(r.test('KeyApiz'), 'outside the group is case-sensitive');
});

t.test('case-folding inside classes covers ranges and single letters', async (t) => {
  const r = re('^x(?i)[a-c_q]+$');
  t.ok(r.test('xAbCQq_'));
  t.notOk(r.test('xD'));
  t.ok(re('^(?i:[^a-z])$').test('1'));
  t.notOk(re('^(?i:[^a-z])$').test('Q'), 'a negated folded class excludes both cases');
});

t.test('\\z, (?s:.), named groups, POSIX classes, \\x escapes', async (t) => {
  t.ok(re('ab\\z').test('xab'));
  t.notOk(re('ab\\z').test('ab\n'));
  t.ok(re('a(?s:.)b').test('a\nb'));
  t.notOk(re('a.b').test('a\nb'));
  const named = translateGoRegex('(?P<alg>x)(y)');
  t.equal(named.source, '(x)(y)', 'group numbering is preserved');
  t.ok(re('^[[:alnum:]]+$').test('aZ09'));
  t.notOk(re('^[[:alnum:]]+$').test('a-b'));
  t.ok(re('[\\x60]').test('`'));
  t.ok(re('^[^]]+$').test('abc'), 'a ] first in a class is literal in Go');
  t.notOk(re('^[^]]+$').test('a]c'));
});

t.test('literal braces and capped open repeats', async (t) => {
  t.ok(re('^\\{\\{ x }}$').test('{{ x }}'));
  t.equal(translateGoRegex('a{64,}?b').source, `a{64,${MAX_OPEN_REPEAT}}?b`);
  t.equal(translateGoRegex('a{2,5}').source, 'a{2,5}');
});

t.test('unportable syntax is reported, not mistranslated', async (t) => {
  t.throws(() => translateGoRegex('\\pL+'), UnportableRegexError);
  t.throws(() => translateGoRegex('(?m)^a'), UnportableRegexError);
  t.throws(() => translateGoRegex('(a'), UnportableRegexError);
});

t.test('stripping the lazy identifier prefix', async (t) => {
  t.same(stripLazyPrefix('(?i)[\\w.-]{0,50}?(?:adafruit)x'), { pattern: '(?i)(?:adafruit)x', back: 50 });
  t.same(stripLazyPrefix('[\\w.-]{0,50}?(?i:[\\w.-]{0,50}?(?:cohere)y)'), { pattern: '(?i:(?:cohere)y)', back: 100 });
  t.same(stripLazyPrefix('\\bfoo'), { pattern: '\\bfoo', back: 0 });
});
