// The scanning engine: keyword prefilter → regex → secret → entropy → validator → allowlists
// (per mode, see allow.ts), over bounded segments of the input. Pure: text in, findings out.
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
import { fingerprint } from './fingerprint.js';
import { allowlisted, allowsWholeFile, globalAllowlists, ruleAllowTest, type AllowTest } from './allow.js';
import type { Allowlist, Finding, Rule, ScanMode, ScanOptions, Scanner } from './types.js';

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
  ignore: ReadonlySet<string> | undefined; // undefined when empty: no hashing at all
}

const WORD_DOT_DASH = /[\w.-]/;
const RULE = 2 ** 32; // work keys: rule order * RULE + (segment offset + 1); offset 0: whole segment

// Characters an engine scans on the reference path before it builds the anchored plan: about
// 10 ms of scanning, a tenth of what the plan costs to build.
export const PLAN_AFTER = 1 << 20;

export interface EngineOptions {
  // Characters to scan on the reference path before building the anchored plan; 0 builds it now.
  planAfter?: number;
  // Which allowlists apply (see allow.ts); boundary unless a caller asks for hygiene.
  mode?: ScanMode;
}

// Characters of context kept on each side of a match when a rule re-checks a reduced secret,
// so its lookarounds see what they saw around the original match.
const RECHECK_CONTEXT = 64;

// Drops a rule's findings by its own filters: entropy (and, like gitleaks, a digit for generic
// rules: Go's RE2 has no lookahead to say so in the regex) and a validator.
function passes(rule: Rule, secret: string, entropy: number): boolean {
  if (rule.entropy > 0) {
    if (entropy <= rule.entropy) return false;
    if (rule.id.startsWith('generic') && !/\d/.test(secret)) return false;
  }
  return !rule.validate || rule.validate(secret);
}

// The secret of one match and its span in the matched string; undefined when the group is empty.
function secretOf(rule: Rule, m: RegExpExecArray): { secret: string; span: [number, number] } | undefined {
  let g = rule.secretGroup;
  if (g === 0) for (let k = 1; k < m.length; k++) if (m[k]) { g = k; break; }
  const secret = m[g] ?? '';
  const span = m.indices![g];
  return secret && span ? { secret, span } : undefined;
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
  readonly mode: ScanMode;
  private readonly allow: Array<AllowTest | undefined>;
  private readonly recheck: Array<RegExp | undefined>; // per rule, built on first use

  constructor(readonly rules: readonly Rule[], readonly global: readonly Allowlist[], opts: EngineOptions = {}) {
    this.planAfter = opts.planAfter ?? PLAN_AFTER;
    this.mode = opts.mode ?? 'boundary';
    const lists = globalAllowlists(global, this.mode);
    this.allow = rules.map((r) => ruleAllowTest(r, lists));
    this.recheck = new Array<RegExp | undefined>(rules.length);
    if (this.planAfter <= 0) this.plan = planRules(rules);
    this.gates = new Uint32Array(rules.length);
    this.pathOnly = rules.filter((r) => !r.regex && r.path);
    this.skipsFile = this.mode === 'hygiene' ? global.flatMap((a) => allowsWholeFile(a) ?? []) : [];
    this.prefilter = new KeywordPrefilter(rules.map((r) => (r.regex ? r.keywords : [])));
    this.marks = new Uint32Array(rules.length);
  }

  // Whether scans use the anchored path (its plan is built).
  get anchored(): boolean {
    return this.plan !== undefined;
  }

  scan(text: string, opts: ScanOptions = {}): Finding[] {
    return this.run(text, opts.path, opts.maxFindings ?? Infinity, opts.exhaustive === true, opts.ignore);
  }

  first(text: string, opts: ScanOptions = {}): Finding | undefined {
    return this.run(text, opts.path, 1, opts.exhaustive === true, opts.ignore)[0];
  }

  private run(text: string, rawPath: string | undefined, max: number, exhaustive: boolean, ignore: ReadonlySet<string> | undefined): Finding[] {
    const path = rawPath?.includes('\\') ? rawPath.replace(/\\/g, '/') : rawPath;
    if (path !== undefined && this.skipsFile.some((allows) => allows(path))) return [];
    const ctx: Ctx = { text, seg: text, base: 0, lines: new LineIndex(text), path, hits: [], max, ignore: ignore?.size ? ignore : undefined };
    if (path !== undefined) {
      for (const rule of this.pathOnly) {
        if (ctx.hits.length >= max) break;
        if (!rule.path!.test(path)) continue;
        // The path is the finding here, and at a boundary the writer chose it: no allowlist.
        if (this.mode === 'hygiene' && rule.allowlists.some((a) => allowlisted(a, path, () => path, () => path, path))) continue;
        if (ctx.ignore?.has(fingerprint(path))) continue;
        const order = this.rules.indexOf(rule);
        ctx.hits.push({ order, rank: this.rank(order), start: 0, end: 0, secret: path, entropy: 0 });
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
    const found = secretOf(rule, m);
    if (!found) return;
    const { secret, span } = found;
    const entropy = shannonEntropy(secret);
    if (!passes(rule, secret, entropy)) return;
    const allow = this.allow[order];
    if (allow) {
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
      const stillFound = (rest: string): boolean => this.stillFound(order, rule, seg, m, span, rest);
      if (allow({ secret, match, line, path, stillFound })) return;
    }
    // Dropped before the dedupe, not after: an ignored value must not hide another rule's
    // overlapping finding (a real secret glued to a known dummy).
    if (ctx.ignore?.has(fingerprint(secret))) return;
    ctx.hits.push({ order, rank: this.rank(order), start: ctx.base + span[0], end: ctx.base + span[1], secret, entropy });
  }

  // Whether the rule reports something when the secret of match m in seg is replaced by `rest`:
  // its regex over the match (with some context) rewritten so, then its own filters.
  private stillFound(order: number, rule: Rule, seg: string, m: RegExpExecArray, span: [number, number], rest: string): boolean {
    const from = Math.max(0, m.index - RECHECK_CONTEXT);
    const to = Math.min(seg.length, m.index + m[0].length + RECHECK_CONTEXT);
    const text = seg.slice(from, span[0]) + rest + seg.slice(span[1], to);
    // A copy: the rule's own regex is mid-scan (its lastIndex belongs to the caller's loop).
    const re = (this.recheck[order] ??= new RegExp(rule.regex!.source, rule.regex!.flags));
    re.lastIndex = 0;
    for (let r = re.exec(text); r; r = re.exec(text)) {
      if (r[0].length === 0) { re.lastIndex++; continue; }
      const f = secretOf(rule, r);
      if (f && passes(rule, f.secret, shannonEntropy(f.secret))) return true;
    }
    return false;
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
      return {
        ruleId: rule.id, description: rule.description, line, column, redacted, fingerprint: fingerprint(h.secret),
        entropy: Math.round(h.entropy * 1000) / 1000,
      };
    });
  }
}
