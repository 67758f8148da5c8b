// One proxied HTTP request (absolute-form, or inside a tunnel): the shared stages (stages.ts)
// up to the upstream's answer, then that answer piped back unbuffered, decoded and masked for
// the route secrets when routed (scrub.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { failure, type Flow } from './flow.js';
import { clientResponseHeaders, withoutHeaders } from './headers.js';
import { meteredFlow, meterResponse } from './meter.js';
import { decoderFor } from './scrub.js';
import { admit, forward, maskHead, readBody, relayBody, type Admitted } from './stages.js';
import type { Target } from './target.js';

// Serves one request for `target`; the flow's path is the raw request path, scanned and sent.
export async function proxyRequest(flow: Flow, req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
  res.on('error', () => res.destroy());
  const body = await readBody(req, flow.snap.policy.limits.maxBodyBytes);
  const a = await admit(flow, target, req.headersDistinct as Record<string, string[]>, body);
  if (!a || res.destroyed) return;
  forward(flow, target, a, { raw: req.rawHeaders }, (up) => {
    up.on('response', (upRes) => {
      if (res.destroyed) upRes.destroy();
      else relayResponse(flow, a, upRes, res, meteredFlow(flow, target.scheme === 'https'));
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      up.destroy();
      flow.record(a.verdict, 499);
    });
  });
}

// The upstream's answer to the client: head (masked when routed) at once, body streamed.
// `metered`: the body is also tapped for its token usage (meter.ts), as it passes.
function relayResponse(flow: Flow, a: Admitted, upRes: IncomingMessage, res: ServerResponse, metered: boolean): void {
  // A response without a body (HEAD, 204, 304) has nothing to decode: its headers stay as sent.
  const status = upRes.statusCode ?? 502;
  const bodyless = flow.method === 'HEAD' || status === 204 || status === 304;
  const decode = a.needles && !bodyless ? decoderFor(upRes.headers['content-encoding'], upRes.headers['transfer-encoding']) : 'identity';
  if (decode === undefined) {
    // Fail closed: a body that cannot be read cannot be checked for the route secret.
    upRes.destroy();
    const encoding = JSON.stringify(upRes.headers['content-encoding']);
    flow.refuse(failure(a.verdict, `upstream error: response Content-Encoding ${encoding} cannot be checked for route secrets`));
    return;
  }
  const head = maskHead(clientResponseHeaders(upRes.rawHeaders), a.needles, upRes.statusMessage);
  // Decoded here, so the client gets the plain body, re-framed by node.
  const headers = decode === 'identity' ? head.headers : withoutHeaders(head.headers, 'Content-Encoding', 'Content-Length');
  try {
    res.writeHead(status, head.message, headers);
  } catch {
    // Node refuses to write some bytes its parser let in (e.g. DEL in a header value).
    upRes.destroy();
    flow.refuse(failure(a.verdict, 'upstream error: malformed response head'));
    return;
  }
  // A stream (SSE, chunked) shows its head at once; a sized body goes with its first chunk.
  if (upRes.headers['content-length'] === undefined || decode !== 'identity') res.flushHeaders();
  flow.record(a.verdict, status);
  const mask = relayBody(upRes, res, a.needles, decode === 'identity' ? undefined : decode);
  // The mask's output is decoded; upRes unmasked is passed on as it came.
  if (metered && !bodyless) meterResponse(flow, upRes, mask ?? upRes, mask ? undefined : upRes.headers['content-encoding']);
  mask?.on('end', () => {
    const n = head.masked + mask.masked;
    if (n) flow.g.diag(`gateway: masked ${n} route secret(s) in the response from ${flow.host} to ${flow.method} ${flow.path.split('?')[0]}`);
  });
}
