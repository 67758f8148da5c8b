// Aho–Corasick keyword prefilter of the reference path (an engine's first megabyte, and
// `exhaustive` scans): one pass over a segment marks every rule whose keyword occurs (ASCII
// case-insensitively). The anchored path finds keywords with automaton.ts instead; keeping the
// two separate keeps the comparison between the paths independent.

const ALPHABET = 128; // keywords are ASCII; every other code unit is column 0, which none holds

// A DFA over lowercase ASCII built from the keywords of every rule.
export class KeywordPrefilter {
  private readonly delta: Int32Array;
  private readonly outStart: Int32Array;
  private readonly outIds: Int32Array;

  // keywords[i] lists the keywords of rule i (lowercase); empty lists never mark.
  constructor(keywords: readonly (readonly string[])[]) {
    const next: Array<Map<number, number>> = [new Map()];
    const outs: number[][] = [[]];
    keywords.forEach((list, rule) => {
      for (const kw of list) {
        if (kw.length === 0) continue;
        let s = 0;
        for (let i = 0; i < kw.length; i++) {
          const c = column(kw.charCodeAt(i));
          let t = next[s]!.get(c);
          if (t === undefined) {
            t = next.length;
            next.push(new Map());
            outs.push([]);
            next[s]!.set(c, t);
          }
          s = t;
        }
        if (!outs[s]!.includes(rule)) outs[s]!.push(rule);
      }
    });
    const n = next.length;
    const delta = new Int32Array(n * ALPHABET);
    const fail = new Int32Array(n);
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const t = next[0]!.get(c);
      if (t !== undefined) { delta[c] = t; queue.push(t); }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const r of outs[fail[s]!]!) if (!outs[s]!.includes(r)) outs[s]!.push(r);
      for (let c = 0; c < ALPHABET; c++) {
        const t = next[s]!.get(c);
        if (t !== undefined) {
          fail[t] = delta[fail[s]! * ALPHABET + c]!;
          delta[s * ALPHABET + c] = t;
          queue.push(t);
        } else {
          delta[s * ALPHABET + c] = delta[fail[s]! * ALPHABET + c]!;
        }
      }
    }
    // Upper-case columns behave like their lower-case letters.
    for (let s = 0; s < n; s++) {
      for (let c = 65; c <= 90; c++) delta[s * ALPHABET + c] = delta[s * ALPHABET + c + 32]!;
    }
    // Entries are premultiplied row offsets; a negative entry (~offset) flags a state with output.
    const flat: number[] = [];
    this.outStart = new Int32Array(n + 1);
    for (let s = 0; s < n; s++) {
      this.outStart[s] = flat.length;
      flat.push(...outs[s]!);
    }
    this.outStart[n] = flat.length;
    this.outIds = Int32Array.from(flat);
    for (let i = 0; i < delta.length; i++) {
      const t = delta[i]!;
      delta[i] = outs[t]!.length > 0 ? ~(t * ALPHABET) : t * ALPHABET;
    }
    this.delta = delta;
  }

  // Sets marks[rule] = stamp for every rule with a keyword in text[start, end).
  mark(text: string, start: number, end: number, marks: Uint32Array, stamp: number): void {
    const delta = this.delta;
    let row = 0;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      row = delta[row | (c > 127 ? 0 : c)]!;
      if (row < 0) {
        row = ~row;
        const s = row >> 7;
        for (let k = this.outStart[s]!, e = this.outStart[s + 1]!; k < e; k++) marks[this.outIds[k]!] = stamp;
      }
    }
  }
}

function column(code: number): number {
  if (code >= 65 && code <= 90) return code + 32;
  return code < ALPHABET ? code : 0;
}
