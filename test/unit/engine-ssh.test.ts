// DOCKER_HOST=ssh://… (issue 17) against an in-process ssh server on loopback: the engine API
// goes over `docker system dial-stdio` only to a host whose key known_hosts records; the key is
// the first default identity without an agent; a passphrase key, a refused login, a closed port
// and a remote without the docker CLI each end in one line naming the fix.
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { dockerodeOptions, probeEngine } from '../../lib/docker/engine.js';
import { isEncryptedKey, sshConnectConfig } from '../../lib/docker/engine-ssh.js';
import { engineUnreachableMessage, EngineSshError } from '../../lib/docker/unreachable.js';
import { sshPublicKeyLine } from '../helpers/engine-ssh.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const hostKey = rsa();
const clientKey = rsa();
const clientBlob = Buffer.from(sshPublicKeyLine(clientKey.publicKey).split(' ')[1]!, 'base64');
const VERSION = JSON.stringify({ Version: '27.3.1', ApiVersion: '1.47', Os: 'linux', Arch: 'amd64', Name: 'sshbox' });

// An ssh server whose `docker system dial-stdio` answers every HTTP request with VERSION, or
// (remote: 'no-docker') fails as a shell without docker does.
async function sshServer(t: Test, remote: 'engine' | 'no-docker' = 'engine'): Promise<{ port: number; execs: string[] }> {
  const execs: string[] = [];
  const server = new ssh2.Server({ hostKeys: [hostKey.privateKey.export({ type: 'pkcs1', format: 'pem' })] }, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method === 'publickey' && ctx.username === 'me' && ctx.key.data.equals(clientBlob)) ctx.accept();
      else ctx.reject(['publickey']);
    });
    client.on('ready', () => client.on('session', (accept) => accept().on('exec', (ok, _no, info) => {
      execs.push(info.command);
      const ch = ok();
      if (remote === 'no-docker') {
        ch.stderr.write('bash: line 1: docker: command not found\n');
        ch.exit(127);
        ch.end();
        return;
      }
      ch.once('data', () => {
        ch.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${VERSION.length}\r\n\r\n${VERSION}`);
      });
      ch.on('end', () => { ch.exit(0); ch.end(); });
    })));
    client.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, execs };
}

// A HOME with .ssh/known_hosts = `known` and, unless `key` is false, .ssh/id_rsa.
function home(t: Test, known: string, key: string | false = clientKey.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-ssh-home-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.ssh'));
  writeFileSync(join(dir, '.ssh', 'known_hosts'), known);
  if (key !== false) writeFileSync(join(dir, '.ssh', 'id_rsa'), key, { mode: 0o600 });
  return dir;
}

const hostLine = (port: number): string => `[127.0.0.1]:${port} ${sshPublicKeyLine(hostKey.publicKey)}\n`;

t.test('dockerode options: plain HTTP through an agent that dials over ssh', async (t) => {
  const opts = dockerodeOptions({ host: 'ssh://me@box', source: 'DOCKER_HOST' }, { HOME: home(t, '') }) as Record<string, unknown>;
  t.match(opts, { protocol: 'http', host: 'box', port: 22, socketPath: undefined });
  t.ok(opts.agent instanceof Agent);
  const { config, target } = sshConnectConfig(new URL('ssh://box:2200'), { HOME: '/nonexistent', USER: 'ann', SSH_AUTH_SOCK: '/a.sock' });
  t.match(config, { host: 'box', port: 2200, username: 'ann', agent: '/a.sock' }, 'no user in the URL: $USER, as ssh does; the agent when there is one');
  t.notOk('privateKey' in config);
  t.equal(target.how, 'the keys of the ssh-agent at SSH_AUTH_SOCK');
});

t.test('the recorded host key: the engine answers, over dial-stdio, with the default identity file', async (t) => {
  const { port, execs } = await sshServer(t);
  const p = await probeEngine({ env: { DOCKER_HOST: `ssh://me@127.0.0.1:${port}`, HOME: home(t, hostLine(port)) }, timeoutMs: 10_000 });
  t.same(p, { ok: true, host: `ssh://me@127.0.0.1:${port}`, version: '27.3.1', apiVersion: '1.47', os: 'linux', arch: 'amd64', remote: 'sshbox' });
  t.same([...new Set(execs)], ['docker system dial-stdio']);
});

t.test('an unknown host or another key for it: refused before login, in one line', async (t) => {
  const { port, execs } = await sshServer(t);
  const env = (known: string) => ({ DOCKER_HOST: `ssh://me@127.0.0.1:${port}`, HOME: home(t, known) });
  const unknown = await probeEngine({ env: env(''), timeoutMs: 10_000 });
  t.match(unknown, { ok: false, error: new RegExp(`^ssh: 127\\.0\\.0\\.1 port ${port} is not in \\S+known_hosts \\(it presented ssh-rsa SHA256:\\S+\\): .*ssh-keyscan -p ${port} 127\\.0\\.0\\.1 >> `) });
  const other = `[127.0.0.1]:${port} ${sshPublicKeyLine(generateKeyPairSync('ed25519').publicKey)}\n`;
  const mismatch = await probeEngine({ env: env(other), timeoutMs: 10_000 });
  t.match(mismatch, { ok: false, error: /^ssh: the host key of 127\.0\.0\.1 port \d+ \(ssh-rsa SHA256:\S+\) does not match/ });
  t.same(execs, [], 'nothing ran there');
});

t.test('keys: none, refused, or behind a passphrase: one line each', async (t) => {
  const { port } = await sshServer(t);
  const host = `ssh://me@127.0.0.1:${port}`;
  const none = await probeEngine({ env: { DOCKER_HOST: host, HOME: home(t, hostLine(port), false) }, timeoutMs: 10_000 });
  t.match(none, { ok: false, error: /^ssh: no key to log in to me@127\.0\.0\.1 with: SSH_AUTH_SOCK is unset and \S+ has no id_ed25519, id_ecdsa, id_rsa; / });
  const stranger = rsa().privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const refused = await probeEngine({ env: { DOCKER_HOST: host, HOME: home(t, hostLine(port), stranger) }, timeoutMs: 10_000 });
  t.match(refused, { ok: false, error: /^ssh: me@127\.0\.0\.1 did not accept \S+id_rsa; add this client's public key to ~me\/\.ssh\/authorized_keys there/ });

  const locked = clientKey.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string;
  const env = { DOCKER_HOST: host, HOME: home(t, hostLine(port), locked) };
  const p = await probeEngine({ env, timeoutMs: 10_000 });
  t.match(p, { ok: false, error: /^ssh: \S+id_rsa is protected by a passphrase, which bottle cannot ask for; load it into an ssh-agent \(eval "\$\(ssh-agent\)"; ssh-add \S+id_rsa\)/ });
  const e = t.throws(() => dockerodeOptions({ host, source: 'DOCKER_HOST' }, env)) as unknown;
  t.type(e, EngineSshError);
  t.match(engineUnreachableMessage(e, env), new RegExp(`^cannot talk to the Docker engine at ${host.replace(/[.]/g, '\\.')}: ssh: \\S+ is protected by a passphrase`), 'the CLI reports it as one line');
});

t.test('isEncryptedKey: legacy PEM, PKCS#8 and OpenSSH forms', async (t) => {
  t.notOk(isEncryptedKey(clientKey.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string));
  t.ok(isEncryptedKey('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n'));
  t.ok(isEncryptedKey(clientKey.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string));
  const openssh = (cipher: string): string => {
    const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s)]);
    const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str(cipher), str(cipher === 'none' ? 'none' : 'bcrypt')]).toString('base64');
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`;
  };
  t.notOk(isEncryptedKey(openssh('none')));
  t.ok(isEncryptedKey(openssh('aes256-ctr')));
});

t.test('sshd refusing the port, or a remote without the docker CLI: one line each', async (t) => {
  const { port } = await sshServer(t, 'no-docker');
  const p = await probeEngine({ env: { DOCKER_HOST: `ssh://me@127.0.0.1:${port}`, HOME: home(t, hostLine(port)) }, timeoutMs: 10_000 });
  t.match(p, { ok: false, error: 'ssh: `docker system dial-stdio` on 127.0.0.1 failed (bash: line 1: docker: command not found); install the docker CLI on 127.0.0.1 (on the PATH of a non-interactive ssh session)' });
  const closed = await sshServer(t);
  const refused = await probeEngine({ env: { DOCKER_HOST: 'ssh://me@127.0.0.1:1', HOME: home(t, hostLine(closed.port)) }, timeoutMs: 10_000 });
  t.match(refused, { ok: false, error: 'ssh: 127.0.0.1 port 1 refused the connection (is sshd running there?)' });
});

// Regression: a host that accepts TCP and never speaks ssh held the process for ssh2's 20 s
// readyTimeout after the probe had given up (bottle ls would not exit).
t.test('a silent host: the handshake is dropped with the request', async (t) => {
  let closed!: () => void;
  const gone = new Promise<void>((r) => { closed = r; });
  const silent = createServer((sock) => { sock.on('close', closed).on('error', () => {}).resume(); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => silent.close(() => r())));
  const port = (silent.address() as AddressInfo).port;
  const p = await probeEngine({ env: { DOCKER_HOST: `ssh://me@127.0.0.1:${port}`, HOME: home(t, '') }, timeoutMs: 300 });
  t.same(p, { ok: false, host: `ssh://me@127.0.0.1:${port}`, error: 'no answer within 300 ms' });
  const t0 = Date.now();
  await gone;
  t.ok(Date.now() - t0 < 2000, `the connection was closed ${Date.now() - t0} ms after the probe gave up`);
});
