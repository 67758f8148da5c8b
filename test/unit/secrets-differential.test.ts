// The anchored path must find exactly what the reference path finds: every keyword-gated rule
// run over every whole segment (`exhaustive`). Compared on real source text with planted secrets,
// on texts that put secrets at segment and window boundaries, and on random texts built from
// keyword and secret fragments, for both rule orders (git: gitleaks first; dlp: core first).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createScanner, LIMITS, type Finding, type Scanner } from '../../lib/secrets/index.js';
import { Engine } from '../../lib/secrets/engine.js';
import { projectRoot } from '../../lib/paths.js';
import { plantedCorpus } from '../../bench/corpus/planted.js';
import { ALNUM, HEX, P, UPPER32, URLSAFE, bitcoinWif, jwt, pemKey, randomSource } from '../fixtures/secrets/tokens.js';

const r = randomSource(909);
// planAfter 0: every scan takes the anchored path (by default small inputs take the reference one).
const scanners: Record<string, Scanner> = {
  git: createScanner({ sets: ['gitleaks', 'core'], planAfter: 0 }),
  dlp: createScanner({ sets: ['core', 'gitleaks'], planAfter: 0 }),
};
const show = (fs: Finding[]): string[] => fs.map((f) => `${f.line}:${f.column} ${f.ruleId} ${f.redacted}`);

// Compares both paths on one text (and one path) for every scanner; returns the finding count.
function same(t: Test, name: string, text: string, path?: string): number {
  let n = 0;
  for (const [sn, s] of Object.entries(scanners)) {
    const fast = s.scan(text, { path });
    const ref = s.scan(text, { path, exhaustive: true });
    if (JSON.stringify(fast) !== JSON.stringify(ref)) t.same(show(fast), show(ref), `${sn}: ${name}`);
    n += ref.length;
  }
  return n;
}

// Real .js text from node_modules, in a stable order, about `cap` characters.
function realFiles(cap: number): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  let total = 0;
  const walk = (dir: string): boolean => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return true; }
    for (const name of names) {
      if (name === '.bin' || name === '.cache') continue;
      const p = join(dir, name);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) { if (!walk(p)) return false; continue; }
      if (!name.endsWith('.js') || st.size > 512 * 1024) continue;
      const text = readFileSync(p, 'utf8');
      out.push({ path: p, text });
      total += text.length;
      if (total >= cap) return false;
    }
    return true;
  };
  walk(join(projectRoot(), 'node_modules'));
  return out;
}

// Secrets the planted corpus does not cover: keyword-less rules and a few more shapes.
function extraSecrets(): string[] {
  return [
    `card ${['4111', '1111', '1111', '1111'].join(' ')} end`,
    `pan=${['5555', '5555', '5555', '4444'].join('-')}`,
    `iban ${['GB82', 'WEST', '1234', '5698', '7654', '32'].join(' ')}`,
    `IBAN:${['DE89', '3704', '0044', '0532', '0130', '00'].join('')}`,
    `wif ${bitcoinWif(r)}`,
    `token=${jwt(r)}`,
    `https://admin:${r(ALNUM, 16)}@db.example.test/x`,
    `  "secret": "0x${r(HEX, 64)}",`,
    `SK${r(HEX, 32)}`,
    `${P.hvs}${r(ALNUM, 24)}`,
    `aws_secret_access_key = ${r(`${ALNUM}+/`, 40)}`,
    `${P.akia}${r(UPPER32, 16)}`,
    `API_TOKEN=${r(ALNUM, 20)}7`,
    `?password=${r(ALNUM, 12)}9&x=1`,
    `${P.ghp}${r(ALNUM, 36)}`,
    `${P.skAnt}api03-${r(URLSAFE, 93)}AA`,
    `curl -H "Authorization: Bearer ${r(ALNUM, 30)}" https://x.test`,
    pemKey('ec'),
  ];
}

t.test('planted secrets in real source text: fast path = reference path', async (t) => {
  const files = realFiles(1_500_000);
  t.ok(files.length > 50, `${files.length} files`);
  const corpus = plantedCorpus({ perFamily: 3, seed: 4242 });
  const planted = corpus.files.flatMap((f) => f.text.split('\n')).filter((l) => l.trim().length > 0);
  const base = [...planted, ...extraSecrets()];
  // Case variants too: many rules are case-insensitive, and their anchors must be as well.
  const secrets = base.flatMap((s, i) => [s, i % 2 ? s.toUpperCase() : s.toLowerCase()]);
  let findings = 0;
  files.forEach((f, i) => {
    const lines = f.text.split('\n');
    // Insert a few secrets at random line boundaries and one in the middle of a line.
    for (let k = 0; k < 3; k++) {
      const at = Math.floor((((i * 7919 + k * 104729) % 1000) / 1000) * lines.length);
      lines.splice(at, 0, secrets[(i * 3 + k) % secrets.length]!);
    }
    const mid = lines.length >> 1;
    const line = lines[mid] ?? '';
    lines[mid] = `${line.slice(0, line.length >> 1)} ${secrets[(i * 5) % secrets.length]} ${line.slice(line.length >> 1)}`;
    findings += same(t, f.path, lines.join(i % 4 === 0 ? '\r\n' : '\n'), `src/${i}.js`);
  });
  t.ok(findings > 300, `${findings} findings compared`);
});

t.test('the planted corpus itself: fast path = reference path', async (t) => {
  const corpus = plantedCorpus();
  let findings = 0;
  for (const f of corpus.files) findings += same(t, f.name, f.text, f.name);
  t.ok(findings >= corpus.planted.length);
});

t.test('secrets at segment starts, window starts and text edges', async (t) => {
  const step = LIMITS.maxLine - LIMITS.lineOverlap; // long lines are scanned in windows this far apart
  let findings = 0;
  for (const s of extraSecrets()) {
    const flat = s.replace(/\n/g, ' ');
    // A window of a long line starts right at the secret, after a word character: `\b` holds in
    // the window (nothing before it) but not in the whole text.
    for (const at of [step - 1, step, step + 1, 2 * step]) {
      findings += same(t, `window ${at}: ${flat.slice(0, 12)}`, `${'x'.repeat(at)}${flat}${' y'.repeat(3000)}`);
    }
    findings += same(t, `start: ${flat.slice(0, 12)}`, s);
    findings += same(t, `end: ${flat.slice(0, 12)}`, `let a = 1;\n${s}`);
    findings += same(t, `after non-ASCII: ${flat.slice(0, 12)}`, `ü${s}é\n€ ${s}`);
    // Many short lines: segment cuts land near the secret.
    const pad = 'const value = compute(a, b);\n';
    for (const n of [1100, 1125, 1130, 1200]) findings += same(t, `segment ${n}: ${flat.slice(0, 12)}`, `${pad.repeat(n)}${s}\n${pad.repeat(400)}`);
  }
  t.ok(findings > 100, `${findings} findings compared`);
});

t.test('random texts of keyword and secret fragments: fast path = reference path', async (t) => {
  const rnd = randomSource(5150);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(parseInt(rnd('0123456789abcdef', 6), 16) / 0x1000000 * xs.length)]!;
  const pieces = [
    'key', 'KEY', 'Key', 'api', 'API', 'token', 'secret', 'password', 'passwd', 'auth', 'access', 'credential',
    '=', ' = ', ': ', '=>', '"', "'", '`', ' ', '  ', '\n', '\r\n', '\t', ';', ',', '.', '-', '_', '/', '@', '://',
    '0x', 'SK', 's.', 'x', 'K', 'L', '5', '?', '&', 'é', 'ü', '€', '\u2028', '\u00a0', 'kind: Secret\ndata:\n',
    '-----BEGIN', ' PRIVATE KEY-----\n', 'GB82', 'eyJ', 'ey', 'curl ', '-H ', 'Bearer ', 'sk_live_', 'xoxb-',
  ];
  const secrets = extraSecrets().flatMap((s) => [s, s.toUpperCase(), s.toLowerCase()]);
  let findings = 0;
  for (let i = 0; i < 600; i++) {
    let text = '';
    const n = 5 + (i % 60);
    for (let k = 0; k < n; k++) {
      const roll = parseInt(rnd('0123456789', 2), 10);
      if (roll < 10) text += pick(secrets);
      else if (roll < 25) text += rnd(ALNUM, 1 + (roll % 40));
      else if (roll < 32) text += rnd(HEX, 8 + (roll % 60));
      else if (roll < 36) text += rnd('0123456789 -', 4 + (roll % 16));
      else text += pick(pieces);
    }
    findings += same(t, `random ${i}: ${JSON.stringify(text.slice(0, 40))}`, text);
  }
  t.ok(findings > 200, `${findings} findings compared`);
});

t.test('hostile inputs: fast path = reference path', async (t) => {
  const N = 50_000;
  const inputs = [
    'a'.repeat(N), `${P.begin} PRIVATE KEY-----\n`.repeat(N / 28), 'api_key = '.repeat(N / 10), 'eyJ'.repeat(N / 3),
    '4 '.repeat(N / 2), 'curl -x\n'.repeat(N / 8), 'token password secret key '.repeat(N / 26), 'AB1C_SECRET'.repeat(N / 11),
    `${'A'.repeat(N)}_SECRET=${'x'.repeat(20)}`, '0x'.repeat(N / 2), 's.'.repeat(N / 2), 'SK'.repeat(N / 2),
  ];
  for (const text of inputs) same(t, `hostile ${JSON.stringify(text.slice(0, 16))}`, text);
});

t.test('first() and maxFindings agree with the reference path', async (t) => {
  const text = extraSecrets().join('\nfiller line\n');
  for (const [sn, s] of Object.entries(scanners)) {
    t.same(s.first(text), s.first(text, { exhaustive: true }), `${sn}: first`);
    for (const max of [1, 2, 5]) {
      t.same(s.scan(text, { maxFindings: max }), s.scan(text, { maxFindings: max, exhaustive: true }), `${sn}: maxFindings ${max}`);
    }
  }
});

t.test('an engine switches to the anchored path after planAfter characters, findings unchanged', async (t) => {
  const s = createScanner({ sets: ['gitleaks', 'core'], planAfter: 10_000 }) as Engine;
  const text = `${'const x = 1;\n'.repeat(300)}${extraSecrets().join('\n')}\n`;
  t.notOk(s.anchored, 'starts on the reference path');
  const before = s.scan(text);
  t.notOk(s.anchored, `${text.length} characters scanned: still the reference path`);
  const after = s.scan(text);
  t.ok(s.anchored, 'anchored after passing planAfter');
  t.same(show(after), show(before));
  t.ok(before.length >= 10, `${before.length} findings`);
});
