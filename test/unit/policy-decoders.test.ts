// The decoders and normalisation behind url-dlp/body-dlp, tested on their own.
import t from 'tap';
import {
  decodeBase32, decodeBase64, decodeHex, encodeBase32, encodedRuns, forEachDecoding, normalizeText, percentDecodeFully,
  printable, printableRuns, stripNoise,
} from '../../lib/policy/decoders.js';
import { scanCandidates, type Candidate } from '../../lib/policy/candidates.js';

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

t.test('percent decoding: to a fixed point, tolerant of junk', async (t) => {
  t.equal(percentDecodeFully('a%20b'), 'a b');
  t.equal(percentDecodeFully('100%'), '100%');
  t.equal(percentDecodeFully('%zz%41'), '%zzA', 'malformed escapes stay, valid ones decode');
  t.equal(percentDecodeFully('%ff%41'), '\ufffdA', 'invalid UTF-8 becomes U+FFFD');
  t.equal(percentDecodeFully('%252541'), 'A', 'three rounds');
  t.equal(percentDecodeFully('%%34%31'), 'A', 'an escape assembled from decoded pieces');
  t.equal(percentDecodeFully('h%C3%A9llo'), 'héllo', 'multi-byte UTF-8');
});

// Regression (issue 13, class 4): decoding stopped after three rounds, so a fourth layer of
// %25 hid the secret from every pattern.
t.test('percent decoding has no depth an agent can outnest, and stays linear', async (t) => {
  let s = 'ghp_token';
  for (let i = 0; i < 40; i++) s = s.replace(/[%_]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  t.equal(percentDecodeFully(s), 'ghp_token', '40 layers');
  const deep = `%${'25'.repeat(100_000)}41`;
  const t0 = performance.now();
  t.equal(percentDecodeFully(deep), 'A', '100,000 layers');
  t.ok(performance.now() - t0 < 200, 'in linear time');
});

t.test('hex in every spelling', async (t) => {
  for (const s of ['68656c6c6f21', '68656C6C6F21', '\\x68\\x65\\x6c\\x6c\\x6f\\x21', '0x68 0x65 0x6c 0x6c 0x6f 0x21', '68:65:6c:6c:6f:21', '68-65-6c-6c-6f-21', '68,65,6c,6c,6f,21']) {
    t.equal(text(decodeHex(s)), 'hello!', s);
  }
  t.equal(decodeHex('abc'), undefined, 'too short');
  t.equal(decodeHex('68656c6c6f2'), undefined, 'odd length');
  t.equal(decodeHex('not hex at all'), undefined);
});

t.test('base64 std, url-safe, unpadded; base32 either case', async (t) => {
  const msg = 'secret?>value~~';
  t.equal(text(decodeBase64(Buffer.from(msg).toString('base64'))), msg);
  t.equal(text(decodeBase64(Buffer.from(msg).toString('base64url'))), msg);
  t.equal(text(decodeBase64(Buffer.from('abcdefgh').toString('base64').replace(/=+$/, ''))), 'abcdefgh');
  t.equal(decodeBase64('abc!defghijk'), undefined);
  t.equal(decodeBase64('abcdefghi'), undefined, 'under 10 characters');
  t.equal(decodeBase64('abcdefghijklm'), undefined, 'impossible length');
  const b32 = encodeBase32(Buffer.from(msg));
  t.equal(b32, 'ONSWG4TFOQ7T45TBNR2WK7T6');
  t.equal(text(decodeBase32(b32)), msg);
  t.equal(text(decodeBase32(b32.toLowerCase())), msg);
  t.equal(text(decodeBase32('MFRGGZDFMZTWQ===')), 'abcdefgh', 'padded');
  t.equal(decodeBase32('MFRGGZDFMZTW01'), undefined, '0 and 1 are not base32');
});

t.test('printable keeps text and drops random bytes', async (t) => {
  t.equal(printable(Buffer.from('plain text\n')), 'plain text\n');
  t.equal(printable(Buffer.from('héllo wörld')), 'héllo wörld');
  t.equal(printable(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x12, 0x99, 0x7f])), undefined);
  t.equal(printable(Buffer.from('abc')), undefined, 'too short to judge');
});

t.test('printableRuns keeps the text inside binary', async (t) => {
  const bin = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from('the-secret-value'), Buffer.from([0x80, 0, 7]), Buffer.from('short'), Buffer.from([9])]);
  t.equal(printableRuns(bin), 'the-secret-value', 'runs under 8 characters are noise');
  t.equal(printableRuns(Buffer.from([0, 1, 2, 3])), undefined);
});

t.test('encodedRuns: base64 wrapped at 64 or 76 columns (LF or CRLF) is one run', async (t) => {
  const blob = Buffer.from('x'.repeat(100) + 'the hidden message' + 'y'.repeat(100)).toString('base64');
  for (const [cols, eol] of [[64, '\n'], [76, '\r\n'], [76, '\n']] as const) {
    const wrapped = blob.match(new RegExp(`.{1,${cols}}`, 'g'))!.join(eol);
    t.same(encodedRuns(`data: ${wrapped}\n`), [blob], `${cols} columns, ${JSON.stringify(eol)}`);
    t.same(encodedRuns(wrapped), [blob], `${cols} columns, the whole string`);
  }
  t.same(encodedRuns('first line of prose words\nabcdefghijklmnopq'), ['abcdefghijklmnopq'], 'a line that is not base64-shaped does not join');
});

t.test('normalizeText: NFKC, confusables, invisible characters; ASCII untouched', async (t) => {
  t.equal(normalizeText('ｓｋ－ａｎｔ'), 'sk-ant');
  t.equal(normalizeText('\u0455k-\u0430nt'), 'sk-ant', 'Cyrillic dze and a');
  t.equal(normalizeText('\u03bf\u03c1\u03b5\u03bd'), 'open'.replace('n', 'v'), 'Greek omicron, rho, epsilon, nu');
  t.equal(normalizeText('s\u200bk\u00ad-a\u2060nt'), 'sk-ant');
  t.equal(normalizeText('sk\u2013ant'), 'sk-ant', 'en dash');
  const ascii = 'plain ascii';
  t.equal(normalizeText(ascii), ascii);
});

t.test('stripNoise removes the reference separators only', async (t) => {
  t.equal(stripNoise('a.b/c d\te\nf\rg+h,i;j|k-l_m'), 'abcdefghijk-l_m');
});

t.test('forEachDecoding: nested layers up to the depth, labelled outermost first', async (t) => {
  const inner = 'the hidden message';
  const b64hex = Buffer.from(Buffer.from(inner).toString('hex')).toString('base64');
  const layered = [...b64hex].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  const seen: Array<[string, string]> = [];
  forEachDecoding(layered, 3, (how, s) => seen.push([how, s]));
  t.ok(seen.some(([how, s]) => how === 'percent+base64+hex' && s === inner), JSON.stringify(seen));
  const shallow: string[] = [];
  forEachDecoding(layered, 2, (_how, s) => shallow.push(s));
  t.notOk(shallow.includes(inner), 'depth 2 stops before the third layer');
  const none: string[] = [];
  forEachDecoding('just-some-words-here', 3, (_h, s) => none.push(s));
  t.same(none, [], 'plain words yield no printable decoding');
});

t.test('scanCandidates maps the finding line back to its candidate', async (t) => {
  const items: Candidate[] = [{ where: 'a', text: 'one\ntwo' }, { where: 'b', text: 'three' }, { where: 'c', text: 'x\ny\nz' }];
  const at = (line: number) => scanCandidates({ first: () => ({ ruleId: 'r', line }) }, items)?.where;
  t.same([1, 2, 3, 4, 5, 6].map(at), ['a', 'a', 'b', 'c', 'c', 'c']);
  t.equal(scanCandidates({ first: () => undefined }, items), undefined);
  t.equal(scanCandidates({ first: () => { throw new Error('not called'); } }, []), undefined);
});
