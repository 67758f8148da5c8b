// Which headers cross the gateway, in each direction. Works on flat raw-header arrays
// (`[name, value, name, value]`, as node's rawHeaders) so case, order and repeats survive. Pure.
import { createHash } from 'node:crypto';
import { HOP_BY_HOP } from '../../lib/policy/index.js';

// Request headers the gateway always sets itself (framing, Host) or must not pass on.
const OWNED_REQUEST = new Set(['host', 'content-length', 'expect']);

// Names listed in Connection (`Connection: close, X-Foo` makes X-Foo hop-by-hop too).
function connectionTokens(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  }
  return out;
}

function isHopByHop(lname: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(lname) || lname.startsWith('proxy-') || listed.has(lname);
}

// What the upstream request carries once a request is allowed.
export interface UpstreamHeaderOptions {
  host: string; // Host header value (authority of the judged URL)
  inject?: Readonly<Record<string, string>>; // route headers; replace any client copy
  strip?: readonly string[]; // route header names not injected here: any client copy dropped
  bodyLength?: number; // Content-Length to send (undefined: the request has no body)
  upgrade?: boolean; // a WebSocket upgrade: send Connection: Upgrade + Upgrade: websocket
}

// The client's headers minus hop-by-hop, Proxy-*, framing and every header a route injects or
// strips (matched case-insensitively: a client-sent `authorization` must not ride along next
// to the route's `Authorization`, nor go unscanned where the route does not apply), plus Host,
// framing and the route's headers.
export function upstreamRequestHeaders(raw: readonly string[], o: UpstreamHeaderOptions): string[] {
  const listed = connectionTokens(raw);
  const injected = new Set([...Object.keys(o.inject ?? {}), ...(o.strip ?? [])].map((k) => k.toLowerCase()));
  const out: string[] = ['Host', o.host];
  for (let i = 0; i < raw.length; i += 2) {
    const lname = raw[i]!.toLowerCase();
    if (OWNED_REQUEST.has(lname) || injected.has(lname) || isHopByHop(lname, listed)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  for (const [k, v] of Object.entries(o.inject ?? {})) out.push(k, v);
  if (o.bodyLength !== undefined) out.push('Content-Length', String(o.bodyLength));
  if (o.upgrade) out.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
  return out;
}

// The upstream response's headers for the client: hop-by-hop and framing other than
// Content-Length dropped (node re-frames the piped body for the client's connection).
export function clientResponseHeaders(raw: readonly string[]): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lname = raw[i]!.toLowerCase();
    if (isHopByHop(lname, listed)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

// Whether a request asks for a WebSocket (the only upgrade the gateway relays).
export function isWebSocketUpgrade(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const up = headers.upgrade;
  return typeof up === 'string' && up.trim().toLowerCase() === 'websocket';
}

// Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

// A well-formed Sec-WebSocket-Key: 16 bytes in base64.
export function isWebSocketKey(key: unknown): key is string {
  return typeof key === 'string' && /^[A-Za-z0-9+/]{22}==$/.test(key);
}

// A raw list without every copy of the named headers (names matched case-insensitively).
export function withoutHeaders(raw: readonly string[], ...names: string[]): string[] {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

// Replaces one header's value(s) in a raw list (dropping every copy), appending `value`.
export function replaceHeader(raw: readonly string[], name: string, value: string): string[] {
  return [...withoutHeaders(raw, name), name, value];
}

// A response head as raw text, for sockets taken over from node's HTTP server (101, errors).
export function rawResponseHead(status: number, message: string, raw: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}
