// CA files and leaf contents, checked with node's own X509Certificate wherever node can see
// the property, and with a DER walk of the extensions (forge's ASN.1 reader) where it cannot.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import t, { type Test } from 'tap';
import { UserError } from '../../lib/errors.js';
import { createCA, ensureCA, generateKeys, InvalidHostError, LeafMinter, loadCA } from '../../lib/pki/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

// Extensions of a certificate by OID: criticality and the DER inside the extnValue.
function extensions(pem: string): Map<string, { critical: boolean; value: forge.asn1.Asn1 }> {
  const der = Buffer.from(new X509Certificate(pem).raw).toString('binary');
  const tbs = (forge.asn1.fromDer(der).value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const wrapper = tbs.find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3)!;
  const out = new Map<string, { critical: boolean; value: forge.asn1.Asn1 }>();
  for (const ext of (wrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) {
    const parts = ext.value as forge.asn1.Asn1[];
    const id = forge.asn1.derToOid(forge.util.createBuffer(parts[0]!.value as string));
    const critical = parts.length === 3 && parts[1]!.value === '\xff';
    out.set(id, { critical, value: forge.asn1.fromDer(parts[parts.length - 1]!.value as string) });
  }
  return out;
}
const EXT = { ski: '2.5.29.14', keyUsage: '2.5.29.15', san: '2.5.29.17', basic: '2.5.29.19', aki: '2.5.29.35', eku: '2.5.29.37' };

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-pki-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const caDir = mkdtempSync(join(tmpdir(), 'bottle-pki-shared-'));
t.teardown(() => fs.rmSync(caDir, { recursive: true, force: true }));
const ca = createCA(caDir, { commonName: 'bottle CA unit' });
const caX = new X509Certificate(ca.certPem);
const minter = new LeafMinter(ca);

t.test('createCA writes a self-signed CA certificate', async (t) => {
  t.equal(caX.ca, true);
  t.equal(caX.subject, 'CN=bottle CA unit');
  t.equal(caX.issuer, caX.subject);
  t.ok(caX.verify(caX.publicKey), 'self-signature verifies');
  t.equal(caX.publicKey.asymmetricKeyType, 'ec');
  t.equal(caX.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const from = Date.parse(caX.validFrom);
  const to = Date.parse(caX.validTo);
  t.ok(from <= Date.now() - HOUR + 5000 && from > Date.now() - 2 * HOUR, 'backdated ~1 h');
  t.ok(to > Date.now() + 3000 * DAY, 'default validity is years');
  t.equal(readFileSync(join(caDir, 'ca.crt'), 'utf8'), ca.certPem);

  const ext = extensions(ca.certPem);
  const basic = ext.get(EXT.basic)!;
  t.equal(basic.critical, true, 'basicConstraints is critical');
  const [cA, pathLen] = basic.value.value as forge.asn1.Asn1[];
  t.equal(cA!.value, '\xff', 'cA TRUE');
  t.equal(pathLen!.value, '\x00', 'pathLenConstraint 0');
  t.same(ext.get(EXT.keyUsage), { critical: true, value: { ...ext.get(EXT.keyUsage)!.value, value: '\x01\x06' } }, 'keyCertSign + cRLSign, critical');
  t.equal((ext.get(EXT.ski)!.value.value as string).length, 20, 'subjectKeyIdentifier: a SHA-1');
  t.notOk(ext.has(EXT.eku), 'a root carries no extKeyUsage');
});

t.test('default common name is "bottle CA <slug>" and days bound the validity', async (t) => {
  const now = Date.UTC(2030, 0, 1);
  const other = createCA(tempDir(t), { days: 30, now: () => now });
  t.match(other.commonName, /^bottle CA [0-9a-f]{8}$/);
  t.equal(other.notBefore.getTime(), now - HOUR);
  t.equal(other.notAfter.getTime(), now + 30 * DAY);
  t.throws(() => createCA(tempDir(t), { days: 0 }), UserError);
});

t.test('ca.key is 0600, ca.crt 0644, no temp files left', async (t) => {
  const dir = tempDir(t);
  const old = process.umask(0);
  try {
    createCA(dir);
  } finally {
    process.umask(old);
  }
  t.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'ca.crt')).mode & 0o777, 0o644);
  t.same(readdirSync(dir).sort(), ['ca.crt', 'ca.key']);
});

t.test('key bytes only ever land in a file that is already 0600', async (t) => {
  // Regression guard for "write, then chmod": with umask 0 such a file would be 0644 for a
  // moment. Every write of key material is checked against the fd's mode at that instant.
  const checked: number[] = [];
  const writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    const text = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
    if (text.includes('PRIVATE KEY')) checked.push(fs.fstatSync(fd).mode & 0o777);
    return (fs.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  const leaky = (name: string) => (path: unknown, data: unknown, ...rest: unknown[]) => {
    t.notOk(String(data).includes('PRIVATE KEY'), `${name} must not write key bytes by path`);
    return (fs[name as 'writeFileSync'] as (...a: unknown[]) => unknown)(path, data, ...rest);
  };
  const mocked = await t.mockImport<typeof import('../../lib/pki/ca.js')>('../../lib/pki/ca.js', {
    'node:fs': { ...fs, writeSync, writeFileSync: leaky('writeFileSync'), appendFileSync: leaky('appendFileSync') },
  });
  const old = process.umask(0);
  try {
    mocked.createCA(tempDir(t));
  } finally {
    process.umask(old);
  }
  t.ok(checked.length > 0, 'key was written through writeSync');
  t.ok(checked.every((m) => m === 0o600), `modes at write time: ${checked.map((m) => m.toString(8))}`);
});

t.test('loadCA and ensureCA return the stored CA; createCA will not overwrite it', async (t) => {
  const loaded = loadCA(caDir);
  t.equal(loaded.certPem, ca.certPem);
  t.equal(loaded.keyPem, ca.keyPem);
  t.equal(loaded.commonName, 'bottle CA unit');
  t.same(loaded.notAfter, ca.notAfter);
  t.equal(ensureCA(caDir).certPem, ca.certPem);
  t.throws(() => createCA(caDir), { name: 'UserError', message: /ca\.crt already exists/ });

  const fresh = tempDir(t);
  const made = ensureCA(join(fresh, 'nested'));
  t.equal(ensureCA(join(fresh, 'nested')).certPem, made.certPem, 'second call loads');
});

t.test('an RSA root made by an earlier bottle still loads and signs P-256 leaves', async (t) => {
  const rsa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const dir = join(tempDir(t), 'ca');
  createCA(dir, { commonName: 'bottle CA rsa', keys: { privateKeyPem: rsa.privateKey, publicKeyPem: rsa.publicKey } });
  const old = loadCA(dir);
  const oldX = new X509Certificate(old.certPem);
  t.ok(oldX.verify(oldX.publicKey), 'self-signed with sha256WithRSAEncryption');
  const leaf = new X509Certificate(new LeafMinter(old).get('rsa.test').certPem);
  t.ok(leaf.verify(oldX.publicKey) && leaf.checkIssued(oldX), 'leaf signed by the RSA root');
  t.equal(leaf.publicKey.asymmetricKeyType, 'ec');
  const rsaLeaf = new X509Certificate(new LeafMinter(old, { keys: { privateKeyPem: rsa.privateKey, publicKeyPem: rsa.publicKey } }).get('rsa.test').certPem);
  t.equal(extensions(rsaLeaf.toString()).get(EXT.keyUsage)!.value.value, '\x05\xa0', 'an RSA leaf key: digitalSignature + keyEncipherment');
});

t.test('loadCA names the broken file', async (t) => {
  const missing = tempDir(t);
  t.throws(() => loadCA(missing), { name: 'UserError', message: new RegExp(`${join(missing, 'ca.crt')} is missing`) });

  const corrupt = tempDir(t);
  writeFileSync(join(corrupt, 'ca.crt'), 'not a certificate');
  t.throws(() => loadCA(corrupt), { message: /ca\.crt is not a valid PEM certificate/ });

  const noKey = tempDir(t);
  writeFileSync(join(noKey, 'ca.crt'), ca.certPem);
  t.throws(() => loadCA(noKey), { message: new RegExp(`${join(noKey, 'ca.key')} is missing`) });

  writeFileSync(join(noKey, 'ca.key'), '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n');
  t.throws(() => loadCA(noKey), { message: /ca\.key is not a valid/ });

  const other = createCA(tempDir(t));
  writeFileSync(join(noKey, 'ca.key'), other.keyPem);
  t.throws(() => loadCA(noKey), { message: /ca\.key does not belong to .*ca\.crt/ });

  const leafOnly = tempDir(t);
  writeFileSync(join(leafOnly, 'ca.crt'), minter.get('leaf.test').certPem);
  t.throws(() => loadCA(leafOnly), { message: /is not a CA/ });
});

t.test('leaf for a DNS name is issued by the CA and valid for that name only', async (t) => {
  const leaf = minter.get('example.test');
  const x = new X509Certificate(leaf.certPem);
  t.equal(x.issuer, caX.subject);
  t.ok(x.verify(caX.publicKey), 'signature verifies against the CA key');
  t.ok(x.checkIssued(caX));
  t.equal(x.ca, false);
  t.equal(x.subject, 'CN=example.test');
  t.equal(x.subjectAltName, 'DNS:example.test');
  t.equal(x.checkHost('example.test'), 'example.test');
  t.equal(x.checkHost('EXAMPLE.test'), 'example.test');
  t.equal(x.checkHost('other.test'), undefined);
  t.equal(x.checkHost('sub.example.test'), undefined);
  t.same(x.keyUsage, [SERVER_AUTH]);
  t.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.match(x.serialNumber, /^[0-7][0-9A-F]{31}$/, '16 bytes, positive');
  t.ok(leaf.chainPem.startsWith(leaf.certPem) && leaf.chainPem.endsWith(ca.certPem));
  t.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/);

  const ext = extensions(leaf.certPem);
  const akiId = (ext.get(EXT.aki)!.value.value as forge.asn1.Asn1[])[0]!.value;
  t.equal(akiId, extensions(ca.certPem).get(EXT.ski)!.value.value, 'AKI is the CA SKI, not the leaf key id');
  t.not(ext.get(EXT.ski)!.value.value, akiId, 'the leaf has its own SKI');
  t.equal(ext.get(EXT.keyUsage)!.critical, true);
  t.equal(ext.get(EXT.keyUsage)!.value.value, '\x07\x80', 'digitalSignature only (no keyEncipherment for an EC key)');
  t.equal(ext.get(EXT.basic)!.critical, false);
  t.same(ext.get(EXT.basic)!.value.value, [], 'cA FALSE (the default, so an empty SEQUENCE)');
  t.equal(ext.get(EXT.san)!.critical, false, 'SAN not critical while the CN names the host');
});

t.test('leaf validity is backdated, at most 397 days, inside the CA', async (t) => {
  const x = new X509Certificate(minter.get('validity.test').certPem);
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  t.ok(from <= Date.now() - HOUR + 1000 && from > Date.now() - HOUR - 60_000, `validFrom ${x.validFrom}`);
  t.ok(to - from <= 397 * DAY, 'span <= 397 days');
  t.ok(to > Date.now() + 390 * DAY, 'not needlessly short');

  const now = Date.now();
  const shortCa = createCA(tempDir(t), { days: 10, now: () => now });
  const clamped = new X509Certificate(new LeafMinter(shortCa, { now: () => now }).get('a.test').certPem);
  t.equal(Date.parse(clamped.validTo), shortCa.notAfter.getTime(), 'ends with the CA');

  t.throws(() => new LeafMinter(shortCa, { now: () => now + 11 * DAY }), { name: 'UserError', message: /expired/ });
});

t.test('IP literals get IP SANs, v4 and v6', async (t) => {
  const v4 = new X509Certificate(minter.get('127.0.0.1').certPem);
  t.equal(v4.checkIP('127.0.0.1'), '127.0.0.1');
  t.equal(v4.checkIP('127.0.0.2'), undefined);
  t.equal(v4.subjectAltName, 'IP Address:127.0.0.1', 'IP SAN, not a DNS SAN');

  const v6 = minter.get('[2001:DB8::1]');
  const x6 = new X509Certificate(v6.certPem);
  t.equal(v6.host, '2001:db8::1');
  t.equal(x6.checkIP('2001:db8::1'), '2001:db8::1');
  t.equal(x6.checkIP('2001:db8::2'), undefined);
  t.equal(minter.get('2001:db8:0:0:0:0:0:1').certPem, v6.certPem, 'one cache entry per address');

  const mapped = new X509Certificate(minter.get('::ffff:10.1.2.3').certPem);
  t.equal(mapped.subjectAltName, 'IP Address:0:0:0:0:0:FFFF:A01:203');
  t.equal(new X509Certificate(minter.get('::1').certPem).checkIP('::1'), '::1');
});

t.test('a name longer than 64 characters lives in a critical SAN without CN', async (t) => {
  const host = `${'a'.repeat(60)}.long.test`;
  const x = new X509Certificate(minter.get(host).certPem);
  t.notOk(x.subject, 'empty subject');
  t.equal(x.checkHost(host), host);
  t.equal(extensions(minter.get(host).certPem).get(EXT.san)!.critical, true);
});

t.test('hosts that are not DNS names or IP literals are refused', async (t) => {
  for (const bad of ['', '.', 'a..b', 'exa mple.test', '*.test', 'a/b', `${'x'.repeat(64)}.test`, 'fe80::1%eth0', 'é.test']) {
    t.throws(() => minter.get(bad), InvalidHostError, JSON.stringify(bad));
  }
});

t.test('cache: a host is minted once; spelling variants share the entry', async (t) => {
  const a = minter.get('cache.test');
  t.equal(minter.get('cache.test'), a);
  t.equal(minter.get('CACHE.test.'), a);
  t.equal(minter.secureContext('cache.test'), minter.secureContext('Cache.Test'));
});

t.test('cache: expired entries are re-minted (injected clock)', async (t) => {
  let now = Date.now();
  const m = new LeafMinter(ca, { ttlMs: 60_000, now: () => now });
  const first = m.get('ttl.test');
  const ctx = m.secureContext('ttl.test');
  now += 59_999;
  t.equal(m.get('ttl.test'), first, 'still fresh just before the TTL');
  t.equal(m.secureContext('ttl.test'), ctx);
  now += 1;
  const second = m.get('ttl.test');
  t.not(second.certPem, first.certPem, 're-minted at the TTL');
  t.not(new X509Certificate(second.certPem).serialNumber, new X509Certificate(first.certPem).serialNumber);
  t.not(m.secureContext('ttl.test'), ctx, 'context expires with its leaf');
  t.equal(m.size, 1);
});

t.test('cache: least recently used host is evicted at maxEntries', async (t) => {
  const m = new LeafMinter(ca, { maxEntries: 2 });
  const a = m.get('a.test');
  const b = m.get('b.test');
  t.equal(m.get('a.test'), a, 'touch a; b is now oldest');
  m.get('c.test');
  t.equal(m.size, 2);
  t.equal(m.get('a.test'), a, 'a survived');
  t.not(m.get('b.test'), b, 'b was evicted and re-minted');
  t.throws(() => new LeafMinter(ca, { maxEntries: 0 }), RangeError);
  t.throws(() => new LeafMinter(ca, { ttlMs: 0 }), RangeError);
});

t.test('createCA with keys made ahead: the root carries exactly that key', async (t) => {
  const keys = generateKeys();
  const dir = join(tempDir(t), 'ca');
  const made = createCA(dir, { commonName: 'bottle CA async', keys });
  t.equal(made.keyPem, keys.privateKeyPem, 'the given private key is the one stored');
  t.equal(new X509Certificate(made.certPem).publicKey.export({ type: 'spki', format: 'pem' }), keys.publicKeyPem, 'and the certificate holds its public half');
  t.equal(loadCA(dir).commonName, 'bottle CA async', 'loadCA cross-checks the pair');
});

t.test('LeafMinter with a key pair made ahead: every leaf carries that key', async (t) => {
  const keys = generateKeys();
  const m = new LeafMinter(ca, { keys });
  const leaf = m.get('async.example.test');
  t.equal(new X509Certificate(leaf.certPem).publicKey.export({ type: 'spki', format: 'pem' }), keys.publicKeyPem);
  t.equal(leaf.keyPem, keys.privateKeyPem);
  t.ok(new X509Certificate(leaf.certPem).verify(caX.publicKey), 'signed by the CA');
});
