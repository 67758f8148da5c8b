// A local "internet" for gateway tests and benches: one HTTP and one HTTPS server on
// 127.0.0.1 with their own test CA (made with lib/pki, separate from any gateway CA), which
// record every request they receive. Routes: /echo (body back, byte for byte), /download
// (deterministic bytes), /sse (timed events), /ws (WebSocket echo), /reset (drops the
// connection), /bad-head (a response head with a DEL byte), /headers (the received header
// NAMES, as JSON), /reflect (an upstream that leaks what it got, see reflect()), /readback
// (the credential in harder places, see readback()), /v1/messages?usage=N (a Messages API JSON
// answer whose usage is N input tokens, for metering), anything else → 200 "ok".
// Loopback only.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import zlib from 'node:zlib';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { createCA, LeafMinter } from '../../lib/pki/index.js';

// One request as the upstream saw it (after the gateway).
export interface RecordedRequest {
  scheme: 'http' | 'https';
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
  servername?: string;
}

// A running upstream pair and what it has seen.
export interface Upstream {
  httpPort: number;
  httpsPort: number;
  caPem: string; // trust this to verify the HTTPS server
  caFile: string; // the same, on disk (for --upstream-ca / curl)
  requests: RecordedRequest[];
  // performance.now() at which /sse wrote each event, per stream in arrival order.
  sseSent: number[][];
  close(): Promise<void>;
}

// The default /download size.
export const DOWNLOAD_BYTES = 5 * 1024 * 1024;

// Deterministic pseudo-random bytes (xorshift32 from a fixed seed), so a client can compare.
export function downloadBytes(n: number): Buffer {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, n);
}

// --- WebSocket (RFC 6455), just enough for an echo: handshake and single-frame messages.

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// The Sec-WebSocket-Accept for a client key.
export function wsAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

// One frame with FIN set; clients must mask, servers must not.
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    if (len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
  }
  if (!mask) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, key, body]);
}

// Splits a byte stream into frames (opcode + unmasked payload).
export class FrameReader {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ opcode: number; payload: Buffer }> {
    this.buf = Buffer.concat([this.buf, chunk]);
    const frames: Array<{ opcode: number; payload: Buffer }> = [];
    for (;;) {
      if (this.buf.length < 2) return frames;
      const masked = (this.buf[1]! & 0x80) !== 0;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return frames;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return frames;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const keyLen = masked ? 4 : 0;
      if (this.buf.length < off + keyLen + len) return frames;
      const key = this.buf.subarray(off, off + keyLen);
      const payload = Buffer.from(this.buf.subarray(off + keyLen, off + keyLen + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
      frames.push({ opcode: this.buf[0]! & 0x0f, payload });
      this.buf = this.buf.subarray(off + keyLen + len);
    }
  }
}

// `received` (the upgrade's record) collects every byte the client sent after the head.
function wsEcho(req: IncomingMessage, socket: Duplex, received?: RecordedRequest): void {
  socket.on('error', () => socket.destroy());
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !req.url?.startsWith('/ws')) {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  // /ws-refuse declines, quoting the Authorization it got; /ws-reflect accepts, quoting it in
  // the 101 head and in two messages (upstreams that leak a route credential through a
  // WebSocket).
  const auth = String(req.headers.authorization ?? '');
  if (req.url.startsWith('/ws-refuse')) {
    const body = `refused: ${auth}\n`;
    socket.end(`HTTP/1.1 403 Forbidden\r\nX-Reflect-Authorization: ${auth}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return;
  }
  const reflecting = req.url.startsWith('/ws-reflect');
  const reflect = reflecting ? `X-Reflect-Authorization: ${auth}\r\nX-Reflect-Extensions: ${req.headers['sec-websocket-extensions'] ?? 'none'}\r\n` : '';
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n${reflect}\r\n`);
  if (reflecting) {
    // Then two messages quoting it: one whole, one whose frame is written in two parts 20 ms
    // apart, cut in the middle of the value.
    socket.write(encodeFrame(1, Buffer.from(`hello ${auth}`), false));
    const second = encodeFrame(1, Buffer.from(`again ${auth} bye`), false);
    const cut = second.indexOf(auth) + Math.floor(auth.length / 2);
    socket.write(second.subarray(0, cut));
    setTimeout(() => socket.write(second.subarray(cut)), 20);
  }
  const reader = new FrameReader();
  socket.on('data', (chunk: Buffer) => {
    if (received) received.body = Buffer.concat([received.body, chunk]);
    for (const f of reader.push(chunk)) {
      if (f.opcode === 8) {
        socket.end(encodeFrame(8, f.payload, false));
        return;
      }
      if (f.opcode === 1 || f.opcode === 2) socket.write(encodeFrame(f.opcode, f.payload, false));
    }
  });
}

// --- HTTP routes

function route(res: ServerResponse, req: IncomingMessage, body: Buffer, sseSent: number[][]): void {
  const url = new URL(req.url ?? '/', 'http://upstream.invalid');
  if (url.pathname.startsWith('/echo')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-echo-method': req.method ?? '', 'content-length': body.length });
    res.end(body);
  } else if (url.pathname === '/download') {
    const data = downloadBytes(Number(url.searchParams.get('bytes') ?? DOWNLOAD_BYTES));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
    for (let off = 0; off < data.length; off += 64 * 1024) res.write(data.subarray(off, off + 64 * 1024));
    res.end();
  } else if (url.pathname === '/sse') {
    const n = Number(url.searchParams.get('n') ?? 5);
    const gap = Number(url.searchParams.get('gap') ?? 100);
    const sent: number[] = [];
    sseSent.push(sent);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const tick = () => {
      if (res.destroyed) return;
      sent.push(performance.now());
      res.write(`id: ${i}\ndata: event ${i}\n\n`);
      if (++i < n) setTimeout(tick, gap);
      else res.end();
    };
    tick();
  } else if (url.pathname === '/headers') {
    const names = JSON.stringify(Object.keys(req.headers));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(names) });
    res.end(names);
  } else if (url.pathname === '/reflect') {
    reflect(res, req, url);
  } else if (url.pathname === '/readback') {
    readback(req, url);
  } else if (url.pathname === '/bad-head') {
    // A header value node's parser accepts but its writer refuses (DEL).
    req.socket.end('HTTP/1.1 200 OK\r\nX-Odd: a\x7fb\r\nContent-Length: 2\r\n\r\nok');
  } else if (url.pathname === '/v1/messages' && url.searchParams.has('usage')) {
    const answer = JSON.stringify({
      id: 'msg_up', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'ok' }],
      usage: { input_tokens: Number(url.searchParams.get('usage')), output_tokens: 0 },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_up', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  } else if (url.pathname === '/reset') {
    req.socket.destroy();
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  }
}

// An upstream that hands back what it received: every request header (values) as JSON, the
// Authorization value again in X-Reflect-Authorization, and with ?base64=1 that value in
// base64 too. ?encoding=gzip|deflate|br compresses the body whatever Accept-Encoding said
// (any other value is only claimed); ?split=1 writes the body in two parts 30 ms apart, cut
// in the middle of the Authorization value.
function reflect(res: ServerResponse, req: IncomingMessage, url: URL): void {
  const auth = String(req.headers.authorization ?? '');
  const text = JSON.stringify({ headers: req.headers, ...(url.searchParams.get('base64') ? { base64: Buffer.from(auth).toString('base64') } : {}) });
  const encoding = url.searchParams.get('encoding');
  const plain = Buffer.from(text);
  const body = encoding === 'gzip' ? zlib.gzipSync(plain) : encoding === 'deflate' ? zlib.deflateSync(plain)
    : encoding === 'br' ? zlib.brotliCompressSync(plain) : plain;
  const head = { 'content-type': 'application/json', 'x-reflect-authorization': auth, ...(encoding ? { 'content-encoding': encoding } : {}) };
  const cut = url.searchParams.get('split') && auth ? text.indexOf(auth) + Math.floor(auth.length / 2) : -1;
  if (cut <= 0) {
    res.writeHead(200, { ...head, 'content-length': body.length });
    res.end(body);
    return;
  }
  res.writeHead(200, head);
  res.write(plain.subarray(0, cut));
  setTimeout(() => res.end(plain.subarray(cut)), 30);
}

// A caller's own route, tried before the built-in ones with the whole request body read;
// true when it answered.
export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

// Starts both servers. The HTTPS one mints a leaf for whatever SNI it is asked (the test is
// of the gateway's verification: it must check the name against this CA).
export async function startUpstream(opts: { record?: boolean; handle?: UpstreamHandler } = {}): Promise<Upstream> {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-upstream-'));
  const ca = createCA(join(dir, 'ca'), { commonName: 'bottle test upstream CA' });
  const caFile = join(dir, 'upstream-ca.crt');
  writeFileSync(caFile, ca.certPem);
  const minter = new LeafMinter(ca);
  const requests: RecordedRequest[] = [];
  const sseSent: number[][] = [];
  const record = opts.record !== false;
  const handler = (scheme: 'http' | 'https') => (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (record) {
        const servername = scheme === 'https' ? ((req.socket as import('node:tls').TLSSocket).servername || undefined) : undefined;
        requests.push({ scheme, method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body, servername });
      }
      if (!opts.handle?.(req, res, body)) route(res, req, body, sseSent);
    });
  };
  const plain = http.createServer({ keepAliveTimeout: 30_000 }, handler('http'));
  const secure = https.createServer({
    keepAliveTimeout: 30_000,
    SNICallback: (name, cb) => cb(null, minter.secureContext(name)),
    ...(() => {
      const leaf = minter.get('127.0.0.1');
      return { key: leaf.keyPem, cert: leaf.chainPem };
    })(),
  }, handler('https'));
  const sockets = new Set<Socket>();
  for (const s of [plain, secure]) {
    s.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const rec: RecordedRequest = { scheme: s === plain ? 'http' : 'https', method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body: Buffer.alloc(0) };
      if (record) requests.push(rec);
      wsEcho(req, socket, record ? rec : undefined);
    });
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    s.on('tlsClientError', () => {});
  }
  const listen = (s: http.Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  const [httpPort, httpsPort] = await Promise.all([listen(plain), listen(secure)]);
  return {
    httpPort: httpPort!,
    httpsPort: httpsPort!,
    caPem: ca.certPem,
    caFile,
    requests,
    sseSent,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await Promise.all([plain, secure].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// An upstream that hands the route credential back in the places a response mask must also
// cover, written raw (node's writer would refuse some of it): ?in=reason (the status reason),
// name (a header name), split (half in one header, half in the next), escaped (the body, its
// bytes percent-encoded and JSON-escaped: all of them, every other one, `\/` and `\u002b`
// style), te-gzip (`Transfer-Encoding: gzip, chunked`: a transfer coding node does not undo).
function readback(req: IncomingMessage, url: URL): void {
  const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
  const half = Math.floor(token.length / 2);
  const bytes = [...Buffer.from(token)];
  const pct = (b: number) => `%${b.toString(16).padStart(2, '0')}`;
  const json = (b: number) => `\\u${b.toString(16).padStart(4, '0')}`;
  const head = (reason: string, extra: string[], body: Buffer | string) =>
    [`HTTP/1.1 200 ${reason}`, ...extra, 'Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', ''].join('\r\n');
  const send = (raw: string, body: Buffer | string = ''): void => void req.socket.end(Buffer.concat([Buffer.from(raw, 'latin1'), Buffer.from(body)]));
  switch (url.searchParams.get('in')) {
    case 'reason': return send(head(`OK ${token}`, [], 'ok'), 'ok');
    case 'name': return send(head('OK', [`X-${token}: 1`], 'ok'), 'ok');
    case 'split': return send(head('OK', [`X-Part-1: a${token.slice(0, half)}`, `X-Part-2: ${token.slice(half)}z`], 'ok'), 'ok');
    case 'escaped': {
      const body = [
        bytes.map((b) => pct(b).toUpperCase()).join(''),
        bytes.map((b, i) => (i % 2 ? pct(b) : String.fromCharCode(b))).join(''),
        bytes.map(json).join(''),
        JSON.stringify({ token }).replace(/\//g, '\\/').replace(/\+/g, '\\u002b'),
      ].join('\n');
      return send(head('OK', [], body), body);
    }
    case 'te-gzip': {
      const gz = zlib.gzipSync(Buffer.from(`token: ${token}\n`));
      const raw = ['HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Transfer-Encoding: gzip, chunked', 'Connection: close', '', ''].join('\r\n');
      return send(raw, Buffer.concat([Buffer.from(`${gz.length.toString(16)}\r\n`), gz, Buffer.from('\r\n0\r\n\r\n')]));
    }
    default: return send(head('OK', [], 'ok'), 'ok');
  }
}
