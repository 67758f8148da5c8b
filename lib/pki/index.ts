// The bottle PKI: per-bottle CA on disk and the gateway's per-host leaf minter.
export { CA_CERT_FILE, CA_KEY_FILE, createCA, ensureCA, loadCA } from './ca.js';
export { generateKeys, type KeyPairPem } from './forge.js';
export type { CertificateAuthority, CreateCAOptions } from './ca.js';
export { InvalidHostError, parseHost } from './host.js';
export type { LeafSubject } from './host.js';
export { LeafMinter, leafValidity } from './minter.js';
export type { LeafCertificate, LeafMinterOptions } from './minter.js';
