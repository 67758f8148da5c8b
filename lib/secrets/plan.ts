// How the engine runs each rule, decided once per rule list from the rules' regexes: anchored
// rules run (sticky) only where one of their anchors occurs; the rest run over whole segments
// when their keywords occur, as before. Pure: rules in, plan out.
import { PatternScanner } from './automaton.js';
import { column, hasCol, keywordCharSets, setId, type CharSet } from './charset.js';
import { narrowAnchor, ruleAnchors, type Anchor } from './prefix.js';
import type { Rule } from './types.js';

export interface RulePlan {
  // The rule's regex with the sticky flag, run at each anchor position; absent: whole segments.
  sticky?: RegExp;
  // The rule runs only where one of its keywords occurs in the segment (the reference semantics).
  // Anchors that contain a keyword imply it, so only rules whose anchors don't are gated here.
  gated: boolean;
}

export const ANCHOR = 0;
export const GATE = 1;

// What a pattern occurrence ending at `end` means: for ANCHOR, rule `rule` may match starting at
// `end - back`; for GATE, a keyword of `rule` starts at `end - back`.
export interface Actions {
  start: Int32Array; // actions of pattern p: start[p] .. start[p + 1]
  rule: Int32Array;
  back: Int32Array;
  kind: Uint8Array;
}

// Anchors that hold at the start of a segment whatever precedes it there (a regex cannot look
// before the text it runs on): the scanner sees the real previous character, so the engine
// checks these itself at each segment start. Listed by the column of their first character.
export type StartAnchors = Array<Array<{ rule: number; sets: CharSet[] }>>;

export interface Plan {
  rules: RulePlan[];
  scanner: PatternScanner;
  actions: Actions;
  atSegmentStart: StartAnchors;
  // Rules that run over whole segments (gated by keywords unless they have none).
  whole: number[];
}

// Keyword-less rules are anchored on their first sets if the anchors are rare enough (a sticky
// try costs about as much as a global search over a few hundred characters); with keywords, an
// anchor that does not contain one must be rarer still (it also needs the gate).
const MAX_RATE_KEYWORDLESS = 1e-2;
const MAX_RATE_GATED = 2e-4;
const KEYWORDLESS_SETS = 8;

export function planRules(rules: readonly Rule[]): Plan {
  const patterns: CharSet[][] = [];
  const acts: Array<Array<{ rule: number; back: number; kind: number }>> = [];
  const ids = new Map<string, number>();
  const addAction = (sets: CharSet[], action: { rule: number; back: number; kind: number }): void => {
    const key = sets.map(setId).join(',');
    let p = ids.get(key);
    if (p === undefined) { p = patterns.length; ids.set(key, p); patterns.push(sets); acts.push([]); }
    acts[p]!.push(action);
  };
  const atSegmentStart: StartAnchors = Array.from({ length: 128 }, () => []);
  const plans: RulePlan[] = [];
  const whole: number[] = [];
  rules.forEach((rule, r) => {
    const re = rule.regex;
    if (!re) { plans.push({ gated: false }); return; }
    const planned = anchorsFor(rule);
    const anchors = planned?.anchors;
    if (!anchors) {
      whole.push(r);
      for (const kw of rule.keywords) addAction(keywordCharSets(kw), { rule: r, back: kw.length - 1, kind: GATE });
      plans.push({ gated: rule.keywords.length > 0 });
      return;
    }
    for (const a of anchors) {
      const sets = a.before ? [a.before, ...a.sets] : a.sets;
      addAction(sets, { rule: r, back: a.sets.length - 1, kind: ANCHOR });
      if (a.before && hasCol(a.before, 0)) {
        for (let c = 0; c < 128; c++) if (hasCol(a.sets[0]!, c)) atSegmentStart[c]!.push({ rule: r, sets: a.sets });
      }
    }
    if (planned.gated) for (const kw of rule.keywords) addAction(keywordCharSets(kw), { rule: r, back: kw.length - 1, kind: GATE });
    plans.push({ sticky: new RegExp(re.source, `${re.flags.replace('g', '')}y`), gated: planned.gated });
  });
  const start = new Int32Array(acts.length + 1);
  const flat = acts.flat();
  let k = 0;
  acts.forEach((list, p) => { start[p] = k; k += list.length; });
  start[acts.length] = k;
  return {
    rules: plans,
    scanner: new PatternScanner(patterns),
    actions: {
      start,
      rule: Int32Array.from(flat, (a) => a.rule),
      back: Int32Array.from(flat, (a) => a.back),
      kind: Uint8Array.from(flat, (a) => a.kind),
    },
    atSegmentStart,
    whole,
  };
}

// A rule's anchors, or undefined to run it over whole segments. Anchors of keyword rules must
// be narrow; keyword-less rules' anchors are cut short enough to keep the automaton small.
function anchorsFor(rule: Rule): { anchors: Anchor[]; gated: boolean } | undefined {
  const re = rule.regex!;
  const kw = rule.keywords;
  const plan = ruleAnchors(re.source, re.flags, kw, KEYWORDLESS_SETS, kw.length > 0 ? MAX_RATE_GATED : MAX_RATE_KEYWORDLESS);
  if (!plan) return undefined;
  if (kw.length > 0 && !plan.anchors.every(narrowAnchor)) return undefined;
  return plan;
}

// Whether anchor `sets` occur at `pos` of `text` (the segment-start check).
export function setsAt(text: string, pos: number, sets: CharSet[]): boolean {
  if (pos + sets.length > text.length) return false;
  for (let j = 0; j < sets.length; j++) if (!hasCol(sets[j]!, column(text.charCodeAt(pos + j)))) return false;
  return true;
}
