// Per-host leaf certificates for the gateway's TLS interception (SPEC §7). One P-256 key is
// generated per minter and reused for every host, so a new host costs one signature.
import { createSecureContext, type SecureContext } from 'node:tls';
import { UserError } from '../errors.js';
import { TtlLruCache } from './cache.js';
import type { CertificateAuthority } from './ca.js';
import { generateKeys, type KeyPairPem, LeafSigner } from './forge.js';
import { parseHost } from './host.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// CA/Browser Forum ceiling is 398 days; stay a day under it, measured notBefore→notAfter.
const MAX_LEAF_MS = 397 * DAY_MS;
const LEAF_BACKDATE_MS = HOUR_MS;

// Cache bounds and clock; the defaults suit one gateway serving one agent.
export interface LeafMinterOptions {
  maxEntries?: number; // default 1000
  ttlMs?: number; // default 12 h
  now?: () => number;
  // The one leaf key pair every leaf shares; default: a new P-256 pair generated here.
  keys?: KeyPairPem;
}

// What a TLS server needs for one host. chainPem = leaf + CA, the `cert` a server presents.
export interface LeafCertificate {
  readonly host: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly chainPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

interface Entry {
  leaf: LeafCertificate;
  context?: SecureContext;
}

// Mints and caches leaves signed by `ca`. Synchronous on purpose: minting is CPU-bound, so
// an async API would only add in-flight bookkeeping; with a sync one, concurrent requests
// for the same host cannot race and the second always gets the cached leaf.
export class LeafMinter {
  private readonly cache: TtlLruCache<string, Entry>;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly signer: LeafSigner;
  private readonly keyPem: string;

  constructor(private readonly ca: CertificateAuthority, options: LeafMinterOptions = {}) {
    this.cache = new TtlLruCache(options.maxEntries ?? 1000);
    this.ttlMs = options.ttlMs ?? 12 * HOUR_MS;
    if (!(this.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${this.ttlMs}`);
    this.now = options.now ?? Date.now;
    leafValidity(this.now(), ca); // refuse an expired CA now rather than on the first request
    const keys = options.keys ?? generateKeys();
    this.keyPem = keys.privateKeyPem;
    this.signer = new LeafSigner(ca.certPem, ca.keyPem, keys.publicKeyPem);
  }

  // Number of hosts currently cached.
  get size(): number {
    return this.cache.size;
  }

  // PEMs for `host` (DNS name or IP literal, IPv6 with or without brackets).
  get(host: string): LeafCertificate {
    return this.entry(host).leaf;
  }

  // For tls.createServer's SNICallback; cached alongside the leaf, so it expires with it.
  secureContext(host: string): SecureContext {
    const entry = this.entry(host);
    entry.context ??= createSecureContext({ key: entry.leaf.keyPem, cert: entry.leaf.chainPem });
    return entry.context;
  }

  private entry(host: string): Entry {
    const subject = parseHost(host);
    const now = this.now();
    const cached = this.cache.get(subject.name, now);
    if (cached) return cached;
    const { notBefore, notAfter } = leafValidity(now, this.ca);
    const certPem = this.signer.issue({ subject, notBefore, notAfter });
    const leaf: LeafCertificate = {
      host: subject.name,
      certPem,
      keyPem: this.keyPem,
      chainPem: certPem + this.ca.certPem,
      notBefore,
      notAfter,
    };
    const entry: Entry = { leaf };
    this.cache.set(subject.name, entry, Math.min(now + this.ttlMs, notAfter.getTime()));
    return entry;
  }
}

// Backdated for clock skew, at most 397 days long, never outside the CA's own window.
// Whole seconds, because that is all an X.509 time holds.
export function leafValidity(
  now: number,
  ca: Pick<CertificateAuthority, 'commonName' | 'notBefore' | 'notAfter'>,
): { notBefore: Date; notAfter: Date } {
  const floorSec = (ms: number) => Math.floor(ms / 1000) * 1000;
  const notBefore = floorSec(Math.max(now - LEAF_BACKDATE_MS, ca.notBefore.getTime()));
  const notAfter = floorSec(Math.min(notBefore + MAX_LEAF_MS, ca.notAfter.getTime()));
  if (notAfter <= now) {
    throw new UserError(
      `cannot mint leaf certificates: CA "${ca.commonName}" expired on ${ca.notAfter.toISOString()}; ` +
        'remove the bottle CA directory so a new CA is created, and have the agent trust it',
    );
  }
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}
