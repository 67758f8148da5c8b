// The stages every proxied request and WebSocket upgrade passes, in order: body (read whole,
// to the policy's cap) → evaluate → route headers → resolve (DNS + SSRF check) → inject →
// forward → mask (the route secrets, in what comes back). Nothing reaches the upstream before
// the whole request has been judged, and what is forwarded is what was judged: forward()
// sends the path and the body that admit() passed to evaluate().
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable, Transform, Writable } from 'node:stream';
import { block, evaluate, routeFor, type Verdict } from '../../lib/policy/index.js';
import { MODEL_CREDENTIAL_HEADERS } from '../../lib/plan/auth.js';
import { isMeteredRequest } from '../../lib/usage/meter.js';
import { resolveUpstream } from './dial.js';
import { blocked, failure, type Flow, type Outcome, type Refusal } from './flow.js';
import { replaceHeader, upstreamRequestHeaders, withoutHeaders } from './headers.js';
import { upstreamReason } from './respond.js';
import { maskHeaders, routeNeedles, SecretMask, type Needles } from './scrub.js';
import { formatAuthority, tunnelUrl, type Target } from './target.js';

// A request body as read: whole, absent, over the cap, or cut short by the client.
export type Body = Buffer | undefined | 'too-large' | 'aborted';

// The request body, whole, or why not: over `cap` bytes (declared or streamed), or the client
// went away. undefined when the request has no body at all.
export function readBody(req: IncomingMessage, cap: number): Promise<Body> {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(undefined);
  if (declared !== undefined && Number(declared) > cap) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (b: Body) => {
      req.off('data', onData);
      resolve(b);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) finish('too-large');
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks, size)));
    req.once('close', () => { if (!req.complete) finish('aborted'); });
    req.once('error', () => finish('aborted'));
  });
}

// A request that passed: its verdict, the checked address, the route's headers and the needles
// its answer is masked for (both absent unless the route applies), the route's header names to
// drop when it does not (a client copy was not scanned: the route would have replaced it), and
// the body that was judged.
export interface Admitted {
  verdict: Verdict;
  ip: string;
  inject?: Record<string, string>;
  strip?: string[];
  needles?: Needles;
  body?: Buffer;
}

// body → evaluate → route headers → resolve for the flow's method and path on `target`. On the
// first "no" the flow is refused and undefined returned.
export async function admit(flow: Flow, target: Target, headers: Record<string, string[]>, body: Body): Promise<Admitted | undefined> {
  const r = await judge(flow, target, headers, body);
  if ('status' in r) {
    flow.refuse(r);
    return undefined;
  }
  return r;
}

async function judge(flow: Flow, target: Target, headers: Record<string, string[]>, body: Body): Promise<Admitted | Refusal> {
  const { snap } = flow;
  if (body === 'aborted') return { outcome: block('client', 'client closed the request before its body was complete'), status: 499 };
  if (body === 'too-large') return blocked(block('body-dlp', `body is over ${snap.policy.limits.maxBodyBytes} bytes (limit); too big to scan`));
  flow.bodyConsumed();
  const verdict = evaluate(snap.policy, { method: flow.method, url: tunnelUrl(target, flow.path), headers, body }, snap.canaries);
  if (verdict.verdict === 'block') return blocked(verdict);
  const model = snap.policy.model;
  const onModel = model !== undefined && model.host === target.host.host && target.scheme === 'https';
  if (onModel && isMeteredRequest(flow.method, flow.path)) {
    const stop = flow.g.budget.check();
    if (stop) return { outcome: block('model-api', stop.reason, 'budget'), status: 402, body: stop.body, type: 'application/json' };
  }
  // A route's credential goes only over TLS to the route's port (its `port`, else 443 or the
  // stand-in a test gateway is given): never in the clear, nor to another service on the host.
  const route = routeFor(snap.policy, target.host.host);
  const port = (p: number) => (route?.port === undefined ? flow.g.passthroughPorts.includes(p) : p === route.port);
  const applies = route !== undefined && target.scheme === 'https' && port(target.port);
  const routed = applies ? snap.routeHeaders(target.host.host) : undefined;
  // Fail closed: a route host is never reached without its credential.
  if (routed && 'error' in routed) return failure(verdict, `gateway error: ${routed.error}`);
  const dial = await resolve(flow, target, verdict);
  if ('status' in dial) return dial;
  // Off its port a route's headers are dropped, not sent; on the model route every client copy
  // of a model credential goes too (only bottle's, injected, rides there, in either auth mode).
  const strip = route && !applies ? Object.keys(route.headers) : onModel && routed ? [...MODEL_CREDENTIAL_HEADERS] : undefined;
  return { verdict, ip: dial.ip, inject: routed?.headers, strip, needles: routeNeedles(routed?.headers, snap.canaries), body };
}

// resolve: DNS, then the resolved-address check; `prefix` heads a block's answer. Passthrough
// CONNECTs use it too.
export async function resolve(flow: Flow, target: Target, v: Outcome, prefix?: string): Promise<{ ip: string } | Refusal> {
  const dial = await resolveUpstream(target.host, flow.g.lookup, flow.g.allowPrivate);
  if ('verdict' in dial) return blocked(dial.verdict, prefix);
  if ('error' in dial) return failure(v, `upstream error: ${dial.error}`);
  return dial;
}

// A 502 for an upstream that failed before answering.
export function upstreamFailed(v: Outcome, err: unknown): Refusal {
  return failure(v, `upstream error: ${upstreamReason(err)}`);
}

// What goes upstream besides the judged request: the client's raw headers (as node gives
// them, or as an upgrade rewrote them), and whether to ask for a WebSocket.
export interface Outgoing {
  raw: readonly string[];
  upgrade?: boolean;
}

// inject → forward: the upstream request to the checked address (name kept for SNI and
// certificate checks), client headers plus the route's, carrying the judged body. `listen`
// wires the answer before the request is sent; a failure before any answer refuses the flow.
export function forward(flow: Flow, target: Target, a: Admitted, out: Outgoing, listen: (up: http.ClientRequest) => void): void {
  const host = formatAuthority(target);
  let headers = upstreamRequestHeaders(out.raw, { host, inject: a.inject, strip: a.strip, bodyLength: a.body?.length, upgrade: out.upgrade });
  // A routed answer is masked for the route secrets, so it must come back readable, and whole:
  // slices of a reflected token (Range/If-Range) are each too short to be recognised and masked.
  if (a.inject) headers = withoutHeaders(headers, 'Range', 'If-Range');
  if (a.needles) headers = replaceHeader(headers, 'Accept-Encoding', 'identity');
  const { agents, timeouts } = flow.g;
  const tls = target.scheme === 'https';
  const up = (tls ? https : http).request({
    host: a.ip,
    port: target.port,
    method: flow.method,
    path: flow.path,
    headers,
    agent: tls ? agents.https : agents.http,
    timeout: timeouts.upstreamIdleMs,
    // SNI carries names only; for an IP literal the certificate is checked against the IP.
    ...(tls ? { servername: target.host.ip ? '' : target.host.host } : {}),
  });
  up.on('timeout', () => up.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
  up.on('error', (err) => flow.refuse(upstreamFailed(a.verdict, err)));
  listen(up);
  up.end(a.body);
}

// mask: an answer's head (headers, status reason) with the route secrets masked (as it came
// when not routed).
export function maskHead(raw: string[], needles: Needles | undefined, message = ''): { headers: string[]; message: string; masked: number } {
  return needles ? maskHeaders(raw, needles, message) : { headers: raw, message, masked: 0 };
}

// mask: pipes an upstream body to the client, decoded (`decode`) and masked when routed; a
// failure anywhere on the way ends the client. Returns the mask, to count what it masked.
export function relayBody(from: Readable, to: Writable, needles: Needles | undefined, decode?: () => Transform): SecretMask | undefined {
  // pipe, not pipeline: pipeline's AbortController costs ~5% of a request; errors end `to`
  // here, and the caller watches `to` closing.
  const end = () => to.destroy();
  from.on('error', end);
  if (!needles) {
    from.pipe(to);
    return undefined;
  }
  const mask = new SecretMask(needles);
  mask.on('error', end);
  if (decode) {
    const decoder = decode();
    decoder.on('error', end);
    from.pipe(decoder).pipe(mask);
  } else from.pipe(mask);
  mask.pipe(to);
  return mask;
}
