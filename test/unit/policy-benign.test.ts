// False-positive guard: ordinary agent traffic that must ALL pass in DLP-only mode.
// Hashes and ids are computed at runtime so they look like the real thing.
import t from 'tap';
import { createHash } from 'node:crypto';
import { dlpOnlyPolicy, evaluate, prepareCanaries, type HttpRequest } from '../../lib/policy/index.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const hash = (alg: string, s: string, enc: 'hex' | 'base64' = 'hex') => createHash(alg).update(s).digest(enc);
const uuid = (n: number) => hash('md5', `id${n}`).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-4$3-a$4-$5').slice(0, 36);
const UA_BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const UA_NPM = 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false';
const prompt = [
  'You are a careful senior engineer reviewing a pull request for a small TypeScript service.',
  'Read the module below and explain, in plain language, what each exported function does,',
  'which edge cases it handles, and where the error handling could be improved. Mention any',
  'place where a token, key or password might be logged by accident, and suggest a fix.',
  'Keep the answer under five hundred words, use short paragraphs, and finish with a summary.',
].join(' ');

const corpus: Array<[string, HttpRequest]> = [
  ['GitHub REST issues', {
    method: 'GET', url: 'https://api.github.com/repos/x/y/issues?state=open',
    headers: { 'User-Agent': UA_BROWSER, Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28', 'If-None-Match': `W/"${hash('sha256', 'etag')}"`, 'X-Request-Id': uuid(1) },
  }],
  ['GitHub REST paging', { method: 'GET', url: 'https://api.github.com/repos/octo-org/octo-repo/pulls?state=all&per_page=100&page=3&sort=updated&direction=desc', headers: { Accept: 'application/json' } }],
  ['GitHub commit by sha', { method: 'GET', url: `https://api.github.com/repos/x/y/commits/${hash('sha1', 'c1')}`, headers: {} }],
  ['npm packument (scoped)', { method: 'GET', url: 'https://registry.npmjs.org/@types%2fnode', headers: { 'user-agent': UA_NPM, 'npm-command': 'install', 'npm-session': hash('md5', 's').slice(0, 16), accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' } }],
  ['npm tarball', { method: 'GET', url: 'https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz', headers: { 'user-agent': UA_NPM } }],
  ['npm tarball with integrity', { method: 'GET', url: `https://registry.npmjs.org/yaml/-/yaml-2.9.1.tgz?integrity=${encodeURIComponent(`sha512-${hash('sha512', 'yaml', 'base64')}`)}`, headers: {} }],
  ['npm audit body with integrity hashes', {
    method: 'POST', url: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lodash: ['4.17.21'], yaml: ['2.9.1'], _meta: { integrity: `sha512-${hash('sha512', 'lodash', 'base64')}`, resolved: 'https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz' } }),
  }],
  ['PyPI JSON API', { method: 'GET', url: 'https://pypi.org/pypi/requests/json', headers: { Accept: 'application/json' } }],
  ['PyPI simple index', { method: 'GET', url: 'https://pypi.org/simple/requests/', headers: { Accept: 'application/vnd.pypi.simple.v1+json' } }],
  ['PyPI wheel download', { method: 'GET', url: `https://files.pythonhosted.org/packages/70/8e/${hash('sha256', 'w').slice(0, 60)}/requests-2.31.0-py3-none-any.whl`, headers: {} }],
  ['git smart-http discovery', { method: 'GET', url: 'https://github.com/x/y.git/info/refs?service=git-upload-pack', headers: { 'Git-Protocol': 'version=2', 'User-Agent': 'git/2.43.0' } }],
  ['git upload-pack', { method: 'POST', url: 'https://github.com/x/y.git/git-upload-pack', headers: { 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' }, body: `0032want ${hash('sha1', 'w1')}\n0032have ${hash('sha1', 'h1')}\n00000009done\n` }],
  ['codeload tarball by sha', { method: 'GET', url: `https://codeload.github.com/x/y/tar.gz/${hash('sha1', 'c2')}`, headers: {} }],
  ['raw githubusercontent', { method: 'GET', url: 'https://raw.githubusercontent.com/x/y/refs/heads/main/docs/CONTRIBUTING.md', headers: {} }],
  ['long low-entropy path', { method: 'GET', url: 'https://docs.example.test/guides/getting-started-with-the-command-line-interface-and-configuration-files/introduction-to-the-project-layout', headers: {} }],
  ['search query with spaces', { method: 'GET', url: 'https://api.github.com/search/code?q=policy+engine+language%3Atypescript+repo%3Ax%2Fy', headers: {} }],
  ['Anthropic-style messages body', {
    method: 'POST', url: 'https://api.anthropic.test/v1/messages',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-request-id': uuid(2) },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5', max_tokens: 4096, temperature: 0.2, stream: true, system: 'You are a helpful coding assistant.',
      messages: [
        { role: 'user', content: `${prompt}\n\n${prompt}\n\n${prompt}` },
        { role: 'assistant', content: [{ type: 'text', text: 'The module exports three functions; the first parses input, the second validates it.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Thanks! Now list the tests you would add, one per line.' }] },
      ],
      metadata: { user_id: uuid(3) },
    }),
  }],
  ['form login-free search', { method: 'POST', url: 'https://search.example.test/query', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'q=how+to+write+a+policy+engine&lang=en&page=2' }],
  ['ETag and cache headers', { method: 'GET', url: 'https://cdn.example.test/assets/app.css', headers: { 'If-None-Match': `"${hash('md5', 'css')}"`, 'If-Modified-Since': 'Wed, 21 Oct 2015 07:28:00 GMT', 'Cache-Control': 'no-cache' } }],
];

t.test('benign corpus passes every stage', async (t) => {
  const p = dlpOnlyPolicy();
  // Canaries active too, as in the daemon: innocent traffic must not collide with them.
  const canaries = prepareCanaries([FAKE.routeToken]);
  for (const [name, r] of corpus) {
    const v = evaluate(p, r, canaries);
    t.equal(v.verdict, 'allow', `${name}${v.verdict === 'block' ? ` -> ${v.stage}: ${v.reason}` : ''}`);
  }
});

t.test('the SRI exemption is what lets integrity hashes through entropy', async (t) => {
  const digest = hash('sha512', 'yaml', 'base64');
  const v = evaluate(dlpOnlyPolicy(), { method: 'GET', url: `https://x.test/?integrity=${encodeURIComponent(`sha513-${digest}`)}`, headers: {} });
  t.match(v, { verdict: 'block', stage: 'entropy' }, 'the same digest in a non-SRI shape is judged');
});
