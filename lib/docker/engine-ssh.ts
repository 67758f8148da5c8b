// An ssh:// engine (DOCKER_HOST=ssh://user@host), reached as the docker CLI reaches it: ssh to the
// host, run `docker system dial-stdio` there, speak the engine API over that channel. Ours rather
// than docker-modem's ssh transport, which accepts any host key, crashes on a request timeout
// (the channel has no setTimeout) and reports a missing remote docker CLI as "socket hang up".
import { Agent, type ClientRequest } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { checkHostKey, hostKeyRefusal, knownKeyAlgorithms, parseKnownHosts } from './known-hosts.js';
import { EngineSshError } from './unreachable.js';

// The identity files ssh tries when no agent is there, in its order.
const IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const DIAL = 'docker system dial-stdio';

// Where an ssh engine is and how this client proves who it is (for the messages): `how` names
// the agent or the identity file, and is unset when there is neither.
export interface SshTarget { host: string; port: number; user: string; login: string; how?: string; dir: string }

// ssh2's connect options as the docker CLI's ssh would act: the host key checked against
// HOME/.ssh/known_hosts, and the keys of the agent at SSH_AUTH_SOCK, else the first of
// HOME/.ssh/id_ed25519, id_ecdsa, id_rsa. The verifier throws the refusal: ssh2 emits it as the
// connection's error (and would fail closed on the throw even if it did not).
export function sshConnectConfig(url: URL, env: NodeJS.ProcessEnv): { config: ConnectConfig; target: SshTarget } {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 22);
  const user = decodeURIComponent(url.username) || env.USER || 'root';
  const login = url.username ? `${user}@${host}` : host;
  const dir = join(env.HOME || homedir(), '.ssh');
  const knownHosts = join(dir, 'known_hosts');
  const lines = parseKnownHosts(readText(knownHosts));
  const hostVerifier = (key: Buffer): boolean => {
    const verdict = checkHostKey(lines, host, port, key);
    if (verdict.ok) return true;
    throw new EngineSshError(hostKeyRefusal(verdict, { host, port, login }, key, knownHosts));
  };
  const preferred = knownKeyAlgorithms(lines, host, port);
  const config: ConnectConfig = {
    host, port, username: user, hostVerifier,
    ...(preferred.length ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred } as never } } : {}),
  };
  const where = { host, port, user, login, dir };
  if (env.SSH_AUTH_SOCK) return { config: { ...config, agent: env.SSH_AUTH_SOCK }, target: { ...where, how: 'the keys of the ssh-agent at SSH_AUTH_SOCK' } };
  const identity = IDENTITIES.map((n) => join(dir, n)).find((f) => existsSync(f));
  if (!identity) return { config, target: where };
  const privateKey = readFileSync(identity);
  if (isEncryptedKey(privateKey.toString('latin1'))) {
    throw new EngineSshError(`ssh: ${identity} is protected by a passphrase, which bottle cannot ask for; load it into an ssh-agent (eval "$(ssh-agent)"; ssh-add ${identity}) and keep SSH_AUTH_SOCK set`);
  }
  return { config: { ...config, privateKey }, target: { ...where, how: identity } };
}

// Whether a private key file needs a passphrase: legacy PEM (Proc-Type: 4,ENCRYPTED), PKCS#8
// (ENCRYPTED PRIVATE KEY), or OpenSSH's format with a cipher other than none.
export function isEncryptedKey(pem: string): boolean {
  if (/Proc-Type:\s*4,ENCRYPTED/.test(pem) || pem.includes('BEGIN ENCRYPTED PRIVATE KEY')) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem)?.[1];
  if (!body) return false;
  const raw = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (raw.subarray(0, magic.length).toString('latin1') !== magic || raw.length < magic.length + 4) return true;
  const n = raw.readUInt32BE(magic.length);
  return raw.subarray(magic.length + 4, magic.length + 4 + n).toString('latin1') !== 'none';
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

type Ssh2Error = Error & { level?: string; code?: string };

// One line for an ssh connection's failure (ssh2 tags its errors with a level).
export function sshFailure(e: unknown, t: SshTarget): EngineSshError {
  if (e instanceof EngineSshError) return e;
  const err = e as Ssh2Error;
  const at = `${t.host}${t.port === 22 ? '' : ` port ${t.port}`}`;
  const line = ((): string => {
    if (err.level === 'client-authentication' && !t.how) {
      return `ssh: no key to log in to ${t.login} with: SSH_AUTH_SOCK is unset and ${t.dir} has no ${IDENTITIES.join(', ')}; add your key to an ssh-agent (ssh-add), or create one (ssh-keygen) and authorize it there`;
    }
    if (err.level === 'client-authentication') {
      return `ssh: ${t.login} did not accept ${t.how}; add this client's public key to ~${t.user}/.ssh/authorized_keys there, or load the right key into ssh-agent`;
    }
    if (err.level === 'client-timeout') return `ssh: no ssh handshake from ${at} in time (is sshd listening there?)`;
    switch (err.code) {
      case 'ECONNREFUSED': return `ssh: ${at} refused the connection (is sshd running there?)`;
      case 'ENOTFOUND': case 'EAI_AGAIN': return `ssh: unknown host ${t.host}`;
      case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ECONNRESET': return `ssh: ${at} is unreachable (${err.code})`;
    }
    return `ssh: connecting to ${at} failed: ${(err.message || String(e)).split('\n')[0]}`;
  })();
  return new EngineSshError(line, { cause: e });
}

const ssh2 = (): typeof import('ssh2') => {
  // The ssh2 docker-modem depends on (not bottle's own dependency), loaded on first use only.
  const modem = createRequire(import.meta.url).resolve('docker-modem');
  return createRequire(modem)('ssh2') as typeof import('ssh2');
};

type CreateSocket = (req: ClientRequest, options: object, cb: unknown) => void;

// An http.Agent whose every connection is a fresh ssh connection running dial-stdio. A remote
// command that exits non-zero before answering (no docker CLI there, no engine behind it) fails
// the request with its stderr instead of a bare "socket hang up". A request dropped while the
// ssh handshake is pending (a silent host, an aborted probe) drops the handshake with it, or it
// would hold the process for ssh2's readyTimeout.
export function sshAgent(config: ConnectConfig, target: SshTarget): Agent {
  const agent = new Agent({ keepAlive: false });
  // createConnection gets the options createSocket built, not the request: pass it along.
  const createSocket = (Agent.prototype as unknown as { createSocket: CreateSocket }).createSocket;
  (agent as unknown as { createSocket: CreateSocket }).createSocket = function (this: Agent, req, options, cb) {
    createSocket.call(this, req, { ...options, bottleRequest: req }, cb);
  };
  const create = (opts: { bottleRequest?: ClientRequest }, done: (err: Error | null, sock?: Duplex) => void): undefined => {
    const conn = new (ssh2().Client)();
    let watch: NodeJS.Timeout | undefined;
    let settled = false;
    // The first outcome wins: the channel, an ssh failure, or the request gone.
    const settle = (err: Error | null, sock?: Duplex): void => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      if (err) conn.destroy();
      done(err, sock);
    };
    // A destroyed request emits nothing until it has a socket (node holds its abort until then).
    const req = opts.bottleRequest;
    if (req) watch = setInterval(() => { if (req.destroyed) settle(new Error('request dropped before the ssh connection was ready')); }, 100).unref();
    conn.on('error', (e) => settle(sshFailure(e, target)));
    conn.on('ready', () => conn.exec(DIAL, (err, ch) => {
      if (err) settle(sshFailure(err, target));
      else settle(null, channelSocket(ch, () => conn.end(), target));
    }));
    conn.connect(config);
    return undefined;
  };
  (agent as unknown as { createConnection: typeof create }).createConnection = create;
  return agent;
}

// The channel as the socket http expects: its stdout readable, its stdin writable, setTimeout
// as inactivity, and a failed remote command turned into an error naming what it said.
function channelSocket(ch: ClientChannel, close: () => void, t: SshTarget): Duplex {
  let answered = false;
  let exit: number | undefined;
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  let idleMs = 0;
  const touch = (): void => {
    clearTimeout(timer);
    if (idleMs > 0) timer = setTimeout(() => sock.emit('timeout'), idleMs);
  };
  const sock = new Duplex({
    read() { ch.resume(); },
    write(chunk: Buffer, _enc, cb) { touch(); ch.write(chunk, cb); },
    final(cb) { ch.end(); cb(); },
    destroy(err, cb) { clearTimeout(timer); ch.destroy(); close(); cb(err); },
  });
  ch.on('data', (d: Buffer) => {
    answered = true;
    touch();
    if (!sock.push(d)) ch.pause();
  });
  ch.stderr.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString('utf8'); });
  ch.on('exit', (code: number | null) => { exit = code ?? undefined; });
  ch.on('close', () => {
    clearTimeout(timer);
    if (!answered && exit !== 0) {
      const said = stderr.trim().split('\n').pop() || `exit status ${exit ?? 'unknown'}`;
      const hint = exit === 127 ? `; install the docker CLI on ${t.host} (on the PATH of a non-interactive ssh session)` : '';
      sock.destroy(new EngineSshError(`ssh: \`${DIAL}\` on ${t.host} failed (${said})${hint}`));
    } else {
      sock.push(null);
    }
    close();
  });
  Object.assign(sock, {
    setTimeout(ms: number, cb?: () => void) { idleMs = ms; if (cb) sock.once('timeout', cb); touch(); return sock; },
    setNoDelay() { return sock; },
    setKeepAlive() { return sock; },
    ref() { return sock; },
    unref() { return sock; },
  });
  return sock;
}
