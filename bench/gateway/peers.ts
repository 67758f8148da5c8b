// The processes the gateway benchmark measures: the loopback upstream, the bottle gateway
// (as `sidecar gateway`, the way the bundle runs it), mitmdump with an equivalent addon and a
// forward-only node proxy (forward-only.ts, plain HTTP only). Every one is stopped by its own
// PID, and each says its PID so the bench can read its CPU time.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGateway } from '../../test/fixtures/gateway/process.js';
import { DAEMON_NODE_FLAGS } from '../../sidecars/daemons.js';
import { tsxArgv } from '../../test/helpers/cli.js';
import type { Proxy } from '../../test/fixtures/gateway/client.js';

const here = dirname(fileURLToPath(import.meta.url));

// The name every bench request uses; resolved from /etc/hosts (mitmdump) or the gateway's
// --hosts-file, and pinned to 127.0.0.1 by both, so no DNS query is ever sent.
export const BENCH_HOST = 'localhost';
export const BENCH_TOKEN = 'bench-route-credential'; // gitleaks:allow (test dummy)

export interface Peer {
  proxy: Proxy;
  caPem: string;
  pid?: number;
  plainOnly?: boolean; // no HTTPS interception: measured for plain HTTP only
  stop(): Promise<void>;
}

// A process's CPU time so far (user + system) in µs, from /proc; undefined where unreadable.
export function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux

// SIGTERM, then SIGKILL after `ms`; resolves once the child has exited.
export function stopChild(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// The upstream child's ports and CA, and how to stop it.
export interface UpstreamInfo { httpPort: number; httpsPort: number; caFile: string; caPem: string; pid?: number; stop(): Promise<void> }

// The recording-off test upstream in its own node process.
export function startUpstreamProcess(): Promise<UpstreamInfo> {
  return benchChild('upstream-main.ts', 'stdout', (out) => {
    if (!out.includes('\n')) return undefined;
    return JSON.parse(out.split('\n')[0]!) as Omit<UpstreamInfo, 'stop'>;
  }, (info, child) => ({ ...info, pid: child.pid, stop: () => stopChild(child) }));
}

// A bench script (next to this file) in its own node process, once what it has printed on
// `stream` so far gives `announce` an answer; rejects if it exits before.
function benchChild<A, T>(script: string, stream: 'stdout' | 'stderr', announce: (text: string) => A | undefined, make: (a: A, child: ChildProcess) => T): Promise<T> {
  const child = spawn(process.execPath, [...tsxArgv(), join(here, script)], { stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child[stream]!.on('data', (c: Buffer) => {
      text += c.toString();
      const a = announce(text);
      if (a !== undefined) resolve(make(a, child));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${stream === 'stderr' ? text : ''}`)));
  });
}

// How a gateway peer differs from the plain one-route gateway.
export interface GatewayOptions {
  // The route is also the policy's model route, these `METHOD /path` calls allowed on it, and
  // its header a real route secret (${BENCH_TOKEN}), so responses are masked as a bottle's are.
  modelPaths?: readonly string[];
  // Metering on: a usage line per model answer appended here (--events-file).
  eventsFile?: string;
}

// The bottle gateway with a one-route policy for BENCH_HOST on the upstream's HTTPS port (a
// route's header goes only over TLS to its port).
// The node flags the bundle runs its gateways with (sidecars/daemons.ts), or
// BENCH_GATEWAY_NODE_FLAGS (space-separated; empty: none) to weigh them.
export function gatewayNodeFlags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const given = env.BENCH_GATEWAY_NODE_FLAGS;
  return given === undefined ? DAEMON_NODE_FLAGS.gateway : given.split(/\s+/).filter(Boolean);
}

export async function startGatewayPeer(dir: string, upstream: UpstreamInfo, o: GatewayOptions = {}): Promise<Peer> {
  const policyDir = join(dir, 'policy');
  mkdirSync(policyDir, { recursive: true });
  const header = o.modelPaths ? '"${BENCH_TOKEN}"' : 'BENCH_TOKEN';
  const model = o.modelPaths ? `model: { host: ${BENCH_HOST}, paths: ${JSON.stringify(o.modelPaths)}, serverFetch: false }\n` : '';
  writeFileSync(join(policyDir, 'policy.yaml'),
    `version: 1\nallow: [${BENCH_HOST}]\nroutes:\n  - host: ${BENCH_HOST}\n    port: ${upstream.httpsPort}\n    headers: { X-Bench-Token: ${header} }\n${model}`);
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, `127.0.0.1 ${BENCH_HOST}\n`);
  // An inherited BOTTLE_EVENTS_FILE would turn metering on where the bench means it off.
  const { BOTTLE_EVENTS_FILE: _, ...env } = process.env;
  const gw = await spawnGateway(
    ['--listen', '127.0.0.1:0', '--policy-dir', policyDir, '--ca-dir', join(dir, 'ca'), '--upstream-ca', upstream.caFile,
      '--hosts-file', hosts, '--allow-private-upstream', BENCH_HOST, ...(o.eventsFile ? ['--events-file', o.eventsFile] : [])],
    { env: { ...env, BENCH_TOKEN }, quiet: true, compiled: { nodeFlags: gatewayNodeFlags() } },
  );
  return {
    proxy: gw.proxy,
    caPem: readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'),
    pid: gw.child.pid,
    stop: async () => void (await gw.stop()),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

// The mitmdump binary, if installed (Debian's `mitmproxy` package).
export function findMitmdump(): string | undefined {
  return ['/usr/bin/mitmdump', '/usr/local/bin/mitmdump'].find((p) => existsSync(p));
}

// mitmdump on a free loopback port with bench/gateway/addon.py, its CA in `dir`.
export async function startMitmPeer(bin: string, dir: string, upstream: UpstreamInfo): Promise<Peer> {
  const port = await freePort();
  const confdir = join(dir, 'mitm');
  mkdirSync(confdir, { recursive: true });
  const child = spawn(bin, [
    '--listen-host', '127.0.0.1', '-p', String(port), '-s', join(here, 'addon.py'), '-q',
    '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${upstream.caFile}`, '--set', 'flow_detail=0',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BENCH_TOKEN, BENCH_ROUTE_PORT: String(upstream.httpsPort) } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const caFile = join(confdir, 'mitmproxy-ca-cert.pem');
  try {
    await waitFor(async () => existsSync(caFile) && (await accepts(port)), 'mitmdump to listen', 30_000);
  } catch (e) {
    await stopChild(child);
    throw new Error(`${(e as Error).message}: ${stderr}`);
  }
  return { proxy: { host: '127.0.0.1', port }, caPem: readFileSync(caFile, 'utf8'), pid: child.pid, stop: () => stopChild(child) };
}

// forward-only.ts in its own node process (plain HTTP only).
export function startForwardOnlyPeer(): Promise<Peer> {
  return benchChild('forward-only.ts', 'stderr', (err) => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1], (port, child) => (
    { proxy: { host: '127.0.0.1', port: Number(port) }, caPem: '', pid: child.pid, plainOnly: true, stop: () => stopChild(child) }
  ));
}
