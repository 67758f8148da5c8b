// Whether an ssh:// engine's host key is the one ~/.ssh/known_hosts records for it, as OpenSSH
// decides: without this check ssh2 accepts any key, and a machine in the middle would receive
// what bottle sends the engine (route secrets at container create). Pure: the caller reads the
// file and hands over the key the server presented (its wire blob).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

// One usable line of a known_hosts file.
export interface KnownHost {
  marker?: 'revoked' | 'cert-authority';
  /** The host field: comma-separated patterns (`*`, `?`, `!neg`, `[host]:port`) or `|1|salt|hash`. */
  hosts: string;
  type: string;
  key: Buffer;
}

// The lines of a known_hosts file that name a host and a key; comments, blank and malformed lines
// are skipped, as ssh skips them.
export function parseKnownHosts(text: string): KnownHost[] {
  const out: KnownHost[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    let marker: KnownHost['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m !== '@revoked' && m !== '@cert-authority') continue;
      marker = m === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    out.push({ ...(marker ? { marker } : {}), hosts, type, key: Buffer.from(b64, 'base64') });
  }
  return out;
}

// How ssh names a host in known_hosts: `host` on port 22, `[host]:port` on any other.
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

// A `*`/`?` glob against a name, case-insensitively (host names are).
function globMatch(pattern: string, name: string): boolean {
  const re = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name.toLowerCase());
}

// Whether a line's host field names `token`: a hashed entry is HMAC-SHA1(salt, token); a
// pattern list matches when one pattern does and no negated (`!`) one does.
export function hostsMatch(hosts: string, token: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const got = createHmac('sha1', Buffer.from(salt, 'base64')).update(token).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const p of hosts.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), token)) return false;
    } else if (globMatch(p, token)) {
      matched = true;
    }
  }
  return matched;
}

// The key type a wire blob names (its first ssh string), e.g. ssh-ed25519.
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

// OpenSSH's fingerprint of a key: SHA256:<base64, no padding>.
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked' };

// The verdict for `key` presented by host:port. A revoked key is refused for every host; a key a
// plain line records for the host passes; a host with other keys recorded is a mismatch; a host
// with none is unknown. @cert-authority lines are skipped (bottle does not check certificates).
export function checkHostKey(lines: KnownHost[], host: string, port: number, key: Buffer): HostKeyVerdict {
  if (lines.some((l) => l.marker === 'revoked' && l.key.equals(key))) return { ok: false, reason: 'revoked' };
  const token = hostToken(host, port);
  const known = lines.filter((l) => !l.marker && hostsMatch(l.hosts, token));
  if (known.some((l) => l.key.equals(key))) return { ok: true };
  return { ok: false, reason: known.length ? 'mismatch' : 'unknown' };
}

// ssh2's host key algorithms for a key type a known_hosts line names.
const ALGORITHMS: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

// The host key algorithms to ask for first: those of the keys recorded for host:port, so a
// server with several host keys presents one we can check (OpenSSH orders them the same way).
export function knownKeyAlgorithms(lines: KnownHost[], host: string, port: number): string[] {
  const token = hostToken(host, port);
  const types = lines.filter((l) => !l.marker && hostsMatch(l.hosts, token)).map((l) => l.type);
  return [...new Set(types.flatMap((t) => ALGORITHMS[t] ?? [t]))];
}

// The one line a refused host key is reported with: what failed, then the fix. `login` is how
// the user reaches the host with ssh (user@host).
export function hostKeyRefusal(verdict: Exclude<HostKeyVerdict, { ok: true }>, where: { host: string; port: number; login: string }, key: Buffer, file: string): string {
  const { host, port, login } = where;
  const named = `${host}${port === 22 ? '' : ` port ${port}`}`;
  const presented = `${keyType(key)} ${fingerprint(key)}`;
  const ssh = `ssh ${port === 22 ? '' : `-p ${port} `}${login}`;
  switch (verdict.reason) {
    case 'revoked':
      return `ssh: the host key of ${named} (${presented}) is marked @revoked in ${file}; refusing to connect`;
    case 'mismatch':
      return `ssh: the host key of ${named} (${presented}) does not match what ${file} records for it (someone may be intercepting the connection, `
        + `or the host's key changed): refusing to connect; once you have confirmed the new key, ssh-keygen -R ${hostToken(host, port)} and ${ssh} once`;
    case 'unknown':
      return `ssh: ${named} is not in ${file} (it presented ${presented}): refusing to connect an unknown host; `
        + `run ${ssh} once, or ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host} >> ${file} after checking that fingerprint`;
  }
}
