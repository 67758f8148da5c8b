// CONNECT tunnels: the hostname-level decision, then either a byte splice (passthrough hosts)
// or interception: TLS terminated with a leaf minted for the CONNECT host, and each request
// inside served by the inner HTTP server as if it had come to the proxy directly.
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { evaluateConnect, normalizeHost, tlsMode, type Verdict } from '../../lib/policy/index.js';
import type { GatewayContext, Tunnel } from './context.js';
import { resolveUpstream } from './dial.js';
import { gatewayBlock, proxyRequest, recorder, type Recorder } from './forward.js';
import { blockBody, failed, sendRaw, sendText, upstreamReason } from './respond.js';
import { hostHeaderMatches, parseAuthority, tunnelPath, type Target } from './target.js';
import { proxyUpgrade, splice } from './upgrade.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

// Handles `CONNECT host:port` on a socket node's HTTP server has let go of.
export function handleConnect(g: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  g.track(socket);
  const authority = parseAuthority(req.url ?? '');
  const record = recorder(g, 'CONNECT', authority?.host.host ?? '(malformed)', '');
  if (!authority) {
    sendRaw(socket, 400, 'bad request: CONNECT needs host:port\n');
    record(gatewayBlock('scheme', 'malformed CONNECT target'), 400);
    return;
  }
  const snap = g.store.current;
  const v = evaluateConnect(snap.policy, authority.host.host, authority.port, snap.canaries, { passthroughPorts: g.passthroughPorts });
  if (v.verdict === 'block') {
    sendRaw(socket, 403, blockBody(v.reason, 'CONNECT blocked'));
    record(v, 403);
    return;
  }
  const target: Target = { scheme: 'https', ...authority };
  if (tlsMode(snap.policy, target.host.host) === 'passthrough') {
    passthrough(g, socket, head, target, v, record).catch(() => socket.destroy());
    return;
  }
  socket.write(ESTABLISHED);
  record(v, 200);
  intercept(g, socket as net.Socket, head, target);
}

// Passthrough: hostname checks (done) + resolved-address check, then bytes both ways.
async function passthrough(g: GatewayContext, socket: Duplex, head: Buffer, target: Target, v: Verdict, record: Recorder): Promise<void> {
  const dial = await resolveUpstream(target.host, g.lookup, g.allowPrivate);
  if ('verdict' in dial) {
    sendRaw(socket, 403, blockBody(dial.verdict.reason, 'CONNECT blocked'));
    record(dial.verdict, 403);
    return;
  }
  if ('error' in dial) {
    sendRaw(socket, 502, `upstream error: ${dial.error}\n`);
    record({ ...v, reason: `upstream error: ${dial.error}` }, 502);
    return;
  }
  if (socket.destroyed) return;
  const up = net.connect({ host: dial.ip, port: target.port, noDelay: true });
  g.track(up);
  let connected = false;
  up.setTimeout(g.timeouts.upstreamIdleMs, () => up.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
  up.once('error', (err) => {
    if (connected) return;
    const reason = `upstream error: ${upstreamReason(err)}`;
    sendRaw(socket, 502, `${reason}\n`);
    record({ ...v, reason }, 502);
  });
  up.once('connect', () => {
    connected = true;
    socket.write(ESTABLISHED);
    record(v, 200);
    if (head.length > 0) up.write(head);
    splice(socket, up, g.timeouts.tunnelIdleMs);
  });
  socket.once('close', () => { if (!connected) up.destroy(); });
}

// Looks at the tunnel's first byte: a TLS handshake is terminated; anything else is plain
// HTTP spoken through the tunnel (a ws:// client behind a proxy does that).
function intercept(g: GatewayContext, socket: net.Socket, head: Buffer, target: Target): void {
  // A tunnel that never completes a handshake (or never says anything) is dropped.
  socket.setTimeout(g.timeouts.handshakeMs, () => socket.destroy());
  const decide = (first: Buffer) => {
    socket.pause();
    socket.unshift(first);
    if (first[0] === 0x16) terminateTls(g, socket, target);
    else servePlain(g, socket, target);
  };
  if (head.length > 0) decide(head);
  else socket.once('data', decide);
}

function servePlain(g: GatewayContext, socket: net.Socket, target: Target): void {
  socket.setTimeout(0);
  const plain: Target = { ...target, scheme: 'http' };
  g.tunnels.set(socket, { target: plain });
  g.inner.emit('connection', socket);
  socket.resume();
}

// Terminates the client's TLS with a leaf for the CONNECT host. A client whose SNI names
// another host still completes the handshake (with the CONNECT host's leaf) and then has
// every request refused; absent SNI is expected only for an IP-literal CONNECT.
function terminateTls(g: GatewayContext, socket: net.Socket, target: Target): void {
  const expected = target.host.host;
  let tlsSocket: tls.TLSSocket;
  try {
    tlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: g.minter.secureContext(expected),
      SNICallback: (name, cb) => {
        try {
          cb(null, g.minter.secureContext(normalizeHost(name)?.host === expected ? name : expected));
        } catch (e) {
          cb(e as Error);
        }
      },
      ALPNProtocols: ['http/1.1'],
    });
  } catch (e) {
    g.diag(`TLS setup for ${expected} failed: ${(e as Error).message}`);
    socket.destroy();
    return;
  }
  g.track(tlsSocket);
  tlsSocket.on('error', () => {
    tlsSocket.destroy();
    socket.destroy();
  });
  tlsSocket.once('secure', () => {
    socket.setTimeout(0);
    const sni = tlsSocket.servername;
    let refuse: string | undefined;
    if (sni) refuse = normalizeHost(sni)?.host === expected ? undefined : 'TLS SNI does not match the CONNECT host';
    else if (!target.host.ip) refuse = 'TLS SNI is missing for a named CONNECT host';
    const tunnel: Tunnel = refuse ? { target, refuse } : { target };
    g.tunnels.set(tlsSocket, tunnel);
    g.inner.emit('connection', tlsSocket);
  });
}

// A request read from inside a tunnel: checks that it is for the tunnel's origin, then
// proxies it like any other.
export function serveTunnelRequest(g: GatewayContext, req: IncomingMessage, res: ServerResponse): void {
  const method = req.method ?? 'GET';
  const tunnel = g.tunnels.get(req.socket);
  if (!tunnel) {
    sendText(res, 400, 'bad request: not a tunnel\n', true);
    return;
  }
  const { target } = tunnel;
  const path = tunnelPath(target, req.url ?? '');
  const refusal = tunnelRefusal(tunnel, path, req);
  if (refusal) {
    sendText(res, 403, blockBody(refusal.reason), true);
    recorder(g, method, target.host.host, path ?? '')(refusal, 403);
    return;
  }
  proxyRequest(g, req, res, target, path!).catch((e) => failed(g.diag, res, e));
}

// The same for an `Upgrade:` request inside a tunnel (wss:// or ws:// through CONNECT).
export function serveTunnelUpgrade(g: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const tunnel = g.tunnels.get(req.socket);
  if (!tunnel) {
    socket.destroy();
    return;
  }
  const path = tunnelPath(tunnel.target, req.url ?? '');
  const refusal = tunnelRefusal(tunnel, path, req);
  if (refusal) {
    sendRaw(socket, 403, blockBody(refusal.reason));
    recorder(g, req.method ?? 'GET', tunnel.target.host.host, path ?? '')(refusal, 403);
    return;
  }
  proxyUpgrade(g, req, socket, head, tunnel.target, path!).catch(() => socket.destroy());
}

function tunnelRefusal(tunnel: Tunnel, path: string | undefined, req: IncomingMessage): Verdict | undefined {
  if (tunnel.refuse) return gatewayBlock('sni', tunnel.refuse);
  if (path === undefined) return gatewayBlock('header-dlp', 'request target does not match the CONNECT host');
  if (!hostHeaderMatches(tunnel.target, req.headers.host)) return gatewayBlock('header-dlp', 'host header mismatch');
  return undefined;
}
