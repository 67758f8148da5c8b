// The per-bottle CA on disk: `ca.crt` (given to the agent to trust) and `ca.key` (stays in the
// sidecar; SPEC §12.3). The key file is born 0600 and appears under its final name only by
// rename, so it is never readable by others, nor half-written, at any moment.
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { buildCaCertificate, describeCertificate, generateKeys, type KeyPairPem } from './forge.js';

// File names inside the CA directory; the gateway mounts the dir, the agent gets ca.crt only.
export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// Covers a sandbox clock that runs behind the host's.
const CA_BACKDATE_MS = HOUR_MS;
// Leaves are short-lived and re-minted; the root lives as long as the bottle may.
const DEFAULT_CA_DAYS = 3650;

// A loaded CA: PEMs plus the facts the leaf minter checks (validity bounds).
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

// Tunables for a new root; `now` is injectable like every clock in bottle.
export interface CreateCAOptions {
  // Defaults to `bottle CA <8 hex>`, so two bottles' roots are told apart in a trust store.
  commonName?: string;
  days?: number;
  now?: () => number;
  /** The root's key pair; default: a new P-256 pair generated here. */
  keys?: KeyPairPem;
}

// Makes a new ECDSA P-256 root in `dir`. Refuses to overwrite an existing CA: agents trust it.
export function createCA(dir: string, options: CreateCAOptions = {}): CertificateAuthority {
  const certPath = join(dir, CA_CERT_FILE);
  if (existsSync(certPath)) {
    throw new UserError(`cannot create a CA in ${dir}: ${certPath} already exists; load it, or remove the directory to start over`);
  }
  const days = options.days ?? DEFAULT_CA_DAYS;
  if (!Number.isFinite(days) || days <= 0) {
    throw new UserError(`cannot create a CA: validity of ${days} days is not a positive number; pass days > 0`);
  }
  const commonName = options.commonName ?? `bottle CA ${randomBytes(4).toString('hex')}`;
  const now = (options.now ?? Date.now)();
  const notBefore = new Date(now - CA_BACKDATE_MS);
  const notAfter = new Date(now + days * DAY_MS);
  const keys = options.keys ?? generateKeys();
  const certPem = buildCaCertificate({ commonName, notBefore, notAfter, keys });

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key first: a crash in between leaves no ca.crt, and ensureCA then simply starts over.
  writeFileAtomic(join(dir, CA_KEY_FILE), keys.privateKeyPem, 0o600);
  writeFileAtomic(certPath, certPem, 0o644);
  // forge stores whole seconds; report what the certificate actually says.
  const info = describeCertificate(certPem);
  return { certPem, keyPem: keys.privateKeyPem, commonName, notBefore: info.notBefore, notAfter: info.notAfter };
}

// Reads and cross-checks `ca.crt` + `ca.key`; every failure names the file and the way out.
export function loadCA(dir: string): CertificateAuthority {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const startOver = `remove ${dir} to have bottle create a new CA (the agent must then trust the new ca.crt)`;

  const certPem = readPem(certPath, 'CA certificate', startOver);
  let info;
  try {
    info = describeCertificate(certPem);
  } catch (err) {
    throw new UserError(`CA certificate ${certPath} is not a valid PEM certificate (${(err as Error).message}); ${startOver}`);
  }
  if (!info.isCA) {
    throw new UserError(`CA certificate ${certPath} is not a CA (no basicConstraints CA:true); ${startOver}`);
  }

  const keyPem = readPem(keyPath, 'CA key', startOver);
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new UserError(`CA key ${keyPath} is not a valid unencrypted PEM private key (${(err as Error).message}); ${startOver}`);
  }
  const certSpki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(certSpki)) {
    throw new UserError(`CA key ${keyPath} does not belong to ${certPath}; restore the matching pair or ${startOver}`);
  }
  return { certPem, keyPem, commonName: info.commonName, notBefore: info.notBefore, notAfter: info.notAfter };
}

// Load the bottle's CA, creating it the first time (no ca.crt yet).
export function ensureCA(dir: string, options: CreateCAOptions = {}): CertificateAuthority {
  return existsSync(join(dir, CA_CERT_FILE)) ? loadCA(dir) : createCA(dir, options);
}

function readPem(path: string, what: string, startOver: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${what} ${path} is missing; ${startOver}`);
    throw new UserError(`cannot read ${what} ${path} (${code ?? (err as Error).message}); check its owner and permissions`);
  }
}

// Temp file in the same directory, created exclusively with `mode` (fchmod pins it exactly,
// whatever the umask), fsynced, then renamed over the target.
function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode);
      const bytes = Buffer.from(data);
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone; the original error is the one that matters
    }
    throw err;
  }
}
