// The texts one request contributes to DLP, each labelled with where it came from, scanned by
// the secret scanner in one call (one keyword-prefilter pass instead of one per fragment).
import { forEachDecoding, normalizeText, stripNoise } from './decoders.js';

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
    if (strip) {
      const stripped = stripNoise(norm);
      if (stripped !== norm) this.add(`${where} (separators removed)`, stripped);
    }
    forEachDecoding(norm, DECODE_DEPTH, (how, decoded) => this.add(`${how}-decoded ${where}`, decoded), strip);
  }

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

export interface Hit { where: string; rule: string }

// Scans all candidates with one scanner call and maps the finding's line back to its label.
export function scanCandidates(scanner: PatternScanner, items: readonly Candidate[]): Hit | undefined {
  if (items.length === 0) return undefined;
  const starts: number[] = [];
  let line = 1;
  for (const c of items) {
    starts.push(line);
    line += countNewlines(c.text) + 1;
  }
  const finding = scanner.first(items.map((c) => c.text).join('\n'));
  if (!finding) return undefined;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= finding.line) lo = mid;
    else hi = mid - 1;
  }
  return { where: items[lo]!.where, rule: finding.ruleId };
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
