// The gateway's own answers (blocks, bad requests, upstream failures), for node responses
// and for raw sockets taken over by CONNECT or an upgrade. Bodies never echo request data.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Stage } from '../../lib/policy/index.js';
import { rawResponseHead } from './headers.js';

// How the agent asks for access; appended to every policy block (SPEC §1.5).
export const ACCESS_HINT =
  'To request access, call the propose_allowlist_change tool on the supervise MCP server (or propose_route_change for credentials).';

// Under a model-api block: the rule is the model route's own (its path list, server-side
// fetching), which no allowlist or route proposal changes, so the access hint would mislead.
export const MODEL_ROUTE_HINT =
  'This is a rule of the model route, which carries only Claude Code\'s own API calls; a policy proposal cannot lift it; only the operator can change the model route.';

// Stages whose blocks no proposal can lift, with the hint that fits instead of ACCESS_HINT.
const STAGE_HINTS: Partial<Record<Stage, string>> = { 'model-api': MODEL_ROUTE_HINT };

// The 403 body: `blocked: <reason>` (or `CONNECT blocked: ...`) plus the hint line for the
// stage that blocked.
export function blockBody(reason: string, prefix = 'blocked', stage?: Stage): string {
  const hint = (stage !== undefined ? STAGE_HINTS[stage] : undefined) ?? ACCESS_HINT;
  return `${prefix}: ${reason}\n${hint}\n`;
}

const REASON: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 500: 'Internal Server Error', 502: 'Bad Gateway', 504: 'Gateway Timeout',
};

// A short text answer on a node response; `close` when the rest of the request is unread.
export function sendText(res: ServerResponse, status: number, body: string, close = false): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  if (close) headers.connection = 'close';
  res.writeHead(status, REASON[status] ?? '', headers);
  res.end(body);
}

// The same answer written to a raw socket, which is then closed.
export function sendRaw(socket: Duplex, status: number, body: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const head = rawResponseHead(status, REASON[status] ?? '', [
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(Buffer.byteLength(body)),
    'Connection', 'close',
  ]);
  socket.end(head + body);
}

// Last resort for a handler that threw (a bug, or bytes node refuses to send): a 500 if
// nothing was sent yet; the daemon never crashes over one request.
export function failed(diag: (message: string) => void, res: ServerResponse, e: unknown): void {
  diag(`request handling failed: ${(e as Error)?.message ?? String(e)}`);
  sendText(res, 500, 'gateway error: the request could not be handled\n', true);
}

// A short, data-free reason for an upstream failure: the error code, or the message's first
// line for errors without one (TLS verification errors have codes).
export function upstreamReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') {
    if (e.code === 'ECONNREFUSED') return 'connection refused';
    if (e.code === 'ECONNRESET') return 'connection reset';
    if (e.code === 'ETIMEDOUT' || e.code === 'ERR_GATEWAY_TIMEOUT') return 'timed out';
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'name does not resolve';
    return e.code;
  }
  return typeof e?.message === 'string' ? e.message.split('\n')[0]!.slice(0, 120) : 'unknown error';
}
