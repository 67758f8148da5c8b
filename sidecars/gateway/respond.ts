// The gateway's own answers (blocks, bad requests, upstream failures), for node responses
// and for raw sockets taken over by CONNECT or an upgrade. Bodies never echo request data
// beyond the host, and that only where the decision log shows it too (loggedTarget).
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { normalizeHost, type Stage, type Verdict } from '../../lib/policy/index.js';
import { rawResponseHead } from './headers.js';
import { loggedTarget, WITHHELD } from './log.js';

// The supervise MCP tool an agent asks for a host with, and the name Claude Code gives it
// (mcp__<server>__<tool>; provisioning registers the server as `supervise`).
export const ASK_TOOL = 'propose_allowlist_change';
export const ASK_TOOL_MCP_NAME = `mcp__supervise__${ASK_TOOL}`;

// How the agent asks for access, when the answer cannot name the host (SPEC §1.5).
export const ACCESS_HINT = `To request access, call the supervise MCP tool ${ASK_TOOL} (in Claude Code: ${ASK_TOOL_MCP_NAME}) `
  + 'with {"host":"<the host>","reason":"<why you need it>"}, or propose_route_change with the same arguments for credentials.';

// The same for one host: the exact call to make.
export function accessHint(host: string): string {
  const args = JSON.stringify({ host, reason: '<why you need it>' });
  return `To ask the operator for access, call the supervise MCP tool ${ASK_TOOL} (in Claude Code: ${ASK_TOOL_MCP_NAME}) with ${args}; once it is approved, retry.`;
}

// Under a model-api block: the rule is the model route's own (its path list, server-side
// fetching), which no allowlist or route proposal changes, so the access hint would mislead.
export const MODEL_ROUTE_HINT =
  'This is a rule of the model route, which carries only Claude Code\'s own API calls; a policy proposal cannot lift it; only the operator can change the model route.';

// Under an address block: supervise refuses such proposals, and an approved name would still
// be refused once it resolves there.
export const PRIVATE_HINT =
  'The gateway never connects to loopback, private, link-local or metadata addresses; a policy proposal cannot lift this.';

// Stages whose blocks no proposal can lift, with the hint that fits instead of ACCESS_HINT.
const STAGE_HINTS: Partial<Record<Stage, string>> = { 'model-api': MODEL_ROUTE_HINT, ssrf: PRIVATE_HINT, 'ssrf-resolved': PRIVATE_HINT };

// Stages whose block is about the host itself: its answer names the call for that host.
const HOST_STAGES: ReadonlySet<Stage> = new Set<Stage>(['allowlist', 'blocklist']);

// One block as the agent is told it: the verdict, the host the request named, and the prefix
// of the text form (`blocked`, or `CONNECT blocked` for a refused tunnel).
export interface Denial {
  outcome: Pick<Verdict, 'verdict' | 'stage' | 'reason'>;
  host: string;
  prefix?: string;
}

// The host as the answer may quote it: as the decision log would (withheld when the name or
// URL carried a secret), undefined then.
function quotable(d: Denial): string | undefined {
  const shown = loggedTarget(d.host, '', d.outcome).host;
  return shown === WITHHELD ? undefined : shown;
}

// The hint line, and whether it is the ask: an allowlist proposal for the quoted host is what
// lifts the block. Other blocks keep the general hint (a route proposal may fit them).
function hintFor(d: Denial): { hint: string; ask: boolean } {
  if (normalizeHost(d.host)?.ip?.forbidden) return { hint: PRIVATE_HINT, ask: false };
  const { stage } = d.outcome;
  const fixed = STAGE_HINTS[stage];
  if (fixed) return { hint: fixed, ask: false };
  const host = quotable(d);
  if (host !== undefined && HOST_STAGES.has(stage)) return { hint: accessHint(host), ask: true };
  return { hint: ACCESS_HINT, ask: false };
}

// One answer of the gateway's own: status, reason phrase, body and its media type.
export interface Answer {
  status: number;
  body: string;
  message?: string; // default: the status's standard phrase
  type?: string; // default: text/plain; charset=utf-8
}

const TEXT = 'text/plain; charset=utf-8';
const PHRASE_MAX = 200;

// A block's answer: 403 with `blocked: <reason>` and the hint line, or the same as JSON
// ({"error":"blocked","host","reason","ask","hint"}) for a client that asks for JSON. The reason
// phrase carries the reason too: npm, pip and fetch's statusText show the phrase, not the body.
export function blockAnswer(d: Denial, json = false): Answer {
  const { hint, ask } = hintFor(d);
  const { reason } = d.outcome;
  const phrase = `Forbidden (${d.prefix ?? 'blocked'}: ${reason}${ask ? `; ask with ${ASK_TOOL}` : ''})`.replace(/[^\x20-\x7e]/g, '?');
  const message = phrase.length <= PHRASE_MAX ? phrase : `${phrase.slice(0, PHRASE_MAX - 4)}...)`;
  if (!json) return { status: 403, message, body: `${d.prefix ?? 'blocked'}: ${reason}\n${hint}\n` };
  const body = { error: 'blocked', host: quotable(d) ?? null, reason, ...(ask ? { ask: ASK_TOOL } : {}), hint };
  return { status: 403, message, type: 'application/json; charset=utf-8', body: `${JSON.stringify(body)}\n` };
}

// Whether an Accept header prefers JSON: its most preferred named type (wildcards aside) is
// application/json or a +json type. npm and pip's JSON index API send such an Accept; curl,
// git and browsers do not.
export function wantsJson(accept: string | undefined): boolean {
  let best = 0;
  let json = false;
  for (const part of (accept ?? '').split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (range === '' || range.endsWith('/*')) continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (!(weight > best)) continue;
    best = weight;
    json = range === 'application/json' || /^application\/[^/]+\+json$/.test(range);
  }
  return json;
}

const REASON: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 500: 'Internal Server Error', 502: 'Bad Gateway', 504: 'Gateway Timeout',
};

// An answer on a node response; `close` when the rest of the request is unread.
export function sendText(res: ServerResponse, a: Answer, close = false): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': a.type ?? TEXT,
    'content-length': Buffer.byteLength(a.body),
  };
  if (close) headers.connection = 'close';
  res.writeHead(a.status, a.message ?? REASON[a.status] ?? '', headers);
  res.end(a.body);
}

// The same answer written to a raw socket, which is then closed.
export function sendRaw(socket: Duplex, a: Answer): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const head = rawResponseHead(a.status, a.message ?? REASON[a.status] ?? '', [
    'Content-Type', a.type ?? TEXT,
    'Content-Length', String(Buffer.byteLength(a.body)),
    'Connection', 'close',
  ]);
  socket.end(head + a.body);
}

// Last resort for a handler that threw (a bug, or bytes node refuses to send): a 500 if
// nothing was sent yet; the daemon never crashes over one request.
export function failed(diag: (message: string) => void, res: ServerResponse, e: unknown): void {
  diag(`request handling failed: ${(e as Error)?.message ?? String(e)}`);
  sendText(res, { status: 500, body: 'gateway error: the request could not be handled\n' }, true);
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
