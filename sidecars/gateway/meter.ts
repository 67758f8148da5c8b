// Metering on the model route (issue 16 item 2): the answer to each POST /v1/messages is read
// as it passes to the client (SSE or JSON, lib/usage/meter.ts) and, once it ends, one usage
// event goes to the context's onUsage (the events file). The tap only listens to the stream
// that is already piped to the client: nothing is held back, buffered or altered for it. A
// body that reaches the client compressed (no route secret to mask, so not decoded) is
// decompressed on a copy, for the meter only.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { isMeteredRequest, meterMode, UsageMeter, usageEvent, type UsageEvent } from '../../lib/usage/meter.js';
import type { Flow } from './flow.js';
import { decoderFor } from './scrub.js';

// Whether a flow's answer is metered: the model route, over TLS, POST /v1/messages.
export function meteredFlow(flow: Flow, tls: boolean): boolean {
  const model = flow.snap.policy.model;
  return tls && flow.g.onUsage !== undefined && model !== undefined && model.host === flow.host && isMeteredRequest(flow.method, flow.path);
}

// Taps `body` (what the client is being sent: upRes itself, or its decoded and masked copy)
// for the answer `upRes`; `encoding` is the Content-Encoding of `body`'s bytes.
export function meterResponse(flow: Flow, upRes: IncomingMessage, body: Readable, encoding: string | undefined): void {
  const emit = flow.g.onUsage;
  const mode = meterMode(upRes.headers['content-type']);
  const decode = decoderFor(encoding);
  if (!emit || !mode || decode === undefined) return;
  const meter = new UsageMeter(mode);
  const status = upRes.statusCode ?? 0;
  const requestId = headerText(upRes.headers['request-id']);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const u = meter.end();
    if (!u) return;
    try {
      emit(usageEvent(u, { requestId, path: flow.path, status }));
    } catch (e) {
      flow.g.diag(`metering: ${(e as Error)?.message ?? String(e)}`);
    }
  };
  let copy: ((chunk: Buffer) => void) | undefined;
  let endCopy = finish;
  if (decode === 'identity') copy = (chunk) => meter.feed(chunk);
  else {
    const decoder = decode();
    decoder.on('data', (chunk: Buffer) => meter.feed(chunk));
    decoder.once('end', finish);
    decoder.once('error', finish); // what was decoded so far counts
    copy = (chunk) => { if (!decoder.destroyed) decoder.write(chunk); };
    endCopy = () => decoder.end();
    upRes.once('close', () => { if (!upRes.complete) { decoder.destroy(); finish(); } });
  }
  body.on('data', copy);
  body.once('end', endCopy);
  // Cut short (upstream or client gone): what was seen counts, once.
  body.once('close', () => { if (decode === 'identity') finish(); });
  upRes.once('close', () => { if (!upRes.complete) setImmediate(finish); });
}

function headerText(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.length <= 200 ? s : undefined;
}

export type { UsageEvent };
