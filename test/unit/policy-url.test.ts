// URL-level stages, each with blocking and passing cases, in the order evaluate() runs them.
import t from 'tap';
import { dlpOnlyPolicy, evaluate, loadPolicy, STAGES, type Verdict } from '../../lib/policy/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const open = dlpOnlyPolicy();
const get = (url: string, headers: Record<string, string> = {}) => ({ method: 'GET', url, headers });
const stageOf = (url: string, p = open): Verdict['stage'] => evaluate(p, get(url)).stage;

t.test('stage names are the stable public list', async (t) => {
  t.same([...STAGES], ['scheme', 'sni', 'crlf', 'traversal', 'allowlist', 'blocklist', 'ssrf', 'url-length', 'url-dlp', 'entropy', 'host-mismatch', 'header-dlp', 'body-dlp', 'canary', 'ssrf-resolved', 'client', 'error', 'done']);
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

t.test('passthrough hosts get hostname-level stages only', async (t) => {
  const p = loadPolicy('version: 1\nallow: [api.anthropic.com, x.test]\npassthrough: [api.anthropic.com]\n');
  t.match(evaluate(p, get(`https://api.anthropic.com/?q=${FAKE.github}`)), { verdict: 'allow', reason: /passthrough/ });
  t.match(evaluate(p, get('https://api.anthropic.com/a/../b')), { stage: 'traversal' }, 'URL syntax checks still apply');
  t.match(evaluate(p, get(`https://x.test/?q=${FAKE.github}`)), { stage: 'url-dlp' });
  const both = loadPolicy('version: 1\nroutes: [{ host: api.anthropic.com, headers: { x-api-key: ANTHROPIC_API_KEY } }]\npassthrough: [api.anthropic.com]\n');
  t.match(evaluate(both, { ...get('https://api.anthropic.com/v1/messages'), body: `{"k":"${FAKE.github}"}` }), { verdict: 'allow' }, 'route + passthrough: terminated, no content DLP');
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
