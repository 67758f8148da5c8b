// Allowlists, decided once per rule when an engine is built, in one of two modes.
//
// hygiene: gitleaks's semantics (paths, regexTarget secret/match/line, stopwords, AND/OR, and
// `gitleaks:allow` on the line), for `bottle scan --hygiene` over a developer's own tree.
// boundary (the gateway, the git gate, `bottle scan`): the scanned bytes come from the side the
// boundary guards, so nothing in them may switch detection off. An allowlist applies only when
// it explains the whole secret: no path criterion (the path is chosen by the writer), no
// match/line regex (the text around the secret is too), secret regexes must match the entire
// secret (gitleaks's `(?i)^true|false|null$` would otherwise allow any secret containing "false"),
// and a stopword allows a secret only when the rule would no longer report what remains once
// every stopword is removed (`<secret>client` still reports `<secret>`). No `gitleaks:allow`.
// Rules that fire only on writer-chosen context (generic-*) keep their match/line regexes.
import type { Allowlist, Rule, ScanMode } from './types.js';

// What an allowlist may look at for one finding; the closures are only called when needed.
export interface AllowInput {
  secret: string;
  match: () => string;
  line: () => string;
  path: string | undefined;
  // Whether the rule still reports a finding when its secret is reduced to `rest`.
  stillFound: (rest: string) => boolean;
}

export type AllowTest = (x: AllowInput) => boolean;

// One test for "any of these regexes matches": an alternation per flag set, so a string is read
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
// Hygiene only: a boundary never skips a file by its name.
export function allowsWholeFile(a: Allowlist): ((path: string) => boolean) | undefined {
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

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// An allowlist reduced to what may apply at a boundary, or undefined when nothing may.
interface BoundaryAllowlist {
  and: boolean;
  whole?: (secret: string) => boolean; // secret regexes, each anchored at both ends
  context?: (x: AllowInput) => boolean; // match/line regexes, for context rules only
  stopwords: string[];
  strip?: RegExp; // every stopword, longest first, case-insensitive, global
}

// `contextRule`: the rule fires only on text around the secret that the writer chooses (the
// generic rules need an identifier such as `api_key =`), so it is hygiene even at a boundary: a
// writer who wants past it names the variable differently. Its match/line regexes (code
// identifiers, import lines) cost the boundary nothing and keep ordinary code from being
// refused; paths and `gitleaks:allow` still never apply.
function toBoundary(a: Allowlist, contextRule = false): BoundaryAllowlist | undefined {
  const contextRegexes = a.regexes.length > 0 && a.regexTarget !== 'secret';
  const untrusted = a.paths.length > 0 || (contextRegexes && !contextRule);
  // AND needs every criterion; one that cannot be trusted can never be satisfied here.
  if (a.condition === 'AND' && untrusted) return undefined;
  const secretRegexes = a.regexTarget === 'secret' ? a.regexes : [];
  // `m` would let ^/$ match inside a multi-line secret; without it they mean the secret's ends.
  const whole = secretRegexes.map((r) => new RegExp(`^(?:${r.source})$`, r.flags.replace('m', '')));
  const around = contextRegexes && contextRule ? anyOf(a.regexes) : undefined;
  const context = around && ((x: AllowInput): boolean => around(a.regexTarget === 'match' ? x.match() : x.line()));
  if (whole.length === 0 && a.stopwords.length === 0 && !context) return undefined;
  const words = [...a.stopwords].sort((x, y) => y.length - x.length);
  return {
    and: a.condition === 'AND',
    whole: whole.length > 0 ? anyOf(whole) : undefined,
    context,
    stopwords: a.stopwords,
    strip: words.length > 0 ? new RegExp(words.map(escape).join('|'), 'gi') : undefined,
  };
}

// Whether the stopwords account for the secret: some occur, and without all of them the rule
// would not report what is left.
function stopwordsExplain(b: BoundaryAllowlist, x: AllowInput): boolean {
  const lower = x.secret.toLowerCase();
  if (!b.stopwords.some((w) => lower.includes(w))) return false;
  return !x.stillFound(x.secret.replace(b.strip!, ''));
}

function boundaryAllows(b: BoundaryAllowlist, x: AllowInput): boolean {
  if (b.and) return (!b.whole || b.whole(x.secret)) && (!b.context || b.context(x)) && (!b.strip || stopwordsExplain(b, x));
  return (b.whole !== undefined && b.whole(x.secret)) || (b.context !== undefined && b.context(x)) || (b.strip !== undefined && stopwordsExplain(b, x));
}

// The allowlist test for one rule in one mode; undefined when nothing can allow its findings.
// `global` is the config's global allowlists, already converted by `globalAllowlists`.
export function ruleAllowTest(rule: Rule, global: GlobalAllowlists): AllowTest | undefined {
  if (global.mode === 'hygiene') {
    const lists = [...global.lists, ...rule.allowlists];
    return (x) => lists.some((a) => allowlisted(a, x.secret, x.match, x.line, x.path)) || x.line().includes('gitleaks:allow');
  }
  const contextRule = rule.id.startsWith('generic');
  const lists = [...global.boundary, ...rule.allowlists.flatMap((a) => toBoundary(a, contextRule) ?? [])];
  if (lists.length === 0) return undefined;
  return (x) => lists.some((b) => boundaryAllows(b, x));
}

export interface GlobalAllowlists {
  mode: ScanMode;
  lists: readonly Allowlist[];
  boundary: BoundaryAllowlist[];
}

// Converts the global allowlists once per engine (their regexes are shared by every rule).
export function globalAllowlists(lists: readonly Allowlist[], mode: ScanMode): GlobalAllowlists {
  return { mode, lists, boundary: mode === 'boundary' ? lists.flatMap((a) => toBoundary(a) ?? []) : [] };
}
