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

const UA_PIP = 'pip/24.3.1 {"ci":null,"cpu":"x86_64","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.12.8"},"installer":{"name":"pip","version":"24.3.1"},"openssl_version":"OpenSSL 3.0.15 3 Sep 2024","python":"3.12.8","rustc_version":"1.83.0","setuptools_version":"75.6.0","system":{"name":"Linux","release":"6.8.0-49-generic"}}';
const UA_CARGO = 'cargo/1.83.0 (5ffbef321 2024-10-29)';
// Digest-shaped values in the alphabets real services use (deterministic, so failures reproduce).
const bytes = (seed: string, n: number) => Buffer.concat(Array.from({ length: Math.ceil(n / 64) }, (_, i) => createHash('sha512').update(`${seed}:${i}`).digest())).subarray(0, n);
const hexOf = (seed: string, n: number) => bytes(seed, n).toString('hex');
const b64url = (seed: string, n: number) => bytes(seed, n).toString('base64url');
const b32 = (seed: string, n: number) => [...bytes(seed, n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');
// A public access-key id as it appears in X-Amz-Credential (not a secret: the signature is the proof).
const AWS_KEY_ID = `AKIA${b32('s3-key', 16)}`;
const amzQuery = (scope: string) => `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${AWS_KEY_ID}%2F20261207%2F${scope}%2Faws4_request`
  + `&X-Amz-Date=20261207T045600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${hexOf(`sig:${scope}`, 32)}`;
const sasQuery = `sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-08T04%3A56%3A00Z&st=2026-12-07T04%3A56%3A00Z&spr=https&sig=${encodeURIComponent(bytes('sas', 32).toString('base64'))}`;
const gcsQuery = 'X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=ci-uploader%40acme-build.iam.gserviceaccount.com%2F20261207%2Fauto%2Fstorage%2Fgoog4_request'
  + `&X-Goog-Date=20261207T045600Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=${hexOf('gcs', 256)}`;
const sri = (name: string) => `sha512-${bytes(`sri:${name}`, 64).toString('base64')}`;
const gitSha = (seed: string) => hexOf(`git:${seed}`, 20);
// GitHub GraphQL global node ids: a type prefix and a base64url-ish msgpack tail.
const nodeId = (prefix: string, seed: string) => `${prefix}_kwDO${b64url(`node:${seed}`, 12)}`;
const README = [
  '# acme-api', '',
  'A small REST service. To run it locally:', '',
  '1. Copy `.env.example` to `.env`.',
  '2. Set `DB_PASSWORD=changeme123` (the docker-compose default) or your own value.',
  '3. Run `docker compose up -d db` and then `npm run dev`.', '',
  'Never commit your real `.env`; `API_KEY=your-api-key-here` is only a placeholder.', '',
].join('\n');
const ENV_EXAMPLE = 'DB_HOST=localhost\nDB_PORT=5432\nDB_USER=app\nDB_PASSWORD=changeme123\nSECRET_KEY=replace-me\nAPI_KEY=your-api-key-here\n';
const LOCK_PACKAGES = ['lodash@4.17.21', 'yaml@2.9.1', 'zod@3.25.76', 'commander@14.0.3', 'execa@9.6.1', '@types/node@20.19.43', 'tsx@4.23.15', 'typescript@5.9.3', 'ms@2.1.3', 'debug@4.4.0', 'semver@7.6.3', 'chalk@5.3.0'];
const lockfile = JSON.stringify({
  name: 'acme-api', version: '1.4.0', lockfileVersion: 3, requires: true,
  packages: {
    '': { name: 'acme-api', version: '1.4.0', license: 'MIT', dependencies: { lodash: '^4.17.21', yaml: '^2.9.1', zod: '^3.25.76' }, devDependencies: { typescript: '~5.9.3' } },
    ...Object.fromEntries(LOCK_PACKAGES.map((spec) => {
      const at = spec.lastIndexOf('@');
      const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
      const base = name.split('/').pop();
      return [`node_modules/${name}`, { version, resolved: `https://registry.npmjs.org/${name}/-/${base}-${version}.tgz`, integrity: sri(spec), license: 'MIT', engines: { node: '>=18' } }];
    })),
  },
}, null, 2);
const goSum = ['github.com/google/uuid v1.6.0', 'github.com/BurntSushi/toml v1.4.0', 'golang.org/x/sys v0.28.0']
  .flatMap((m) => [`${m} h1:${bytes(`h1:${m}`, 32).toString('base64')}`, `${m}/go.mod h1:${bytes(`mod:${m}`, 32).toString('base64')}`]).join('\n');

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
  // Issue 13, "what must keep passing": signed object-store URLs, content hashes, placeholders, package managers, lockfiles.
  ['S3 presigned GET', { method: 'GET', url: `https://acme-builds.s3.us-east-1.amazonaws.com/artifacts/acme-api-1.4.0.tar.gz?${amzQuery('us-east-1/s3')}`, headers: { 'User-Agent': 'curl/8.5.0', Accept: '*/*' } }],
  ['S3 presigned PUT upload', {
    method: 'PUT', url: `https://s3.eu-west-1.amazonaws.com/acme-reports/coverage/${gitSha('cov')}/lcov.info?${amzQuery('eu-west-1/s3')}`,
    headers: { 'Content-Type': 'text/plain', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: 'TN:\nSF:src/index.ts\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n',
  }],
  ['S3 SigV4 Authorization header (aws s3 cp)', {
    method: 'PUT', url: 'https://acme-builds.s3.us-east-1.amazonaws.com/artifacts/notes.txt',
    headers: {
      Authorization: `AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/20261207/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=${hexOf('sigv4', 32)}`,
      'x-amz-content-sha256': createHash('sha256').update('release notes\n').digest('hex'), 'x-amz-date': '20261207T045600Z', 'Content-Type': 'text/plain',
    },
    body: 'release notes\n',
  }],
  ['Azure blob SAS download', { method: 'GET', url: `https://acmebuilds.blob.core.windows.net/artifacts/acme-api-1.4.0.zip?${sasQuery}`, headers: { 'x-ms-version': '2022-11-02', 'x-ms-client-request-id': uuid(4) } }],
  ['GCS V4 signed URL', { method: 'GET', url: `https://storage.googleapis.com/acme-build-cache/builds/acme-api-1.4.0.tgz?${gcsQuery}`, headers: { 'User-Agent': 'curl/8.5.0' } }],
  ['base64url sha256 content hash as a path segment', { method: 'GET', url: `https://cache.example.test/cas/sha256/${b64url('blob-a', 32)}`, headers: { Accept: 'application/octet-stream' } }],
  ['base64url sha512 content hash as a path segment', { method: 'PUT', url: `https://cache.example.test/v1/objects/${b64url('blob-b', 64)}/data`, headers: { 'Content-Type': 'application/octet-stream' }, body: 'compiled output\n' }],
  ['README prose with DB_PASSWORD=changeme123 (issue body)', {
    method: 'POST', url: 'https://api.github.com/repos/acme/acme-api/issues', headers: { Accept: 'application/vnd.github+json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Document local setup', body: `The README should say this:\n\n${README}`, labels: ['docs'] }),
  }],
  ['.env.example committed through the contents API (base64)', {
    method: 'PUT', url: 'https://api.github.com/repos/acme/acme-api/contents/.env.example', headers: { Accept: 'application/vnd.github+json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: 'docs: add .env.example', content: Buffer.from(ENV_EXAMPLE).toString('base64'), branch: 'docs/env', sha: gitSha('env') }),
  }],
  ['npm scoped tarball with integrity header', {
    method: 'GET', url: 'https://registry.npmjs.org/@types/node/-/node-20.19.43.tgz',
    headers: { 'user-agent': UA_NPM, 'npm-command': 'ci', 'npm-session': hexOf('sess', 8), 'pacote-req-type': 'tarball', 'pacote-version': '18.0.6', 'pacote-integrity': sri('@types/node@20.19.43'), accept: '*/*' },
  }],
  ['PyPI simple index (HTML)', { method: 'GET', url: 'https://pypi.org/simple/cryptography/', headers: { 'User-Agent': UA_PIP, Accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01', 'Cache-Control': 'max-age=0' } }],
  ['PyPI wheel with sha256 fragment', {
    method: 'GET', url: `https://files.pythonhosted.org/packages/${hexOf('whl', 1)}/${hexOf('whl2', 1)}/${hexOf('whl3', 30)}/cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl#sha256=${hexOf('whl-sha', 32)}`,
    headers: { 'User-Agent': UA_PIP },
  }],
  ['crates.io sparse index', { method: 'GET', url: 'https://index.crates.io/se/rd/serde', headers: { 'User-Agent': UA_CARGO, 'If-None-Match': `"${hexOf('crate-etag', 16)}"` } }],
  ['crates.io index config', { method: 'GET', url: 'https://index.crates.io/config.json', headers: { 'User-Agent': UA_CARGO } }],
  ['crates.io download', { method: 'GET', url: 'https://static.crates.io/crates/serde_json/serde_json-1.0.133.crate', headers: { 'User-Agent': UA_CARGO } }],
  ['Go proxy .info', { method: 'GET', url: 'https://proxy.golang.org/github.com/!burnt!sushi/toml/@v/v1.4.0.info', headers: { 'User-Agent': 'Go-http-client/1.1' } }],
  ...['@v/list', '@latest', '@v/v1.6.0.mod', '@v/v1.6.0.zip'].map((tail): [string, HttpRequest] => [
    `Go proxy ${tail}`, { method: 'GET', url: `https://proxy.golang.org/github.com/google/uuid/${tail}`, headers: { 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' } },
  ]),
  ['Go proxy pseudo-version', { method: 'GET', url: `https://proxy.golang.org/golang.org/x/sys/@v/v0.0.0-20241206230352-${gitSha('gosys').slice(0, 12)}.mod`, headers: { 'User-Agent': 'Go-http-client/1.1' } }],
  ['Go checksum database lookup', { method: 'GET', url: 'https://sum.golang.org/lookup/github.com/google/uuid@v1.6.0', headers: { 'User-Agent': 'Go-http-client/1.1' } }],
  ['Go checksum database tile', { method: 'GET', url: 'https://sum.golang.org/tile/8/1/x031/287.p/62', headers: { 'User-Agent': 'Go-http-client/1.1' } }],
  ['GitHub git data: create a commit', {
    method: 'POST', url: 'https://api.github.com/repos/acme/acme-api/git/commits', headers: { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' },
    body: JSON.stringify({ message: 'fix: handle empty input', tree: gitSha('tree'), parents: [gitSha('parent')], author: { name: 'Acme Bot', email: 'bot@acme.test', date: '2026-12-07T04:56:00Z' } }),
  }],
  ['GitHub git data: move a ref', { method: 'PATCH', url: 'https://api.github.com/repos/acme/acme-api/git/refs/heads/main', headers: { Accept: 'application/vnd.github+json' }, body: JSON.stringify({ sha: gitSha('head'), force: false }) }],
  ['GitHub GraphQL with node ids', {
    method: 'POST', url: 'https://api.github.com/graphql', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($pr: ID!, $body: String!) { addPullRequestReview(input: {pullRequestId: $pr, body: $body, event: COMMENT}) { pullRequestReview { id url } } }',
      variables: { pr: nodeId('PR', 'pr1'), body: 'Looks good; one nit on error handling.' },
    }),
  }],
  ['GitHub REST JSON echoing node_ids and shas', {
    method: 'POST', url: 'https://api.github.com/repos/acme/acme-api/check-runs', headers: { Accept: 'application/vnd.github+json' },
    body: JSON.stringify({
      name: 'ci', head_sha: gitSha('check'), status: 'completed', conclusion: 'success', external_id: nodeId('CR', 'cr1'),
      output: { title: 'ci', summary: `Checked ${gitSha('check')}; issue node ${nodeId('I', 'i1')}, user node MDQ6VXNlcjU4MzIzMQ==, pull node ${nodeId('PR', 'pr2')}.` },
    }),
  }],
  ['package-lock.json in a gist', {
    method: 'POST', url: 'https://api.github.com/gists', headers: { Accept: 'application/vnd.github+json' },
    body: JSON.stringify({ description: 'lockfile for the bug report', public: false, files: { 'package-lock.json': { content: lockfile } } }),
  }],
  ['package-lock.json as a raw body', { method: 'PUT', url: 'https://artifacts.example.test/acme-api/1.4.0/package-lock.json', headers: { 'Content-Type': 'application/json' }, body: lockfile }],
  ['go.sum as a raw body', { method: 'PUT', url: 'https://artifacts.example.test/acme-api/1.4.0/go.sum', headers: { 'Content-Type': 'text/plain' }, body: `${goSum}\n` }],
];

t.test('benign corpus passes every stage', async (t) => {
  const p = dlpOnlyPolicy();
  // Canaries active too, as in the daemon: innocent traffic must not collide with them.
  const canaries = prepareCanaries([FAKE.routeToken]);
  for (const [name, r] of corpus) {
    const v = evaluate(p, r, canaries);
    t.equal(v.verdict, 'allow', `${name}${v.verdict === 'block' ? ` -> ${v.stage}: ${v.reason} [${v.rule ?? 'no rule'}]` : ''}`);
  }
});

t.test('the SRI exemption is what lets integrity hashes through entropy', async (t) => {
  const digest = hash('sha512', 'yaml', 'base64');
  const v = evaluate(dlpOnlyPolicy(), { method: 'GET', url: `https://x.test/?integrity=${encodeURIComponent(`sha513-${digest}`)}`, headers: {} });
  t.match(v, { verdict: 'block', stage: 'entropy' }, 'the same digest in a non-SRI shape is judged');
});
