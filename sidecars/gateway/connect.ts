// CONNECT tunnels: the hostname-level decision, then either a byte splice (passthrough hosts)
// or interception: TLS terminated with a leaf minted for the CONNECT host, and each request
// inside served by the inner HTTP server as if it had come to the proxy directly. A host the
// policy does not allow is intercepted too, so that the agent reads why (see answeredInside).
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { block, evaluateConnect, normalizeHost, tlsMode, type Verdict } from '../../lib/policy/index.js';
import type { HostInfo } from '../../lib/policy/hosts.js';
import type { GatewayContext, Tunnel } from './context.js';
import { blocked, Flow, type Client, type Outcome } from './flow.js';
import { proxyRequest } from './forward.js';
import { loggedTarget, WITHHELD } from './log.js';
import { failed, sendText } from './respond.js';
import { resolve, upstreamFailed } from './stages.js';
import { hostHeaderMatches, parseAuthority, tunnelPath, type Target } from './target.js';
import { proxyUpgrade, splice } from './upgrade.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

// Handles `CONNECT host:port` on a socket node's HTTP server has let go of.
export function handleConnect(g: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  g.track(socket);
  const authority = parseAuthority(req.url ?? '');
  const flow = new Flow(g, { socket }, 'CONNECT', authority?.host.host ?? '(malformed)', '');
  if (!authority) {
    flow.refuse({ outcome: block('scheme', 'malformed CONNECT target'), status: 400, body: 'bad request: CONNECT needs host:port\n' });
    return;
  }
  const { snap } = flow;
  const v = evaluateConnect(snap.policy, authority.host.host, authority.port, snap.canaries, { passthroughPorts: g.passthroughPorts });
  if (v.verdict === 'block' && !answeredInside(v, authority.host)) {
    flow.refuse(blocked(v, 'CONNECT blocked'));
    return;
  }
  const target: Target = { scheme: 'https', ...authority };
  if (v.verdict === 'allow' && tlsMode(snap.policy, target.host.host, target.port, g.passthroughPorts) === 'passthrough') {
    passthrough(flow, socket, head, target, v).catch(() => socket.destroy());
    return;
  }
  socket.write(ESTABLISHED);
  flow.record(v.verdict === 'allow' ? v : { ...v, reason: `${v.reason} (answered inside the tunnel)` }, 200);
  intercept(g, socket as net.Socket, head, target);
}

// Whether a blocked CONNECT is opened and answered inside (TLS terminated with a leaf for the
// host, each request judged like any other, so refused with the readable 403 while the policy
// says no, and served once a proposal is approved) rather than refused at the tunnel, where
// most clients show only "CONNECT tunnel failed, response 403". Opened: a host the allowlist
// or blocklist refuses, named as the log would name it. Refused at the tunnel: an address in
// a forbidden range (no proposal lifts that, and a private address never gets a 200), a name
// that carries a secret (DLP stages, or a withheld name: never minted into a certificate or
// quoted back), a malformed target or port, a failed evaluation. Nothing is resolved or
// dialled for an opened tunnel while its requests are blocked. Pure.
export function answeredInside(v: Outcome, host: HostInfo): boolean {
  if (v.stage !== 'allowlist' && v.stage !== 'blocklist') return false;
  if (host.ip?.forbidden !== undefined) return false;
  return loggedTarget(host.host, '', v).host !== WITHHELD;
}

// Passthrough: hostname checks (done) + resolved-address check, then bytes both ways.
async function passthrough(flow: Flow, socket: Duplex, head: Buffer, target: Target, v: Verdict): Promise<void> {
  const { g } = flow;
  const dial = await resolve(flow, target, v, 'CONNECT blocked');
  if ('status' in dial) {
    flow.refuse(dial);
    return;
  }
  if (socket.destroyed) return;
  const up = net.connect({ host: dial.ip, port: target.port, noDelay: true });
  g.track(up);
  let connected = false;
  up.setTimeout(g.timeouts.upstreamIdleMs, () => up.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
  up.once('error', (err) => {
    if (!connected) flow.refuse(upstreamFailed(v, err));
  });
  up.once('connect', () => {
    connected = true;
    socket.write(ESTABLISHED);
    flow.record(v, 200);
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
  const tunnel = g.tunnels.get(req.socket);
  if (!tunnel) {
    sendText(res, { status: 400, body: 'bad request: not a tunnel\n' }, true);
    return;
  }
  const flow = tunnelFlow(g, tunnel, req, { res });
  if (flow) proxyRequest(flow, req, res, tunnel.target).catch((e) => failed(g.diag, res, e));
}

// The same for an `Upgrade:` request inside a tunnel (wss:// or ws:// through CONNECT).
export function serveTunnelUpgrade(g: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const tunnel = g.tunnels.get(req.socket);
  if (!tunnel) {
    socket.destroy();
    return;
  }
  const flow = tunnelFlow(g, tunnel, req, { socket });
  if (flow) proxyUpgrade(flow, req, socket, head, tunnel.target).catch(() => socket.destroy());
}

// The flow for a request inside a tunnel, or undefined once it is refused for not being for
// the tunnel's origin: the TLS name (sni), then the request target and Host (host-mismatch).
function tunnelFlow(g: GatewayContext, tunnel: Tunnel, req: IncomingMessage, client: Client): Flow | undefined {
  const path = tunnelPath(tunnel.target, req.url ?? '');
  const flow = new Flow(g, client, req.method ?? 'GET', tunnel.target.host.host, path ?? '');
  let refusal: Verdict | undefined;
  if (tunnel.refuse) refusal = block('sni', tunnel.refuse);
  else if (path === undefined) refusal = block('host-mismatch', 'request target does not match the CONNECT host');
  else if (!hostHeaderMatches(tunnel.target, req.headers.host)) refusal = block('host-mismatch', 'host header mismatch');
  if (!refusal) return flow;
  flow.refuse(blocked(refusal));
  return undefined;
}
