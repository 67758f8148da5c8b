// The anchor automaton's WebAssembly scan (dfa-wasm.ts) must report exactly the hits of its
// JavaScript loop (the reference): same ends, same states, same order. Compared on the shipped
// rules' automaton over random and hostile texts: every length class (one stream, four streams,
// several chunks), hits packed at stream and chunk boundaries, code units above 127 (and above
// 255, which a byte copy would truncate), and scans of growing sizes on one scanner (its buffers
// grow mid-scan).
import t, { type Test } from 'tap';
import { PatternScanner, WASM_MIN, type Hits } from '../../lib/secrets/automaton.js';
import { CHUNK, MULTI_MIN } from '../../lib/secrets/dfa-wasm.js';
import { keywordCharSets } from '../../lib/secrets/charset.js';
import { coreRules } from '../../lib/secrets/core.js';
import { gitleaksConfig } from '../../lib/secrets/gitleaks.js';
import { planRules } from '../../lib/secrets/plan.js';
import { ALNUM, HEX, randomSource } from '../fixtures/secrets/tokens.js';

const r = randomSource(1919);
const rules = planRules([...gitleaksConfig().rules, ...coreRules()]).scanner;
const few = new PatternScanner(['ab', 'key', 'x', 'zzzz'].map(keywordCharSets));

const copy = (h: Hits): { ends: number[]; states: number[] } => ({
  ends: Array.from(h.ends.subarray(0, h.count)),
  states: Array.from(h.states.subarray(0, h.count)),
});

// Both loops on one text; a failure shows the first differing hit, not megabytes of arrays.
function same(t: Test, s: PatternScanner, name: string, text: string): number {
  const fast = copy(s.scan(text));
  const ref = copy(s.scanJs(text));
  let k = 0;
  while (k < ref.ends.length && fast.ends[k] === ref.ends[k] && fast.states[k] === ref.states[k]) k++;
  if (k < ref.ends.length || fast.ends.length !== ref.ends.length) {
    t.fail(`${name} (${text.length} chars): first difference at hit ${k}`, {
      found: [fast.ends.length, fast.ends[k], fast.states[k]],
      wanted: [ref.ends.length, ref.ends[k], ref.states[k]],
    });
  }
  return ref.ends.length;
}

const SOUP = ['key', 'token', 'secret', 'api_key=', 'AKIA', 'ghp_', 'xoxb-', '0x', '-----BEGIN ', 'password', ' ', '\n', '"', '=', ':', '1234', 'AB12', '€', 'é', '\u{1F511}', '\u00ff', '\u0141'];
let seed = 19;
const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
const soup = (n: number): string => {
  let s = '';
  while (s.length < n) s += SOUP[rand(SOUP.length)]! + r(rand(2) ? ALNUM : HEX, rand(12));
  return s.slice(0, n);
};

t.test('WebAssembly is used where it is available', async (t) => {
  t.equal(rules.wasm, typeof WebAssembly === 'object');
  t.ok(rules.wasm, 'node has WebAssembly: the fast path is what these tests compare');
});

t.test('random texts of every length class agree', async (t) => {
  const lengths = [0, 1, 2, 3, 63, 64, 65, WASM_MIN - 1, WASM_MIN, WASM_MIN + 1, MULTI_MIN + 3, 511, 1000, 4095, 4096, 4097, 8191, 30_000, 65_539];
  let hits = 0;
  for (const n of lengths) {
    for (let k = 0; k < 4; k++) {
      hits += same(t, rules, `soup ${n}`, soup(n));
      hits += same(t, rules, `ascii ${n}`, r(ALNUM + ' =:_-."\n', n));
      hits += same(t, few, `few ${n}`, r('abkeyxz ', n));
    }
  }
  t.ok(hits > 10_000, `${hits} hits compared`);
});

t.test('hostile texts: hit-dense, hits at stream and chunk boundaries, non-ASCII everywhere', async (t) => {
  const N = 50_000;
  const inputs = [
    '1'.repeat(N), 'key'.repeat(N / 3), 'AB12'.repeat(N / 4), 'x'.repeat(N), '€'.repeat(N), '\u0141'.repeat(N),
    `${'a'.repeat(N)}key`, `key${'\u00e9'.repeat(N)}key`, 'zzzz'.repeat(N / 4), `${'\u0161'.repeat(N - 1)}k`,
  ];
  let hits = 0;
  for (const text of inputs) {
    hits += same(t, rules, `hostile ${JSON.stringify(text.slice(0, 8))}`, text);
    same(t, few, `hostile ${JSON.stringify(text.slice(0, 8))}`, text);
  }
  // A keyword across each possible cut point near where four streams split a text.
  for (const n of [4096, 4097, 4098, 4099, 10_001]) {
    const q = Math.floor(n / 4);
    for (const cut of [q, 2 * q, 3 * q]) {
      for (let d = -5; d <= 5; d++) {
        const chars = [...r('0123456789', n)];
        chars.splice(cut + d, 5, ...'token');
        const text = chars.join('').slice(0, n);
        hits += same(t, rules, `token at ${cut}+${d} of ${n}`, text);
        same(t, few, `key at ${cut}+${d} of ${n}`, text.replace('token', 'key  '));
      }
    }
  }
  t.ok(hits > 10_000, `${hits} hits compared`);
});

t.test('texts of several chunks agree, with patterns across each chunk boundary', async (t) => {
  const n = 2 * CHUNK + 777;
  const chars = [...soup(n)];
  for (const cut of [CHUNK, 2 * CHUNK]) for (let d = -4; d <= 1; d++) chars.splice(cut + d, 6, ...'secret');
  const text = chars.join('').slice(0, n);
  t.ok(same(t, rules, 'three chunks', text) > 1000);
  same(t, rules, 'chunk + 1 char', soup(CHUNK + 1));
  same(t, few, 'chunk + 255 chars', r('abkeyxz', CHUNK + 255));
});

t.test('one scanner over growing and shrinking texts (buffers grow mid-scan)', async (t) => {
  const s = new PatternScanner(['1', 'ke', 'y'].map(keywordCharSets));
  let hits = 0;
  for (const n of [300, 5000, 70_000, 300_000, 1000, 600_000, 300]) hits += same(t, s, `dense ${n}`, r('1key', n));
  t.ok(hits > 500_000, `${hits} hits compared`);
});
