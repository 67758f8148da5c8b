// known_hosts as OpenSSH reads it (lib/docker/known-hosts.ts): plain and hashed host fields,
// [host]:port, patterns and negations, @revoked and @cert-authority, and the refusal lines. An
// ssh:// engine whose key is not recorded must never be spoken to (issue 17: a machine in the
// middle would receive the route secrets sent at container create).
import t from 'tap';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { checkHostKey, fingerprint, hostKeyRefusal, hostsMatch, hostToken, keyType, knownKeyAlgorithms, parseKnownHosts } from '../../lib/docker/known-hosts.js';
import { sshPublicKeyLine } from '../helpers/engine-ssh.js';

const ed = (): string => sshPublicKeyLine(generateKeyPairSync('ed25519').publicKey);
const blob = (line: string): Buffer => Buffer.from(line.split(' ')[1]!, 'base64');
// An OpenSSH HashKnownHosts entry: |1|base64(salt)|base64(HMAC-SHA1(salt, token)).
const hashed = (token: string, salt = randomBytes(20)): string =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(token).digest('base64')}`;

t.test('hostToken: the bare host on port 22, [host]:port elsewhere', async (t) => {
  t.equal(hostToken('box', 22), 'box');
  t.equal(hostToken('10.0.0.5', 2222), '[10.0.0.5]:2222');
});

t.test('hostsMatch: lists, globs, negation, case, and hashed entries', async (t) => {
  t.ok(hostsMatch('a,box,c', 'box'));
  t.ok(hostsMatch('*.example.com', 'Build.Example.com'), 'globs, case-insensitively');
  t.ok(hostsMatch('10.0.0.?', '10.0.0.5'));
  t.notOk(hostsMatch('*.example.com,!evil.example.com', 'evil.example.com'), 'a negated pattern wins');
  t.notOk(hostsMatch('box', '[box]:2222'), 'a bare name is port 22 only');
  t.ok(hostsMatch('[box]:2222', '[box]:2222'));
  t.notOk(hostsMatch('b.x', 'box'), 'a dot is a dot, not any character');
  t.ok(hostsMatch(hashed('box'), 'box'));
  t.ok(hostsMatch(hashed('[box]:2222'), '[box]:2222'));
  t.notOk(hostsMatch(hashed('box'), 'other'));
  t.notOk(hostsMatch('|1|bad', 'box'), 'a malformed hash matches nothing');
});

t.test('parseKnownHosts: comments, blanks, markers and malformed lines', async (t) => {
  const key = ed();
  const lines = parseKnownHosts([
    '# a comment', '', `box ${key} me@laptop`, `@revoked * ${key}`, `@cert-authority *.corp ${key}`,
    '@unknown box ssh-ed25519 AAAA', 'box ssh-ed25519', 'box ssh-ed25519 not*base64',
  ].join('\n'));
  t.same(lines.map((l) => [l.marker ?? '', l.hosts, l.type]), [['', 'box', 'ssh-ed25519'], ['revoked', '*', 'ssh-ed25519'], ['cert-authority', '*.corp', 'ssh-ed25519']]);
  t.ok(lines[0]!.key.equals(blob(key)));
  t.equal(keyType(lines[0]!.key), 'ssh-ed25519');
});

t.test('checkHostKey: the recorded key passes; another, none, or a revoked one is refused', async (t) => {
  const good = ed();
  const other = ed();
  const rsa = sshPublicKeyLine(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);
  const ecdsa = sshPublicKeyLine(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const file = parseKnownHosts([`box,10.0.0.5 ${good}`, `${hashed('[box]:2222')} ${rsa}`, `ecbox ${ecdsa}`].join('\n'));
  t.same(checkHostKey(file, 'box', 22, blob(good)), { ok: true });
  t.same(checkHostKey(file, '10.0.0.5', 22, blob(good)), { ok: true });
  t.same(checkHostKey(file, 'box', 22, blob(other)), { ok: false, reason: 'mismatch' }, 'a different key for a known host');
  t.same(checkHostKey(file, 'box', 2222, blob(rsa)), { ok: true }, 'a hashed [host]:port entry, ssh-rsa');
  t.same(checkHostKey(file, 'box', 2222, blob(good)), { ok: false, reason: 'mismatch' }, 'port 2222 has its own key');
  t.same(checkHostKey(file, 'box', 2200, blob(good)), { ok: false, reason: 'unknown' }, 'another port is another host');
  t.same(checkHostKey(file, 'ecbox', 22, blob(ecdsa)), { ok: true }, 'ecdsa-sha2-nistp256');
  t.equal(keyType(blob(ecdsa)), 'ecdsa-sha2-nistp256');
  t.same(checkHostKey(file, 'elsewhere', 22, blob(good)), { ok: false, reason: 'unknown' });
  t.same(checkHostKey([], 'box', 22, blob(good)), { ok: false, reason: 'unknown' }, 'no known_hosts at all');

  const revoked = parseKnownHosts(`box ${good}\n@revoked other.host ${good}\n`);
  t.same(checkHostKey(revoked, 'box', 22, blob(good)), { ok: false, reason: 'revoked' }, 'a revoked key is refused for any host');
  const ca = parseKnownHosts(`@cert-authority * ${good}\n`);
  t.same(checkHostKey(ca, 'box', 22, blob(good)), { ok: false, reason: 'unknown' }, 'a CA line does not vouch for a plain key');
});

t.test('knownKeyAlgorithms: the types recorded for the host come first (RSA as its SHA-2 signatures too)', async (t) => {
  const file = parseKnownHosts([`box ${sshPublicKeyLine(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)}`, `box ${ed()}`, `other ${ed()}`].join('\n'));
  t.same(knownKeyAlgorithms(file, 'box', 22), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  t.same(knownKeyAlgorithms(file, 'nowhere', 22), []);
});

t.test('hostKeyRefusal: one line naming the host, the presented fingerprint and the fix', async (t) => {
  const key = blob(ed());
  const fp = fingerprint(key);
  t.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/, 'OpenSSH\'s form: no padding');
  const where = { host: 'box', port: 2222, login: 'me@box' };
  const unknown = hostKeyRefusal({ ok: false, reason: 'unknown' }, where, key, '/h/.ssh/known_hosts');
  t.equal(unknown, `ssh: box port 2222 is not in /h/.ssh/known_hosts (it presented ssh-ed25519 ${fp}): refusing to connect an unknown host; `
    + 'run ssh -p 2222 me@box once, or ssh-keyscan -p 2222 box >> /h/.ssh/known_hosts after checking that fingerprint');
  t.match(hostKeyRefusal({ ok: false, reason: 'mismatch' }, { ...where, port: 22 }, key, '/h/.ssh/known_hosts'),
    /^ssh: the host key of box \(ssh-ed25519 SHA256:\S+\) does not match what \/h\/\.ssh\/known_hosts records for it .*ssh-keygen -R box and ssh me@box once$/);
  t.match(hostKeyRefusal({ ok: false, reason: 'revoked' }, where, key, '/k'), /^ssh: the host key of box port 2222 \(.*\) is marked @revoked in \/k; refusing to connect$/);
  for (const reason of ['unknown', 'mismatch', 'revoked'] as const) t.notMatch(hostKeyRefusal({ ok: false, reason }, where, key, '/k'), /\n/, `${reason}: one line`);
});
