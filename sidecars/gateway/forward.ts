// One proxied HTTP request, in stage order: buffer the body (to the policy's cap) → evaluate
// → resolve + SSRF-check the upstream → inject route headers → forward → pipe the response
// back unbuffered (masking the route secrets in a routed response, see scrub.ts). Nothing
// reaches the upstream before the whole request has been judged.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { evaluate, type HttpRequest, type Verdict } from '../../lib/policy/index.js';
import type { GatewayContext } from './context.js';
import { resolveUpstream } from './dial.js';
import { clientResponseHeaders, replaceHeader, upstreamRequestHeaders, withoutHeaders } from './headers.js';
import { blockBody, sendText, upstreamReason } from './respond.js';
import type { Snapshot } from './reload.js';
import { decoderFor, maskHeaders, routeNeedles, SecretMask } from './scrub.js';
import { formatAuthority, tunnelUrl, type Target } from './target.js';

// Records the decision for this request once (status known); ms since handling began.
export type Recorder = (verdict: Pick<Verdict, 'verdict' | 'stage' | 'reason'>, status: number) => void;

// A recorder bound to one request.
export function recorder(g: GatewayContext, method: string, host: string, path: string): Recorder {
  const started = performance.now();
  let done = false;
  return (verdict, status) => {
    if (done) return;
    done = true;
    g.log.record({ method, host, path, verdict, status }, performance.now() - started);
  };
}

// A gateway-made block verdict (for checks outside the policy engine).
export function gatewayBlock(stage: string, reason: string): Verdict {
  return { verdict: 'block', stage: stage as Verdict['stage'], reason };
}

// Judged and resolved: where to send it and what to add, or the answer to give instead.
export type Prepared =
  | { ok: true; ip: string; inject?: Record<string, string>; verdict: Verdict }
  | { ok: false; status: number; body: string; verdict: Verdict };

// evaluate() → route headers → DNS + checkResolved. Shared by requests and upgrades.
export async function prepare(g: GatewayContext, snap: Snapshot, target: Target, request: HttpRequest): Promise<Prepared> {
  const verdict = evaluate(snap.policy, request, snap.canaries);
  if (verdict.verdict === 'block') return { ok: false, status: 403, body: blockBody(verdict.reason), verdict };
  const routed = snap.routeHeaders(target.host.host);
  if (routed && 'error' in routed) {
    // Fail closed: a route host is never reached without its credential.
    const reason = `gateway error: ${routed.error}`;
    return { ok: false, status: 502, body: `${reason}\n`, verdict: { ...verdict, reason } };
  }
  const dial = await resolveUpstream(target.host, g.lookup, g.allowPrivate);
  if ('verdict' in dial) return { ok: false, status: 403, body: blockBody(dial.verdict.reason), verdict: dial.verdict };
  if ('error' in dial) {
    return { ok: false, status: 502, body: `upstream error: ${dial.error}\n`, verdict: { ...verdict, reason: `upstream error: ${dial.error}` } };
  }
  return { ok: true, ip: dial.ip, inject: routed?.headers, verdict };
}

// Options for http(s).request to the checked IP, with the name kept for SNI and verification.
export function upstreamOptions(g: GatewayContext, target: Target, ip: string, method: string, path: string, headers: string[]): https.RequestOptions {
  const tls = target.scheme === 'https';
  return {
    host: ip,
    port: target.port,
    method,
    path,
    headers,
    agent: tls ? g.agents.https : g.agents.http,
    timeout: g.timeouts.upstreamIdleMs,
    // SNI carries names only; for an IP literal the certificate is checked against the IP.
    ...(tls ? { servername: target.host.ip ? '' : target.host.host } : {}),
  };
}

type Body = Buffer | undefined | 'too-large' | 'aborted';

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

// Serves one request for `target`; `path` is the raw request path that was scanned.
export async function proxyRequest(g: GatewayContext, req: IncomingMessage, res: ServerResponse, target: Target, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const record = recorder(g, method, target.host.host, path);
  const snap = g.store.current; // this request's policy, whatever reloads happen meanwhile
  res.on('error', () => res.destroy());
  const body = await readBody(req, snap.policy.limits.maxBodyBytes);
  if (body === 'aborted') {
    record(gatewayBlock('client', 'client closed the request before its body was complete'), 499);
    res.destroy();
    return;
  }
  if (body === 'too-large') {
    const v = gatewayBlock('body-dlp', `body is over ${snap.policy.limits.maxBodyBytes} bytes (limit); too big to scan`);
    sendText(res, 403, blockBody(v.reason), true);
    record(v, 403);
    return;
  }
  const url = tunnelUrl(target, path);
  const p = await prepare(g, snap, target, { method, url, headers: req.headersDistinct as Record<string, string[]>, body });
  if (!p.ok) {
    sendText(res, p.status, p.body);
    record(p.verdict, p.status);
    return;
  }
  if (res.destroyed) return;
  // A routed request's response is masked for the route secrets, so it must come back readable.
  const needles = routeNeedles(p.inject, snap.canaries);
  let headers = upstreamRequestHeaders(req.rawHeaders, { host: formatAuthority(target), inject: p.inject, bodyLength: body?.length });
  if (needles) headers = replaceHeader(headers, 'Accept-Encoding', 'identity');
  const opts = upstreamOptions(g, target, p.ip, method, path, headers);
  const up = (target.scheme === 'https' ? https : http).request(opts);
  up.on('response', (upRes) => {
    if (res.destroyed) {
      upRes.destroy();
      return;
    }
    // A response without a body (HEAD, 204, 304) has nothing to decode: its headers stay as sent.
    const status = upRes.statusCode ?? 502;
    const bodyless = method === 'HEAD' || status === 204 || status === 304;
    const decode = needles && !bodyless ? decoderFor(upRes.headers['content-encoding']) : 'identity';
    if (decode === undefined) {
      // Fail closed: a body that cannot be read cannot be checked for the route secret.
      upRes.destroy();
      const reason = `upstream error: response Content-Encoding ${JSON.stringify(upRes.headers['content-encoding'])} cannot be checked for route secrets`;
      sendText(res, 502, `${reason}\n`);
      record({ ...p.verdict, reason }, 502);
      return;
    }
    let out = clientResponseHeaders(upRes.rawHeaders);
    let masked = 0;
    if (needles) {
      ({ headers: out, masked } = maskHeaders(out, needles));
      // Decoded here, so the client gets the plain body, re-framed by node.
      if (decode !== 'identity') out = withoutHeaders(out, 'Content-Encoding', 'Content-Length');
    }
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
    } catch {
      // Node refuses to write some bytes its parser let in (e.g. DEL in a header value).
      upRes.destroy();
      sendText(res, 502, 'upstream error: malformed response head\n');
      record({ ...p.verdict, reason: 'upstream error: malformed response head' }, 502);
      return;
    }
    // A stream (SSE, chunked) shows its head at once; a sized body goes with its first chunk.
    if (upRes.headers['content-length'] === undefined || decode !== 'identity') res.flushHeaders();
    record(p.verdict, upRes.statusCode ?? 502);
    // pipe, not pipeline: pipeline's AbortController costs ~5% of a request; errors are
    // handled here and by res 'close' below.
    upRes.on('error', () => res.destroy());
    if (!needles) {
      upRes.pipe(res);
      return;
    }
    const mask = new SecretMask(needles);
    mask.on('error', () => res.destroy());
    mask.on('end', () => {
      if (masked + mask.masked) g.diag(`gateway: masked ${masked + mask.masked} route secret(s) in the response from ${target.host.host} to ${method} ${path.split('?')[0]}`);
    });
    if (decode === 'identity') upRes.pipe(mask);
    else {
      const decoder = decode();
      decoder.on('error', () => res.destroy());
      upRes.pipe(decoder).pipe(mask);
    }
    mask.pipe(res);
  });
  up.on('timeout', () => up.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
  up.on('error', (err) => {
    const reason = `upstream error: ${upstreamReason(err)}`;
    if (!res.headersSent) sendText(res, 502, `${reason}\n`);
    else res.destroy();
    record({ ...p.verdict, reason }, 502);
  });
  res.on('close', () => {
    if (!res.writableFinished) {
      up.destroy();
      record(p.verdict, 499);
    }
  });
  up.end(body);
}
