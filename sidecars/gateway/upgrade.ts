// WebSocket upgrades (ws:// via absolute form, wss:// inside an intercepted tunnel): the
// upgrade request is judged like any request; after the upstream's 101 the two sockets are
// spliced, the agent's side through a MessageGate (wsgate.ts): each message the agent sends is
// reassembled up to the body cap and judged like a request body before any frame of it goes
// upstream. On a route host everything coming back is masked for the route secrets like any
// routed response (scrub.ts): the 101 head, each frame's payload, or a refusal's head and body.
// No extension is ever offered upstream (the agent's Sec-WebSocket-Extensions is dropped), so
// frames both ways are plain: permessage-deflate is not inflated, it is never negotiated.
// The client's Sec-WebSocket-Key never leaves the gateway: it is a random nonce (the DLP
// rules see it as a generic API key) and 16 agent-chosen bytes per connection would be a
// covert channel. The gateway sends its own key upstream, checks the upstream's Accept
// against it, and answers the client with the Accept for the client's key.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex, Transform } from 'node:stream';
import { block, evaluate } from '../../lib/policy/index.js';
import { failure, type Flow } from './flow.js';
import {
  clientResponseHeaders, isWebSocketKey, isWebSocketUpgrade, rawResponseHead, replaceHeader, websocketAccept, withoutHeaders,
} from './headers.js';
import { decoderFor, FrameMask } from './scrub.js';
import { admit, forward, maskHead, relayBody, type Admitted } from './stages.js';
import { tunnelUrl, type Target } from './target.js';
import { closeFrame, MessageGate, type GateRefusal, type JudgeMessage } from './wsgate.js';

// Pipes two sockets both ways; either side ending, failing or idling out ends both. `bToA`
// and `aToB` (optional) sit between them; one failing ends both too.
export function splice(a: Duplex, b: Duplex, idleMs: number, bToA?: Transform, aToB?: Transform): void {
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
  if (aToB) {
    aToB.on('error', end);
    a.pipe(aToB).pipe(b);
  } else a.pipe(b);
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
  // No body: what follows an upgrade's head is the WebSocket stream, judged per message.
  const a = await admit(flow, target, judged, undefined);
  if (!a || socket.destroyed) return;
  const ourKey = randomBytes(16).toString('base64');
  const raw = withoutHeaders(replaceHeader(req.rawHeaders, 'Sec-WebSocket-Key', ourKey), 'Sec-WebSocket-Extensions');
  const ws: Relay = { flow, a, target, socket, head, expectAccept: websocketAccept(ourKey), clientAccept: websocketAccept(clientKey) };
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
  target: Target;
  socket: Duplex;
  head: Buffer;
  expectAccept: string;
  clientAccept: string;
}

// The upstream switched protocols: check its answer, pass the 101 on, splice.
function switched({ flow, a, target, socket, head, expectAccept, clientAccept }: Relay, upRes: IncomingMessage, upSocket: Duplex, upHead: Buffer): void {
  flow.g.track(upSocket);
  let refusal: string | undefined;
  if (upRes.headers['sec-websocket-accept'] !== expectAccept) refusal = 'upstream error: bad Sec-WebSocket-Accept';
  // Accepted an extension nobody offered: its frames could not be checked.
  else if (upRes.headers['sec-websocket-extensions'] !== undefined) refusal = 'upstream error: a WebSocket extension was not offered';
  if (refusal) {
    upSocket.destroy();
    flow.refuse(failure(a.verdict, refusal));
    return;
  }
  const head101 = maskHead(replaceHeader(upRes.rawHeaders, 'Sec-WebSocket-Accept', clientAccept), a.needles, upRes.statusMessage || 'Switching Protocols');
  socket.write(rawResponseHead(101, head101.message, head101.headers));
  flow.record(a.verdict, 101);
  const frames = a.needles ? new FrameMask(a.needles) : undefined;
  const gate = new MessageGate(flow.snap.policy.limits.maxBodyBytes, messageJudge(flow, target));
  gate.once('refused', (r: GateRefusal) => refuseMessage(flow, r, socket, frames ?? upSocket));
  if (upHead.length > 0) (frames ?? socket).write(upHead);
  if (head.length > 0) gate.write(head);
  splice(socket, upSocket, flow.g.timeouts.tunnelIdleMs, frames, gate);
}

// Each message is judged as a body of the upgrade's URL: text as UTF-8 text, binary (and
// control payloads) as bytes, by the same evaluate() as every request (DLP + canaries).
function messageJudge(flow: Flow, target: Target): JudgeMessage {
  const url = tunnelUrl(target, flow.path);
  const { policy, canaries } = flow.snap;
  const text = { 'content-type': 'text/plain; charset=utf-8' };
  const bytes = { 'content-type': 'application/octet-stream' };
  return (body, binary) => evaluate(policy, { method: flow.method, url, headers: binary ? bytes : text, body }, canaries);
}

// A message was refused: nothing more goes to the agent from upstream (`from` stops feeding
// it, so the close frame is not cut into a frame in flight), the agent gets a close frame
// with the reason, and both sockets end. Logged as a decision of its own.
function refuseMessage(flow: Flow, r: GateRefusal, socket: Duplex, from: Duplex): void {
  from.unpipe();
  socket.end(closeFrame(r.code, r.reason), () => socket.destroy());
  const outcome = r.verdict ?? block('body-dlp', r.reason);
  flow.g.log.record({ method: flow.method, host: flow.host, path: flow.path, verdict: outcome, status: r.code }, 0);
}

// The upstream declined the upgrade: relay its answer, delimited by closing the socket.
function declined({ flow, a, socket }: Relay, upRes: IncomingMessage): void {
  const status = upRes.statusCode ?? 502;
  const head = maskHead(clientResponseHeaders(upRes.rawHeaders), a.needles, upRes.statusMessage ?? '');
  const kept = withoutHeaders(head.headers, 'Content-Length');
  socket.write(rawResponseHead(status, head.message, [...kept, 'Connection', 'close']));
  flow.record(a.verdict, status);
  if (a.needles && decoderFor(upRes.headers['content-encoding'], upRes.headers['transfer-encoding']) !== 'identity') {
    // Not decoded here (the socket closes after a refusal anyway): an encoded body is dropped.
    upRes.on('error', () => socket.destroy());
    upRes.destroy();
    socket.end();
    return;
  }
  relayBody(upRes, socket, a.needles);
}
