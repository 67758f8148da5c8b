// What must outlive any one gateway process, so init owns it: the proxy's listening socket and
// the route secrets approved after launch.
//
// - The socket: init binds it (without accepting) and every gateway replica inherits it as fd 3
//   and accepts on it. Replicas share one kernel accept queue, so a replica killed with -9 costs
//   only the connections it was serving: new ones go to the live replica, and while none is
//   alive they wait in the queue instead of being refused.
// - The secrets: `bottle sidecar gateway-secrets` talks to init's control socket (the public
//   path); init keeps the values in memory, forwards them to each live replica's own control
//   socket and hands them to every replica it starts later through the child's env (the bundle
//   already receives launch-time route secrets the same way). Never argv, never a file.
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { UserError } from '../../lib/errors.js';
import { BUNDLE_DEFAULTS, DAEMON_ENV, daemonArgv } from '../daemons.js';
import { sendSecrets, startControlSocket } from '../gateway/control.js';
import { parseListenAddress } from '../listen.js';
import type { DaemonSpec } from './config.js';

type Env = Record<string, string | undefined>;

// The fd at which a replica finds the shared socket (after stdin, stdout, stderr).
export const SHARED_FD = 3;
export const DEFAULT_REPLICAS = 2;

// A bound, not yet listening TCP socket; the first replica's listen() makes it accept.
export interface SharedListener { fd: number; host: string; port: number; close(): void }

interface RawHandle { fd: number; close(): void; getsockname(out: { port?: number }): number }
type CreateHandle = (address: string, port: number, addressType: 4 | 6) => RawHandle | number;

// Binds host:port without listening (what node's cluster primary does for its workers).
export function bindShared(host: string, port: number): SharedListener {
  const create = (net as unknown as { _createServerHandle?: CreateHandle })._createServerHandle;
  if (typeof create !== 'function') throw new Error(`node ${process.version} cannot bind a shared socket (net._createServerHandle is missing); run the gateway with BOTTLE_GATEWAY_REPLICAS=0`);
  const handle = create(host, port, net.isIPv6(host) ? 6 : 4);
  if (typeof handle === 'number') throw new UserError(`cannot bind the gateway address ${host}:${port}: ${getSystemErrorName(handle)}`);
  const addr: { port?: number } = {};
  handle.getsockname(addr);
  return { fd: handle.fd, host, port: addr.port ?? port, close: () => handle.close() };
}

// BOTTLE_GATEWAY_REPLICAS: 0 = no front (the gateway binds its own socket, one process).
export function replicaCount(env: Env): number {
  const raw = env.BOTTLE_GATEWAY_REPLICAS;
  if (raw === undefined || raw === '') return DEFAULT_REPLICAS;
  const n = Number(raw);
  if (!/^\d$/.test(raw) || n > 8) throw new UserError(`BOTTLE_GATEWAY_REPLICAS=${raw}: expected 0 to 8 (0: one gateway binding its own socket)`);
  return n;
}

export const replicaSocket = (publicPath: string, replica: number): string => `${publicPath}.${replica}`;

// The running front: the spec init supervises in place of the plain gateway, and its teardown.
export interface GatewayFront { spec: DaemonSpec; close(): void }

// Sends to one replica, retrying while its control socket is not up yet (a replica just
// (re)started); a replica restarted meanwhile gets the values from its env anyway.
async function sendWithRetry(path: string, secrets: Record<string, string>, deadline: number): Promise<void> {
  for (;;) {
    try {
      return await sendSecrets(path, secrets, Math.max(500, deadline - Date.now()));
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// Binds the shared socket and the public control socket; the returned spec runs `replicas`
// gateways on them. `self` is injectable for tests (see daemonArgv).
export async function startGatewayFront(env: Env, replicas: number, diag: (m: string) => void, self?: string[]): Promise<GatewayFront> {
  const { host, port } = parseListenAddress(env.BOTTLE_GATEWAY_LISTEN || BUNDLE_DEFAULTS.gatewayListen);
  const publicSocket = env.BOTTLE_GATEWAY_CONTROL_SOCKET || BUNDLE_DEFAULTS.gatewayControlSocket;
  const listener = bindShared(host, port);
  const secrets: Record<string, string> = {};
  const control = await startControlSocket(publicSocket, secrets, async () => {
    const deadline = Date.now() + 10_000;
    await Promise.all(Array.from({ length: replicas }, (_, i) => sendWithRetry(replicaSocket(publicSocket, i), { ...secrets }, deadline)));
  }, (m) => diag(m)).catch((e: Error) => {
    listener.close();
    throw new UserError(`cannot open the gateway control socket ${publicSocket}: ${e.message}`);
  });
  const spec: DaemonSpec = {
    name: 'gateway',
    argv: daemonArgv('gateway', env, self),
    env: { ...DAEMON_ENV.gateway },
    replicas,
    fds: [listener.fd],
    instance: (replica) => ({
      argv: [...daemonArgv('gateway', { ...env, BOTTLE_GATEWAY_CONTROL_SOCKET: replicaSocket(publicSocket, replica) }, self), '--listen-fd', String(SHARED_FD)],
      env: { ...secrets },
    }),
  };
  return { spec, close: () => { control.close(); listener.close(); } };
}
