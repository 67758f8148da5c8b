// The secret scanner used by the gateway's DLP (request data) and the git gate (pushed content):
// gitleaks's 222 rules ported to JavaScript plus bottle's core DLP patterns, one engine.
import { coreRules } from './core.js';
import { Engine } from './engine.js';
import { gitleaksConfig } from './gitleaks.js';
import type { DroppedRule, RuleSet, ScanMode, Scanner } from './types.js';

export type { Allowlist, DroppedRule, Finding, Rule, RuleSet, ScanMode, ScanOptions, Scanner } from './types.js';
export { shannonEntropy, redact, LIMITS } from './text.js';
export { fingerprint, fingerprintProblem, ignoring, FINGERPRINT } from './fingerprint.js';

// Builds a scanner over the given rule sets, in that order (earlier sets win dedupes and `first`).
// `planAfter`: see EngineOptions (0 makes every scan use the anchored path, as tests of it do).
// `mode`: boundary (the default) or hygiene, see allow.ts.
export function createScanner(opts: { sets?: RuleSet[]; planAfter?: number; mode?: ScanMode } = {}): Scanner {
  const sets = opts.sets ?? ['core', 'gitleaks'];
  const gl = gitleaksConfig();
  const rules = sets.flatMap((s) => (s === 'core' ? coreRules() : gl.rules));
  return new Engine(rules, gl.global, { planAfter: opts.planAfter, mode: opts.mode });
}

let dlp: Scanner | undefined;
const git = new Map<ScanMode, Scanner>();

// For request data (URLs, header values, bodies): core patterns first, then gitleaks. Always
// boundary: the agent writes every byte of a request.
export function dlpScanner(): Scanner {
  dlp ??= createScanner({ sets: ['core', 'gitleaks'] });
  return dlp;
}

// For file and diff content: gitleaks first (its ids are what people grep for), then core.
// The git gate uses boundary; only `bottle scan --hygiene` asks for hygiene.
export function gitScanner(mode: ScanMode = 'boundary'): Scanner {
  let s = git.get(mode);
  if (!s) git.set(mode, (s = createScanner({ sets: ['gitleaks', 'core'], mode })));
  return s;
}

export interface RuleStats {
  gitleaksTotal: number;
  gitleaksPorted: number;
  dropped: DroppedRule[];
  core: number;
}

// How many rules loaded, and which gitleaks rules could not be ported (with the reason).
export function ruleStats(): RuleStats {
  const gl = gitleaksConfig();
  return { gitleaksTotal: gl.total, gitleaksPorted: gl.rules.length, dropped: gl.dropped, core: coreRules().length };
}
