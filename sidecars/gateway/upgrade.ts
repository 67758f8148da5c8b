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
import type { IncomingMessage } from 'node:http';
import type { Duplex, Transform } from 'node:stream';
import { block } from '../../lib/policy/index.js';
import { failure, type Flow } from './flow.js';
import {
  clientResponseHeaders, isWebSocketKey, isWebSocketUpgrade, rawResponseHead, replaceHeader, websocketAccept, withoutHeaders,
} from './headers.js';
import { decoderFor, FrameMask } from './scrub.js';
import { admit, forward, maskHead, relayBody, type Admitted } from './stages.js';
import type { Target } from './target.js';

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
export async function proxyUpgrade(flow: Flow, req: IncomingMessage, socket: Duplex, head: Buffer, target: Target): Promise<void> {
  socket.on('error', () => socket.destroy());
  flow.g.track(socket);
  const clientKey = req.headers['sec-websocket-key'];
  if (!isWebSocketUpgrade(req.headers) || !isWebSocketKey(clientKey)) {
    const body = 'bad request: only WebSocket upgrades (with a valid Sec-WebSocket-Key) are relayed\n';
    flow.refuse({ outcome: block('scheme', 'unsupported upgrade'), status: 400, body });
    return;
  }
  const judged = { ...(req.headersDistinct as Record<string, string[]>) };
  delete judged['sec-websocket-key'];
  // No body: what follows an upgrade's head is the WebSocket stream, not scanned (see above).
  const a = await admit(flow, target, judged, undefined);
  if (!a || socket.destroyed) return;
  const ourKey = randomBytes(16).toString('base64');
  let raw = replaceHeader(req.rawHeaders, 'Sec-WebSocket-Key', ourKey);
  if (a.needles) raw = withoutHeaders(raw, 'Sec-WebSocket-Extensions');
  const ws: Relay = { flow, a, socket, head, expectAccept: websocketAccept(ourKey), clientAccept: websocketAccept(clientKey) };
  forward(flow, target, a, { raw, upgrade: true }, (up) => {
    up.on('upgrade', (upRes, upSocket, upHead) => switched(ws, upRes, upSocket, upHead));
    up.on('response', (upRes) => declined(ws, upRes));
    socket.on('close', () => up.destroy());
  });
}

// One upgrade being relayed: the client side, and the Accept values expected from the
// upstream (for the gateway's key) and owed to the client (for the client's key).
interface Relay {
  flow: Flow;
  a: Admitted;
  socket: Duplex;
  head: Buffer;
  expectAccept: string;
  clientAccept: string;
}

// The upstream switched protocols: check its answer, pass the 101 on, splice.
function switched({ flow, a, socket, head, expectAccept, clientAccept }: Relay, upRes: IncomingMessage, upSocket: Duplex, upHead: Buffer): void {
  flow.g.track(upSocket);
  let refusal: string | undefined;
  if (upRes.headers['sec-websocket-accept'] !== expectAccept) refusal = 'upstream error: bad Sec-WebSocket-Accept';
  // Accepted an extension nobody offered: its frames could not be checked.
  else if (a.needles && upRes.headers['sec-websocket-extensions'] !== undefined) refusal = 'upstream error: a WebSocket extension was not offered';
  if (refusal) {
    upSocket.destroy();
    flow.refuse(failure(a.verdict, refusal));
    return;
  }
  const head101 = maskHead(replaceHeader(upRes.rawHeaders, 'Sec-WebSocket-Accept', clientAccept), a.needles).headers;
  socket.write(rawResponseHead(101, upRes.statusMessage || 'Switching Protocols', head101));
  flow.record(a.verdict, 101);
  const frames = a.needles ? new FrameMask(a.needles) : undefined;
  if (upHead.length > 0) (frames ?? socket).write(upHead);
  if (head.length > 0) upSocket.write(head);
  splice(socket, upSocket, flow.g.timeouts.tunnelIdleMs, frames);
}

// The upstream declined the upgrade: relay its answer, delimited by closing the socket.
function declined({ flow, a, socket }: Relay, upRes: IncomingMessage): void {
  const status = upRes.statusCode ?? 502;
  const kept = withoutHeaders(maskHead(clientResponseHeaders(upRes.rawHeaders), a.needles).headers, 'Content-Length');
  socket.write(rawResponseHead(status, upRes.statusMessage ?? '', [...kept, 'Connection', 'close']));
  flow.record(a.verdict, status);
  if (a.needles && decoderFor(upRes.headers['content-encoding']) !== 'identity') {
    // Not decoded here (the socket closes after a refusal anyway): an encoded body is dropped.
    upRes.on('error', () => socket.destroy());
    upRes.destroy();
    socket.end();
    return;
  }
  relayBody(upRes, socket, a.needles);
}
