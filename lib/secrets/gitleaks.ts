// Loads gitleaks.toml (MIT, see THIRD_PARTY_NOTICES) and ports every rule to a JavaScript RegExp.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { projectRoot } from '../paths.js';
import { translateGoRegex } from './goregex.js';
import type { Allowlist, DroppedRule, Rule } from './types.js';

interface TomlAllowlist {
  description?: string;
  regexes?: string[];
  regexTarget?: string;
  stopwords?: string[];
  paths?: string[];
  condition?: string;
  commits?: string[];
}

interface TomlRule {
  id: string;
  description?: string;
  regex?: string;
  secretGroup?: number;
  entropy?: number;
  keywords?: string[];
  path?: string;
  allowlists?: TomlAllowlist[];
  allowlist?: TomlAllowlist;
}

interface TomlConfig {
  rules?: TomlRule[];
  allowlist?: TomlAllowlist;
  allowlists?: TomlAllowlist[];
}

export interface GitleaksConfig {
  rules: Rule[];
  global: Allowlist[];
  dropped: DroppedRule[];
  total: number;
}

// Where the shipped rule file lives, from source (lib/secrets/) or from a build (dist/lib/secrets/).
export function gitleaksTomlPath(): string {
  const beside = fileURLToPath(new URL('./gitleaks.toml', import.meta.url));
  if (existsSync(beside)) return beside;
  return join(projectRoot(), 'lib', 'secrets', 'gitleaks.toml');
}

// Compiles a Go regex for tests against one string (allowlists, paths): no g/d flags.
export function compileGo(pattern: string): RegExp {
  const t = translateGoRegex(pattern);
  return new RegExp(t.source, t.flags);
}

const PREFIX = String.raw`[\w.-]{0,`;

// Removes a leading lazy `[\w.-]{0,N}?` (optionally twice, around a `(?i:`). It only widens the
// match to the left, and an unanchored lazy prefix makes V8 try ~N steps at every position of
// the input; the engine restores the identical match start afterwards (see Rule.backPrefix).
export function stripLazyPrefix(pattern: string): { pattern: string; back: number } {
  let p = pattern;
  let lead = '';
  let back = 0;
  if (p.startsWith('(?i)')) { lead = '(?i)'; p = p.slice(4); }
  const take = (): boolean => {
    const m = /^\[\\w\.-\]\{0,(\d+)\}\?/.exec(p);
    if (!m || !p.startsWith(PREFIX)) return false;
    back += Number(m[1]);
    p = p.slice(m[0].length);
    return true;
  };
  if (!take()) return { pattern, back: 0 };
  if (p.startsWith('(?i:')) {
    const inner = p.slice(4);
    p = inner;
    if (take()) p = `(?i:${p}`;
    else p = `(?i:${inner}`;
  }
  return { pattern: lead + p, back };
}

// Tighter prefilter literals for rules whose gitleaks keyword is common in code. Each literal is
// implied by the rule's regex (every match contains one), so findings are identical; only the
// number of texts the regex runs on drops. jwt: `ey…\.ey…` always contains ".ey".
export const PREFILTER_OVERRIDES: Record<string, string[]> = {
  jwt: ['.ey'],
};

function toAllowlist(a: TomlAllowlist): Allowlist {
  const target = a.regexTarget ?? 'secret';
  if (target !== 'secret' && target !== 'match' && target !== 'line') throw new Error(`unknown regexTarget ${target}`);
  const condition = (a.condition ?? 'OR').toUpperCase();
  if (condition !== 'OR' && condition !== 'AND') throw new Error(`unknown condition ${a.condition}`);
  // `commits` is ignored: we scan text, not git history.
  return {
    description: a.description,
    regexes: (a.regexes ?? []).map(compileGo),
    regexTarget: target,
    stopwords: (a.stopwords ?? []).map((w) => w.toLowerCase()),
    paths: (a.paths ?? []).map(compileGo),
    condition,
  };
}

function toRule(r: TomlRule): Rule {
  let regex: RegExp | undefined;
  let backPrefix: number | undefined;
  if (r.regex !== undefined) {
    const stripped = stripLazyPrefix(r.regex);
    const t = translateGoRegex(stripped.pattern);
    regex = new RegExp(t.source, `${t.flags}gd`);
    if (stripped.back > 0) backPrefix = stripped.back;
  }
  if (!regex && !r.path) throw new Error('rule has neither regex nor path');
  const allowlists = [...(r.allowlists ?? []), ...(r.allowlist ? [r.allowlist] : [])].map(toAllowlist);
  return {
    id: r.id,
    description: r.description ?? r.id,
    set: 'gitleaks',
    regex,
    secretGroup: r.secretGroup ?? 0,
    entropy: r.entropy ?? 0,
    keywords: PREFILTER_OVERRIDES[r.id] ?? (r.keywords ?? []).map((k) => k.toLowerCase()),
    path: r.path !== undefined ? compileGo(r.path) : undefined,
    allowlists,
    backPrefix,
  };
}

// Parses a gitleaks TOML text; rules that cannot be ported are listed in `dropped`, never thrown.
export function loadGitleaks(tomlText: string): GitleaksConfig {
  const cfg = parse(tomlText) as unknown as TomlConfig;
  const rules: Rule[] = [];
  const dropped: DroppedRule[] = [];
  for (const r of cfg.rules ?? []) {
    try {
      rules.push(toRule(r));
    } catch (e) {
      dropped.push({ id: r.id, reason: (e as Error).message });
    }
  }
  const global = [...(cfg.allowlist ? [cfg.allowlist] : []), ...(cfg.allowlists ?? [])].map(toAllowlist);
  return { rules, global, dropped, total: (cfg.rules ?? []).length };
}

let cached: GitleaksConfig | undefined;

// The shipped gitleaks rules, parsed and compiled once per process.
export function gitleaksConfig(): GitleaksConfig {
  cached ??= loadGitleaks(readFileSync(gitleaksTomlPath(), 'utf8'));
  return cached;
}
