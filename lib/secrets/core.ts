// Core DLP patterns (pipelock's table in the DLP reference), tuned so the same rules serve the
// gateway (URLs, headers, bodies) and the git gate (source files) without drowning in noise.
import type { Rule } from './types.js';
import { bitcoinWifValid, cardNumberValid, ibanValid, literalValue, placeholderValue } from './validators.js';

interface CoreSpec {
  id: string;
  description: string;
  regex: string;
  flags?: string;
  keywords: string[];
  secretGroup?: number;
  entropy?: number;
  validate?: (secret: string) => boolean;
}

const AWS_PREFIXES = ['AKIA', 'A3T', 'AGPA', 'AIDA', 'AROA', 'AIPA', 'ANPA', 'ANVA', 'ASIA'];

// A token prefix as written, in lower case and in upper case: `GHP_…` and `SK-ANT-…` are the
// same secret to whoever receives them (the prefix is known, so the change is lossless). Only
// these uniform spellings, not every mix: a mixed-case prefix turns up by chance in base64 data
// 16 times as often as one spelling, and a random-case flip of each letter is not what tools do.
function anyCase(...prefixes: string[]): string {
  const forms = new Set(prefixes.flatMap((p) => [p, p.toLowerCase(), p.toUpperCase()]));
  return `(?:${[...forms].map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
}
const GITHUB_PREFIXES = ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'];
const hasLowerUpperDigit = (s: string): boolean => /[a-z]/.test(s) && /[A-Z]/.test(s) && /\d/.test(s);

// Documentation placeholders and template references are not passwords.
const realPassword = (s: string): boolean => !placeholderValue(s) && !/^[$<{%[]/.test(s);

const SPECS: CoreSpec[] = [
  { id: 'anthropic-api-key', description: 'Anthropic API key', regex: String.raw`${anyCase('sk-ant-')}[a-zA-Z0-9\-_]{10,}`, keywords: ['sk-ant-'] },
  {
    id: 'openai-api-key',
    description: 'OpenAI project or service-account key',
    regex: String.raw`${anyCase('sk-proj-')}[a-zA-Z0-9\-_]{10,}|${anyCase('sk-svcacct-')}[a-zA-Z0-9\-]{10,}`,
    keywords: ['sk-proj-', 'sk-svcacct-'],
  },
  {
    id: 'aws-access-key-id',
    description: 'AWS access key id',
    // Ids are upper case throughout, so the whole id in lower case is the same id. That form is
    // held to the real shape (a whole word of 16 base32 characters, one a digit, as in 96% of
    // ids): `asia` + sixteen letters is a word.
    regex: `(?:${AWS_PREFIXES.join('|')})[A-Z0-9]{16,}|(?<![a-z0-9])(?:${AWS_PREFIXES.join('|').toLowerCase()})(?=[a-z]{0,15}[2-7])[a-z2-7]{16}(?![a-z0-9])`,
    keywords: AWS_PREFIXES.map((p) => p.toLowerCase()),
  },
  {
    id: 'aws-secret-access-key',
    description: 'AWS secret access key',
    regex: String.raw`(?:aws_secret_access_key|secret.?access.?key|SecretAccessKey)\s*["'=:\s]{1,5}\s*([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])`,
    flags: 'i',
    keywords: ['secret'],
  },
  {
    id: 'github-token',
    description: 'GitHub token',
    regex: String.raw`${anyCase(...GITHUB_PREFIXES)}[A-Za-z0-9_]{36,}|${anyCase('github_pat_')}[a-zA-Z0-9_]{36,}`,
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  },
  { id: 'gitlab-pat', description: 'GitLab personal access token', regex: String.raw`${anyCase('glpat-')}[a-zA-Z0-9\-_]{20,}`, keywords: ['glpat-'] },
  {
    id: 'slack-token',
    description: 'Slack token',
    regex: String.raw`${anyCase(...'bpras'.split('').map((c) => `xox${c}-`))}[0-9a-zA-Z-]{15,}`,
    keywords: ['xoxb-', 'xoxp-', 'xoxr-', 'xoxa-', 'xoxs-'],
  },
  { id: 'slack-app-token', description: 'Slack app-level token', regex: String.raw`${anyCase('xapp-')}[0-9]+-[A-Za-z0-9_]+-[0-9]+-(?:[a-f0-9]+|[A-F0-9]+)`, keywords: ['xapp-'] },
  { id: 'google-api-key', description: 'Google API key', regex: String.raw`${anyCase('AIza')}[0-9A-Za-z\-_]{35}`, keywords: ['aiza'] },
  { id: 'google-oauth-token', description: 'Google OAuth access token', regex: String.raw`${anyCase('ya29.')}[a-zA-Z0-9_-]{20,}`, keywords: ['ya29.'] },
  { id: 'google-oauth-client-secret', description: 'Google OAuth client secret', regex: String.raw`${anyCase('GOCSPX-')}[A-Za-z0-9_\-]{28,}`, keywords: ['gocspx-'] },
  {
    id: 'stripe-key',
    description: 'Stripe secret or restricted key',
    regex: String.raw`(?:[sr]k[-_](?:live|test)|[SR]K[-_](?:LIVE|TEST))[-_][a-zA-Z0-9]{20,}`,
    keywords: ['k_live', 'k-live', 'k_test', 'k-test'],
  },
  { id: 'stripe-webhook-secret', description: 'Stripe webhook signing secret', regex: String.raw`${anyCase('whsec_')}[a-zA-Z0-9_\-]{20,}`, keywords: ['whsec_'] },
  { id: 'npm-token', description: 'npm access token', regex: String.raw`${anyCase('npm_')}[A-Za-z0-9]{36,}`, keywords: ['npm_'] },
  {
    id: 'pypi-token',
    description: 'PyPI upload token',
    regex: String.raw`${anyCase('pypi-')}[A-Za-z0-9_-]{16,}`,
    keywords: ['pypi-'],
    validate: hasLowerUpperDigit, // base64 macaroon; a package name like pypi-simple-mirror is not one
  },
  { id: 'huggingface-token', description: 'Hugging Face token', regex: String.raw`${anyCase('hf_')}[A-Za-z0-9]{20,}`, keywords: ['hf_'], entropy: 3.5 },
  { id: 'groq-api-key', description: 'Groq API key', regex: String.raw`${anyCase('gsk_')}[a-zA-Z0-9]{48,}`, keywords: ['gsk_'] },
  { id: 'xai-api-key', description: 'xAI API key', regex: String.raw`${anyCase('xai-')}[a-zA-Z0-9\-_]{80,}`, keywords: ['xai-'] },
  { id: 'sendgrid-api-key', description: 'SendGrid API key', regex: String.raw`${anyCase('SG.')}[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}`, keywords: ['sg.'] },
  { id: 'twilio-api-key', description: 'Twilio API key', regex: String.raw`\b(?:SK[a-f0-9]{32}|sk[a-f0-9]{32}|SK[A-F0-9]{32})\b`, keywords: ['sk'] },
  { id: 'vault-token', description: 'HashiCorp Vault token', regex: String.raw`${anyCase('hvs.')}[a-zA-Z0-9]{23,}`, keywords: ['hvs.'] },
  { id: 'digitalocean-token', description: 'DigitalOcean personal access token', regex: String.raw`dop_v1_[a-f0-9]{64}|DOP_V1_[A-F0-9]{64}`, keywords: ['dop_v1_'] },
  {
    id: 'private-key',
    description: 'Private key (PEM block)',
    // A header alone is code that handles keys, so the start of key material must follow (maybe
    // after JSON-escaped newlines, as in a service-account file): DER `M…` (PKCS#1/#8, SEC1),
    // OpenSSH `b3BlbnNzaC1rZXktdjE`, an encrypted-PEM or armour header, or a PGP packet `l…`/`x…`.
    // A few characters are enough: a truncated key in a request body is still a leak.
    regex: String.raw`-----BEGIN[ \t]+(?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP)[ \t]+)?PRIVATE[ \t]+KEY(?:[ \t]+BLOCK)?-----(?:\s|\\[rn])*(?:M[A-Za-z0-9+/]{3,}|b3BlbnNzaC1rZXktdjE|Proc-Type:|Version:|Comment:|[lx][A-Za-z0-9+/]{3,})`,
    flags: 'i',
    keywords: ['-----begin'],
  },
  {
    id: 'jwt',
    description: 'JSON Web Token',
    // Header and payload are base64url JSON objects, so the token starts `eyJ`/`eyI` (`{"`) or
    // `eyA`/`eyB` (`{ `). The lookbehind starts only at a run boundary: linear on long runs.
    regex: String.raw`(?<![a-zA-Z0-9_\-=])ey[IJab][a-zA-Z0-9_\-=]{9,}\.ey[a-zA-Z0-9_\-=]{10,}\.[a-zA-Z0-9_\-=]{10,}`,
    keywords: ['eyj', 'eyi', 'eya', 'eyb'],
  },
  {
    // Query/matrix parameters or a top-level `name=value` line; indented code is left to gitleaks.
    id: 'credential-in-url',
    description: 'Credential in a URL parameter or key=value line',
    // `[\r\n]` instead of the m flag's `^`: V8 then skips ahead on a literal set (6× faster).
    regex: String.raw`(?:^|[?&;\r\n])(?:password|passwd|secret|token|apikey|api_key|api-key)\s*=\s*([^\s&'"\x60]{4,})`,
    flags: 'i',
    keywords: ['password', 'passwd', 'secret', 'token', 'apikey', 'api_key', 'api-key'],
    entropy: 2.5, // `token=value`, `password=secret` are examples, not credentials
    validate: literalValue,
  },
  {
    id: 'url-credentials',
    description: 'Password in URL userinfo (scheme://user:password@host)',
    regex: String.raw`:\/\/([^\s/:@'"<>]{1,100}):([^\s/@'"<>]{3,200})@[\w.-]+`,
    keywords: ['://'],
    secretGroup: 2,
    entropy: 2,
    validate: realPassword,
  },
  {
    id: 'env-var-secret',
    description: 'Secret assigned to an environment-style variable',
    regex: String.raw`[A-Z][A-Z0-9]*[_-](?:SECRET(?:[_-]ACCESS)?[_-]?KEY|SECRET|PASSWORD|PASSWD|TOKEN|API[_-]?KEY)\b\s*=\s*["'\x60]?([^\s"'\x60]{8,})`,
    keywords: ['secret', 'password', 'passwd', 'token', 'api'].flatMap((w) => [`_${w}`, `-${w}`]),
    validate: literalValue,
  },
  {
    id: 'ethereum-private-key',
    description: 'Ethereum private key (0x + 64 hex)',
    regex: String.raw`\b0[xX]([0-9a-fA-F]{64})\b`,
    keywords: ['0x'],
    entropy: 3,
  },
  {
    id: 'credit-card-number',
    description: 'Payment card number (issuer prefix + Luhn)',
    // 13–19 digits, the first four contiguous (every issuer's grouping), optional ' '/'-' after.
    regex: String.raw`(?<![\w.-])\d\d\d\d(?:[ -]?\d){9,15}(?![\w-]|\.\d)`,
    keywords: [],
    validate: cardNumberValid,
  },
  {
    id: 'iban',
    description: 'IBAN (country length + mod-97)',
    regex: String.raw`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b`,
    keywords: [],
    validate: ibanValid,
  },
  {
    id: 'bitcoin-wif-private-key',
    description: 'Bitcoin private key in WIF (base58check)',
    regex: String.raw`\b(?:5[1-9A-HJ-NP-Za-km-z]{50}|[KL][1-9A-HJ-NP-Za-km-z]{51})\b`,
    keywords: [],
    validate: bitcoinWifValid,
  },
];

// The core rules, compiled; ids are kebab-case and distinct from gitleaks ids.
export function coreRules(): Rule[] {
  return SPECS.map((s) => ({
    id: s.id,
    description: s.description,
    set: 'core' as const,
    regex: new RegExp(s.regex, `${s.flags ?? ''}gd`),
    secretGroup: s.secretGroup ?? 0,
    entropy: s.entropy ?? 0,
    keywords: s.keywords,
    allowlists: [],
    validate: s.validate,
  }));
}
