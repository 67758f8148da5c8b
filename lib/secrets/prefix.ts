// Static analysis of a rule's regex: the character sequences every match must start with. The
// engine uses them as anchors and runs the regex only where one occurs. Every answer is a
// superset (more candidate positions, never fewer): an anchor can make a scan cheaper but can
// never hide a match. Anything the analysis cannot bound makes it give up (no anchors).
import { WORD, complement, disjoint, hasCol, intersect, keywordCharSets, letterCount, setSize, single, subset, union, type CharSet } from './charset.js';
import { parseRegex, type Node } from './regex-parse.js';

// One anchor: a match starts at the first of `sets`; `before`, when present, holds the
// character just before the match (column 0 at the start of the scanned text).
export interface Anchor {
  sets: CharSet[];
  before?: CharSet;
}

// How a rule's regex can be anchored: each match starts with one of `anchors`. `gated`: the
// anchors do not contain a keyword, so the keyword gate must still be checked separately.
export interface AnchorPlan {
  anchors: Anchor[];
  gated: boolean;
}

// A prefix of one path through the regex, its sets as a list from the last one back.
interface Prefix {
  last: Link | undefined;
  len: number;
  open: boolean; // can still be extended by what follows
  wordb: boolean; // a \b precedes the first set
  notAfter?: CharSet; // a negative lookbehind precedes the first set: the previous char is not in it
}
interface Link { set: CharSet; prev: Link | undefined }

const MAX_SETS = 48;
const MAX_PREFIXES = 64; // beyond this, prefixes stop growing (still valid, just shorter)
const HARD_LIMIT = 1024; // beyond this the regex is reported as having no usable prefix

const close = (p: Prefix): Prefix => (p.open ? { ...p, open: false } : p);
const extend = (p: Prefix, set: CharSet): Prefix => ({ ...p, last: { set, prev: p.last }, len: p.len + 1 });

function setsOf(p: Prefix): CharSet[] {
  const out = new Array<CharSet>(p.len);
  for (let l = p.last, i = p.len - 1; l; l = l.prev, i--) out[i] = l.set;
  return out;
}

// The one set a node consumes, if it always consumes exactly one character.
function singleSet(n: Node): CharSet | undefined {
  if (n.t === 'set') return n.s;
  if (n.t === 'seq' && n.items.length === 1) return singleSet(n.items[0]!);
  if (n.t === 'alt') {
    let s: CharSet | undefined;
    for (const a of n.alts) { const x = singleSet(a); if (!x) return undefined; s = s ? union(s, x) : x; }
    return s;
  }
  return undefined;
}

// The prefixes after matching `node`, given the prefixes before it. `stop` closes a prefix that
// is long enough for the caller (closing early is always valid: a shorter prefix).
function step(node: Node, cur: Prefix[], stop: (p: Prefix) => boolean): Prefix[] {
  const done = cur.filter((p) => !p.open || p.len >= MAX_SETS).map(close);
  const open = cur.filter((p) => p.open && p.len < MAX_SETS);
  if (open.length === 0) return done;
  let next: Prefix[];
  switch (node.t) {
    case 'set':
      next = open.map((p) => { const q = extend(p, node.s); return stop(q) ? close(q) : q; });
      break;
    case 'seq':
      next = node.items.reduce((acc, item) => step(item, acc, stop), open);
      break;
    case 'alt':
      next = node.alts.flatMap((a) => step(a, open, stop));
      break;
    case 'rep': {
      next = open;
      for (let k = 0; k < Math.min(node.min, MAX_SETS) && next.some((p) => p.open); k++) next = step(node.n, next, stop);
      // One optional copy is exact; beyond that the prefix stops here (still a valid prefix).
      if (node.max > node.min) next = node.min === 0 && node.max === 1 ? [...next, ...step(node.n, next, stop)] : next.map(close);
      break;
    }
    case 'wordb':
      next = open.map((p) => (p.len === 0 ? { ...p, wordb: true } : p));
      break;
    case 'lookbehind': {
      const s = node.neg ? singleSet(node.n) : undefined; // a positive one is ignored: a superset
      next = open.map((p) => (p.len === 0 && s ? { ...p, notAfter: p.notAfter ? union(p.notAfter, s) : s } : p));
      break;
    }
    case 'zero':
      next = open;
      break;
    case 'any':
      next = open.map(close);
      break;
  }
  const all = done.length ? [...done, ...next] : next;
  if (all.length > HARD_LIMIT) throw new Error('too many prefixes');
  return all.length > MAX_PREFIXES ? all.map(close) : all;
}

// What must precede a match, from a leading \b or negative lookbehind.
function contextOf(p: Prefix, first: CharSet): CharSet | undefined {
  let ctx: CharSet | undefined;
  if (p.wordb) {
    if (subset(first, WORD)) ctx = complement(WORD); // \b then a word char: previous is not one
    else if (disjoint(first, WORD)) ctx = WORD; // \b then a non-word char: previous is one
  }
  if (p.notAfter) {
    const allowed = complement(p.notAfter); // includes column 0: the start of text, non-ASCII
    ctx = ctx ? intersect(ctx, allowed) : allowed;
  }
  return ctx;
}

// Whether the prefix's last sets are certainly keyword kw (ASCII case-insensitively).
function endsWith(p: Prefix, kw: readonly CharSet[]): boolean {
  if (p.len < kw.length) return false;
  let l = p.last;
  for (let j = kw.length - 1; j >= 0; j--, l = l!.prev) if (!subset(l!.set, kw[j]!)) return false;
  return true;
}

// Every prefix a match can start with, or undefined when some path has no usable prefix.
// Prefixes end after the first keyword they certainly contain, if `keywords` are given.
export function regexPrefixes(source: string, flags: string, keywords: readonly string[] = []): Anchor[] | undefined {
  const kws = keywords.map(keywordCharSets);
  const stop = (p: Prefix): boolean => kws.some((kw) => endsWith(p, kw));
  let out: Prefix[];
  try {
    out = step(parseRegex(source, flags.includes('i')), [{ last: undefined, len: 0, open: true, wordb: false }], stop);
  } catch {
    return undefined;
  }
  if (out.length === 0 || out.some((p) => p.len === 0)) return undefined;
  return out.map((p) => {
    const sets = setsOf(p);
    return { sets, before: contextOf(p, sets[0]!) };
  });
}

// A set that a prefilter cannot treat as (nearly) one character: more than one letter's two cases.
const WIDE = 4;

// Splits narrow sets (up to 2 * WIDE columns, e.g. `[pousr]`, `[_-]`) into single characters
// and case pairs, so a keyword can be found in each alternative; at most `limit` results.
function expand(sets: CharSet[], limit = 64): CharSet[][] {
  let out: CharSet[][] = [[]];
  for (const s of sets) {
    const n = setSize(s);
    if (n <= 1 || n > WIDE * 2 || out.length * n > limit) {
      for (const o of out) o.push(s);
      continue;
    }
    const parts: CharSet[] = [];
    for (let c = 0; c < 128; c++) {
      if (!hasCol(s, c) || (c >= 65 && c <= 90 && hasCol(s, c + 32))) continue; // upper: with its twin
      parts.push(intersect(s, single(c, true))); // c, and its other case if s holds it
    }
    if (parts.length === 1) { for (const o of out) o.push(s); continue; } // one letter, both cases
    out = out.flatMap((o) => parts.map((p) => [...o, p]));
  }
  return out;
}

// The smallest end offset d + |kw| such that sets d..d+|kw|-1 only hold keyword kw's characters
// (as the prefilter matches them: ASCII case-insensitively), or -1.
function keywordEnd(sets: CharSet[], keywords: readonly string[]): number {
  let best = -1;
  for (const kw of keywords) {
    const k = keywordCharSets(kw);
    for (let d = 0; d + k.length <= sets.length && (best < 0 || d + k.length < best); d++) {
      let ok = true;
      for (let j = 0; j < k.length && ok; j++) ok = subset(sets[d + j]!, k[j]!);
      if (ok) { best = d + k.length; break; }
    }
  }
  return best;
}

// Rough frequency of each column in source code and text: only used to decide whether an
// anchor is selective enough to be worth it, never for correctness.
const FREQ: Float64Array = (() => {
  const f = new Float64Array(128).fill(0.002);
  const lower = 'etaoinsrlcudpmhfgbyvwkxjqz';
  const lf = [70, 55, 45, 45, 45, 45, 45, 45, 30, 30, 25, 25, 20, 20, 18, 15, 12, 10, 10, 8, 8, 5, 4, 3, 1, 1];
  for (let i = 0; i < 26; i++) f[lower.charCodeAt(i)] = lf[i]! / 1000;
  for (let c = 65; c <= 90; c++) f[c] = 0.004;
  for (let c = 48; c <= 57; c++) f[c] = 0.005;
  for (const ch of ' \n') f[ch.charCodeAt(0)] = 0.1;
  for (const ch of '.()=;,\'":{}/_-') f[ch.charCodeAt(0)] = 0.015;
  return f;
})();

function rate(a: Anchor): number {
  const p = (s: CharSet): number => { let x = 0; for (let c = 0; c < 128; c++) if (hasCol(s, c)) x += FREQ[c]!; return Math.min(1, x); };
  return a.sets.reduce((r, s) => r * p(s), a.before ? p(a.before) : 1);
}

// Whether the anchor automaton can hold this anchor: only its first position (`before` when
// present) may be a wide set; wide sets further in multiply the automaton's states.
export function narrowAnchor(a: Anchor): boolean {
  return a.sets.every((s, i) => (i === 0 && !a.before) || setSize(s) <= WIDE * 2);
}

// Sets holding three or more letters overlap most keywords; in an anchor, each one multiplies the
// automaton states it shares with keywords, so an anchor stops before the third such set.
function keywordlessCut(sets: CharSet[], maxSets: number): number {
  let letterSets = 0;
  for (let i = 0; i < Math.min(sets.length, maxSets); i++) {
    if (letterCount(sets[i]!) >= 3 && ++letterSets > 2) return i;
  }
  return Math.min(sets.length, maxSets);
}

function sameAnchor(a: Anchor, b: Anchor): boolean {
  return a.before === b.before && a.sets.length === b.sets.length && a.sets.every((s, i) => s === b.sets[i]); // sets are interned
}

// Anchors containing a keyword are at least as rare as the keyword and imply the keyword gate;
// they are cut right after it and must be narrow. Otherwise the first sets of each prefix are
// used (at most `maxSets`, see keywordlessCut) if their estimated hit rate per character is
// at most `maxRate`; then the keyword gate is still needed.
export function ruleAnchors(source: string, flags: string, keywords: readonly string[], maxSets = 8, maxRate = 2e-4): AnchorPlan | undefined {
  const prefixes = regexPrefixes(source, flags, keywords);
  if (!prefixes) return undefined;
  const push = (out: Anchor[], a: Anchor): void => { if (!out.some((o) => sameAnchor(o, a))) out.push(a); };
  if (keywords.length > 0) {
    const out: Anchor[] = [];
    const ok = prefixes.every((p) => expand(p.sets).every((sets) => {
      const end = keywordEnd(sets, keywords);
      if (end < 0) return false;
      const a: Anchor = { sets: sets.slice(0, end), before: p.before };
      if (!narrowAnchor(a)) return false;
      push(out, a);
      return true;
    }));
    if (ok) return { anchors: out, gated: false };
  }
  const out: Anchor[] = [];
  for (const p of prefixes) push(out, { sets: p.sets.slice(0, keywordlessCut(p.sets, maxSets)), before: p.before });
  const total = out.reduce((n, a) => n + rate(a), 0);
  return total <= maxRate ? { anchors: out, gated: keywords.length > 0 } : undefined;
}
