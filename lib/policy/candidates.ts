// The texts one request contributes to DLP, each labelled with where it came from, scanned by
// the secret scanner in one call (one keyword-prefilter pass instead of one per fragment).
import { collectDecodings, forEachDecoding, normalizeText, stripNoise } from './decoders.js';

// The part of lib/secrets' Scanner the engine needs (structural, so tests can pass a fake).
export interface PatternScanner {
  first(text: string, opts?: { ignore?: ReadonlySet<string> }): { ruleId: string; line: number } | undefined;
}

export interface Candidate { where: string; text: string }

// Shortest text worth a pattern scan: the shortest core patterns need ~10 characters.
const MIN_SCAN = 8;
// Strings shorter than this are not tried as hex/base64/base32 (the reference's 10+ rule).
export const MIN_DECODE = 10;
// Nesting depth for decoded layers (base64 inside hex inside percent-encoding...).
export const DECODE_DEPTH = 3;

// An AWS SigV4 credential scope after a key id (`X-Amz-Credential=` of a presigned URL,
// `Credential=` of an `AWS4-HMAC-SHA256` Authorization header): `/20261207/us-east-1/s3/
// aws4_request`, slashes raw or percent-encoded, ending the value.
const SCOPE_SLASH = '(?:/|%2[Ff])';
const SIGV4_SCOPE = String.raw`${SCOPE_SLASH}20\d{6}${SCOPE_SLASH}[a-z]{2}(?:-[a-z]+){1,2}-\d${SCOPE_SLASH}[a-z0-9-]{2,32}${SCOPE_SLASH}aws4_request(?![^\s&,;"'\x60])`;
const SIGV4_KEY_ID = new RegExp(String.raw`(?<![A-Za-z0-9])A[KS]IA[A-Z2-7]{16}(?=${SIGV4_SCOPE})`, 'g');
const SIGV4_HINT = /A[KS]IA[A-Z2-7]{16}(?:\/|%2[Ff])20/;

// The access key id of a SigV4 credential is the public half of a signing key (the signature
// is the proof), so it is left out of what DLP scans; only a 20-character id followed by
// exactly a credential scope is, so anything appended (a secret key) breaks the shape and the
// id is scanned, and every other byte of the text is scanned as sent.
export function withoutSigV4KeyIds(text: string): string {
  return SIGV4_HINT.test(text) ? text.replace(SIGV4_KEY_ID, '') : text;
}

// An ordered, de-duplicated list of labelled texts. Specific labels are added before broad
// ones ("query value" before "URL") so a finding is attributed to the most precise place.
export class Candidates {
  readonly items: Candidate[] = [];
  private readonly seen = new Set<string>();
  private readonly decoded = new Set<string>();

  add(where: string, text: string): void {
    if (text.length >= MIN_SCAN) this.push(where, withoutSigV4KeyIds(normalizeText(text)));
  }

  // Adds `text` (after `prefix`, which gives patterns their key context, e.g. `password=`),
  // its noise-stripped form when `strip`, and every printable decoding of it.
  addDecoded(where: string, text: string, opts: { strip?: boolean; prefix?: string } = {}): void {
    const strip = opts.strip ?? true;
    const norm = withoutSigV4KeyIds(normalizeText(text));
    if (norm.length + (opts.prefix?.length ?? 0) >= MIN_SCAN) this.push(where, opts.prefix ? opts.prefix + norm : norm);
    if (norm.length < MIN_DECODE || !this.once(this.decoded, norm)) return;
    if (referenceMode) {
      if (strip) {
        const stripped = stripNoise(norm);
        if (stripped !== norm) this.add(`${where} (separators removed)`, stripped);
      }
      forEachDecoding(norm, DECODE_DEPTH, (how, decoded) => this.add(`${how}-decoded ${where}`, decoded), strip);
      return;
    }
    // Fast path: the same texts, from a memo of the pure part of the work (see derivedTexts).
    const d = derivedTexts(norm, strip);
    if (d.stripped !== undefined) this.push(`${where} (separators removed)`, d.stripped);
    const { decoded } = d;
    for (let i = 0; i < decoded.length; i += 2) this.push(`${decoded[i]}-decoded ${where}`, decoded[i + 1]!);
  }

  // The items' texts joined by '\n', as scanCandidates hands them to the scanner (built once,
  // for the scanner and the canary stage; items added later are included).
  joined(): string {
    if (this.joinedFor !== this.items.length) {
      this.joinedText = joinTexts(this.items);
      this.joinedFor = this.items.length;
    }
    return this.joinedText;
  }

  private joinedText = '';
  private joinedFor = 0;

  private push(where: string, text: string): void {
    if (this.once(this.seen, text)) this.items.push({ where, text });
  }

  // Short texts are de-duplicated (URLs repeat pieces); hashing long ones costs more than
  // the rare duplicate scan it saves.
  private once(set: Set<string>, text: string): boolean {
    if (text.length > DEDUPE_MAX) return true;
    if (set.has(text)) return false;
    set.add(text);
    return true;
  }
}

const DEDUPE_MAX = 512;

// Reference mode: every stage as first written, no memo and no skipped work. Only the
// differential test (test/unit/evaluate-fastpath.test.ts) turns it on, through evaluate()'s
// `reference` option, for the span of one synchronous call.
let referenceMode = false;

export function withReferenceMode<T>(on: boolean, fn: () => T): T {
  const was = referenceMode;
  referenceMode = on;
  try {
    return fn();
  } finally {
    referenceMode = was;
  }
}

export function inReferenceMode(): boolean {
  return referenceMode;
}

// What addDecoded derives from a normalized text, as Candidates.add would push it: the
// noise-stripped form (when `strip` and different) and each decoding of 8+ characters
// (flattened how/text pairs), each already normalized with SigV4 key ids removed. A pure
// function of (text, strip), so it is memoized for short texts: hosts, path segments, query
// values and header values repeat from request to request. The memo is bounded in entries
// and characters, and is dropped whole when full (an agent cycling unique values only makes it
// miss). Only the work is cached, never a verdict: every text is still pushed and scanned.
interface Derived { stripped: string | undefined; decoded: string[] }

const MEMO_TEXT_MAX = 256;
const MEMO_ENTRIES = 4096;
const MEMO_CHARS = 4 << 20;
const memo = [new Map<string, Derived>(), new Map<string, Derived>()];
let memoChars = 0;

function derivedTexts(norm: string, strip: boolean): Derived {
  const cacheable = norm.length <= MEMO_TEXT_MAX;
  const map = memo[strip ? 1 : 0]!;
  if (cacheable) {
    const hit = map.get(norm);
    if (hit) return hit;
  }
  let stripped: string | undefined;
  if (strip) {
    const s = stripNoise(norm);
    if (s !== norm && s.length >= MIN_SCAN) stripped = withoutSigV4KeyIds(normalizeText(s));
  }
  const raw: string[] = [];
  collectDecodings(norm, DECODE_DEPTH, strip, MIN_SCAN, raw);
  let chars = norm.length + (stripped?.length ?? 0);
  for (let i = 1; i < raw.length; i += 2) {
    raw[i] = withoutSigV4KeyIds(normalizeText(raw[i]!));
    chars += raw[i]!.length;
  }
  const d: Derived = { stripped, decoded: raw };
  if (cacheable) {
    if (memo[0]!.size + memo[1]!.size >= MEMO_ENTRIES || memoChars + chars > MEMO_CHARS) {
      memo[0]!.clear();
      memo[1]!.clear();
      memoChars = 0;
    }
    map.set(norm, d);
    memoChars += chars;
  }
  return d;
}

export interface Hit { where: string; rule: string }

// Scans all candidates with one scanner call and maps the finding's line back to its label.
// `joined`: joinTexts(items), when the caller has it already.
export function scanCandidates(scanner: PatternScanner, items: readonly Candidate[], joined?: string): Hit | undefined {
  if (items.length === 0) return undefined;
  const finding = scanner.first(joined ?? joinTexts(items));
  if (!finding) return undefined;
  const starts: number[] = [];
  let line = 1;
  for (const c of items) {
    starts.push(line);
    line += countNewlines(c.text) + 1;
  }
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= finding.line) lo = mid;
    else hi = mid - 1;
  }
  return { where: items[lo]!.where, rule: finding.ruleId };
}

export function joinTexts(items: readonly Candidate[]): string {
  let out = '';
  for (let i = 0; i < items.length; i++) out += i === 0 ? items[i]!.text : `\n${items[i]!.text}`;
  return out;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
