// A finding's fingerprint: what the operator copies from `bottle scan` or a git gate rejection
// into the manifest's `dlp.ignore` to say "this exact value is a known dummy". A prefix of a
// hash, so output that carries it never carries the secret.
import { createHash } from 'node:crypto';
import type { Scanner } from './types.js';

// `sha256:` + 16 lowercase hex characters.
export const FINGERPRINT = /^sha256:[0-9a-f]{16}$/;

// The fingerprint of a secret value (a path-only finding: of the path); same value, same
// fingerprint, wherever it appears.
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 16)}`;
}

// Why `s` is not a fingerprint, or undefined when it is one (for config errors). It does not
// quote `s`: an operator who pasted the secret itself should not see it echoed into logs.
export function fingerprintProblem(s: string): string | undefined {
  return FINGERPRINT.test(s) ? undefined
    : 'expected a finding fingerprint like sha256:0123456789abcdef (16 hex digits, from bottle scan or a git gate rejection), not the value itself';
}

// The same scanner, with every scan leaving out the findings whose fingerprint is in `ignore`.
// An empty list returns the scanner itself: nothing to pay when the operator lists nothing.
export function ignoring(scanner: Scanner, ignore: readonly string[] | undefined): Scanner {
  if (!ignore || ignore.length === 0) return scanner;
  const set = new Set(ignore);
  return {
    scan: (text, opts = {}) => scanner.scan(text, { ...opts, ignore: set }),
    first: (text, opts = {}) => scanner.first(text, { ...opts, ignore: set }),
  };
}
