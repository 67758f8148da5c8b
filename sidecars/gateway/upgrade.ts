// WebSocket upgrades (ws:// via absolute form, wss:// inside an intercepted tunnel): the
// upgrade request is judged like any request; after the upstream's 101 the two sockets are
// spliced. Frames are not inspected for DLP (like a passthrough tunnel, from the 101 on). On a
// route host everything coming back is masked for the route secrets like any routed response
// (scrub.ts): the 101 head, each frame's payload (no extension is offered there, so frames
// arrive uncompressed), or a refusal's head and body.
// The client's Sec-WebSocket-Key never leaves the gateway: it is a random nonce (the DLP
// rules see it as a generic API key) and 16 agent-chosen bytes per connection would be a
// covert channel. The gateway sends its own key upstream, checks the upstream's Accept
// against it, and answers the client with the Accept for the client's key.
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex, Transform } from 'node:stream';
import type { GatewayContext } from './context.js';
import { gatewayBlock, prepare, recorder, upstreamOptions } from './forward.js';
import {
  clientResponseHeaders, isWebSocketKey, isWebSocketUpgrade, rawResponseHead, replaceHeader, upstreamRequestHeaders, websocketAccept,
  withoutHeaders,
} from './headers.js';
import { sendRaw, upstreamReason } from './respond.js';
import { decoderFor, FrameMask, maskHeaders, routeNeedles, SecretMask } from './scrub.js';
import { formatAuthority, tunnelUrl, type Target } from './target.js';

// Pipes two sockets both ways; either side ending, failing or idling out ends both. `bToA`
// (optional) sits between b and a; its failing ends both too.
export function splice(a: Duplex, b: Duplex, idleMs: number, bToA?: Transform): void {
  const end = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('error', end);
    s.on('close', end);
    if ('setTimeout' in s && typeof s.setTimeout === 'function') {
      (s as import('node:net').Socket).setTimeout(idleMs, end);
    }
  }
  a.pipe(b);
  if (!bToA) {
    b.pipe(a);
    return;
  }
  bToA.on('error', end);
  b.pipe(bToA).pipe(a);
}

// Serves one `Upgrade:` request for `target` on a socket node's HTTP server has let go of.
export async function proxyUpgrade(g: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer, target: Target, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const record = recorder(g, method, target.host.host, path);
  socket.on('error', () => socket.destroy());
  g.track(socket);
  const clientKey = req.headers['sec-websocket-key'];
  if (!isWebSocketUpgrade(req.headers) || !isWebSocketKey(clientKey)) {
    sendRaw(socket, 400, 'bad request: only WebSocket upgrades (with a valid Sec-WebSocket-Key) are relayed\n');
    record(gatewayBlock('scheme', 'unsupported upgrade'), 400);
    return;
  }
  const snap = g.store.current;
  const judged = { ...(req.headersDistinct as Record<string, string[]>) };
  delete judged['sec-websocket-key'];
  const p = await prepare(g, snap, target, { method, url: tunnelUrl(target, path), headers: judged });
  if (!p.ok) {
    sendRaw(socket, p.status, p.body);
    record(p.verdict, p.status);
    return;
  }
  if (socket.destroyed) return;
  const ourKey = randomBytes(16).toString('base64');
  const needles = routeNeedles(p.inject, snap.canaries);
  let rawHeaders = replaceHeader(req.rawHeaders, 'Sec-WebSocket-Key', ourKey);
  if (needles) {
    rawHeaders = replaceHeader(rawHeaders, 'Accept-Encoding', 'identity');
    rawHeaders = withoutHeaders(rawHeaders, 'Sec-WebSocket-Extensions');
  }
  const headers = upstreamRequestHeaders(rawHeaders, { host: formatAuthority(target), inject: p.inject, upgrade: true });
  const masked = (raw: string[]): string[] => (needles ? maskHeaders(raw, needles).headers : raw);
  const up = (target.scheme === 'https' ? https : http).request(upstreamOptions(g, target, p.ip, method, path, headers));
  up.on('upgrade', (upRes, upSocket, upHead) => {
    g.track(upSocket);
    if (upRes.headers['sec-websocket-accept'] !== websocketAccept(ourKey)) {
      upSocket.destroy();
      sendRaw(socket, 502, 'upstream error: bad Sec-WebSocket-Accept\n');
      record({ ...p.verdict, reason: 'upstream error: bad Sec-WebSocket-Accept' }, 502);
      return;
    }
    if (needles && upRes.headers['sec-websocket-extensions'] !== undefined) {
      // Accepted an extension nobody offered: its frames could not be checked.
      upSocket.destroy();
      sendRaw(socket, 502, 'upstream error: a WebSocket extension was not offered\n');
      record({ ...p.verdict, reason: 'upstream error: a WebSocket extension was not offered' }, 502);
      return;
    }
    const head101 = masked(replaceHeader(upRes.rawHeaders, 'Sec-WebSocket-Accept', websocketAccept(clientKey)));
    socket.write(rawResponseHead(101, upRes.statusMessage || 'Switching Protocols', head101));
    record(p.verdict, 101);
    const frames = needles ? new FrameMask(needles) : undefined;
    if (upHead.length > 0) (frames ?? socket).write(upHead);
    if (head.length > 0) upSocket.write(head);
    splice(socket, upSocket, g.timeouts.tunnelIdleMs, frames);
  });
  up.on('response', (upRes) => {
    // The upstream declined the upgrade: relay its answer, delimited by closing the socket.
    const status = upRes.statusCode ?? 502;
    const kept = withoutHeaders(masked(clientResponseHeaders(upRes.rawHeaders)), 'Content-Length');
    socket.write(rawResponseHead(status, upRes.statusMessage ?? '', [...kept, 'Connection', 'close']));
    record(p.verdict, status);
    upRes.on('error', () => socket.destroy());
    if (!needles) {
      upRes.pipe(socket);
      return;
    }
    if (decoderFor(upRes.headers['content-encoding']) !== 'identity') {
      // Not decoded here (the socket closes after a refusal anyway): an encoded body is dropped.
      upRes.destroy();
      socket.end();
      return;
    }
    const mask = new SecretMask(needles);
    mask.on('error', () => socket.destroy());
    upRes.pipe(mask).pipe(socket);
  });
  up.on('timeout', () => up.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
  up.on('error', (err) => {
    const reason = `upstream error: ${upstreamReason(err)}`;
    sendRaw(socket, 502, `${reason}\n`);
    record({ ...p.verdict, reason }, 502);
  });
  socket.on('close', () => up.destroy());
  up.end();
}
