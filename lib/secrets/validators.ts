// Checksum and plausibility checks that turn broad number-like regexes into precise rules.
import { createHash } from 'node:crypto';

// Luhn check over the digits of a card number (separators ignored).
export function luhnValid(s: string): boolean {
  const d = s.replace(/[ -]/g, '');
  if (!/^\d{12,19}$/.test(d)) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
  }
  return sum % 10 === 0;
}

// A payment card number: a known issuer prefix and length, one separator style, valid Luhn.
export function cardNumberValid(s: string): boolean {
  const seps = new Set(s.replace(/\d/g, ''));
  if (seps.size > 1) return false;
  const d = s.replace(/[ -]/g, '');
  if (/^(\d)\1+$/.test(d)) return false;
  const n = d.length;
  const issuer =
    (/^4/.test(d) && (n === 13 || n === 16 || n === 19)) || // Visa
    (/^(?:5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720))/.test(d) && n === 16) || // Mastercard
    (/^3[47]/.test(d) && n === 15) || // Amex
    (/^(?:6011|65|64[4-9])/.test(d) && (n === 16 || n === 19)) || // Discover
    (/^35(?:2[89]|[3-8]\d)/.test(d) && n >= 16 && n <= 19) || // JCB
    (/^3(?:0[0-5]|[68])/.test(d) && n >= 14 && n <= 19); // Diners
  return issuer && luhnValid(d);
}

// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: Record<string, number> = Object.fromEntries(
  ('AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ' +
    'ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 ' +
    'LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 ' +
    'RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20')
    .split(' ')
    .map((e) => [e.slice(0, 2), Number(e.slice(2))]),
);

// IBAN: registered country, its exact length, and the ISO 7064 mod-97 check equal to 1.
export function ibanValid(s: string): boolean {
  const v = s.replace(/ /g, '').toUpperCase();
  if (IBAN_LENGTHS[v.slice(0, 2)] !== v.length) return false;
  const r = v.slice(4) + v.slice(0, 4);
  let rem = 0;
  for (const ch of r) {
    const c = ch.charCodeAt(0);
    const val = c >= 65 ? String(c - 55) : ch;
    for (const digit of val) rem = (rem * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

// Decodes base58 into bytes; undefined for characters outside the alphabet.
export function base58Decode(s: string): Uint8Array | undefined {
  let n = 0n;
  for (const ch of s) {
    const v = B58.indexOf(ch);
    if (v < 0) return undefined;
    n = n * 58n + BigInt(v);
  }
  const bytes: number[] = [];
  while (n > 0n) { bytes.unshift(Number(n & 0xffn)); n >>= 8n; }
  for (const ch of s) { if (ch !== '1') break; bytes.unshift(0); }
  return Uint8Array.from(bytes);
}

// Bitcoin WIF private key: base58check with version 0x80 and a 32-byte key (+0x01 if compressed).
export function bitcoinWifValid(s: string): boolean {
  const b = base58Decode(s);
  if (!b || (b.length !== 37 && b.length !== 38) || b[0] !== 0x80) return false;
  if (b.length === 38 && b[33] !== 0x01) return false;
  const body = b.subarray(0, b.length - 4);
  const sum = createHash('sha256').update(createHash('sha256').update(body).digest()).digest();
  return sum.subarray(0, 4).equals(Buffer.from(b.subarray(b.length - 4)));
}

// Rejects values that name a secret instead of holding one: `process.env.X`, `${X}`, `getToken()`,
// `config.api.token`, another variable's NAME, a documentation placeholder. A literal token
// never looks like these.
export function literalValue(value: string): boolean {
  const v = value.replace(/^["'`]+|["'`,;)\]}]+$/g, '');
  if (v.length < 4 || placeholderValue(v)) return false;
  if (/[(){}<>$%[]/.test(v) || v.startsWith('/')) return false; // calls, templates, regex literals
  if (/^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$/.test(v)) return false; // dotted property path
  if (/^[A-Z]+$|^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(v)) return false; // another variable's NAME
  return true;
}

const PLACEHOLDER_WORD = 'pass(?:word|wd)?|pwd|secret|change[-_]?(?:me|it)|replace[-_]?me|example|placeholder|dummy|test|sample|redacted|hunter2|user(?:name)?|foo|bar|baz';
const PLACEHOLDER_NOUN = 'key|token|secret|password|pass|pwd|id|value';
const PLACEHOLDER = new RegExp(
  String.raw`^(?:(?:${PLACEHOLDER_WORD})\d{0,4}|(?:your|my)(?:[-_][a-z]{1,12}){0,3}[-_](?:${PLACEHOLDER_NOUN})(?:[-_]here)?|x{3,}|\*{3,}|<[^<>]*>|\$\{[^{}]*\}|\{\{[^{}]*\}\})$`,
  'i',
);

// A documentation placeholder, WHOLLY: a stand-in word (maybe with a counter or year, as in
// `changeme123`), a `your-api-key-here` phrase, a mask (`xxxx`, `****`) or a template
// reference (`<token>`, `${TOKEN}`, `{{ token }}`). Whole-value only, as a boundary allowlist
// must explain the whole secret: `changeme` before or after a real secret explains nothing.
export function placeholderValue(value: string): boolean {
  return PLACEHOLDER.test(value);
}

