// Generates the labelled recall set at run time: ~100 realistic secrets across families, each
// planted on a known line of an otherwise ordinary source file. Nothing secret-shaped is
// committed; every token is built here from a seeded PRNG.
import { generateKeyPairSync } from 'node:crypto';

export interface Planted {
  file: string;
  family: string;
  line: number; // first line of the secret (1-based)
  endLine: number; // last line (PEM blocks span several)
}

export interface PlantedCorpus {
  files: Array<{ name: string; text: string }>;
  planted: Planted[];
}

// mulberry32: tiny deterministic PRNG so every run plants the same secrets.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}_-`;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

type Gen = (r: (alphabet: string, n: number) => string) => string;

// One generator per family; formats follow each vendor's documented token shape.
const FAMILIES: Record<string, { name: string; gen: Gen }> = {
  awsId: { name: 'AWS_ACCESS_KEY_ID', gen: (r) => 'AKIA' + r(UPPER32, 16) },
  awsSecret: { name: 'aws_secret_access_key', gen: (r) => r(B64, 40) },
  githubPat: { name: 'GITHUB_TOKEN', gen: (r) => 'ghp' + '_' + r(ALNUM, 36) },
  githubFine: { name: 'GH_PAT', gen: (r) => 'github' + '_pat_' + r(ALNUM, 22) + '_' + r(ALNUM, 59) },
  gitlab: { name: 'GITLAB_TOKEN', gen: (r) => 'glpat' + '-' + r(URLSAFE, 20) },
  slackBot: { name: 'SLACK_BOT_TOKEN', gen: (r) => 'xoxb' + `-${r('0123456789', 12)}-${r('0123456789', 13)}-${r(ALNUM, 24)}` },
  slackHook: { name: 'slack_webhook', gen: (r) => `https://hooks.slack.com/services/T${r(UPPER32, 8)}/B${r(UPPER32, 8)}/${r(ALNUM, 24)}` },
  googleKey: { name: 'GOOGLE_API_KEY', gen: (r) => 'AIza' + 'Sy' + r(URLSAFE, 33) },
  stripe: { name: 'STRIPE_SECRET_KEY', gen: (r) => 'sk_' + 'live_' + r(ALNUM, 24) },
  npm: { name: 'NPM_TOKEN', gen: (r) => 'npm' + '_' + r(ALNUM, 36) },
  sendgrid: { name: 'SENDGRID_API_KEY', gen: (r) => 'SG' + `.${r(URLSAFE, 22)}.${r(URLSAFE, 43)}` },
  openai: { name: 'OPENAI_API_KEY', gen: (r) => 'sk-' + 'proj-' + r(URLSAFE, 74) + 'T3Blbk' + 'FJ' + r(URLSAFE, 74) },
  anthropic: { name: 'ANTHROPIC_API_KEY', gen: (r) => 'sk-' + 'ant-api03-' + r(URLSAFE, 93) + 'AA' },
  huggingface: { name: 'HF_TOKEN', gen: (r) => 'hf' + '_' + r(LETTERS, 34) },
  groq: { name: 'GROQ_API_KEY', gen: (r) => 'gsk' + '_' + r(ALNUM, 52) },
  linear: { name: 'LINEAR_API_KEY', gen: (r) => 'lin' + '_api_' + r(ALNUM, 40) },
  shopify: { name: 'SHOPIFY_TOKEN', gen: (r) => 'shp' + 'at_' + r(HEX, 32) },
  digitalocean: { name: 'DO_TOKEN', gen: (r) => 'dop' + '_v1_' + r(HEX, 64) },
  vault: { name: 'VAULT_TOKEN', gen: (r) => 'hvs' + '.' + 'CAESI' + r(URLSAFE, 90) },
  jwt: {
    name: 'id_token',
    gen: (r) => {
      const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: r('0123456789', 10), name: r(LETTERS, 8), iat: 1700000000 })}.${r(URLSAFE, 43)}`;
    },
  },
  postgresUrl: { name: 'DATABASE_URL', gen: (r) => `postgres://app:${r(ALNUM, 20)}@db.internal.test:5432/app` },
  genericPassword: { name: 'db_password', gen: (r) => r(ALNUM, 12) + '9x' + r(ALNUM, 10) },
  privateKeyRsa: { name: 'pem', gen: () => pem('rsa') },
  privateKeyEc: { name: 'pem', gen: () => pem('ec') },
};

function pem(kind: 'rsa' | 'ec'): string {
  const { privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
      : generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return privateKey.trimEnd();
}

// Ordinary code around the planted lines, so the set also exercises false-positive filters.
const FILLER = [
  'import { readFile } from "node:fs/promises";',
  'export function add(a, b) { return a + b; }',
  'const config = { retries: 3, timeoutMs: 2000, region: "eu-west-1" };',
  '// The token cache is refreshed every ten minutes by the scheduler.',
  'if (user.isAdmin && !session.expired) { grantAccess(user.id); }',
  'const apiVersion = "2024-06-01"; const keyName = "primary";',
  'logger.info(`request ${id} finished in ${ms} ms`);',
  'password: ${{ secrets.DB_PASSWORD }}',
  'const url = `https://example.test/api/v1/items?page=${page}`;',
  'throw new Error("authentication failed: check the credentials file");',
];

function render(family: string, name: string, secret: string, style: number): string {
  if (family.startsWith('privateKey')) return secret;
  switch (style % 4) {
    case 0: return `const ${name.toLowerCase().replace(/[^a-z0-9]+/g, '_')} = "${secret}";`;
    case 1: return `${name}=${secret}`;
    case 2: return `  ${name.toLowerCase()}: "${secret}"`;
    default: return `  "${name}": "${secret}",`;
  }
}

// Builds `files` text files with the planted secrets spread evenly among them.
export function plantedCorpus(opts: { perFamily?: number; files?: number; seed?: number } = {}): PlantedCorpus {
  const perFamily = opts.perFamily ?? 4;
  const fileCount = opts.files ?? 10;
  const rnd = prng(opts.seed ?? 20240601);
  const r = (alphabet: string, n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return s;
  };
  const lines: string[][] = Array.from({ length: fileCount }, () => []);
  const planted: Planted[] = [];
  let k = 0;
  for (let round = 0; round < perFamily; round++) {
    for (const [family, spec] of Object.entries(FAMILIES)) {
      const f = k % fileCount;
      const out = lines[f]!;
      for (let i = 0; i < 3; i++) out.push(FILLER[Math.floor(rnd() * FILLER.length)]!);
      const text = render(family, spec.name, spec.gen(r), round);
      const line = out.length + 1;
      out.push(...text.split('\n'));
      planted.push({ file: `planted-${f}.txt`, family, line, endLine: out.length });
      k++;
    }
  }
  return { files: lines.map((l, i) => ({ name: `planted-${i}.txt`, text: `${l.join('\n')}\n` })), planted };
}
