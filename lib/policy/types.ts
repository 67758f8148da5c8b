// Shapes shared by the policy loader, the request evaluator and the gateway daemon.

// A credentialed upstream: the gateway sets these headers on requests to `host`.
// Header values are templates over host env var names (`"Bearer ${GITHUB_TOKEN}"`, or a bare
// `GITHUB_TOKEN` meaning `${GITHUB_TOKEN}`); the policy file never holds a secret value.
// The headers go only over TLS to `port` (443 when absent), never in the clear or elsewhere.
export interface Route {
  host: string;
  headers: Record<string, string>;
  port?: number;
}

// Caps that turn "too big to scan" into a block instead of a pass.
export interface Limits {
  maxUrlLength: number;
  maxBodyBytes: number;
}

// What the DLP stages look at. `headers: 'all'` is the only header mode: a sensitive-only
// mode is bypassed with `X-Custom: <secret>`.
export interface DlpOptions {
  headers: 'all';
  entropy: boolean;
  // Fingerprints (lib/secrets/fingerprint.ts) of values the operator declared harmless: a
  // pattern finding with one does not block. Never the canary, never the entropy checks.
  // Absent when the operator lists none.
  ignore?: string[];
}

// The model route: a route host whose content is not pattern-scanned (model conversations
// look like secrets) but narrowed by the model-api stage (lib/policy/model-api.ts) instead.
// Written by bottle from the plan, never inferred from a host name.
export interface ModelApi {
  host: string;
  // `METHOD /path` or `METHOD /prefix/*` entries; defaults to MODEL_API_PATHS.
  paths: string[];
  // Whether a request may make the API contact URLs it names (MCP connector, web fetch).
  serverFetch: boolean;
}

// One bottle's egress policy, as loaded from policy.yaml (hosts normalised, defaults filled).
export interface Policy {
  allow: string[];
  // Time-boxed allow entries: pattern (in `allow`) -> ISO 8601 instant or "stop"
  // (lib/policy/grants.ts). Absent when every entry is permanent.
  allowUntil?: Record<string, string>;
  block: string[];
  routes: Route[];
  passthrough: string[];
  limits: Limits;
  dlp: DlpOptions;
  model?: ModelApi;
}

// One proxied HTTP request as the daemon sees it after TLS termination (or a plain-http
// proxy request). `url` is absolute.
export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body?: Uint8Array | string;
}

// The one stage vocabulary, stable: evaluate(), the gateway's decision log, tests and `bottle
// policy explain` output all use these names. `sni`: the TLS name is not the CONNECT host;
// `host-mismatch`: the request target or Host header names another host than the CONNECT or
// the request URL; `client`: the client went away mid-request; `error`: judging itself failed
// (a fail-closed block); `model-api`: the model route's path allowlist and server-fetch check;
// `done`: an allow.
export const STAGES = [
  'scheme', 'sni', 'crlf', 'traversal', 'allowlist', 'blocklist', 'ssrf', 'url-length', 'url-dlp',
  'entropy', 'host-mismatch', 'header-dlp', 'body-dlp', 'model-api', 'canary', 'ssrf-resolved', 'client', 'error', 'done',
] as const;
export type Stage = (typeof STAGES)[number];

// The answer for one request (or CONNECT, or DNS answer). A block reason never quotes the
// matched text: it names where the secret was and which rule matched.
export interface Verdict {
  verdict: 'allow' | 'block';
  stage: Stage;
  reason: string;
  /** What matched: the allow or block entry, the scanner's rule id, or the check's own name. */
  rule?: string;
}

export const DEFAULT_LIMITS: Limits = { maxUrlLength: 2048, maxBodyBytes: 10 * 1024 * 1024 };
export const DEFAULT_DLP: DlpOptions = { headers: 'all', entropy: true };

// A block verdict; the gateway's own checks (SNI, body cap, client gone) use it too.
export function block(stage: Stage, reason: string, rule?: string): Verdict {
  return rule === undefined ? { verdict: 'block', stage, reason } : { verdict: 'block', stage, reason, rule };
}

export function allow(reason: string, rule?: string): Verdict {
  return rule === undefined ? { verdict: 'allow', stage: 'done', reason } : { verdict: 'allow', stage: 'done', reason, rule };
}

// A policy with nothing allowed; the base for programmatic construction.
export function emptyPolicy(): Policy {
  return { allow: [], block: [], routes: [], passthrough: [], limits: { ...DEFAULT_LIMITS }, dlp: { ...DEFAULT_DLP } };
}

// DLP-only mode (`allow: ["*"]`): what `bottle policy explain` uses without --policy.
export function dlpOnlyPolicy(): Policy {
  return { ...emptyPolicy(), allow: ['*'] };
}
