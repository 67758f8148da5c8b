// A parser for the JavaScript regex syntax the rules use (the translated gitleaks patterns and
// the core patterns; no u or v flag), into the small tree prefix.ts analyses. Anything it does
// not model is kept as a superset: lookaheads, ^, $ and \B become zero-width no-ops, a
// backreference becomes "unknown text".
import { DIGIT, DOT, SPACE, WORD, addRange, addSet, caseClose, complement, finishSet, single, type CharSet } from './charset.js';

export type Node =
  | { t: 'set'; s: CharSet }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'rep'; n: Node; min: number; max: number }
  | { t: 'wordb' } // \b
  | { t: 'lookbehind'; neg: boolean; n: Node }
  | { t: 'zero' } // ^, $, \B, lookaheads
  | { t: 'any' }; // a backreference

const CLASS_ESCAPES: Record<string, CharSet> = {
  d: DIGIT, D: complement(DIGIT), w: WORD, W: complement(WORD), s: SPACE, S: complement(SPACE),
};
const SIMPLE_ESCAPES: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, '0': 0 };

// Parses `source` (flags: only `i` matters here); throws on syntax it does not know.
export function parseRegex(source: string, ignoreCase: boolean): Node {
  return new Parser(source, ignoreCase).parse();
}

class Parser {
  private i = 0;
  constructor(private readonly src: string, private readonly ci: boolean) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.src.length) throw new Error(`unexpected ${this.src[this.i]} at ${this.i}`);
    return n;
  }

  private alt(): Node {
    const alts = [this.seq()];
    while (this.src[this.i] === '|') { this.i++; alts.push(this.seq()); }
    return alts.length === 1 ? alts[0]! : { t: 'alt', alts };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') items.push(this.term());
    return { t: 'seq', items };
  }

  private term(): Node {
    const c = this.src[this.i]!;
    if (c === '^' || c === '$') { this.i++; return { t: 'zero' }; }
    let atom: Node;
    if (c === '(') atom = this.group();
    else if (c === '[') atom = { t: 'set', s: this.klass() };
    else if (c === '.') { this.i++; atom = { t: 'set', s: DOT }; }
    else if (c === '\\') atom = this.escape();
    else { this.i++; atom = { t: 'set', s: single(c.charCodeAt(0), this.ci) }; }
    return this.quantifier(atom);
  }

  private quantifier(atom: Node): Node {
    const c = this.src[this.i];
    let min: number;
    let max: number;
    if (c === '*') { min = 0; max = Infinity; this.i++; }
    else if (c === '+') { min = 1; max = Infinity; this.i++; }
    else if (c === '?') { min = 0; max = 1; this.i++; }
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i, this.i + 16));
      if (!m) return atom; // a literal brace (Annex B); the next term reads it
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length;
    } else return atom;
    if (this.src[this.i] === '?') this.i++; // lazy: same language
    return { t: 'rep', n: atom, min, max };
  }

  private group(): Node {
    const rest = this.src.slice(this.i, this.i + 4);
    let kind: 'plain' | 'ahead' | 'behind' | 'nbehind' = 'plain';
    if (rest.startsWith('(?:')) this.i += 3;
    else if (rest.startsWith('(?=') || rest.startsWith('(?!')) { kind = 'ahead'; this.i += 3; }
    else if (rest.startsWith('(?<=')) { kind = 'behind'; this.i += 4; }
    else if (rest.startsWith('(?<!')) { kind = 'nbehind'; this.i += 4; }
    else if (rest.startsWith('(?<')) this.i = this.src.indexOf('>', this.i) + 1; // named group
    else if (rest.startsWith('(?')) throw new Error(`unknown group ${rest}`);
    else this.i += 1;
    const inner = this.alt();
    if (this.src[this.i] !== ')') throw new Error('unbalanced parenthesis');
    this.i++;
    if (kind === 'ahead') return { t: 'zero' };
    if (kind !== 'plain') return { t: 'lookbehind', neg: kind === 'nbehind', n: inner };
    return inner;
  }

  private escape(): Node {
    const n = this.src[this.i + 1]!;
    if (n === 'b') { this.i += 2; return { t: 'wordb' }; }
    if (n === 'B') { this.i += 2; return { t: 'zero' }; }
    if (n >= '1' && n <= '9') {
      this.i += 2;
      while (/\d/.test(this.src[this.i] ?? '')) this.i++;
      return { t: 'any' };
    }
    if (n === 'k' && this.src[this.i + 2] === '<') { this.i = this.src.indexOf('>', this.i) + 1; return { t: 'any' }; }
    const cls = CLASS_ESCAPES[n];
    if (cls) { this.i += 2; return { t: 'set', s: cls }; }
    return { t: 'set', s: single(this.escapedCode(), this.ci) };
  }

  // The code unit of a single-character escape at this.i (advancing past it).
  private escapedCode(): number {
    const s = this.src;
    const n = s[this.i + 1]!;
    const hex = (len: number): number => {
      const h = s.slice(this.i + 2, this.i + 2 + len);
      if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h)) { this.i += 2; return n.charCodeAt(0); }
      this.i += 2 + len;
      return parseInt(h, 16);
    };
    if (n === 'x') return hex(2);
    if (n === 'u') return hex(4);
    this.i += 2;
    if (n in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[n]!;
    if (n === 'c' && /[A-Za-z]/.test(s[this.i] ?? '')) return s.charCodeAt(this.i++) % 32;
    return n.charCodeAt(0);
  }

  private klass(): CharSet {
    this.i++; // [
    let negate = false;
    if (this.src[this.i] === '^') { negate = true; this.i++; }
    const raw = new Uint32Array(4); // the members so far, interned once at the end
    const atom = (): { code?: number; set?: CharSet } => {
      const c = this.src[this.i]!;
      if (c !== '\\') { this.i++; return { code: c.charCodeAt(0) }; }
      const n = this.src[this.i + 1]!;
      if (n === 'b') { this.i += 2; return { code: 8 }; }
      const cls = CLASS_ESCAPES[n];
      if (cls) { this.i += 2; return { set: cls }; }
      return { code: this.escapedCode() };
    };
    while (this.src[this.i] !== ']') {
      if (this.i >= this.src.length) throw new Error('unterminated class');
      const a = atom();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && a.code !== undefined) {
        this.i++;
        const b = atom();
        // `[a-\d]`: no range, the three parts are members (Annex B).
        if (b.code === undefined) { addSet(addSet(addSet(raw, b.set!), single(a.code, false)), single(45, false)); continue; }
        addRange(raw, a.code, b.code);
        continue;
      }
      addSet(raw, a.set ?? single(a.code!, false));
    }
    this.i++; // ]
    let s = finishSet(raw);
    if (this.ci) s = caseClose(s);
    return negate ? complement(s) : s;
  }
}
