// The only module that touches node-forge, and only its ASN.1/DER codec: the certificates are
// assembled here field by field (RFC 5280) and signed with node:crypto.
//
// Keys are ECDSA P-256. An RSA-2048 key costs 40-200 ms of CPU to generate (median ~120 ms on
// a 2-core machine) and bring-up made two or three of them (the CA on the host, each gateway
// replica's leaf key in the bundle, all while the containers boot); a P-256 key costs 0.03 ms,
// and each TLS handshake the gateway terminates signs with P-256 instead of RSA-2048 too.
// forge's certificate API knows only RSA keys, hence the hand-built structures. A CA made
// with an RSA key by an earlier bottle still loads and still signs (sha256WithRSAEncryption).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { LeafSubject } from './host.js';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const { Class, Type } = asn1;

// A fresh key pair as PEM (PKCS#8 private, SPKI public).
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

// A new ECDSA P-256 key pair, from node:crypto.
export function generateKeys(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
};

// What callers need to know about a CA certificate, read by node's own X.509 parser.
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
  const key = createPrivateKey(spec.keys.privateKeyPem);
  const spki = spkiOf(spec.keys.publicKeyPem);
  const name = nameOf(spec.commonName);
  return signToPem({
    issuer: name, subject: name, spki, notBefore: spec.notBefore, notAfter: spec.notAfter,
    extensions: [
      extension(OID.basicConstraints, true, seq([bool(true), int('\x00')])),
      extension(OID.keyUsage, true, keyUsage({ keyCertSign: true, cRLSign: true })),
      extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(spki))),
    ],
  }, key);
}

// Throws node's own error text on bad PEM; callers wrap it.
export function describeCertificate(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const cn = x.subject.split('\n').find((line) => line.startsWith('CN='));
  return {
    commonName: cn ? cn.slice(3) : '',
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCA: x.ca,
  };
}

// One leaf: who it is for and when it is valid (the key is fixed per LeafSigner).
export interface LeafSpec {
  subject: LeafSubject;
  notBefore: Date;
  notAfter: Date;
  /** extKeyUsage: serverAuth (the default, what the gateway presents) or clientAuth (a TLS
   * client certificate, as a dockerd with --tlsverify demands). */
  usage?: 'serverAuth' | 'clientAuth';
}

// Holds the CA's name, key and key identifier and the one leaf public key, so each leaf
// costs one DER build and one native signature.
export class LeafSigner {
  private readonly issuerDer: string;
  private readonly authorityKeyId: string;
  private readonly caKey: KeyObject;
  private readonly leafSpki: Asn1;
  private readonly leafKeyId: string;
  private readonly leafIsRsa: boolean;

  constructor(caCertPem: string, caKeyPem: string, leafPublicKeyPem: string) {
    const tbs = tbsFields(caCertPem);
    this.issuerDer = derOf(tbs.subject);
    // The CA's own identifier (its SKI extension), so the leaf's AKI names the CA's key.
    this.authorityKeyId = tbs.subjectKeyId ?? keyIdentifier(tbs.spki);
    this.caKey = createPrivateKey(caKeyPem);
    this.leafSpki = spkiOf(leafPublicKeyPem);
    this.leafKeyId = keyIdentifier(this.leafSpki);
    this.leafIsRsa = createPublicKey(leafPublicKeyPem).asymmetricKeyType === 'rsa';
  }

  // Leaf for one host: SAN (DNS or IP), CN = host when it fits, one extKeyUsage.
  issue(spec: LeafSpec): string {
    const { subject } = spec;
    // X.520 caps CN at 64 characters; a longer DNS name lives in the SAN alone, which is
    // then the only identity and so must be critical (RFC 5280 4.2.1.6).
    const fitsCn = subject.name.length <= 64;
    const altName = subject.kind === 'dns'
      ? asn1.create(Class.CONTEXT_SPECIFIC, 2, false, subject.name)
      : asn1.create(Class.CONTEXT_SPECIFIC, 7, false, subject.bytes.toString('binary'));
    return signToPem({
      issuer: fromDer(this.issuerDer),
      subject: fitsCn ? nameOf(subject.name) : seq([]),
      spki: this.leafSpki, notBefore: spec.notBefore, notAfter: spec.notAfter,
      extensions: [
        extension(OID.basicConstraints, false, seq([])),
        // keyEncipherment only means something for an RSA key (RFC 5480 3).
        extension(OID.keyUsage, true, keyUsage({ digitalSignature: true, keyEncipherment: this.leafIsRsa })),
        extension(OID.extKeyUsage, false, seq([oid(OID[spec.usage ?? 'serverAuth'])])),
        extension(OID.subjectAltName, !fitsCn, seq([altName])),
        extension(OID.subjectKeyIdentifier, false, octets(this.leafKeyId)),
        extension(OID.authorityKeyIdentifier, false, seq([asn1.create(Class.CONTEXT_SPECIFIC, 0, false, this.authorityKeyId)])),
      ],
    }, this.caKey);
  }
}

interface TbsSpec {
  issuer: Asn1;
  subject: Asn1;
  spki: Asn1;
  notBefore: Date;
  notAfter: Date;
  extensions: Asn1[];
}

// TBSCertificate (v3, random serial), signed by `key`: ECDSA or RSA, with SHA-256.
function signToPem(spec: TbsSpec, key: KeyObject): string {
  const algorithm = key.asymmetricKeyType === 'rsa'
    ? seq([oid(OID.sha256WithRsa), asn1.create(Class.UNIVERSAL, Type.NULL, false, '')])
    : seq([oid(OID.ecdsaWithSha256)]); // parameters absent for ECDSA (RFC 5758 3.2)
  const tbs = seq([
    asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [int('\x02')]), // v3
    int(randomSerial()),
    algorithm,
    spec.issuer,
    seq([time(spec.notBefore), time(spec.notAfter)]),
    spec.subject,
    spec.spki,
    asn1.create(Class.CONTEXT_SPECIFIC, 3, true, [seq(spec.extensions)]),
  ]);
  const tbsDer = derOf(tbs);
  // node signs ECDSA as a DER SEQUENCE { r, s }, which is what X.509 carries.
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), key).toString('binary');
  const cert = seq([fromDer(tbsDer), algorithm, asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, `\x00${signature}`)]);
  const b64 = Buffer.from(derOf(cert), 'binary').toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// The issuer-side facts of a certificate: its subject Name, its SPKI, its SKI when it has one.
function tbsFields(certPem: string): { subject: Asn1; spki: Asn1; subjectKeyId?: string } {
  const der = Buffer.from(new X509Certificate(certPem).raw).toString('binary');
  const tbs = children(children(fromDer(der))[0]!);
  // [0] version is optional (v1 certificates have none).
  const at = tbs[0]!.tagClass === Class.CONTEXT_SPECIFIC ? 1 : 0;
  const subject = tbs[at + 4]!;
  const spki = tbs[at + 5]!;
  let subjectKeyId: string | undefined;
  const exts = tbs.find((f) => f.tagClass === Class.CONTEXT_SPECIFIC && f.type === 3);
  for (const ext of exts ? children(children(exts)[0]!) : []) {
    const [id, ...rest] = children(ext);
    if (asn1.derToOid(forge.util.createBuffer(id!.value as string)) !== OID.subjectKeyIdentifier) continue;
    const value = rest[rest.length - 1]!.value as string; // OCTET STRING wrapping an OCTET STRING
    subjectKeyId = fromDer(value).value as string;
  }
  return { subject, spki, ...(subjectKeyId !== undefined ? { subjectKeyId } : {}) };
}

// RFC 5280 4.2.1.2 method 1: SHA-1 over the subjectPublicKey BIT STRING's bits.
function keyIdentifier(spki: Asn1): string {
  const bits = (children(spki)[1]!.value as string).slice(1); // drop the unused-bits byte
  return createHash('sha1').update(Buffer.from(bits, 'binary')).digest('binary');
}

// keyUsage as a DER BIT STRING (bit 0 = digitalSignature is the most significant).
function keyUsage(u: { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean; cRLSign?: boolean }): Asn1 {
  const bits = [u.digitalSignature, false, u.keyEncipherment, false, false, u.keyCertSign, u.cRLSign];
  const last = bits.lastIndexOf(true);
  let byte = 0;
  bits.forEach((on, i) => { if (on) byte |= 0x80 >> i; });
  return asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(7 - last, byte));
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return seq([oid(id), ...(critical ? [bool(true)] : []), octets(derOf(value))]);
}

function nameOf(commonName: string): Asn1 {
  const cn = asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(commonName));
  return seq([asn1.create(Class.UNIVERSAL, Type.SET, true, [seq([oid(OID.commonName), cn])])]);
}

// UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
function time(d: Date): Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function spkiOf(publicKeyPem: string): Asn1 {
  return fromDer(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }).toString('binary'));
}

const seq = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
const oid = (id: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(id).getBytes());
const int = (bytes: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bytes);
const bool = (v: boolean): Asn1 => asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, v ? '\xff' : '\x00');
const octets = (bytes: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes);
const derOf = (node: Asn1): string => asn1.toDer(node).getBytes();
// BIT STRINGs stay opaque bytes (forge would otherwise try to parse their contents as DER).
// (@types/node-forge knows only the older boolean second argument.)
const fromDerWith = asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: { decodeBitStrings: boolean }) => Asn1;
const fromDer = (bytes: string): Asn1 => fromDerWith(forge.util.createBuffer(bytes), { decodeBitStrings: false });
const children = (node: Asn1): Asn1[] => node.value as Asn1[];

// 16 random bytes, first byte in 0x01..0x7f: positive, and minimal DER (no leading 0x00).
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('binary');
}
