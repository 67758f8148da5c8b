// Translates Go (RE2) regex syntax, as written in gitleaks.toml, into an equivalent JavaScript
// RegExp. Node 20 rejects inline flags, so scoped `(?i)`/`(?i:...)`/`(?-i:...)` are rewritten by
// expanding letters into `[aA]` classes, `(?s:.)` becomes `[\s\S]`, `\z` becomes `$`, named
// groups `(?P<n>...)` become plain groups (numbering is unchanged), POSIX classes are expanded.

// A pattern this translator cannot express in JavaScript; the rule is reported as dropped.
export class UnportableRegexError extends Error {
  override name = 'UnportableRegexError';
}

export interface Translated {
  source: string;
  flags: string; // 'i' when the whole pattern is case-insensitive, else ''
}

// Unbounded `{n,}` repeats are capped so a lazy `{64,}?` cannot scan to the end of the input
// from every start position (JavaScript backtracks; Go's RE2 does not).
export const MAX_OPEN_REPEAT = 4096;

interface Mode { ci: boolean; dotall: boolean }

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7f', blank: '\\t ', cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

// Escapes whose meaning is identical in both engines.
const PASS_ESCAPES = new Set(['w', 'W', 'd', 'D', 's', 'S', 'b', 'B', 'n', 'r', 't', 'f', 'v']);

const isLetter = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function escapeLiteral(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function caseCounterpartRanges(lo: number, hi: number): string {
  let out = '';
  const add = (a: number, b: number, shift: number): void => {
    const l = Math.max(lo, a);
    const h = Math.min(hi, b);
    if (l <= h) out += l === h ? String.fromCharCode(l + shift) : `${String.fromCharCode(l + shift)}-${String.fromCharCode(h + shift)}`;
  };
  add(97, 122, -32);
  add(65, 90, 32);
  return out;
}

// Translates a Go regex into JavaScript source plus flags; throws UnportableRegexError.
export function translateGoRegex(pattern: string): Translated {
  let src = pattern;
  let lead: Mode = { ci: false, dotall: false };
  const m = /^\(\?([is]+)\)/.exec(src);
  if (m) {
    lead = { ci: m[1]!.includes('i'), dotall: m[1]!.includes('s') };
    src = src.slice(m[0].length);
  }
  // With a leading (?i) and nothing that turns it off, the JS `i` flag is exact and fastest.
  const useFlag = lead.ci && !/\(\?[a-z]*-[a-z]*i/.test(src);
  const body = new Walker(src, useFlag).run(lead);
  const source = body;
  const flags = useFlag ? 'i' : '';
  try {
    new RegExp(source, flags);
  } catch (e) {
    throw new UnportableRegexError(`JavaScript rejects the translation: ${(e as Error).message}`);
  }
  return { source, flags };
}

class Walker {
  private i = 0;
  private out = '';
  constructor(private readonly src: string, private readonly ciByFlag: boolean) {}

  run(initial: Mode): string {
    const stack: Mode[] = [];
    let mode = { ...initial };
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '\\') this.escape(mode);
      else if (c === '[') this.klass(mode);
      else if (c === '(') {
        const g = this.groupOpen(mode);
        if (g.scoped) { stack.push(mode); mode = g.mode; } else mode = g.mode;
      } else if (c === ')') {
        const prev = stack.pop();
        if (!prev) throw new UnportableRegexError('unbalanced parenthesis');
        mode = prev;
        this.emit(')');
      } else if (c === '.') {
        this.emit(mode.dotall ? '[\\s\\S]' : '.');
      } else if (c === '{') this.repeat();
      else if (isLetter(c) && mode.ci && !this.ciByFlag) {
        this.emit(`[${c.toLowerCase()}${c.toUpperCase()}]`);
      } else this.emit(c);
    }
    if (stack.length) throw new UnportableRegexError('unbalanced parenthesis');
    return this.out;
  }

  private emit(text: string, advance = 1): void {
    this.out += text;
    this.i += advance;
  }

  private escape(mode: Mode): void {
    const s = this.src;
    const n = s[this.i + 1];
    if (n === undefined) throw new UnportableRegexError('trailing backslash');
    if (n === 'z') return this.emit('$', 2);
    if (n === 'A') return this.emit('^', 2);
    if (n === 'Q') {
      const end = s.indexOf('\\E', this.i + 2);
      const lit = s.slice(this.i + 2, end < 0 ? s.length : end);
      this.i = end < 0 ? s.length : end + 2;
      for (const ch of lit) this.out += isLetter(ch) && mode.ci && !this.ciByFlag ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : escapeLiteral(ch);
      return;
    }
    if (n === 'x') return this.emit(this.hexEscape(), 0);
    if (n === 'p' || n === 'P') throw new UnportableRegexError('Unicode class \\p needs the u flag');
    if (PASS_ESCAPES.has(n)) return this.emit(`\\${n}`, 2);
    if (isLetter(n) || isDigit(n)) throw new UnportableRegexError(`unsupported escape \\${n}`);
    this.emit(escapeLiteral(n), 2);
  }

  // Reads `\xHH` or `\x{H...}` at this.i and returns the JS escape; advances this.i.
  private hexEscape(): string {
    const s = this.src;
    if (s[this.i + 2] === '{') {
      const end = s.indexOf('}', this.i + 3);
      const code = parseInt(s.slice(this.i + 3, end), 16);
      this.i = end + 1;
      if (!(code <= 0xffff)) throw new UnportableRegexError('code point above U+FFFF');
      return `\\u${code.toString(16).padStart(4, '0')}`;
    }
    const hex = s.slice(this.i + 2, this.i + 4);
    this.i += 4;
    return `\\x${hex}`;
  }

  private repeat(): void {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
    if (!m) return this.emit('\\{'); // a literal brace in Go
    if (m[2] !== undefined && m[3] === '') {
      const min = Number(m[1]);
      return this.emit(`{${min},${Math.max(min, MAX_OPEN_REPEAT)}}`, m[0].length);
    }
    this.emit(m[0], m[0].length);
  }

  private groupOpen(mode: Mode): { scoped: boolean; mode: Mode } {
    const s = this.src;
    if (s[this.i + 1] !== '?') {
      this.emit('(');
      return { scoped: true, mode };
    }
    const rest = s.slice(this.i);
    const named = /^\(\?P?<[A-Za-z_]\w*>/.exec(rest);
    if (named) {
      this.emit('(', named[0].length);
      return { scoped: true, mode };
    }
    if (rest.startsWith('(?:')) {
      this.emit('(?:', 3);
      return { scoped: true, mode };
    }
    const flags = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
    if (!flags) throw new UnportableRegexError(`unsupported group syntax ${rest.slice(0, 6)}`);
    const on = flags[1] ?? '';
    const off = flags[2] ?? '';
    if (/[mU]/.test(on + off)) throw new UnportableRegexError('flags m/U are not ported');
    const next: Mode = {
      ci: on.includes('i') ? true : off.includes('i') ? false : mode.ci,
      dotall: on.includes('s') ? true : off.includes('s') ? false : mode.dotall,
    };
    if (this.ciByFlag && !next.ci) throw new UnportableRegexError('case-sensitive island under i flag');
    if (flags[3] === ')') {
      this.i += flags[0].length; // (?i) applies to the rest of the enclosing group
      return { scoped: false, mode: next };
    }
    this.emit('(?:', flags[0].length);
    return { scoped: true, mode: next };
  }

  private klass(mode: Mode): void {
    const s = this.src;
    let j = this.i + 1;
    let out = '[';
    if (s[j] === '^') { out += '^'; j++; }
    let first = true;
    const expand = mode.ci && !this.ciByFlag;
    let extra = '';
    const readAtom = (): { lit?: number; text: string } => {
      const c = s[j]!;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === undefined) throw new UnportableRegexError('unterminated class');
        if (n === 'x') {
          const save = this.i;
          this.i = j;
          const text = this.hexEscape();
          const lit = parseInt(text.slice(2), 16);
          j = this.i;
          this.i = save;
          return { lit, text };
        }
        if (n === 'p' || n === 'P') throw new UnportableRegexError('Unicode class \\p needs the u flag');
        j += 2;
        if (PASS_ESCAPES.has(n) && n !== 'b' && n !== 'B') {
          const lits: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11 };
          return { lit: lits[n], text: `\\${n}` };
        }
        if (isLetter(n) || isDigit(n)) throw new UnportableRegexError(`unsupported class escape \\${n}`);
        return { lit: n.charCodeAt(0), text: escapeClassChar(n) };
      }
      j += 1;
      return { lit: c.charCodeAt(0), text: escapeClassChar(c) };
    };
    for (;;) {
      if (j >= s.length) throw new UnportableRegexError('unterminated class');
      const c = s[j]!;
      if (c === ']' && !first) { j++; break; }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(s.slice(j));
      if (posix) {
        const set = POSIX[posix[2]!];
        if (!set || posix[1]) throw new UnportableRegexError(`unsupported POSIX class ${posix[0]}`);
        out += set;
        j += posix[0].length;
        continue;
      }
      const a = readAtom();
      if (s[j] === '-' && s[j + 1] !== undefined && s[j + 1] !== ']' && a.lit !== undefined) {
        j++;
        const b = readAtom();
        if (b.lit === undefined) throw new UnportableRegexError('class range ends in a class');
        out += `${a.text}-${b.text}`;
        if (expand) extra += caseCounterpartRanges(a.lit, b.lit);
      } else {
        out += a.text;
        if (expand && a.lit !== undefined) extra += caseCounterpartRanges(a.lit, a.lit);
      }
    }
    this.out += `${out}${extra}]`;
    this.i = j;
  }
}
