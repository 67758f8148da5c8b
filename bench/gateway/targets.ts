// Where the gateway bench sends a request: straight to the upstream or through a proxy peer,
// as plain HTTP (absolute form) or HTTPS (CONNECT, then TLS to the proxy's minted leaf).
import http from 'node:http';
import https from 'node:https';
import { TunnelAgent } from '../../test/fixtures/gateway/client.js';
import { BENCH_HOST, type Peer, type UpstreamInfo } from './peers.js';

export type Mode = 'plain HTTP' | 'HTTPS intercept';
export const MODES: Mode[] = ['plain HTTP', 'HTTPS intercept'];

export interface Target { name: string; peer?: Peer } // no peer: direct to the upstream

// The agent (destroy it after the case, `sockets` connections at most) and the request
// options that reach `path` on the upstream through `target`.
export function reach(mode: Mode, target: Target, up: UpstreamInfo, path: string, sockets: number): { tls: boolean; agent: http.Agent; options: https.RequestOptions } {
  const tls = mode === 'HTTPS intercept';
  const port = tls ? up.httpsPort : up.httpPort;
  const host = `${BENCH_HOST}:${port}`;
  const p = target.peer;
  if (!p) {
    const agent = tls ? new https.Agent({ keepAlive: true, maxSockets: sockets, ca: up.caPem }) : new http.Agent({ keepAlive: true, maxSockets: sockets });
    return { tls, agent, options: { host: '127.0.0.1', port, path, headers: { host }, servername: BENCH_HOST } };
  }
  if (tls) return { tls, agent: new TunnelAgent(p.proxy, p.caPem, { maxSockets: sockets }), options: { host: BENCH_HOST, port, path } };
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  return { tls, agent, options: { host: p.proxy.host, port: p.proxy.port, path: `http://${host}${path}`, headers: { host } } };
}
