// The scanning engine: keyword prefilter → regex → secret → entropy → validator → allowlists →
// `gitleaks:allow`, over bounded segments of the input. Pure: text in, findings out.
//
// Reference path: a keyword prefilter per segment, then every rule whose keyword occurs runs its
// regex over the whole segment. Anchored path (plan.ts): one automaton pass finds every anchor
// and keyword occurrence; each anchored rule's regex then runs (sticky) only at its anchors, on
// the same segment string, so `$`, lookbehinds and `\b` see exactly what they would there. Same
// findings; the anchored path is ~3× faster but its plan costs ~100 ms to build, so an engine
// builds it only once it has scanned enough text to repay that (small pushes never do).
import { ANCHOR, planRules, setsAt, type Plan } from './plan.js';
import { column } from './charset.js';
import { KeywordPrefilter } from './prefilter.js';
import type { Hits } from './automaton.js';
import { LIMITS, LineIndex, redact, segments, shannonEntropy } from './text.js';
import type { Allowlist, Finding, Rule, ScanOptions, Scanner } from './types.js';

interface Hit {
  order: number; // index of the rule in this engine
  rank: number; // lower wins a dedupe: rule order, generic rules last
  start: number; // secret span in the whole text
  end: number;
  secret: string;
  entropy: number;
}

// One scan's shared state: the segment being scanned and where findings go.
interface Ctx {
  text: string;
  seg: string;
  base: number; // offset of seg in text
  lines: LineIndex;
  path: string | undefined;
  hits: Hit[];
  max: number;
}

const WORD_DOT_DASH = /[\w.-]/;
const RULE = 2 ** 32; // work keys: rule order * RULE + (segment offset + 1); offset 0: whole segment

// Characters an engine scans on the reference path before it builds the anchored plan: about
// 10 ms of scanning, a tenth of what the plan costs to build.
export const PLAN_AFTER = 1 << 20;

export interface EngineOptions {
  // Characters to scan on the reference path before building the anchored plan; 0 builds it now.
  planAfter?: number;
}

// One test for "any of these regexes matches": an alternation per flag set, so a path is read
// once per group instead of once per regex (gitleaks's global allowlist has 25 path regexes).
function anyOf(regexes: readonly RegExp[]): (s: string) => boolean {
  const groups = new Map<string, string[]>();
  const single: RegExp[] = [];
  for (const r of regexes) {
    if (/\\[1-9k]/.test(r.source) || r.global || r.sticky) single.push(r); // numbered backreferences, lastIndex
    else groups.set(r.flags, [...(groups.get(r.flags) ?? []), `(?:${r.source})`]);
  }
  const all = [...[...groups].map(([flags, srcs]) => new RegExp(srcs.join('|'), flags)), ...single];
  return (s) => all.some((r) => r.test(s));
}

// Whether an allowlist's path criterion alone allows a whole file (gitleaks skips such files).
function allowsWholeFile(a: Allowlist): ((path: string) => boolean) | undefined {
  if (a.paths.length === 0 || (a.condition === 'AND' && (a.regexes.length > 0 || a.stopwords.length > 0))) return undefined;
  return anyOf(a.paths);
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
  private plan: Plan | undefined;
  private readonly planAfter: number;
  private scanned = 0;
  private readonly gates: Uint32Array;
  private stamp = 0;
  private work = new Float64Array(16); // small: grows (and V8 sees that path) on early scans
  private readonly pathOnly: Rule[];
  private readonly skipsFile: Array<(path: string) => boolean>;
  private readonly prefilter: KeywordPrefilter;
  private readonly marks: Uint32Array;

  constructor(readonly rules: readonly Rule[], readonly global: readonly Allowlist[], opts: EngineOptions = {}) {
    this.planAfter = opts.planAfter ?? PLAN_AFTER;
    if (this.planAfter <= 0) this.plan = planRules(rules);
    this.gates = new Uint32Array(rules.length);
    this.pathOnly = rules.filter((r) => !r.regex && r.path);
    this.skipsFile = global.flatMap((a) => allowsWholeFile(a) ?? []);
    this.prefilter = new KeywordPrefilter(rules.map((r) => (r.regex ? r.keywords : [])));
    this.marks = new Uint32Array(rules.length);
  }

  // Whether scans use the anchored path (its plan is built).
  get anchored(): boolean {
    return this.plan !== undefined;
  }

  scan(text: string, opts: ScanOptions = {}): Finding[] {
    return this.run(text, opts.path, opts.maxFindings ?? Infinity, opts.exhaustive === true);
  }

  first(text: string, opts: ScanOptions = {}): Finding | undefined {
    return this.run(text, opts.path, 1, opts.exhaustive === true)[0];
  }

  private run(text: string, rawPath: string | undefined, max: number, exhaustive: boolean): Finding[] {
    const path = rawPath?.includes('\\') ? rawPath.replace(/\\/g, '/') : rawPath;
    if (path !== undefined && this.skipsFile.some((allows) => allows(path))) return [];
    const ctx: Ctx = { text, seg: text, base: 0, lines: new LineIndex(text), path, hits: [], max };
    if (path !== undefined) {
      for (const rule of this.pathOnly) {
        if (ctx.hits.length >= max) break;
        if (rule.path!.test(path) && !rule.allowlists.some((a) => allowlisted(a, path, () => path, () => path, path))) {
          const order = this.rules.indexOf(rule);
          ctx.hits.push({ order, rank: this.rank(order), start: 0, end: 0, secret: path, entropy: 0 });
        }
      }
    }
    if (exhaustive || !this.readyToAnchor(text.length)) this.runReference(ctx);
    else this.runAnchored(ctx, this.plan!);
    return this.finish(ctx.hits, ctx.lines);
  }

  private readyToAnchor(chars: number): boolean {
    if (this.plan) return true;
    this.scanned += chars;
    if (this.scanned < this.planAfter) return false;
    this.plan = planRules(this.rules);
    return true;
  }

  private nextStamp(): number {
    if (++this.stamp === 0xffffffff) { this.gates.fill(0); this.marks.fill(0); this.stamp = 1; }
    return this.stamp;
  }

  private runAnchored(ctx: Ctx, plan: Plan): void {
    const { text } = ctx;
    const found = plan.scanner.scan(text);
    if (text.length <= LIMITS.maxLine) {
      this.runSegment(ctx, plan, 0, text.length, found, 0);
      return;
    }
    let first = 0;
    for (const [segStart, segEnd] of segments(text)) {
      if (ctx.hits.length >= ctx.max) break;
      while (first < found.count && found.ends[first]! < segStart) first++;
      this.runSegment(ctx, plan, segStart, segEnd, found, first);
    }
  }

  // Runs the rules with work in text[segStart, segEnd); `first` is its first automaton hit.
  private runSegment(ctx: Ctx, plan: Plan, segStart: number, segEnd: number, found: Hits, first: number): void {
    const { text, hits, max } = ctx;
    const stamp = this.nextStamp();
    const n = this.collect(plan, text, segStart, segEnd, found, first, stamp);
    if (n === 0) return;
    const work = n === 1 ? this.work : this.work.subarray(0, n).sort();
    ctx.seg = segStart === 0 && segEnd === text.length ? text : text.slice(segStart, segEnd);
    ctx.base = segStart;
    const plans = plan.rules;
    for (let i = 0; i < n && hits.length < max;) {
      const order = Math.floor(work[i]! / RULE);
      let j = i + 1;
      while (j < n && Math.floor(work[j]! / RULE) === order) j++;
      const rule = this.rules[order]!;
      const how = plans[order]!;
      const pathOk = !rule.path || (ctx.path !== undefined && rule.path.test(ctx.path));
      if (pathOk && (!how.gated || this.gates[order] === stamp)) {
        if (work[i]! % RULE === 0) this.runWhole(order, rule, ctx);
        else this.runSticky(order, rule, how.sticky!, work, i, j, ctx);
      }
      i = j;
    }
  }

  // Turns the automaton's hits inside one segment into work keys (rule, position) in this.work
  // and keyword gates in this.gates; returns the number of keys.
  private collect(plan: Plan, text: string, segStart: number, segEnd: number, found: Hits, first: number, stamp: number): number {
    const { scanner, actions, atSegmentStart, whole, rules: plans } = plan;
    const { outStart, outIds } = scanner;
    const { start: actStart, back, kind, rule: actRule } = actions;
    let n = 0;
    for (let h = first; h < found.count; h++) {
      const end = found.ends[h]!;
      if (end >= segEnd) break;
      const state = found.states[h]!;
      for (let o = outStart[state]!, oEnd = outStart[state + 1]!; o < oEnd; o++) {
        const p = outIds[o]!;
        for (let a = actStart[p]!, stop = actStart[p + 1]!; a < stop; a++) {
          const at = end - back[a]!;
          if (at < segStart) continue;
          if (kind[a] === ANCHOR) n = this.push(n, actRule[a]! * RULE + (at - segStart + 1));
          else this.gates[actRule[a]!] = stamp;
        }
      }
    }
    if (segStart > 0 && segStart < segEnd) {
      for (const a of atSegmentStart[column(text.charCodeAt(segStart))]!) {
        if (setsAt(text, segStart, a.sets)) n = this.push(n, a.rule * RULE + 1);
      }
    }
    for (const r of whole) if (!plans[r]!.gated || this.gates[r] === stamp) n = this.push(n, r * RULE);
    return n;
  }

  private push(n: number, key: number): number {
    if (n === this.work.length) {
      const w = new Float64Array(n * 2);
      w.set(this.work);
      this.work = w;
    }
    this.work[n] = key;
    return n + 1;
  }

  // Tries the rule at each anchor position, in order, exactly where a global regex search of the
  // segment would: `from` is where that search would resume after the previous match.
  private runSticky(order: number, rule: Rule, re: RegExp, work: Float64Array, i: number, j: number, ctx: Ctx): void {
    let from = 0;
    for (let k = i; k < j; k++) {
      const at = (work[k]! % RULE) - 1;
      if (at < from) continue;
      re.lastIndex = at;
      const m = re.exec(ctx.seg);
      if (!m) continue;
      this.consider(order, rule, m, from, ctx);
      from = at + m[0].length; // anchored regexes never match the empty string
      if (ctx.hits.length >= ctx.max) return;
    }
  }

  // The reference: every rule whose keywords occur in a segment runs over the whole segment.
  private runReference(ctx: Ctx): void {
    const { text, hits, max } = ctx;
    const { prefilter, marks } = this;
    for (const [segStart, segEnd] of segments(text)) {
      if (hits.length >= max) break;
      const stamp = this.nextStamp();
      prefilter.mark(text, segStart, segEnd, marks, stamp);
      ctx.seg = segStart === 0 && segEnd === text.length ? text : text.slice(segStart, segEnd);
      ctx.base = segStart;
      for (let i = 0; i < this.rules.length && hits.length < max; i++) {
        const rule = this.rules[i]!;
        if (!rule.regex) continue;
        if (rule.keywords.length > 0 && marks[i] !== stamp) continue;
        if (rule.path && (ctx.path === undefined || !rule.path.test(ctx.path))) continue;
        this.runWhole(i, rule, ctx);
      }
    }
  }

  private runWhole(order: number, rule: Rule, ctx: Ctx): void {
    const re = rule.regex!;
    re.lastIndex = 0;
    for (;;) {
      const from = re.lastIndex;
      const m = re.exec(ctx.seg);
      if (!m) return;
      if (m[0].length === 0) { re.lastIndex++; continue; }
      this.consider(order, rule, m, from, ctx);
      if (ctx.hits.length >= ctx.max) return;
    }
  }

  // One regex match of a rule in ctx.seg → a finding, unless a filter drops it.
  private consider(order: number, rule: Rule, m: RegExpExecArray, from: number, ctx: Ctx): void {
    let g = rule.secretGroup;
    if (g === 0) for (let k = 1; k < m.length; k++) if (m[k]) { g = k; break; }
    const secret = m[g] ?? '';
    const span = m.indices![g];
    if (!secret || !span) return;
    const entropy = shannonEntropy(secret);
    if (rule.entropy > 0) {
      if (entropy <= rule.entropy) return;
      // gitleaks: generic rules also need a digit (Go's RE2 has no lookahead to say so).
      if (rule.id.startsWith('generic') && !/\d/.test(secret)) return;
    }
    const { seg, base, text, lines, path } = ctx;
    let matchStart = m.index;
    if (rule.backPrefix) {
      const limit = Math.max(from, matchStart - rule.backPrefix);
      while (matchStart > limit && WORD_DOT_DASH.test(seg[matchStart - 1]!)) matchStart--;
    }
    const mStart = base + matchStart;
    const mEnd = base + m.index + m[0].length;
    let lineText: string | undefined;
    const line = (): string => (lineText ??= lines.linesAround(mStart, mEnd));
    const match = (): string => text.slice(mStart, mEnd);
    if (rule.validate && !rule.validate(secret)) return;
    if (this.global.some((a) => allowlisted(a, secret, match, line, path))) return;
    if (rule.allowlists.some((a) => allowlisted(a, secret, match, line, path))) return;
    if (line().includes('gitleaks:allow')) return;
    ctx.hits.push({ order, rank: this.rank(order), start: base + span[0], end: base + span[1], secret, entropy });
  }

  private rank(order: number): number {
    return this.rules[order]!.id.startsWith('generic') ? order + this.rules.length : order;
  }

  // Drops duplicates: the same span (any rules, or overlapping windows) or a core and a gitleaks
  // rule overlapping on one secret; keeps the earlier rule. Sorts by position.
  private finish(hits: Hit[], lines: LineIndex): Finding[] {
    if (hits.length === 0) return [];
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
