// The scanning engine: keyword prefilter → regex → secret → entropy → validator → allowlists →
// `gitleaks:allow`, over bounded segments of the input. Pure: text in, findings out.
import { KeywordPrefilter } from './prefilter.js';
import { LineIndex, redact, segments, shannonEntropy } from './text.js';
import type { Allowlist, Finding, Rule, ScanOptions, Scanner } from './types.js';

interface Hit {
  order: number; // index of the rule in this engine
  rank: number; // lower wins a dedupe: rule order, generic rules last
  start: number; // secret span in the whole text
  end: number;
  secret: string;
  entropy: number;
}

const WORD_DOT_DASH = /[\w.-]/;

// An allowlist whose path criterion alone allows a whole file (gitleaks skips such files).
function pathAllowsFile(a: Allowlist, path: string): boolean {
  if (!a.paths.some((r) => r.test(path))) return false;
  return a.condition === 'OR' || (a.regexes.length === 0 && a.stopwords.length === 0);
}

// gitleaks's allowlist test for one finding (commits are not applicable to scanned text).
export function allowlisted(a: Allowlist, secret: string, match: () => string, line: () => string, path: string | undefined): boolean {
  const target = (): string => (a.regexTarget === 'match' ? match() : a.regexTarget === 'line' ? line() : secret);
  const pathHit = (): boolean => path !== undefined && a.paths.some((r) => r.test(path));
  const regexHit = (): boolean => { const t = target(); return a.regexes.some((r) => r.test(t)); };
  const stopHit = (): boolean => { const s = secret.toLowerCase(); return a.stopwords.some((w) => s.includes(w)); };
  if (a.condition === 'AND') {
    const checks: Array<() => boolean> = [];
    if (a.paths.length) checks.push(pathHit);
    if (a.regexes.length) checks.push(regexHit);
    if (a.stopwords.length) checks.push(stopHit);
    return checks.length > 0 && checks.every((c) => c());
  }
  return (a.paths.length > 0 && pathHit()) || (a.regexes.length > 0 && regexHit()) || (a.stopwords.length > 0 && stopHit());
}

// Runs an ordered list of rules; earlier rules win when two findings cover the same secret.
export class Engine implements Scanner {
  private readonly prefilter: KeywordPrefilter;
  private readonly marks: Uint32Array;
  private stamp = 0;
  private readonly pathOnly: Rule[];

  constructor(readonly rules: readonly Rule[], readonly global: readonly Allowlist[]) {
    this.prefilter = new KeywordPrefilter(rules.map((r) => (r.regex ? r.keywords : [])));
    this.marks = new Uint32Array(rules.length);
    this.pathOnly = rules.filter((r) => !r.regex && r.path);
  }

  scan(text: string, opts: ScanOptions = {}): Finding[] {
    return this.run(text, opts.path, opts.maxFindings ?? Infinity);
  }

  first(text: string, opts: ScanOptions = {}): Finding | undefined {
    return this.run(text, opts.path, 1)[0];
  }

  private run(text: string, rawPath: string | undefined, max: number): Finding[] {
    const path = rawPath?.replace(/\\/g, '/');
    if (path !== undefined && this.global.some((a) => pathAllowsFile(a, path))) return [];
    const lines = new LineIndex(text);
    const hits: Hit[] = [];
    if (path !== undefined) {
      for (const rule of this.pathOnly) {
        if (hits.length >= max) break;
        if (rule.path!.test(path) && !rule.allowlists.some((a) => allowlisted(a, path, () => path, () => path, path))) {
          const order = this.rules.indexOf(rule);
          hits.push({ order, rank: this.rank(order), start: 0, end: 0, secret: path, entropy: 0 });
        }
      }
    }
    for (const [segStart, segEnd] of segments(text)) {
      if (hits.length >= max) break;
      const stamp = ++this.stamp;
      if (stamp === 0xffffffff) { this.marks.fill(0); this.stamp = 1; }
      this.prefilter.mark(text, segStart, segEnd, this.marks, this.stamp);
      const seg = segStart === 0 && segEnd === text.length ? text : text.slice(segStart, segEnd);
      for (let i = 0; i < this.rules.length && hits.length < max; i++) {
        const rule = this.rules[i]!;
        if (!rule.regex) continue;
        if (rule.keywords.length > 0 && this.marks[i] !== this.stamp) continue;
        if (rule.path && (path === undefined || !rule.path.test(path))) continue;
        this.runRule(i, rule, seg, segStart, text, lines, path, hits, max);
      }
    }
    return this.finish(hits, lines);
  }

  private runRule(order: number, rule: Rule, seg: string, base: number, text: string, lines: LineIndex, path: string | undefined, hits: Hit[], max: number): void {
    const re = rule.regex!;
    re.lastIndex = 0;
    for (;;) {
      const from = re.lastIndex;
      const m = re.exec(seg);
      if (!m) return;
      if (m[0].length === 0) { re.lastIndex++; continue; }
      let g = rule.secretGroup;
      if (g === 0) for (let k = 1; k < m.length; k++) if (m[k]) { g = k; break; }
      const secret = m[g] ?? '';
      const span = m.indices![g];
      if (!secret || !span) continue;
      const entropy = shannonEntropy(secret);
      if (rule.entropy > 0) {
        if (entropy <= rule.entropy) continue;
        // gitleaks: generic rules also need a digit (Go's RE2 has no lookahead to say so).
        if (rule.id.startsWith('generic') && !/\d/.test(secret)) continue;
      }
      let matchStart = m.index;
      if (rule.backPrefix) {
        const limit = Math.max(from, matchStart - rule.backPrefix);
        while (matchStart > limit && WORD_DOT_DASH.test(seg[matchStart - 1]!)) matchStart--;
      }
      const start = base + span[0];
      const end = base + span[1];
      const mStart = base + matchStart;
      const mEnd = base + m.index + m[0].length;
      let lineText: string | undefined;
      const line = (): string => (lineText ??= lines.linesAround(mStart, mEnd));
      const match = (): string => text.slice(mStart, mEnd);
      if (rule.validate && !rule.validate(secret)) continue;
      if (this.global.some((a) => allowlisted(a, secret, match, line, path))) continue;
      if (rule.allowlists.some((a) => allowlisted(a, secret, match, line, path))) continue;
      if (line().includes('gitleaks:allow')) continue;
      hits.push({ order, rank: this.rank(order), start, end, secret, entropy });
      if (hits.length >= max) return;
    }
  }

  private rank(order: number): number {
    return this.rules[order]!.id.startsWith('generic') ? order + this.rules.length : order;
  }

  // Drops duplicates: the same span (any rules, or overlapping windows) or a core and a gitleaks
  // rule overlapping on one secret; keeps the earlier rule. Sorts by position.
  private finish(hits: Hit[], lines: LineIndex): Finding[] {
    hits.sort((a, b) => a.start - b.start || a.rank - b.rank || b.end - a.end);
    const kept: Hit[] = [];
    for (const h of hits) {
      let dup = false;
      for (let k = kept.length - 1; k >= 0 && k >= kept.length - 64; k--) {
        const o = kept[k]!;
        if (o.end <= h.start && o.start !== h.start) continue;
        const sameRule = o.order === h.order;
        const sameSpan = o.start === h.start && o.end === h.end;
        const crossSet = this.rules[o.order]!.set !== this.rules[h.order]!.set;
        if ((sameRule && o.start === h.start) || sameSpan || (crossSet && h.start < o.end && o.start < h.end)) {
          if (h.rank < o.rank && !sameRule) kept[k] = h;
          dup = true;
          break;
        }
      }
      if (!dup) kept.push(h);
    }
    return kept.map((h) => {
      const rule = this.rules[h.order]!;
      const { line, column } = lines.position(h.start);
      const redacted = rule.regex ? redact(h.secret) : '(whole file)';
      return { ruleId: rule.id, description: rule.description, line, column, redacted, entropy: Math.round(h.entropy * 1000) / 1000 };
    });
  }
}
