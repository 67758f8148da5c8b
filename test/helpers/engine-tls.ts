// TLS material for a test Docker engine run with --tlsverify (issue 17), made with lib/pki: a
// throwaway CA, a server certificate for the engine's IP and a client certificate (dockerd
// refuses a client certificate without the clientAuth usage). The client's half is laid out as
// the docker CLI expects a DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem (0600).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCaCertificate, generateKeys, LeafSigner } from '../../lib/pki/forge.js';
import { parseHost } from '../../lib/pki/host.js';

const HOUR_MS = 3_600_000;

export interface EngineTls {
  /** A new temp dir holding the client's ca.pem, cert.pem and key.pem; the caller removes it. */
  clientDir: string;
  /** What dockerd's --tlscacert, --tlscert and --tlskey read. */
  server: { ca: string; cert: string; key: string };
  /** The client's half as PEM, for a dockerode client. */
  client: { ca: string; cert: string; key: string };
}

// A CA valid for a day (backdated an hour for clock skew), a server leaf for `ip`, a client
// leaf; the client files written to a fresh dir under the OS temp dir named `prefix`*.
export function engineTls(ip: string, prefix: string, now = Date.now()): EngineTls {
  const notBefore = new Date(Math.floor((now - HOUR_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor((now + 24 * HOUR_MS) / 1000) * 1000);
  const caKeys = generateKeys();
  const ca = buildCaCertificate({ commonName: `bottle e2e engine CA ${ip}`, notBefore, notAfter, keys: caKeys });
  const leaf = (name: string, usage: 'serverAuth' | 'clientAuth'): { cert: string; key: string } => {
    const keys = generateKeys();
    const signer = new LeafSigner(ca, caKeys.privateKeyPem, keys.publicKeyPem);
    return { cert: signer.issue({ subject: parseHost(name), notBefore, notAfter, usage }), key: keys.privateKeyPem };
  };
  const server = { ca, ...leaf(ip, 'serverAuth') };
  const client = { ca, ...leaf('bottle-e2e-client', 'clientAuth') };
  const clientDir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(clientDir, 'ca.pem'), client.ca, { mode: 0o644 });
  writeFileSync(join(clientDir, 'cert.pem'), client.cert, { mode: 0o644 });
  writeFileSync(join(clientDir, 'key.pem'), client.key, { mode: 0o600 });
  return { clientDir, server, client };
}
