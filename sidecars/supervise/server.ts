// The supervise HTTP server: MCP (Streamable HTTP) at `/` and `/mcp`, Claude Code hooks at
// `POST /hooks/claude`, `GET /events`, `GET /healthz`. Every body is size-capped.
//
// MCP runs *stateless*: each POST gets a fresh McpServer + transport and no session id is issued.
// The agent's claude keeps one MCP connection for hours; with sessions, any supervise restart
// (init restarts it if it dies) would leave claude holding an unknown session id (404) until it
// re-initialises. Stateless, a restarted supervise answers the very next call. We need nothing a
// session buys: tools are request/response and all state lives in the queue/decisions files.
// (Gateway restarts never touch this process: claude reaches supervise directly, NO_PROXY.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { packageVersion } from '../../lib/paths.js';
import { DecisionWatcher } from '../../lib/proposals/watch.js';
import { announceProposal, appendEvent, readRecentEvents, type BundleEvent } from './events.js';
import { hookToEvent } from './hooks.js';
import { registerTools } from './tools.js';

// The SDK's Server validates only elicitation answers with its jsonSchemaValidator, and
// supervise never elicits; its default builds a fresh Ajv instance (with formats) per Server,
// i.e. per POST here. This one refuses, so an elicitation added later fails loudly.
const NO_ELICITATION: jsonSchemaValidator = {
  getValidator: () => () => ({ valid: false, data: undefined, errorMessage: 'supervise does not validate elicitation answers' }),
};

// Tool arguments are tiny (a host and <= 500 chars); anything bigger is abuse.
export const MCP_BODY_LIMIT = 64 * 1024;
// Hook payloads carry tool inputs (PermissionRequest), which can be large-ish.
export const HOOK_BODY_LIMIT = 256 * 1024;
const MEMORY_EVENTS = 500;

// What `bottle sidecar supervise` flags map to; tests pass port 0 and short waits.
export interface SuperviseOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  queueDir: string;
  decisionsDir: string;
  policyFile?: string;
  eventsFile?: string;
  waitSeconds: number;
  pollMs?: number;
  maxPending?: number;
  progressMs?: number;
  /** Diagnostics (one line each); defaults to silence. */
  log?: (line: string) => void;
}

// A running supervise server.
export interface SuperviseServer {
  /** Base URL, e.g. http://127.0.0.1:9100/ */
  url: string;
  port: number;
  /** Hook events recorded by this process, oldest first. */
  events(): BundleEvent[];
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

// Reads a request body, refusing (413) anything over `limit` bytes, declared or streamed.
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new HttpError(413, `body over ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

// Starts listening; resolves once the port is bound.
export async function startSupervise(opts: SuperviseOptions): Promise<SuperviseServer> {
  const log = opts.log ?? (() => undefined);
  const watcher = new DecisionWatcher(opts.decisionsDir, { pollMs: opts.pollMs, warn: log });
  const memory: BundleEvent[] = [];
  const deps = {
    queueDir: opts.queueDir, decisionsDir: opts.decisionsDir, policyFile: opts.policyFile,
    watcher, waitMs: opts.waitSeconds * 1000, maxPending: opts.maxPending, progressMs: opts.progressMs,
    announce: (p: { id: string; kind: string }) => {
      const err = announceProposal(opts.eventsFile, p);
      if (err) log(`cannot append to events file ${opts.eventsFile}: ${err.message}`);
    },
  };
  const version = packageVersion();

  async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      // Stateless: no standalone SSE stream (GET) and no session to delete (DELETE).
      return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless, POST only', { allow: 'POST' });
    }
    let body: unknown;
    try {
      body = parseJson(await readBody(req, MCP_BODY_LIMIT));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 400;
      return jsonRpcError(res, status, status === 413 ? -32600 : -32700, (e as Error).message);
    }
    const server = new McpServer({ name: 'bottle-supervise', version }, { jsonSchemaValidator: NO_ELICITATION });
    registerTools(server, deps);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function hook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'POST only');
    const event = hookToEvent(parseJson(await readBody(req, HOOK_BODY_LIMIT)));
    if (event) {
      memory.push(event);
      if (memory.length > MEMORY_EVENTS) memory.splice(0, memory.length - MEMORY_EVENTS);
      const err = appendEvent(opts.eventsFile, event);
      if (err) log(`cannot append to events file ${opts.eventsFile}: ${err.message}`);
    }
    // Empty body on purpose: claude would read a JSON body as hook output (e.g. a permission verdict).
    res.writeHead(204).end();
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://supervise').pathname;
    if (path === '/' || path === '/mcp') return mcp(req, res);
    if (path === '/hooks/claude') return hook(req, res);
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/events' && req.method === 'GET') {
      const events = opts.eventsFile ? readRecentEvents(opts.eventsFile) : memory.slice(-200);
      return send(res, 200, JSON.stringify({ events }), 'application/json');
    }
    throw new HttpError(404, 'not found: try /mcp, /hooks/claude, /events or /healthz');
  }

  const http: Server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log(`${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      if (status === 413) res.setHeader('connection', 'close');
      send(res, status, `${(e as Error).message}\n`);
    });
  });
  http.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => { http.off('error', reject); resolve(); });
  });
  const { port } = http.address() as AddressInfo;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    events: () => [...memory],
    close: async () => {
      watcher.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
