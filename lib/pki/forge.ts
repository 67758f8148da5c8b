// The only module that touches node-forge. forge builds the X.509 structures; keys come from
// node:crypto and signatures are made with node's native RSA, because forge's pure-JS
// `cert.sign` costs ~20-40 ms per leaf against < 1 ms natively (see bench/pki.bench.ts).
import { createPrivateKey, generateKeyPair, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { LeafSubject } from './host.js';

const { pki, asn1 } = forge;

// getTBSCertificate is public in forge but missing from @types/node-forge.
const forgePki = pki as typeof pki & {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

// A fresh RSA-2048 key pair as PEM (PKCS#8 private, SPKI public).
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

const MODULUS = 2048;
const EXPONENT = 0x10001;

// Keys come from node:crypto directly, so forge.options.usePureJavaScript never matters.
export function generateRsaKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: MODULUS, publicExponent: EXPONENT,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

// The same off the main thread (libuv's pool), so a caller can do other work meanwhile.
export function generateRsaKeyPairAsync(): Promise<KeyPairPem> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', {
      modulusLength: MODULUS, publicExponent: EXPONENT,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
    }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ privateKeyPem: privateKey, publicKeyPem: publicKey })));
  });
}

// What callers need to know about a CA certificate without holding forge objects.
export interface CertificateInfo {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
}

// Inputs for the self-signed root; the caller owns the clock and the keys.
export interface CaCertificateSpec {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  keys: KeyPairPem;
}

// A self-signed root: CA:true (critical, pathlen 0: it only ever signs leaves), keyCertSign
// + cRLSign (critical), subjectKeyIdentifier so leaves can point at it.
export function buildCaCertificate(spec: CaCertificateSpec): string {
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(spec.keys.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const name = [{ name: 'commonName', value: spec.commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return signToPem(cert, createPrivateKey(spec.keys.privateKeyPem));
}

// Throws forge's own error text on bad PEM or a non-RSA key; callers wrap it.
export function describeCertificate(pem: string): CertificateInfo {
  const cert = pki.certificateFromPem(pem);
  const cn = cert.subject.getField('CN') as { value?: unknown } | null;
  const bc = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined;
  return {
    commonName: typeof cn?.value === 'string' ? cn.value : '',
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    isCA: bc?.cA === true,
  };
}

// One leaf: who it is for and when it is valid (the key is fixed per LeafSigner).
export interface LeafSpec {
  subject: LeafSubject;
  notBefore: Date;
  notAfter: Date;
}

// Holds the parsed CA and the one leaf public key, so each leaf costs one ASN.1 build and
// one native signature.
export class LeafSigner {
  private readonly issuer: forge.pki.CertificateField[];
  private readonly authorityKeyId: string;
  private readonly caKey: KeyObject;
  private readonly leafPublicKey: forge.pki.PublicKey;

  constructor(caCertPem: string, caKeyPem: string, leafPublicKeyPem: string) {
    const ca = pki.certificateFromPem(caCertPem);
    this.issuer = ca.subject.attributes;
    // forge's `authorityKeyIdentifier: {keyIdentifier: true}` would hash the *leaf's* key,
    // so the CA's identifier is taken from the CA and passed explicitly.
    const ski = ca.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
    this.authorityKeyId = ski?.subjectKeyIdentifier
      ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
      : ca.generateSubjectKeyIdentifier().getBytes();
    this.caKey = createPrivateKey(caKeyPem);
    this.leafPublicKey = pki.publicKeyFromPem(leafPublicKeyPem);
  }

  // Leaf for one host: SAN (DNS or IP), CN = host when it fits, serverAuth only.
  issue(spec: LeafSpec): string {
    const cert = pki.createCertificate();
    cert.publicKey = this.leafPublicKey;
    cert.serialNumber = randomSerialHex();
    cert.validity.notBefore = spec.notBefore;
    cert.validity.notAfter = spec.notAfter;
    const { subject } = spec;
    // X.520 caps CN at 64 characters; a longer DNS name lives in the SAN alone, which is
    // then the only identity and so must be critical (RFC 5280 4.2.1.6).
    const fitsCn = subject.name.length <= 64;
    cert.setSubject(fitsCn ? [{ name: 'commonName', value: subject.name }] : []);
    cert.setIssuer(this.issuer);
    const altName =
      subject.kind === 'dns'
        ? { type: 2, value: subject.name }
        : { type: 7, value: subject.bytes.toString('binary') };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName], critical: !fitsCn },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.authorityKeyId },
    ]);
    return signToPem(cert, this.caKey);
  }
}

// Same fields forge's cert.sign(key, sha256) sets, with the RSA step done by node:crypto.
function signToPem(cert: forge.pki.Certificate, key: KeyObject): string {
  cert.signatureOid = cert.siginfo.algorithmOid = pki.oids['sha256WithRSAEncryption']!;
  cert.tbsCertificate = forgePki.getTBSCertificate(cert);
  const tbs = Buffer.from(asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, key).toString('binary');
  return pki.certificateToPem(cert);
}

// 16 random bytes, first byte in 0x01..0x7f: positive, and minimal DER (no leading 0x00).
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}
