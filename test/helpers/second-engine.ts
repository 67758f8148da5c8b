// A second Docker engine for e2e tests (issue 17): dockerd in a container of the host engine,
// so its filesystem is not the host's. It listens on tcp://IP:2375 (plain HTTP), or with `tls`
// on tcp://IP:2376 with --tlsverify (certificates from ./engine-tls.ts), on a bridge network
// of its own; the bottle images are copied into it through the API (host save →
// second engine load), and `tc netem` on its eth0 (or an NFQUEUE delayer when the kernel has
// no netem) adds latency between the host and it.
//
// How it runs (checked on a 20.10 host engine, cgroup v1): --privileged is refused where the
// host engine lacks CAP_SYS_RESOURCE, so the container gets every other capability, no
// seccomp/apparmor profile, unmasked /proc and /sys (systempaths=unconfined) and every device;
// its command remounts /sys and the cgroup hierarchies read-write before starting dockerd.
// /var/lib/docker is an anonymous volume (overlay2 works on it; vfs is the fallback).
// With `ssh`, dockerd also listens on its unix socket and sshd runs beside it (host keys made
// per container): ssh://root@IP reaches it through `docker system dial-stdio`, with a
// throwaway client key and a known_hosts in a temp HOME (./engine-ssh.ts).
// Everything it creates is named bottle-engine2-<slug> and removed by close(), the client's
// TLS dir and ssh HOME included.
import Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demux, execIn, isGone } from '../../lib/docker/api.js';
import { proxyBuildArgs, selectCaFile } from '../../lib/images/host.js';
import { BuildProgress, buildFailureMessage, readJsonLines, type EngineMessage } from '../../lib/images/progress.js';
import { projectRoot } from '../../lib/paths.js';
import { engineSsh, type EngineSsh } from './engine-ssh.js';
import { engineTls, type EngineTls } from './engine-tls.js';

// The engine image (built here from images/Dockerfile.engine, reused while its inputs match).
export const ENGINE2_IMAGE = 'bottle-engine2:latest';
export const ENGINE2_BASE = 'bottle-base:node22-bookworm';
// Prefix of every container, network and volume this fixture creates.
export const ENGINE2_PREFIX = 'bottle-engine2-';
const LABEL_SOURCE = 'dev.bottle.source';
const LABEL_FIXTURE = 'dev.bottle.e2e.engine2';
const PORT = 2375;
const TLS_PORT = 2376;
// Where the engine container's dockerd reads its TLS material from.
const SERVER_TLS_DIR = '/etc/engine2-tls';
const START_TIMEOUT_MS = 60_000;

export type StorageDriver = 'overlay2' | 'vfs';

export interface SecondEngineOptions {
  log?: (line: string) => void;
  /** Applied with setLatency once the engine is up; 0 or unset = none. */
  latencyMs?: number;
  /** Force one driver; default overlay2, falling back to vfs when dockerd cannot use it. */
  storageDriver?: StorageDriver;
  /** Listen on 2376 with --tlsverify: clients need the CA and a client certificate (see `env`). */
  tls?: boolean;
  /** Also run sshd: `host` is ssh://root@IP and `env` carries HOME=sshHome (key, known_hosts). */
  ssh?: boolean;
}

export interface SecondEngine {
  /** tcp://IP:2375, tcp://IP:2376 with `tls`, ssh://root@IP with `ssh` */
  host: string;
  ip: string;
  /** A client for the second engine. */
  docker: Docker;
  /** process.env with DOCKER_HOST pointing at it, no context, and with `tls` DOCKER_TLS_VERIFY=1
   * and DOCKER_CERT_PATH=tlsDir (else no TLS settings): for child processes. */
  env: NodeJS.ProcessEnv;
  /** With `tls`: the client's ca.pem, cert.pem and key.pem (removed by close()). */
  tlsDir?: string;
  /** With `ssh`: a temp HOME with .ssh/id_rsa (authorized on the engine) and .ssh/known_hosts
   * (its host key), removed by close(). */
  sshHome?: string;
  /** With `ssh`: the engine's ed25519 host key line (`ssh-ed25519 AAAA…`). */
  sshHostKey?: string;
  /** The storage driver dockerd runs with. */
  storageDriver: StorageDriver;
  /** The engine container's name on the host engine (bottle-engine2-<slug>). */
  name: string;
  /** Streams `names` from the host engine (GET /images/get) into the second one (POST /images/load). */
  loadImages(names: string[]): Promise<void>;
  /**
   * Delays everything leaving the engine container's eth0 by `ms` (so a host round trip gains
   * `ms`): tc netem, or an NFQUEUE delayer where the kernel lacks netem. 0 removes it.
   */
  setLatency(ms: number): Promise<void>;
  /** Removes the container, its volume and the network (idempotent). */
  close(): Promise<void>;
}

// Runs in the engine container as its command: cgroup v1 hierarchies and /sys are mounted
// read-only in a container; dockerd needs them writable to create its containers' cgroups.
// On cgroup v2 the root cgroup must also be emptied into a child before enabling controllers.
const ENTRYPOINT = String.raw`set -eu
mount -o remount,rw /sys
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mount -o remount,rw /sys/fs/cgroup
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control || true
else
  for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
    if mountpoint -q "$d"; then mount -o remount,bind,rw "$d"; fi
  done
fi
echo "engine2: storage driver $ENGINE2_STORAGE"
if [ -n "$ENGINE2_TLS" ]; then
  # The server certificate names this container's IP, known only once it runs: the fixture
  # writes the files in, then creates ready.
  i=0
  until [ -f "$ENGINE2_TLS/ready" ]; do
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then echo "engine2: no TLS material in $ENGINE2_TLS after 60 s" >&2; exit 1; fi
    sleep 0.1
  done
  exec dockerd -H tcp://0.0.0.0:${TLS_PORT} --tlsverify --tlscacert="$ENGINE2_TLS/ca.pem" --tlscert="$ENGINE2_TLS/cert.pem" --tlskey="$ENGINE2_TLS/key.pem" --storage-driver="$ENGINE2_STORAGE"
fi
if [ -n "$ENGINE2_SSH" ]; then
  # Fresh host keys for this container (the image has none), then sshd for dial-stdio, which
  # reaches dockerd on its unix socket; the fixture's own client keeps using tcp.
  ssh-keygen -A >/dev/null
  mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh
  /usr/sbin/sshd -E /var/log/sshd.log
  exec dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:${PORT} --tls=false --storage-driver="$ENGINE2_STORAGE"
fi
exec dockerd -H tcp://0.0.0.0:${PORT} --tls=false --storage-driver="$ENGINE2_STORAGE"
`;

// setLatency's script (argv: ms). Clears any delay, then adds `ms` on eth0 egress (replies to
// the host and everything the nested engine sends out): tc netem when the kernel has it, else
// an NFQUEUE rule (mangle POSTROUTING -o eth0, --queue-bypass so packets pass when no reader)
// and DELAYER holding each packet `ms` before accepting it. Prints the mechanism used.
const SET_LATENCY = String.raw`set -eu
ms="$1"
if tc qdisc show dev eth0 | grep -q netem; then tc qdisc del dev eth0 root; fi
if [ -f /run/engine2-delayer.pid ]; then kill "$(cat /run/engine2-delayer.pid)" 2>/dev/null || true; rm -f /run/engine2-delayer.pid; fi
while iptables -t mangle -D POSTROUTING -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass 2>/dev/null; do :; done
[ "$ms" -gt 0 ] || exit 0
if tc qdisc replace dev eth0 root netem delay "$ms"ms 2>/run/engine2-tc.err; then echo "tc netem"; exit 0; fi
if ! grep -q 'unknown' /run/engine2-tc.err; then cat /run/engine2-tc.err >&2; exit 1; fi
setsid python3 -c "$ENGINE2_DELAYER" "$ms" 0 </dev/null >/run/engine2-delayer.log 2>&1 &
echo $! > /run/engine2-delayer.pid
i=0
until grep -q bound /run/engine2-delayer.log; do
  i=$((i + 1))
  if [ "$i" -gt 100 ] || ! kill -0 "$(cat /run/engine2-delayer.pid)" 2>/dev/null; then
    echo "the NFQUEUE delayer did not start:" >&2; cat /run/engine2-delayer.log >&2; exit 1
  fi
  sleep 0.05
done
iptables -t mangle -A POSTROUTING -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass
echo "NFQUEUE delayer (no netem in this kernel)"
`;

// The NFQUEUE delayer (python3, raw netlink; argv: ms queue): binds the queue with meta-only
// copies, fail-open when full, and accepts each packet `ms` after it arrived (FIFO).
const DELAYER = String.raw`import os, socket, struct, sys, time, select, collections
# NFQUEUE delayer: hold every queued packet ms milliseconds, then accept it (FIFO).
ms = float(sys.argv[1]); qn = int(sys.argv[2]) if len(sys.argv) > 2 else 0
NETLINK_NETFILTER = 12
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((0, 0))
seq = 0
def attr(t, data):
    l = 4 + len(data)
    return struct.pack('=HH', l, t) + data + b'\0' * ((4 - l % 4) % 4)
def send(mtype, payload, flags=1):  # NLM_F_REQUEST
    global seq
    seq += 1
    body = struct.pack('=BBH', 0, 0, socket.htons(qn)) + payload  # nfgenmsg
    s.send(struct.pack('=IHHII', 16 + len(body), (3 << 8) | mtype, flags, seq, 0) + body)
send(2, attr(1, struct.pack('=BxH', 1, 0)))                      # CONFIG: CMD BIND
send(2, attr(2, struct.pack('>IB', 0, 1)) + attr(3, struct.pack('>I', 65536))
     + attr(4, struct.pack('>I', 1)) + attr(5, struct.pack('>I', 1)))  # COPY_META, maxlen, FAIL_OPEN
q = collections.deque()
print('delayer: bound queue', qn, 'delay', ms, 'ms', flush=True)
while True:
    timeout = max(0.0, q[0][0] - time.monotonic()) if q else None
    r, _, _ = select.select([s], [], [], timeout)
    if r:
        try:
            data = s.recv(1 << 20)
        except OSError:
            data = b''
        now = time.monotonic()
        off = 0
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from('=IH', data, off)
            if ln < 16: break
            if typ == (3 << 8) | 0:  # NFQNL_MSG_PACKET
                a = off + 20
                while a + 4 <= off + ln:
                    al, at = struct.unpack_from('=HH', data, a)
                    if al < 4: break
                    if at & 0x7fff == 1:
                        q.append((now + ms / 1000, struct.unpack_from('>I', data, a + 4)[0]))
                    a += (al + 3) & ~3
            off += (ln + 3) & ~3
    now = time.monotonic()
    while q and q[0][0] <= now:
        _, pid = q.popleft()
        send(1, attr(2, struct.pack('>II', 1, pid)))    # VERDICT ACCEPT (NLM_F_REQUEST, else the kernel ignores it)
`;

// Builds bottle-engine2:latest unless an image with the same inputs exists (label LABEL_SOURCE:
// sha256 of the Dockerfile, build-helper.sh, the CA bundle and the base image's id).
export async function ensureEngineImage(docker: Docker, log: (line: string) => void = () => {}): Promise<string> {
  const root = projectRoot();
  const dockerfile = readFileSync(join(root, 'images/Dockerfile.engine'));
  const helper = readFileSync(join(root, 'images/build-helper.sh'));
  const ca = selectCaFile({ env: process.env, npm: {}, cwd: root });
  const caPem = ca.path ? readFileSync(ca.path, 'utf8') : '';
  let baseId: string;
  try {
    baseId = (await docker.getImage(ENGINE2_BASE).inspect()).Id;
  } catch (e) {
    throw new Error(`second engine: the base image ${ENGINE2_BASE} is missing on the host engine (${(e as Error).message.split('\n')[0]}); build it with \`bottle images build\``);
  }
  let replaced: string | undefined;
  const hash = createHash('sha256').update(dockerfile).update('\0').update(helper).update('\0').update(caPem).update('\0').update(baseId).digest('hex');
  try {
    const info = await docker.getImage(ENGINE2_IMAGE).inspect();
    if (info.Config?.Labels?.[LABEL_SOURCE] === hash) return info.Id;
    replaced = info.Id;
    log(`second engine: ${ENGINE2_IMAGE} is stale (source ${info.Config?.Labels?.[LABEL_SOURCE]?.slice(0, 12) ?? 'none'} ≠ ${hash.slice(0, 12)}), rebuilding`);
  } catch {
    log(`second engine: building ${ENGINE2_IMAGE} from ${ENGINE2_BASE} (apt: docker.io iproute2)`);
  }
  const dir = mkdtempSync(join(tmpdir(), `${ENGINE2_PREFIX}context-`));
  try {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    copyFileSync(join(root, 'images/build-helper.sh'), join(dir, 'build-helper.sh'));
    writeFileSync(join(dir, 'build-ca.crt'), caPem);
    const started = Date.now();
    const stream = (await docker.buildImage({ context: dir, src: ['Dockerfile', 'build-helper.sh', 'build-ca.crt'] }, {
      t: ENGINE2_IMAGE,
      buildargs: { BASE: ENGINE2_BASE, ...proxyBuildArgs(process.env) },
      labels: { [LABEL_SOURCE]: hash },
      rm: true,
      forcerm: true,
      pull: false,
    })) as NodeJS.ReadableStream;
    const progress = new BuildProgress('engine2', log, false);
    await readJsonLines(stream, (m) => progress.push(m));
    progress.end();
    if (progress.failure) throw new Error(buildFailureMessage('engine2', ENGINE2_IMAGE, progress));
    const info = await docker.getImage(ENGINE2_IMAGE).inspect();
    if (info.Config?.Labels?.[LABEL_SOURCE] !== hash) throw new Error(buildFailureMessage('engine2', ENGINE2_IMAGE, progress));
    // The stale image is now untagged: drop it unless something still uses it.
    if (replaced && replaced !== info.Id) await docker.getImage(replaced).remove().catch(() => {});
    log(`second engine: built ${ENGINE2_IMAGE} ${info.Id.slice(7, 19)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return info.Id;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Starts dockerd in a fresh container on a fresh network and waits for GET /_ping.
export async function startSecondEngine(docker: Docker, opts: SecondEngineOptions = {}): Promise<SecondEngine> {
  const log = opts.log ?? (() => {});
  await ensureEngineImage(docker, log);
  const name = `${ENGINE2_PREFIX}${randomBytes(4).toString('hex')}`;
  const labels = { [LABEL_FIXTURE]: name };
  const network = await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels });
  const created: { container?: Docker.Container; volumes: Set<string>; tls?: EngineTls; ssh?: EngineSsh } = { volumes: new Set() };

  const removeContainer = async (): Promise<void> => {
    const c = created.container;
    if (!c) return;
    created.container = undefined;
    await c.remove({ force: true, v: true }).catch((e: unknown) => { if (!isGone(e)) throw e; });
  };
  const removeVolumes = async (): Promise<void> => {
    for (const v of created.volumes) {
      await docker.getVolume(v).remove({ force: true }).catch((e: unknown) => { if (!isGone(e)) throw e; });
      created.volumes.delete(v);
    }
  };
  const removeTls = async (): Promise<void> => {
    if (created.tls) rmSync(created.tls.clientDir, { recursive: true, force: true });
    created.tls = undefined;
    if (created.ssh) rmSync(created.ssh.home, { recursive: true, force: true });
    created.ssh = undefined;
  };
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const errors: string[] = [];
    for (const step of [removeContainer, removeVolumes, removeTls, () => network.remove().catch((e: unknown) => { if (!isGone(e)) throw e; })]) {
      try { await step(); } catch (e) { errors.push((e as Error).message); }
    }
    if (errors.length) throw new Error(`second engine ${name}: cleanup failed: ${errors.join('; ')}`);
  };

  // Mints the certificates for `ip` and hands the server's half to the waiting entrypoint;
  // returns a client holding the client's half.
  const startTls = async (container: Docker.Container, ip: string): Promise<Docker> => {
    await removeTls();
    const tls = created.tls = engineTls(ip, `${ENGINE2_PREFIX}tls-`);
    const write = 'umask 077 && mkdir -p "$D" && printf %s "$CA" > "$D/ca.pem" && printf %s "$CERT" > "$D/cert.pem" '
      + '&& printf %s "$KEY" > "$D/key.pem" && touch "$D/ready"';
    const r = await execIn(container, ['sh', '-c', write], {
      user: 'root', env: [`D=${SERVER_TLS_DIR}`, `CA=${tls.server.ca}`, `CERT=${tls.server.cert}`, `KEY=${tls.server.key}`],
    });
    if (r.exitCode !== 0) throw new Error(`second engine ${name}: writing the server's TLS files exited ${r.exitCode}: ${r.stderr.trim()}`);
    return new Docker({ host: ip, port: TLS_PORT, protocol: 'https', ...tls.client });
  };

  const attempt = async (driver: StorageDriver): Promise<{ ip: string; client: Docker; ms: number }> => {
    const started = Date.now();
    const container = await docker.createContainer({
      name,
      Image: ENGINE2_IMAGE,
      Entrypoint: ['sh', '-c'],
      Cmd: [ENTRYPOINT],
      Env: [`ENGINE2_STORAGE=${driver}`, `ENGINE2_TLS=${opts.tls ? SERVER_TLS_DIR : ''}`, `ENGINE2_SSH=${opts.ssh ? '1' : ''}`],
      Labels: labels,
      // Anonymous: removed with the container (remove v=true), never a host path.
      Volumes: { '/var/lib/docker': {} },
      HostConfig: {
        NetworkMode: name,
        CapAdd: ['ALL'],
        CapDrop: ['SYS_RESOURCE'],
        // The API has no "systempaths=unconfined" (a CLI spelling): empty lists mean the same.
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        MaskedPaths: [],
        ReadonlyPaths: [],
        DeviceCgroupRules: ['a *:* rwm'],
      },
    });
    created.container = container;
    const info = await container.inspect();
    for (const m of info.Mounts ?? []) if (m.Type === 'volume' && m.Name) created.volumes.add(m.Name);
    await container.start();
    const ip = (await container.inspect()).NetworkSettings.Networks[name]?.IPAddress;
    if (!ip) throw new Error(`second engine ${name}: no IP address on network ${name}`);
    const client = opts.tls ? await startTls(container, ip) : new Docker({ host: ip, port: PORT, protocol: 'http' });
    try {
      await waitForPing(container, client, name);
    } catch (e) {
      throw Object.assign(e as Error, { dockerdFailed: true });
    }
    if (opts.ssh) {
      if (created.ssh) rmSync(created.ssh.home, { recursive: true, force: true });
      created.ssh = await engineSsh(container, ip, `${ENGINE2_PREFIX}ssh-`);
    }
    return { ip, client, ms: Date.now() - started };
  };

  try {
    const drivers: StorageDriver[] = opts.storageDriver ? [opts.storageDriver] : ['overlay2', 'vfs'];
    let up: { ip: string; client: Docker; ms: number } | undefined;
    let driver: StorageDriver = drivers[0]!;
    for (const [i, d] of drivers.entries()) {
      driver = d;
      try {
        up = await attempt(d);
        break;
      } catch (e) {
        // Only dockerd failing to come up is worth another driver; API refusals are not.
        if (i === drivers.length - 1 || !(e as { dockerdFailed?: boolean }).dockerdFailed) throw e;
        log(`second engine: dockerd did not start with ${d}, retrying with ${drivers[i + 1]}: ${(e as Error).message.split('\n')[0]}`);
        await removeContainer();
        await removeVolumes();
      }
    }
    const { ip, client, ms } = up!;
    const host = opts.ssh ? `ssh://root@${ip}` : `tcp://${ip}:${opts.tls ? TLS_PORT : PORT}`;
    log(`second engine: ${name} up at ${host} (storage ${driver}) in ${(ms / 1000).toFixed(1)} s`);

    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host };
    for (const k of ['DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT', 'DOCKER_TLS']) delete env[k];
    const tlsDir = created.tls?.clientDir;
    if (tlsDir) Object.assign(env, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tlsDir });
    const ssh = created.ssh;
    // The key is found the way ssh finds it (HOME/.ssh), not through an agent.
    if (ssh) { env.HOME = ssh.home; delete env.SSH_AUTH_SOCK; }

    let latencyVia = '';
    const setLatency = async (ms: number): Promise<void> => {
      const c = created.container;
      if (!c) throw new Error(`second engine ${name}: closed`);
      const delay = Math.max(0, Math.round(ms));
      const r = await execIn(c, ['sh', '-c', SET_LATENCY, 'set-latency', String(delay)], { user: 'root', env: [`ENGINE2_DELAYER=${DELAYER}`] });
      if (r.exitCode !== 0) throw new Error(`second engine ${name}: setLatency(${delay}) exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
      const via = r.stdout.trim().split('\n').pop() ?? '';
      if (via && via !== latencyVia) log(`second engine: latency via ${via}`);
      if (via) latencyVia = via;
    };

    const loadImages = async (names: string[]): Promise<void> => {
      if (!names.length) return;
      const started = Date.now();
      const tar = await (docker as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> }).getImages({ names });
      const saveFailed = new Promise<never>((_, reject) => tar.on('error', (e: Error) => reject(new Error(`second engine: saving ${names.join(' ')} on the host engine failed: ${e.message}`))));
      saveFailed.catch(() => {});
      const loaded = (async () => {
        const out = (await client.loadImage(tar, { quiet: true })) as NodeJS.ReadableStream;
        const errors: string[] = [];
        await readJsonLines(out, (m: EngineMessage) => {
          if (m.error || m.errorDetail) errors.push((m.errorDetail?.message ?? m.error ?? '').trim());
        });
        if (errors.length) throw new Error(`second engine: loading ${names.join(' ')} failed: ${errors.join('; ')}`);
      })();
      await Promise.race([loaded, saveFailed]);
      for (const n of names) {
        try {
          await client.getImage(n).inspect();
        } catch {
          throw new Error(`second engine: ${n} is not present on ${host} after the load`);
        }
      }
      log(`second engine: loaded ${names.join(' ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    };

    if (opts.latencyMs) await setLatency(opts.latencyMs);
    return { host, ip, docker: client, env, ...(tlsDir ? { tlsDir } : {}), ...(ssh ? { sshHome: ssh.home, sshHostKey: ssh.hostKey } : {}), storageDriver: driver, name, loadImages, setLatency, close };
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
}

// GET /_ping until it answers, the container exits, or START_TIMEOUT_MS passes; the errors
// carry the container's log tail.
async function waitForPing(container: Docker.Container, client: Docker, name: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no answer yet';
  for (;;) {
    try {
      await Promise.race([
        client.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out after 2s')), 2000).unref()),
      ]);
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    const state = (await container.inspect()).State;
    if (!state.Running) {
      throw new Error(`second engine ${name}: dockerd exited (status ${state.ExitCode}) before answering /_ping\n${await tail(container)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`second engine ${name}: no answer to GET /_ping within ${START_TIMEOUT_MS / 1000} s (last: ${last})\n${await tail(container)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function tail(container: Docker.Container, lines = 40): Promise<string> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    const text = demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).all.trim();
    return `  container log (last ${lines} lines):\n${text.split('\n').map((l) => `    | ${l}`).join('\n')}`;
  } catch {
    return '  (container log unavailable)';
  }
}
