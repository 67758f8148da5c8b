// The secret scanner used by the gateway's DLP (request data) and the git gate (pushed content):
// gitleaks's 222 rules ported to JavaScript plus bottle's core DLP patterns, one engine.
import { coreRules } from './core.js';
import { Engine } from './engine.js';
import { gitleaksConfig } from './gitleaks.js';
import type { DroppedRule, RuleSet, Scanner } from './types.js';

export type { Allowlist, DroppedRule, Finding, Rule, RuleSet, ScanOptions, Scanner } from './types.js';
export { shannonEntropy, redact, LIMITS } from './text.js';

// Builds a scanner over the given rule sets, in that order (earlier sets win dedupes and `first`).
// `planAfter`: see EngineOptions (0 makes every scan use the anchored path, as tests of it do).
export function createScanner(opts: { sets?: RuleSet[]; planAfter?: number } = {}): Scanner {
  const sets = opts.sets ?? ['core', 'gitleaks'];
  const gl = gitleaksConfig();
  const rules = sets.flatMap((s) => (s === 'core' ? coreRules() : gl.rules));
  return new Engine(rules, gl.global, { planAfter: opts.planAfter });
}

let dlp: Scanner | undefined;
let git: Scanner | undefined;

// For request data (URLs, header values, bodies): core patterns first, then gitleaks.
export function dlpScanner(): Scanner {
  dlp ??= createScanner({ sets: ['core', 'gitleaks'] });
  return dlp;
}

// For file and diff content: gitleaks first (its ids are what people grep for), then core.
export function gitScanner(): Scanner {
  git ??= createScanner({ sets: ['gitleaks', 'core'] });
  return git;
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
