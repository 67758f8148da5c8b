// Shapes shared by the rule loaders, the engine and callers (the gateway, the git gate, the CLI).

// One secret found in scanned text; `redacted` never carries the whole secret.
export interface Finding {
  ruleId: string;
  description: string;
  line: number;
  column: number;
  redacted: string;
  // fingerprint.ts: `sha256:` + 16 hex of the secret (path-only rules: of the path); what an
  // operator lists in `dlp.ignore`.
  fingerprint: string;
  entropy?: number;
}

export interface ScanOptions {
  // File path of the text (forward slashes); enables path-scoped rules and, in hygiene mode,
  // path allowlists.
  path?: string;
  maxFindings?: number;
  // Always take the reference path (every rule whose keywords occur runs its regex over each
  // whole segment, no anchors): same findings, for tests that prove the anchored path loses none.
  exhaustive?: boolean;
  // Fingerprints of known-harmless values from the operator's policy: a match whose secret
  // has one is not a finding (and does not stop `first`), so other findings still surface.
  ignore?: ReadonlySet<string>;
}

export interface Scanner {
  scan(text: string, opts?: ScanOptions): Finding[];
  first(text: string, opts?: ScanOptions): Finding | undefined;
}

export type RuleSet = 'core' | 'gitleaks';

// Which allowlists a scanner honours (allow.ts): `boundary` only those that explain a whole
// secret, for bytes from the side a boundary guards; `hygiene` gitleaks's own, for a developer's tree.
export type ScanMode = 'boundary' | 'hygiene';

// gitleaks's allowlist semantics: OR = any criterion allows; AND = every criterion given allows.
export interface Allowlist {
  description?: string;
  regexes: RegExp[];
  regexTarget: 'secret' | 'match' | 'line';
  stopwords: string[];
  paths: RegExp[];
  condition: 'OR' | 'AND';
}

// A rule ready for the engine: regex already in JavaScript syntax, keywords lowercase.
export interface Rule {
  id: string;
  description: string;
  set: RuleSet;
  // Flags always include g and d; absent for path-only rules (a finding per matching file).
  regex?: RegExp;
  // 0: first non-empty capture group, else the whole match.
  secretGroup: number;
  // Drop findings whose secret has Shannon entropy <= this; 0 disables the check.
  entropy: number;
  // Lowercase literals; the regex runs only on text containing one. Empty: always runs.
  keywords: string[];
  path?: RegExp;
  allowlists: Allowlist[];
  // Checksum or plausibility check on the secret (Luhn, mod-97, base58check, ...).
  validate?: (secret: string) => boolean;
  // The regex had a leading lazy `[\w.-]{0,N}?` which was removed for speed; the engine
  // restores the match start by walking back over up to N such characters.
  backPrefix?: number;
}

export interface DroppedRule {
  id: string;
  reason: string;
}
