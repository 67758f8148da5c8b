// Issue 13, "what must keep passing", through the real gateway: presigned S3 and Azure SAS URLs
// and a SigV4-signed upload reach the upstream byte for byte; the same shapes carrying a secret
// (a secret access key after the credential scope, a token inside a digest-length `sig`) are
// refused and never arrive.
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { httpsViaProxy } from '../fixtures/gateway/client.js';
import { startWorld } from '../fixtures/gateway/world.js';

const digest = (seed: string) => createHash('sha256').update(seed).digest();
const scope = (keyId: string) => `${keyId}/20261207/us-east-1/s3/aws4_request`;
const presigned = (credential: string) => `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(credential)}`
  + `&X-Amz-Date=20261207T045600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${digest('sig').toString('hex')}`;
const sas = (sig: Buffer) => `sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-08T04%3A56%3A00Z&spr=https&sig=${encodeURIComponent(sig.toString('base64'))}`;
const sigV4 = (credential: string) => `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=content-type;host;x-amz-date, Signature=${digest('auth').toString('hex')}`;
// A 40-character secret access key, made at runtime (base64 of 30 random bytes).
const secretKey = () => randomBytes(30).toString('base64');

t.test('presigned S3, Azure SAS and a SigV4-signed upload reach the upstream exactly as sent', async (t) => {
  const w = await startWorld(t);
  const paths = [
    `/artifacts/acme-api-1.4.0.tar.gz?${presigned(scope(FAKE.awsKeyId))}`,
    `/artifacts/acme-api-1.4.0.zip?${sas(digest('sas'))}`,
  ];
  for (const path of paths) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', path));
    t.equal(r.status, 200, path.slice(0, 60));
  }
  const authorization = sigV4(scope(FAKE.awsKeyId));
  const body = 'release notes\n';
  const put = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/artifacts/notes.txt'), {
    method: 'PUT', headers: { authorization, 'content-type': 'text/plain', 'x-amz-date': '20261207T045600Z' }, body,
  });
  t.equal(put.status, 200, 'SigV4 Authorization header');
  t.same(w.upstream.requests.map((r) => r.url), [...paths, '/artifacts/notes.txt'], 'URLs byte for byte');
  const upload = w.upstream.requests[2]!;
  t.equal(upload.headers.authorization, authorization, 'Authorization byte for byte');
  t.equal(upload.body.toString(), body);
});

t.test('the same shapes carrying a secret are refused and never forwarded', async (t) => {
  const w = await startWorld(t);
  // A token inside a digest-length, binary-looking signature: exempt from entropy, still decoded.
  const smuggled = Buffer.concat([Buffer.from(FAKE.awsKeyId), Buffer.alloc(12, 0xfe)]);
  const cases: Array<[string, string, Parameters<typeof httpsViaProxy>[3]]> = [
    ['secret key after the credential scope', `/a?${presigned(`${scope(FAKE.awsKeyId)}/${secretKey()}`)}`, {}],
    ['secret key glued to aws4_request', `/b?${presigned(`${scope(FAKE.awsKeyId)}${secretKey()}`)}`, {}],
    ['a token inside a 32-byte sig', `/c?${sas(smuggled)}`, {}],
    ['secret key after the Authorization credential', '/d', { method: 'PUT', headers: { authorization: sigV4(`${scope(FAKE.awsKeyId)}/${secretKey()}`) }, body: 'x' }],
  ];
  for (const [what, path, opts] of cases) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', path), opts);
    t.equal(r.status, 403, what);
  }
  t.same(w.upstream.requests, [], 'nothing reached the upstream');
  t.same(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => d.stage), ['url-dlp', 'url-dlp', 'url-dlp', 'header-dlp']);
});
