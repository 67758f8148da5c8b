// ssh material for a test Docker engine reached as ssh://root@IP (issue 17): a throwaway RSA
// client key (PEM, which both ssh2 and OpenSSH read) authorized for root in the engine
// container, and the container's own ed25519 host key in a known_hosts, both in a temp HOME laid
// out as ssh expects it (.ssh/id_rsa 0600, .ssh/known_hosts).
import type Docker from 'dockerode';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIn } from '../../lib/docker/api.js';

export interface EngineSsh {
  /** A new temp dir (the caller removes it): .ssh/id_rsa and .ssh/known_hosts. */
  home: string;
  /** The engine's host key as its .pub file has it: `ssh-ed25519 AAAA…` (no comment). */
  hostKey: string;
}

// An ssh wire string: uint32 length, then the bytes.
const sshString = (b: Buffer): Buffer => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
// An mpint: a leading zero byte when the high bit is set, so it reads as positive.
const mpint = (b: Buffer): Buffer => sshString(b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

// `TYPE BASE64` for a public key, as authorized_keys and known_hosts hold it (RSA, ed25519, P-256).
export function sshPublicKeyLine(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');
  if (jwk.kty === 'RSA') {
    return `ssh-rsa ${Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(b64u(jwk.e)), mpint(b64u(jwk.n))]).toString('base64')}`;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(b64u(jwk.x))]).toString('base64')}`;
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
    return `ecdsa-sha2-nistp256 ${Buffer.concat([sshString(Buffer.from('ecdsa-sha2-nistp256')), sshString(Buffer.from('nistp256')), sshString(point)]).toString('base64')}`;
  }
  throw new Error(`sshPublicKeyLine: unsupported key ${jwk.kty}`);
}

// Another ed25519 host key than any engine's: for a known_hosts that names the host wrongly.
export function strangerHostKey(): string {
  return sshPublicKeyLine(generateKeyPairSync('ed25519').publicKey);
}

// Authorizes a fresh client key for root in `container` and writes HOME with it and the
// container's host key for `ip`; the container's sshd must be running (its host keys made).
export async function engineSsh(container: Docker.Container, ip: string, prefix: string): Promise<EngineSsh> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const auth = await execIn(container, ['sh', '-c', 'umask 077 && mkdir -p /root/.ssh && printf "%s\\n" "$KEY" > /root/.ssh/authorized_keys && cat /etc/ssh/ssh_host_ed25519_key.pub'], {
    user: 'root', env: [`KEY=${sshPublicKeyLine(publicKey)} bottle-e2e`],
  });
  if (auth.exitCode !== 0) throw new Error(`engine ssh: authorizing the client key exited ${auth.exitCode}: ${auth.stderr.trim()}`);
  const hostKey = auth.stdout.trim().split(/\s+/).slice(0, 2).join(' ');
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+$/.test(hostKey)) throw new Error(`engine ssh: no ed25519 host key in the container (got ${JSON.stringify(auth.stdout.slice(0, 80))})`);
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'id_rsa'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `${ip} ${hostKey}\n`, { mode: 0o644 });
  return { home, hostKey };
}
