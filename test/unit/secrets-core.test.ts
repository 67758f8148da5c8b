// Core DLP patterns: for every family a true positive and a near miss that must stay silent.
import t from 'tap';
import { createScanner } from '../../lib/secrets/index.js';
import { B64, HEX, LETTERS, P, UPPER32, URLSAFE, ALNUM, bitcoinWif, jwt, pemKey, randomSource } from '../fixtures/secrets/tokens.js';

const core = createScanner({ sets: ['core'] });
const r = randomSource(101);
const ids = (text: string): string[] => core.scan(text).map((f) => f.ruleId);

interface Case { id: string; hit: string; miss: string }

const wif = bitcoinWif(r);
const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
const card = ['4111', '1111', '1111', '1111'].join(' ');
const iban = ['GB82', 'WEST', '1234', '5698', '7654', '3'].join(' '); // the registry's example, + check digit

const cases: Case[] = [
  { id: 'anthropic-api-key', hit: `key ${P.skAnt}api03-${r(URLSAFE, 40)}`, miss: `${P.skAnt}short` },
  { id: 'openai-api-key', hit: `OPENAI ${P.skProj}${r(URLSAFE, 40)}`, miss: `${P.skProj}abc` },
  { id: 'aws-access-key-id', hit: `id ${P.akia}${r(UPPER32, 16)} end`, miss: `id ${P.akia}${r(UPPER32, 15)} end` },
  { id: 'aws-secret-access-key', hit: `aws_secret_access_key = ${r(B64, 40)}`, miss: `aws_secret_access_key = ${r(B64, 39)}` },
  { id: 'github-token', hit: `${P.ghp}${r(ALNUM, 36)}`, miss: `${P.ghp}${r(ALNUM, 35)}` },
  { id: 'gitlab-pat', hit: `${P.glpat}${r(ALNUM, 20)}`, miss: `${P.glpat}${r(ALNUM, 19)}` },
  { id: 'slack-token', hit: `${P.xoxb}${r('0123456789', 12)}-${r(ALNUM, 24)}`, miss: `${P.xoxb}12345` },
  { id: 'slack-app-token', hit: `xapp-1-A${r(UPPER32, 10)}-${r('0123456789', 13)}-${r(HEX, 64)}`, miss: 'xapp-1-A0123' },
  { id: 'google-api-key', hit: `${P.aiza}${r(URLSAFE, 35)}`, miss: `${P.aiza}${r(ALNUM, 30)} ` },
  { id: 'google-oauth-token', hit: `ya29.${r(URLSAFE, 40)}`, miss: 'ya29.short' },
  { id: 'google-oauth-client-secret', hit: `GOCSPX-${r(URLSAFE, 28)}`, miss: `GOCSPX-${r(ALNUM, 27)}` },
  { id: 'stripe-key', hit: `${P.skLive}${r(ALNUM, 24)}`, miss: `${P.skLive}${r(ALNUM, 10)}` },
  { id: 'stripe-webhook-secret', hit: `whsec_${r(ALNUM, 32)}`, miss: 'whsec_short' },
  { id: 'npm-token', hit: `${P.npm}${r(ALNUM, 36)}`, miss: `${P.npm}${r(ALNUM, 35)}` },
  { id: 'pypi-token', hit: `${P.pypi}${r(URLSAFE, 60)}`, miss: 'pip install pypi-simple-index-mirror' },
  { id: 'huggingface-token', hit: `hf_${r(LETTERS, 34)}`, miss: `hf_${'a'.repeat(34)}` },
  { id: 'groq-api-key', hit: `gsk_${r(ALNUM, 52)}`, miss: `gsk_${r(ALNUM, 20)}` },
  { id: 'xai-api-key', hit: `xai-${r(ALNUM, 84)}`, miss: `xai-${r(ALNUM, 20)}` },
  { id: 'sendgrid-api-key', hit: `SG.${r(URLSAFE, 22)}.${r(URLSAFE, 43)}`, miss: `SG.${r(URLSAFE, 22)}.${r(URLSAFE, 10)}` },
  { id: 'twilio-api-key', hit: `SK${r(HEX, 32)}`, miss: `SK${r(HEX, 31)}` },
  { id: 'vault-token', hit: `${P.hvs}${r(ALNUM, 24)}`, miss: `${P.hvs}${r(ALNUM, 10)}` },
  { id: 'digitalocean-token', hit: `${P.dop}${r(HEX, 64)}`, miss: `${P.dop}${r(HEX, 63)}` },
  { id: 'private-key', hit: pemKey('ec'), miss: `if (pem.startsWith("${P.begin} PRIVATE KEY-----")) parse(pem);` },
  { id: 'jwt', hit: `Authorization: Bearer ${jwt(r)}`, miss: 'eyJhbGciOiJIUzI1NiJ9.notajwt' },
  { id: 'credential-in-url', hit: `https://x.test/cb?user=1&token=${r(ALNUM, 20)}`, miss: 'https://x.test/cb?token=value' },
  { id: 'url-credentials', hit: `postgres://app:${r(ALNUM, 16)}@db.internal.test/app`, miss: 'https://user:password@example.test/' },
  { id: 'env-var-secret', hit: `DB_PASSWORD=${r(ALNUM, 16)}`, miss: 'const GITHUB_TOKEN = process.env.GITHUB_TOKEN;' },
  { id: 'ethereum-private-key', hit: `0x${r(HEX, 64)}`, miss: `0x${'f'.repeat(64)}` },
  { id: 'credit-card-number', hit: `card ${card} exp`, miss: `card ${card.slice(0, -1)}2 exp` },
  { id: 'iban', hit: `IBAN ${iban}2`, miss: `IBAN ${iban}3` },
  { id: 'bitcoin-wif-private-key', hit: `wif ${wif}`, miss: `wif ${flip(wif, 10)}` },
];

t.test('every core rule has a case', async (t) => {
  const { coreRules } = await import('../../lib/secrets/core.js');
  t.same(cases.map((c) => c.id).sort(), coreRules().map((r) => r.id).sort());
});

for (const c of cases) {
  t.test(c.id, async (t) => {
    t.ok(ids(c.hit).includes(c.id), `finds ${c.id}`);
    t.notOk(ids(c.miss).includes(c.id), `near miss stays silent: ${ids(c.miss).join(',') || 'no findings'}`);
  });
}

t.test('AWS key id with 15 chars after the prefix is not a key', async (t) => {
  t.same(ids(`x ${P.akia}${'Q'.repeat(15)} y`), []);
});

t.test('a quoted env value is scanned without its quotes', async (t) => {
  const v = r(ALNUM, 20);
  const [f] = core.scan(`export API_TOKEN="${v}"`);
  t.equal(f?.ruleId, 'env-var-secret');
  t.equal(f?.column, 'export API_TOKEN="'.length + 1);
});

t.test('private-key needs the start of key material after the header', async (t) => {
  const block = (kind: string, body: string): string => `${P.begin} ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----\n`;
  t.same(ids(block('OPENSSH ', `b3BlbnNzaC1rZXktdjE${r(ALNUM, 40)}`)), ['private-key']);
  t.same(ids(JSON.stringify({ private_key: block('', `MIIE${r(ALNUM, 60)}`) })), ['private-key'], 'JSON-escaped newlines');
  t.same(ids(block('', 'garbage')), [], 'test data that is not a key');
});

// Issue 13, "what must keep passing": documentation placeholders are not findings; a real secret
// beside a placeholder word still is (the exception must explain the whole value).
t.test('placeholders in prose and .env.example are silent; a secret beside one is not', async (t) => {
  t.same(ids('2. Set `DB_PASSWORD=changeme123` (the docker-compose default).'), []);
  t.same(ids('DB_PASSWORD=changeme123\nAPI_KEY=your-api-key-here\nSECRET=<your secret>\nPASSWORD=********\n'), []);
  t.same(ids('postgres://app:changeme@db.internal.test/app'), [], 'URL userinfo');
  const real = r(ALNUM, 16);
  t.same(ids(`DB_PASSWORD=changeme${real}`), ['env-var-secret']);
  t.same(ids(`DB_PASSWORD=${real}changeme`), ['env-var-secret']);
  t.same(ids(`api_key=your-${real}`), ['credential-in-url']);
  t.same(ids(`postgres://app:changeme${real}@db.internal.test/app`), ['url-credentials']); // gitleaks:allow (test dummy)
});
