// gitleaks rules ported to JavaScript: load counts, a sample of rules with positives built to
// match, and gitleaks's allowlist semantics (regexTarget, stopwords, paths, AND, gitleaks:allow),
// which only hygiene mode honours (boundary mode: secrets-engine.test.ts).
import t from 'tap';
import { createScanner, ruleStats } from '../../lib/secrets/index.js';
import { Engine } from '../../lib/secrets/engine.js';
import { loadGitleaks } from '../../lib/secrets/gitleaks.js';
import { ALNUM, HEX, LETTERS, P, UPPER32, URLSAFE, jwt, pemKey, randomSource } from '../fixtures/secrets/tokens.js';

const gl = createScanner({ sets: ['gitleaks'], mode: 'hygiene' });
const r = randomSource(202);
const ids = (text: string, path?: string): string[] => gl.scan(text, { path }).map((f) => f.ruleId);

t.test('all 222 gitleaks rules load; none is dropped', async (t) => {
  const s = ruleStats();
  t.equal(s.gitleaksTotal, 222);
  t.equal(s.gitleaksPorted, 222);
  t.same(s.dropped, []);
});

const samples: Array<[id: string, text: string, path?: string]> = [
  ['aws-access-token', `key = ${P.akia}${r(UPPER32, 16)}`],
  ['github-pat', `token: ${P.ghp}${r(ALNUM, 36)}`],
  ['github-fine-grained-pat', `github_pat_${r(ALNUM, 82)}`],
  ['gitlab-pat', `${P.glpat}${r(URLSAFE, 20)}`],
  ['slack-bot-token', `${P.xoxb}${r('0123456789', 12)}-${r('0123456789', 12)}-${r(ALNUM, 24)}`],
  ['stripe-access-token', `"${P.skLive}${r(ALNUM, 24)}"`],
  ['npm-access-token', `//registry.npmjs.org/:_authToken=${P.npm}${r(ALNUM, 36)}\n`],
  ['openai-api-key', `OPENAI_API_KEY=${P.skProj}${r(URLSAFE, 74)}${P.openaiMarker}${r(URLSAFE, 74)}\n`],
  ['anthropic-api-key', `${P.skAnt}api03-${r(URLSAFE, 93)}AA\n`],
  ['private-key', pemKey('rsa')],
  ['jwt', `id_token="${jwt(r)}"`],
  ['shopify-access-token', `shp${'at_'}${r(HEX, 32)}`],
  ['digitalocean-pat', `${P.dop}${r(HEX, 64)}\n`],
  ['linear-api-key', `lin${'_api_'}${r(ALNUM, 40)}`],
  ['huggingface-access-token', `hf_${r(LETTERS, 34)}\n`],
  ['gcp-api-key', `"${P.aiza}${r(URLSAFE, 35)}"`],
  ['vault-service-token', `${P.hvs}${r(URLSAFE, 95)}\n`],
  ['pypi-upload-token', `${P.pypi}${r(URLSAFE, 60)}`],
  ['slack-webhook-url', `https://hooks.slack.com/services/${r(ALNUM, 44)}`],
  ['adafruit-api-key', `adafruit_key = "${r(ALNUM, 32).toLowerCase()}"\n`],
  ['generic-api-key', `client_secret = "${r(ALNUM, 20)}7${r(ALNUM, 10)}"\n`],
  ['curl-auth-header', `curl -H "Authorization: Bearer ${r(ALNUM, 30)}" https://api.example.test\n`],
  ['hashicorp-tf-password', `administrator_login_password = "${r(ALNUM, 14)}"\n`, 'main.tf'],
  ['kubernetes-secret-yaml', `apiVersion: v1\nkind: Secret\ndata:\n  password: ${r(ALNUM, 24)}==\n`, 'k8s/secret.yaml'],
  ['pkcs12-file', '', 'certs/client.p12'],
];

const boundary = createScanner({ sets: ['gitleaks'] });
for (const [id, text, path] of samples) {
  t.test(`gitleaks rule ${id}`, async (t) => {
    t.ok(ids(text, path).includes(id), `found: ${ids(text, path).join(', ') || 'nothing'}`);
    const b = boundary.scan(text, { path }).map((f) => f.ruleId);
    t.ok(b.includes(id), `boundary mode found: ${b.join(', ') || 'nothing'}`);
  });
}

t.test('path-scoped rules need a matching path', async (t) => {
  const tf = `administrator_login_password = "${r(ALNUM, 14)}"\n`;
  t.notOk(ids(tf, 'main.py').includes('hashicorp-tf-password'));
  t.notOk(ids(tf).includes('hashicorp-tf-password'), 'no path: request data');
  t.notOk(ids('', 'certs/client.pem').includes('pkcs12-file'));
});

t.test('rule allowlist: the AWS documentation example key', async (t) => {
  const example = `${P.akia}IOSFODNN7` + 'EXAMPLE';
  t.notOk(ids(`key = ${example}`).includes('aws-access-token'), 'gitleaks allowlists .+EXAMPLE$');
  const core = createScanner({ sets: ['core'] }).scan(`key = ${example}`);
  t.equal(core[0]?.ruleId, 'aws-access-key-id', 'core DLP still blocks it (documented)');
});

t.test('global allowlist: template references and paths', async (t) => {
  t.same(ids(`password: \${{ secrets.DB_PASSWORD }}`), []);
  const key = `${P.ghp}${r(ALNUM, 36)}`;
  t.same(ids(key, 'node_modules/x/index.js'), [], 'node_modules is a global path allowlist');
  t.same(ids(key, 'web/yarn.lock'), []);
  t.ok(ids(key, 'src/index.js').length > 0);
});

t.test('generic-api-key: stopwords, digit requirement, entropy', async (t) => {
  t.same(ids(`api_key = "${r(LETTERS, 24)}"\n`).filter((i) => i === 'generic-api-key'), [], 'no digit');
  t.same(ids(`api_key = "aaaaaaaaaa1aaaaaaaaa"\n`), [], 'low entropy');
  t.same(ids(`api_key = "${r(ALNUM, 8)}1example${r(ALNUM, 8)}"\n`), [], 'contains a stopword');
});

t.test('gitleaks:allow drops findings on that line only', async (t) => {
  const a = `${P.ghp}${r(ALNUM, 36)}`;
  const b = `${P.ghp}${r(ALNUM, 36)}`;
  const found = gl.scan(`x = "${a}" # gitleaks:allow\ny = "${b}"\n`);
  t.same(found.map((f) => f.line), [2]);
});

// A miniature config exercising every allowlist field against the engine directly.
const toml = String.raw`
[allowlist]
regexes = ['''^globalok''']
stopwords = ["sentinel"]
[[rules]]
id = "demo"
description = "demo token"
regex = '''(?i)\b(demo_[a-z0-9]{12})\b'''
keywords = ["demo_"]
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^DEMO_''']
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''# fixture''']
[[rules.allowlists]]
stopwords = ["zzzz"]
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexes = ['''9$''']
[[rules]]
id = "pair"
description = "second group is the secret"
regex = '''pair=(\w+):(\w+)'''
secretGroup = 2
entropy = 1.5
keywords = ["pair="]
`;

t.test('allowlist semantics on a miniature config', async (t) => {
  const cfg = loadGitleaks(toml);
  t.same(cfg.dropped, []);
  const e = new Engine(cfg.rules, cfg.global, { mode: 'hygiene' });
  const hits = (text: string, path?: string): string[] => e.scan(text, { path }).map((f) => f.redacted);
  t.equal(hits('demo_ab12cd34ef56').length, 1, 'plain hit');
  t.same(hits('DEMO_ab12cd34ef56'), [], 'regexTarget=match sees the whole match');
  t.same(hits('demo_ab12cd34ef56 # fixture'), [], 'regexTarget=line sees the line');
  t.same(hits('demo_ab12zzzzef56'), [], 'rule stopword');
  t.same(hits('demo_sentinel1234'), [], 'global stopword');
  t.same(hits('demo_ab12cd34ef59', 'README.md'), [], 'AND: path and regex both match');
  t.equal(hits('demo_ab12cd34ef56', 'README.md').length, 1, 'AND: path alone is not enough');
  t.equal(hits('demo_ab12cd34ef59', 'x.txt').length, 1, 'AND: regex alone is not enough');
  const [p] = e.scan('pair=alice:s3cretXY');
  t.equal(p?.column, 'pair=alice:'.length + 1, 'secretGroup selects the second group');
  t.same(hits('pair=alice:aaaa'), [], 'entropy at or below the threshold is dropped');
});

t.test('boundary mode on the miniature config: only allowlists that explain the whole secret', async (t) => {
  const cfg = loadGitleaks(toml);
  const e = new Engine(cfg.rules, cfg.global);
  t.equal(e.mode, 'boundary', 'the default');
  const hits = (text: string, path?: string): string[] => e.scan(text, { path }).map((f) => f.redacted);
  t.equal(hits('DEMO_ab12cd34ef56').length, 1, 'regexTarget=match is ignored');
  t.equal(hits('demo_ab12cd34ef56 # fixture').length, 1, 'regexTarget=line is ignored');
  t.equal(hits('demo_ab12cd34ef56 # gitleaks:allow').length, 1, 'gitleaks:allow is ignored');
  t.equal(hits('demo_ab12cd34ef59', 'README.md').length, 1, 'AND with a path criterion never applies');
  t.same(hits('demo_ab12zzzzef56'), [], 'rule stopword: without it the rest is no token');
  t.same(hits('demo_sentinel1234'), [], 'global stopword: without it the rest is no token');
  t.equal(hits('pair=alice:s3cretXYsentinel').length, 1, 'a stopword appended to a secret does not hide it');
  t.equal(hits('pair=alice:s3csentinelretXY').length, 1, 'nor one inserted into it');
  t.same(hits('pair=alice:sentinelaa'), [], 'the rest is under the entropy threshold');
  t.same(hits('pair=alice:globalok'), [], 'a global regex that matches the whole secret');
  t.equal(hits('pair=alice:globalokX9zQ').length, 1, 'a global regex that matches a prefix only does not');
});
