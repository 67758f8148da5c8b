// model-api stage: the model route (the Anthropic API host Claude Code talks to) is terminated
// for the key swap but not pattern-scanned (conversations look like secrets), so what may go
// there is narrowed instead: only the API paths Claude Code calls, and no request that makes
// the API contact a URL the request chose (the MCP connector, web fetch, URL image/document
// sources): that would be an unscanned exit to any host. Web search stays allowed.
import { headerValue, type HeaderList } from './headers.js';
import { hasDuplicateKey } from './json.js';
import { block, type ModelApi, type Verdict } from './types.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

// `METHOD /path` (exact raw path) or `METHOD /prefix/*` (any path below the prefix); METHOD
// may be `*`. What Claude Code calls on api.anthropic.com: the Messages API and token
// counting, the model list, its connectivity probe, OAuth account lookups, and its own
// telemetry and settings endpoints. None of them fetches a URL named in the request.
export const MODEL_API_PATHS: readonly string[] = [
  'POST /v1/messages',
  'POST /v1/messages/count_tokens',
  'GET /v1/models',
  'GET /v1/models/*',
  'GET /api/hello',
  'GET /api/oauth/*',
  'POST /api/event_logging/batch',
  '* /api/claude_code/*',
];

const ENTRY = /^(\*|[A-Z]+) (\/[A-Za-z0-9._~\-/]*?)(\/\*)?$/;

// Why an allowlist entry is malformed, or undefined when it is fine (used by the loader).
export function modelPathProblem(entry: string): string | undefined {
  return ENTRY.test(entry) ? undefined : 'must be "METHOD /path" or "METHOD /prefix/*" (METHOD is upper case or *)';
}

// Whether `method rawPath` is on the allowlist. The raw path is compared as sent: an
// encoded or doubled spelling of an allowed path is not that path.
export function modelPathAllowed(paths: readonly string[], method: string, rawPath: string): boolean {
  for (const entry of paths) {
    const m = ENTRY.exec(entry);
    if (!m || (m[1] !== '*' && m[1] !== method.toUpperCase())) continue;
    if (m[3] ? rawPath.startsWith(`${m[2]}/`) && rawPath.length > m[2]!.length + 1 : rawPath === m[2]) return true;
  }
  return false;
}

// The first thing in a parsed Messages API body that makes the API contact a URL the request
// chose, described for a block reason; undefined when there is none.
export function serverFetchIn(root: unknown): string | undefined {
  if (!isObject(root)) return undefined;
  if (Object.hasOwn(root, 'mcp_servers')) return 'mcp_servers (the MCP connector calls the servers it names)';
  if (Array.isArray(root.tools)) {
    for (const tool of root.tools) {
      const type = isObject(tool) && typeof tool.type === 'string' ? tool.type : '';
      if (type.startsWith('web_fetch')) return `a ${quotable(type)} tool (the API fetches URLs the conversation names)`;
      if (type.startsWith('mcp_')) return `a ${quotable(type)} tool (the MCP connector)`;
    }
  }
  // Image and document blocks with `source: {type: "url"}` are fetched by the API, wherever
  // they sit (messages, system, tool results): walk the whole body, iteratively.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const v of node) if (typeof v === 'object' && v !== null) stack.push(v);
    } else if (isObject(node)) {
      const source = node.source;
      if (isObject(source) && source.type === 'url') return 'a content block with a URL source (the API fetches it)';
      for (const v of Object.values(node)) if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  return undefined;
}

// model-api stage, path: a path off the allowlist is refused, named when it is safe to quote.
export function checkModelPath(model: ModelApi, method: string, rawPath: string): Verdict | undefined {
  if (modelPathAllowed(model.paths, method, rawPath)) return undefined;
  const what = /^(\/[A-Za-z0-9_.-]{1,32}){0,6}\/?$/.test(rawPath) && !/[A-Za-z0-9]{25}/.test(rawPath) ? `${method} ${rawPath}` : `${method} to this path`;
  return block('model-api', `${what} is not a model API call Claude Code makes; only its own API paths are allowed on the model route ${model.host}`, 'model-path');
}

// A model API body that passed: its parsed JSON (undefined for no body).
export interface ModelBody { json: unknown }

// model-api stage, body: it must be JSON (what the API reads), and may not make the API
// contact other hosts unless the policy opts in (serverFetch).
export function checkModelBody(model: ModelApi, body: Uint8Array | string | undefined, entries: readonly HeaderList[], maxBytes: number): Verdict | ModelBody {
  if (body === undefined || body.length === 0) return { json: undefined };
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) return block('body-dlp', `body is ${size} bytes (limit ${maxBytes}); too big to scan`, 'body-too-large');
  const type = (headerValue(entries, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return block('model-api', 'a model API request body must be application/json', 'model-body');
  let text: string;
  let parsed: unknown;
  try {
    text = typeof body === 'string' ? body : UTF8.decode(body);
    parsed = JSON.parse(text);
  } catch {
    return block('model-api', 'the model API request body does not parse as JSON (compressed or malformed)', 'model-body');
  }
  // JSON.parse keeps a repeated key's last value, another parser its first: a body with one
  // `tools` for the gateway and another for the API is refused (Claude Code never repeats a key).
  if (hasDuplicateKey(text)) return block('model-api', 'the model API request body repeats a JSON key', 'model-body');
  const what = model.serverFetch ? undefined : serverFetchIn(parsed);
  if (what === undefined) return { json: parsed };
  return block('model-api', `the model API request asks the API to contact other hosts: ${what}; the operator can allow it with defaults.model.serverFetch: true in the manifest`, 'model-server-fetch');
}

// Every key and string value of a parsed JSON body, one per line: what the canary looks in.
// JSON escapes are already undone; the canary's precomputed forms (raw, hex, base64, base32
// at every alignment) need no further decoding, so conversation-sized bodies stay cheap.
export function jsonStrings(root: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') out.push(node);
    else if (Array.isArray(node)) for (const v of node) stack.push(v);
    else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        out.push(k);
        stack.push(v);
      }
    }
  }
  return out.join('\n');
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// A tool type is echoed in a reason only when it looks like one (no secret looks like this).
function quotable(type: string): string {
  return /^[a-z_]{1,24}(_\d{8})?$/.test(type) ? type : 'server';
}
