// The regex prefix analysis behind the anchored scan path: what it derives for small patterns,
// and the property that makes anchoring safe (every match of every rule starts where one of the
// rule's anchors holds), checked against the real rules on texts full of matches.
import t from 'tap';
import { DIGIT, WORD, column, complement, hasCol, type CharSet } from '../../lib/secrets/charset.js';
import { coreRules } from '../../lib/secrets/core.js';
import { gitleaksConfig } from '../../lib/secrets/gitleaks.js';
import { planRules } from '../../lib/secrets/plan.js';
import { regexPrefixes, ruleAnchors, type Anchor } from '../../lib/secrets/prefix.js';
import { parseRegex, type Node } from '../../lib/secrets/regex-parse.js';
import { plantedCorpus } from '../../bench/corpus/planted.js';
import { ALNUM, HEX, P, UPPER32, bitcoinWif, jwt, pemKey, randomSource } from '../fixtures/secrets/tokens.js';

// Anchors as readable strings: one character per set, `[..]` for small sets, `{n}` for big ones.
function show(a: Anchor): string {
  const one = (s: CharSet): string => {
    const cs: string[] = [];
    for (let c = 0; c < 128; c++) if (hasCol(s, c)) cs.push(c === 0 ? '∅' : String.fromCharCode(c));
    return cs.length === 1 ? cs[0]! : cs.length <= 4 ? `[${cs.join('')}]` : `{${cs.length}}`;
  };
  return (a.before ? `<${one(a.before)}>` : '') + a.sets.map(one).join('');
}
const prefixes = (source: string, flags = ''): string[] | undefined => regexPrefixes(source, flags)?.map(show).sort();

t.test('prefixes of small patterns', async (t) => {
  t.same(prefixes('abc'), ['abc']);
  t.same(prefixes('ab', 'i'), ['[Aa][Bb]']);
  t.same(prefixes('(?:ab|cd)ef'), ['abef', 'cdef']);
  t.same(prefixes('a?bc'), ['abc', 'bc'], 'one optional copy: both paths');
  t.same(prefixes('ab{2}c'), ['abbc']);
  t.same(prefixes('ab+c'), ['ab'], 'a repeat of unknown length ends the prefix');
  t.same(prefixes('(?=x)yz'), ['yz'], 'lookaheads are ignored');
  t.same(prefixes('(a)\\1b'), ['a'], 'a backreference ends the prefix');
  t.match(prefixes('[^a]b'), [/^\{\d+\}b$/], 'a negated class is one (wide) set');
  t.equal(prefixes('x*y'), undefined, 'a match may start with y or x: no single prefix set per path');
  t.equal(prefixes('a|'), undefined, 'an empty alternative has no prefix');
  t.equal(prefixes('(?<x>a'), undefined, 'unparseable: no anchors');
});

// Every bracket class and class escape in a regex source, as written.
function classesIn(source: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\\') {
      if (/[dDwWsS]/.test(source[i + 1] ?? '')) out.push(source.slice(i, i + 2));
      i++;
      continue;
    }
    if (source[i] !== '[') continue;
    let j = i + 1;
    if (source[j] === '^') j++;
    if (source[j] === ']') j++;
    while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
    out.push(source.slice(i, j + 1));
    i = j;
  }
  return out;
}

t.test('character sets agree with V8 on every class the shipped rules use', async (t) => {
  const rules = [...gitleaksConfig().rules, ...coreRules()];
  const nonAscii = ['é', '\u00a0', '\u2028', '\ufeff', 'ß'];
  let checked = 0;
  for (const rule of rules) {
    if (!rule.regex) continue;
    const flags = rule.regex.flags.includes('i') ? 'i' : '';
    for (const cls of new Set(classesIn(rule.regex.source))) {
      const parsed = parseRegex(cls, flags === 'i');
      const node = parsed.t === 'seq' && parsed.items.length === 1 ? parsed.items[0]! : parsed;
      if (node.t !== 'set') { t.fail(`${rule.id}: ${cls} did not parse as one set`); continue; }
      const v8 = new RegExp(`^${cls}$`, flags);
      for (let c = 1; c < 128; c++) {
        if (v8.test(String.fromCharCode(c)) !== hasCol(node.s, c)) t.fail(`${rule.id}: ${cls} /${flags} disagrees on ${JSON.stringify(String.fromCharCode(c))}`);
      }
      if (nonAscii.some((ch) => v8.test(ch)) && !hasCol(node.s, 0)) t.fail(`${rule.id}: ${cls} matches non-ASCII but lacks column 0`);
      checked++;
    }
  }
  t.ok(checked > 300, `${checked} classes checked`);
});

t.test('a leading \\b or negative lookbehind becomes the required previous character', async (t) => {
  const [b] = regexPrefixes('\\bfoo', '')!;
  t.same(b!.before, complement(WORD), '\\b before a word character: a non-word character (or the start)');
  t.ok(hasCol(b!.before!, 0), 'column 0: the start of the text and non-ASCII characters qualify');
  const [nb] = regexPrefixes('\\b-x', '')!;
  t.same(nb!.before, WORD, '\\b before a non-word character: a word character, never the start');
  const [lb] = regexPrefixes('(?<![\\w.-])\\d\\d', '')!;
  t.notOk(hasCol(lb!.before!, 46) || hasCol(lb!.before!, 45) || hasCol(lb!.before!, 65), 'not . - or a word character');
  t.ok(hasCol(lb!.before!, 32) && hasCol(lb!.before!, 0), 'a space, the start, non-ASCII');
  t.same(lb!.sets, [DIGIT, DIGIT]);
});

t.test('rule anchors: keyword anchors, gated anchors, none', async (t) => {
  const kw = ruleAnchors('(?:key|token)\\s*[=:]', '', ['key', 'token'])!;
  t.same(kw.anchors.map(show).sort(), ['key', 'token']);
  t.equal(kw.gated, false, 'anchors containing a keyword imply the keyword gate');
  const small = ruleAnchors('gh[pousr]_[A-Za-z0-9]{36}', '', ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'])!;
  t.same(small.anchors.map(show).sort(), ['gho_', 'ghp_', 'ghr_', 'ghs_', 'ghu_'], 'small classes are split to find keywords');
  const gated = ruleAnchors('\\b(pat[0-9A-Za-z]{14}\\.[a-f0-9]{64})\\b', '', ['airtable'])!;
  t.equal(gated.gated, true, 'the keyword is elsewhere: its gate is still checked');
  t.match(gated.anchors.map(show), [/^<\{\d+\}>pat/]);
  t.equal(ruleAnchors('[A-Z][A-Z0-9]*_SECRET=', '', ['_secret']), undefined, 'a one-letter prefix is not selective');
  t.ok(ruleAnchors('(?<![\\w.-])\\d\\d\\d\\d(?:[ -]?\\d){9,15}', '', [], 8, 1e-2), 'keyword-less rules anchor on their own prefix');
});

// Texts with many matches of many rules: the planted corpus, the core samples, and the same
// secrets after word characters, at the start of the text and after non-ASCII characters.
function matchTexts(): string[] {
  const r = randomSource(77);
  const secrets = [
    ...plantedCorpus({ perFamily: 2, seed: 99 }).files.map((f) => f.text),
    `${P.akia}${r(UPPER32, 16)}`, `SK${r(HEX, 32)}`, `0x${r(HEX, 64)}`, `${P.hvs}${r(ALNUM, 24)}`, `s.${r(ALNUM, 24)}`,
    `token=${jwt(r)}`, bitcoinWif(r), ['4111', '1111', '1111', '1111'].join(' '), ['GB82', 'WEST', '1234', '5698', '7654', '32'].join(' '),
    `https://u:${r(ALNUM, 12)}@h.test`, `?password=${r(ALNUM, 10)}`, `API_TOKEN=${r(ALNUM, 16)}`, pemKey('ec'),
  ];
  return secrets.flatMap((s) => [s, `x${s}`, `é${s}`, `${r(ALNUM, 3)}_${s}`, s.toUpperCase(), s.toLowerCase()]);
}

// Random strings a regex tree can produce (assertions ignored, so not every one matches):
// every character of every set gets its chance, unlike hand-written samples.
function generate(n: Node, rnd: () => number): string {
  switch (n.t) {
    case 'set': {
      const cs: number[] = [];
      for (let c = 0; c < 128; c++) if (hasCol(n.s, c)) cs.push(c);
      const c = cs[Math.floor(rnd() * cs.length)] ?? 32;
      return c === 0 ? 'é' : String.fromCharCode(c);
    }
    case 'seq': return n.items.map((i) => generate(i, rnd)).join('');
    case 'alt': return generate(n.alts[Math.floor(rnd() * n.alts.length)]!, rnd);
    case 'rep': {
      const k = n.min + Math.floor(rnd() * Math.min(4, n.max - n.min + 1));
      let out = '';
      for (let i = 0; i < k; i++) out += generate(n.n, rnd);
      return out;
    }
    default: return '';
  }
}

t.test('every match of every rule starts where one of its anchors holds', async (t) => {
  const rules = [...gitleaksConfig().rules, ...coreRules()];
  const plan = planRules(rules);
  const shared = matchTexts();
  const seed = randomSource(4711);
  const rnd = (): number => parseInt(seed('0123456789abcdef', 8), 16) / 2 ** 32;
  let checked = 0;
  rules.forEach((rule, i) => {
    const how = plan.rules[i]!;
    if (!rule.regex || !how.sticky) return;
    const anchors = ruleAnchors(rule.regex.source, rule.regex.flags, rule.keywords, 8, rule.keywords.length ? 2e-4 : 1e-2)!.anchors;
    const re = new RegExp(rule.regex.source, rule.regex.flags);
    const tree = parseRegex(rule.regex.source, rule.regex.flags.includes('i'));
    const own = Array.from({ length: 60 }, (_, k) => `${' x_.é\n'[k % 6]}${generate(tree, rnd)}${' ;"\n'[k % 4]}`);
    for (const text of [...shared, ...own]) {
      re.lastIndex = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        const at = m.index;
        const prev = at === 0 ? 0 : column(text.charCodeAt(at - 1));
        const holds = anchors.some((a) => (!a.before || hasCol(a.before, prev)) &&
          a.sets.every((s, j) => at + j < text.length && hasCol(s, column(text.charCodeAt(at + j)))));
        if (!holds) t.fail(`${rule.id}: match ${JSON.stringify(m[0].slice(0, 30))} at ${at} has no anchor (${anchors.map(show).join(' | ')})`);
        checked++;
      }
    }
  });
  t.ok(checked > 5000, `${checked} matches checked`);
});

t.test('the shipped rules mostly anchor, in an automaton of bounded size', async (t) => {
  const rules = [...gitleaksConfig().rules, ...coreRules()];
  const plan = planRules(rules);
  const anchored = plan.rules.filter((p) => p.sticky).length;
  t.ok(anchored >= 235, `${anchored} of ${rules.length} rules anchored`);
  for (const id of ['generic-api-key', 'credit-card-number', 'iban', 'bitcoin-wif-private-key', 'vault-service-token']) {
    t.ok(plan.rules[rules.findIndex((r) => r.id === id)]!.sticky, `${id} is anchored`);
  }
  t.ok(plan.scanner.stateCount < 6000, `${plan.scanner.stateCount} automaton states`);
});
