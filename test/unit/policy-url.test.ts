// URL-level stages, each with blocking and passing cases, in the order evaluate() runs them.
import { createHash } from 'node:crypto';
import t from 'tap';
import { dlpOnlyPolicy, evaluate, loadPolicy, STAGES, type Verdict } from '../../lib/policy/index.js';
import { digestShaped } from '../../lib/policy/url.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const open = dlpOnlyPolicy();
const get = (url: string, headers: Record<string, string> = {}) => ({ method: 'GET', url, headers });
const stageOf = (url: string, p = open): Verdict['stage'] => evaluate(p, get(url)).stage;

t.test('stage names are the stable public list', async (t) => {
  t.same([...STAGES], ['scheme', 'sni', 'crlf', 'traversal', 'allowlist', 'blocklist', 'ssrf', 'url-length', 'url-dlp', 'entropy', 'host-mismatch', 'header-dlp', 'body-dlp', 'model-api', 'canary', 'ssrf-resolved', 'client', 'error', 'done']);
});

t.test('evaluate fails closed when judging throws', async (t) => {
  const boom = { first: () => { throw new RangeError('regex blew up'); } };
  t.same(evaluate(open, get(`https://x.test/?q=${'a'.repeat(30)}`), undefined, { scanner: boom }), { verdict: 'block', stage: 'error', reason: 'the request could not be evaluated', rule: 'internal-error' });
});

t.test('scheme: http and https only, absolute and well-formed', async (t) => {
  for (const url of ['ftp://x.test/', 'file:///etc/passwd', 'gopher://x.test/', 'javascript:alert(1)', 'ws://x.test/', '/relative', 'x.test/path', 'http://', 'https://exa mple.test/']) {
    const v = evaluate(open, get(url));
    t.equal(v.stage, 'scheme', url);
    t.equal(v.verdict, 'block', url);
  }
  t.equal(evaluate(open, get('HTTPS://X.test/')).verdict, 'allow');
  t.equal(evaluate(open, get('http://x.test:8080/a')).verdict, 'allow');
});

t.test('crlf: raw or percent-encoded CR/LF anywhere in the URL', async (t) => {
  for (const url of ['https://x.test/a%0d%0aSet-Cookie:x', 'https://x.test/?q=a%0Ab', 'https://x.test/a\r\nb', 'https://x.test/a%250d%250a', 'https://x.test/#%0d']) {
    t.equal(stageOf(url), 'crlf', JSON.stringify(url));
  }
  t.equal(stageOf('https://x.test/a%20b?q=%0Ga'), 'done', 'a space or a malformed escape is not CR/LF');
});

t.test('traversal: .. segments raw, encoded, double-encoded, with encoded or back slashes', async (t) => {
  for (const url of ['https://x.test/a/../etc/passwd', 'https://x.test/a/%2e%2e/b', 'https://x.test/a/%2E%2e%2fetc', 'https://x.test/a/..%2f..%2fetc', 'https://x.test/%252e%252e/x', 'https://x.test/a\\..\\b', 'https://x.test/..', 'https://x.test/a/..;x/admin']) {
    t.equal(stageOf(url), 'traversal', url);
  }
  for (const url of ['https://x.test/a/b..c/d', 'https://x.test/v1.2..3', 'https://x.test/a/./b', 'https://registry.npmjs.org/@types%2fnode', 'https://x.test/?p=../x']) {
    t.equal(stageOf(url), 'done', url);
  }
});

t.test('allowlist and blocklist: wildcards include the apex, block wins, routes are allowed', async (t) => {
  const p = loadPolicy([
    'version: 1',
    'allow: ["*.github.com", pypi.org]',
    'block: [gist.github.com, "*.evil.github.com"]',
    'routes: [{ host: api.gitlab.com, headers: { PRIVATE-TOKEN: GITLAB_TOKEN } }]',
  ].join('\n'));
  t.equal(stageOf('https://github.com/x', p), 'done');
  t.equal(stageOf('https://api.github.com/x', p), 'done');
  t.equal(stageOf('https://a.b.github.com/x', p), 'done');
  t.equal(stageOf('https://pypi.org/simple/', p), 'done');
  t.equal(stageOf('https://api.gitlab.com/v4/projects', p), 'done', 'route host is implicitly allowed');
  t.equal(stageOf('https://gitlab.com/', p), 'allowlist', 'a route allows only its exact host');
  t.equal(stageOf('https://notgithub.com/', p), 'allowlist', 'suffix match is per label');
  t.equal(stageOf('https://github.com.evil.test/', p), 'allowlist');
  t.equal(stageOf('https://files.pypi.org/', p), 'allowlist', 'exact entries do not cover subdomains');
  t.equal(stageOf('https://gist.github.com/', p), 'blocklist');
  t.equal(stageOf('https://evil.github.com/', p), 'blocklist', 'block wildcard includes its apex');
  t.equal(stageOf('https://x.evil.github.com/', p), 'blocklist');
  const v = evaluate(p, get('https://example.com/'));
  t.same(v, { verdict: 'block', stage: 'allowlist', reason: 'example.com is not on the allowlist', rule: 'not-allowed' });
  t.match(evaluate(p, get('https://api.github.com/')), { verdict: 'allow', rule: '*.github.com' });
});

t.test('url-length: the limit applies to the raw URL', async (t) => {
  const p = loadPolicy('version: 1\nallow: ["*"]\nlimits: { maxUrlLength: 64 }\n');
  t.equal(stageOf(`https://x.test/${'a'.repeat(49)}`, p), 'done', '64 characters');
  t.equal(stageOf(`https://x.test/${'a'.repeat(50)}`, p), 'url-length', '65 characters');
  t.equal(stageOf(`https://x.test/${'ab/'.repeat(800)}`), 'url-length', 'default 2048');
});

t.test('url-dlp: secrets in the path, query, userinfo, fragment and host', async (t) => {
  const cases: Array<[string, RegExp]> = [
    [`https://x.test/upload/${FAKE.anthropic}`, /path segment/],
    [`https://x.test/?key=${FAKE.github}`, /query value/],
    [`https://x.test/?${FAKE.awsKeyId}=1`, /query key/],
    [`https://${FAKE.slack}:x@x.test/`, /userinfo/],
    [`https://x.test/#${FAKE.anthropic}`, /fragment/],
    [`https://${FAKE.anthropic.toLowerCase()}.x.test/`, /hostname|subdomain/],
  ];
  for (const [url, where] of cases) {
    const v = evaluate(open, get(url));
    t.equal(v.stage, 'url-dlp', url.slice(0, 40));
    t.match(v.reason, where);
    t.ok(v.rule, 'names the rule');
  }
  t.match(evaluate(open, get(`https://x.test/?q=${FAKE.anthropic}`)), { reason: 'secret in query value (anthropic-api-key)', rule: 'anthropic-api-key' });
});

t.test('a host that carries a secret is withheld from allowlist/blocklist reasons', async (t) => {
  const p = loadPolicy('version: 1\nallow: [x.test]\nblock: ["*.evil.test"]\n');
  const host = `${FAKE.anthropic.toLowerCase()}.exfil.test`;
  const v = evaluate(p, get(`https://${host}/`));
  t.same(v, { verdict: 'block', stage: 'allowlist', reason: 'a host name that appears to carry a secret is not on the allowlist', rule: 'not-allowed' });
  const all = loadPolicy('version: 1\nallow: ["*"]\nblock: ["*.evil.test"]\n');
  t.match(evaluate(all, get(`https://zq7xv2lp9rt4wm8ks3nd6hf1bc5gj0ty.evil.test/`)).reason, /^a host name that appears .* is blocked by "\*\.evil\.test"$/);
  t.match(evaluate(p, get('https://plain.example/')).reason, /^plain\.example is not on the allowlist$/, 'ordinary names are quoted');
});

t.test('a block reason never quotes the secret', async (t) => {
  for (const url of [`https://x.test/?q=${FAKE.anthropic}`, `https://x.test/${Buffer.from(FAKE.github).toString('hex')}`]) {
    const v = evaluate(open, get(url));
    t.equal(v.verdict, 'block');
    t.notMatch(v.reason, FAKE.anthropic.slice(10));
    t.notMatch(v.reason, FAKE.github.slice(6));
  }
});

t.test('entropy: random path segments, query parts and subdomain labels', async (t) => {
  const random = 'Zq7Xv2Lp9Rt4Wm8Ks3Nd6Hf1Bc5Gj0Ty';
  t.match(evaluate(open, get(`https://x.test/files/${random}`)), { stage: 'entropy', rule: 'entropy-path' });
  t.match(evaluate(open, get(`https://x.test/?id=${random}`)), { stage: 'entropy', rule: 'entropy-query' });
  t.match(evaluate(open, get(`https://x.test/?${random}=1`)), { stage: 'entropy', rule: 'entropy-query' });
  t.match(evaluate(open, get(`https://${random.toLowerCase().slice(0, 30)}.exfil.x.test/`)), { stage: 'entropy', rule: 'entropy-subdomain' });
  t.match(evaluate(open, get(`https://x.test/?id=${random}`)).reason, /^high-entropy query value \(\d\.\d bits\/char, 32 chars\)$/);
  t.equal(stageOf(`https://x.test/files/${random.slice(0, 19)}`), 'done', 'under 20 chars is not judged');
  t.equal(stageOf(`https://${random.toLowerCase().slice(0, 30)}.test/`), 'done', 'the last two labels are ignored');
  t.equal(stageOf('https://x.test/a/0123456789abcdef0123456789abcdef01234567'), 'done', 'hex digests stay under 4.5 bits');
  const off = loadPolicy('version: 1\nallow: ["*"]\ndlp: { entropy: false }\n');
  t.equal(stageOf(`https://x.test/files/${random}`, off), 'done', 'entropy can be turned off');
});

// Issue 13, "what must keep passing": digests and signatures, long names and SigV4 credentials
// are not random secrets; everything around them still is.
t.test('entropy: digest-shaped values pass, other lengths, non-canonical and encoded text do not', async (t) => {
  const bytes = (n: number, seed = 1) => Buffer.concat(Array.from({ length: Math.ceil(n / 64) }, (_, i) => createHash('sha512').update(`${seed}:${i}`).digest())).subarray(0, n);
  for (const n of [16, 20, 28, 32, 48, 64, 128, 256, 512]) {
    t.ok(digestShaped(bytes(n).toString('base64')), `base64 of ${n} bytes`);
    t.ok(digestShaped(bytes(n).toString('base64url')), `base64url of ${n} bytes`);
  }
  t.notOk(digestShaped(bytes(24).toString('base64')), '24 bytes is no digest length');
  t.notOk(digestShaped(bytes(30).toString('base64')), '30 bytes: the length of an AWS secret access key');
  const b64 = bytes(32).toString('base64url');
  const spare = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(b64.at(-1)!) | 1;
  t.notOk(digestShaped(b64.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[spare]), 'spare bits set: not what an encoder writes');
  t.notOk(digestShaped(`${b64.slice(0, 10)}+${b64.slice(11, -1)}_`), 'two alphabets at once');
  t.notOk(digestShaped(Buffer.from('Zq7Xv2Lp9Rt4Wm8Ks3Nd6Hf1Bc5Gj0Ty').toString('base64')), 'text of a digest length is text');

  t.equal(stageOf(`https://x.blob.test/c/b.zip?sv=2022-11-02&sig=${encodeURIComponent(bytes(32).toString('base64'))}`), 'done', 'Azure SAS sig');
  t.equal(stageOf(`https://x.test/cas/sha256/${b64}`), 'done', 'content hash as a path segment');
  t.equal(stageOf(`https://x.test/?sig=${encodeURIComponent(bytes(30).toString('base64'))}`), 'entropy', 'a 40-character secret key in a sig');
  t.equal(stageOf(`https://x.test/?sig=${Buffer.from('Zq7Xv2Lp9Rt4Wm8Ks3Nd6Hf1Bc5Gj0Ty').toString('base64url')}`), 'entropy', 'base64 of a shapeless text secret');
});

t.test('entropy: a name is judged word by word, anything else as a whole', async (t) => {
  const random = 'Zq7Xv2Lp9Rt4Wm8Ks3Nd6Hf1Bc5Gj0Ty';
  t.equal(stageOf('https://files.x.test/packages/ab/cd/cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl'), 'done', 'a wheel file name');
  t.equal(stageOf('https://x.test/o?X-Goog-Credential=ci-uploader%40acme-build.iam.gserviceaccount.com%2F20261207%2Fauto%2Fstorage%2Fgoog4_request'), 'done', 'a service-account credential scope');
  t.equal(stageOf(`https://x.test/files/${random}.whl`), 'entropy', 'a random word in a name');
  t.equal(stageOf(`https://x.test/?id=ci@${random}.test`), 'entropy', 'a random word in an address');
  t.equal(stageOf(`https://x.test/?pw=${encodeURIComponent('k8#Qz!m2@Lp.X9$w^R4&vT7*nB1%yH3(')}`), 'entropy', 'other punctuation: not a name, judged whole');
  t.equal(evaluate(open, get(`https://x.test/files/${random}.whl`)).reason, 'high-entropy path segment (5.0 bits/char, 32 chars)', 'the reason measures the random word');
});

t.test('a SigV4 credential scope: its key id is public, anything appended is not', async (t) => {
  const credential = `${FAKE.awsKeyId}/20261207/us-east-1/s3/aws4_request`;
  const q = (c: string) => `https://b.s3.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(c)}&X-Amz-Date=20261207T045600Z`;
  t.equal(stageOf(q(credential)), 'done', 'presigned URL');
  t.equal(stageOf(q(credential).replace(/%2F/g, '/')), 'done', 'slashes unencoded');
  t.equal(stageOf(q(credential.replace('us-east-1', 'us-gov-west-1').replace('/s3/', '/execute-api/'))), 'done', 'another region and service');
  const header = (c: string) => evaluate(open, { ...get('https://b.s3.test/k'), headers: { Authorization: `AWS4-HMAC-SHA256 Credential=${c}, SignedHeaders=host;x-amz-date, Signature=${'0f'.repeat(32)}` } });
  t.equal(header(credential).verdict, 'allow', 'Authorization header');
  t.equal(stageOf(`https://x.test/?id=${FAKE.awsKeyId}`), 'url-dlp', 'a key id alone is still reported');
});

// Issue 13 class 6: only a spliced tunnel is judged on its host name alone (at CONNECT); a
// passthrough host's request that evaluate() sees was seen in the clear and gets every stage.
t.test('a passthrough host seen in the clear (plain http, or a terminated route host) gets every stage', async (t) => {
  const p = loadPolicy('version: 1\nallow: [pass.test, x.test]\npassthrough: [pass.test]\n');
  t.match(evaluate(p, get(`http://pass.test/?q=${FAKE.github}`)), { stage: 'url-dlp' });
  t.match(evaluate(p, get('https://pass.test/a/../b')), { stage: 'traversal' }, 'URL syntax checks still apply');
  t.match(evaluate(p, get('http://pass.test/ok')), { verdict: 'allow' });
  const both = loadPolicy('version: 1\nroutes: [{ host: api.x.test, headers: { x-api-key: X_KEY } }]\npassthrough: [api.x.test]\n');
  t.match(evaluate(both, { ...get('https://api.x.test/v1/messages'), body: `{"k":"${FAKE.github}"}` }), { stage: 'body-dlp' }, 'route + passthrough: terminated, so scanned');
});

t.test('DLP-only mode (allow "*") still blocks well-known paste, capture and tunnel services; naming one allows it', async (t) => {
  const star = loadPolicy('version: 1\nallow: ["*"]\n');
  for (const host of ['pastebin.com', 'webhook.site', 'abc123.ngrok-free.app', 'x.y.oast.fun', 'transfer.sh', 'Pastebin.COM.']) {
    t.match(evaluate(star, get(`https://${host}/upload`)), { verdict: 'block', stage: 'blocklist', rule: 'exfil-service' }, host);
  }
  t.match(evaluate(star, get('https://pastebin.com/')).reason, /^pastebin\.com is a well-known paste, capture or tunnel service, blocked when allow is "\*"; the operator can allow it by name$/);
  t.match(evaluate(star, get('https://registry.npmjs.org/left-pad')), { verdict: 'allow' }, 'ordinary hosts are untouched');
  t.match(evaluate(star, get('https://notpastebin.com/')), { verdict: 'allow' }, 'a look-alike suffix is not the service');
  const named = loadPolicy('version: 1\nallow: ["*", pastebin.com, "*.ngrok-free.app"]\n');
  t.match(evaluate(named, get('https://pastebin.com/')), { verdict: 'allow' }, 'the operator named it');
  t.match(evaluate(named, get('https://abc.ngrok-free.app/')), { verdict: 'allow' });
  t.match(evaluate(named, get('https://webhook.site/')), { stage: 'blocklist' }, 'others stay blocked');
  t.match(evaluate(loadPolicy('version: 1\nallow: [pastebin.com]\n'), get('https://pastebin.com/')), { verdict: 'allow' }, 'an explicit allowlist is the operator\'s choice');
});
