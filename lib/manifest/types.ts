// The manifest as the rest of bottle sees it: validated, defaults applied, paths as written.
// Paths (skills, workspace, identity) are kept verbatim; lib/plan resolves them.
import type { PriceTable } from '../usage/prices.js';
import type { AuthSetting } from '../plan/auth.js';
import type { BudgetSpec } from './budget.js';

export const BACKENDS = ['docker', 'smolvm'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const DEFAULT_BACKEND: BackendName = 'docker';
export const DEFAULT_IMAGE = 'bottle-agent:latest';

export interface Manifest {
  version: 1;
  /** `model` only when the manifest sets it. */
  defaults: {
    backend: BackendName; image: string; model?: ModelSpec; dlp?: DlpSpec; supervise?: SuperviseSpec; prices?: PriceTable;
    /** How claude authenticates (default auto); only when set. */
    auth?: AuthSetting;
    /** Spend cap for every agent (an agent's budget keys override these); only when set. */
    budget?: BudgetSpec;
    /** The engine every agent runs on (an `engines:` name or `local`); only when set. */
    engine?: string;
  };
  /** Named Docker engines (`engines:`); only when the manifest has the key. */
  engines?: Record<string, EngineSpec>;
  /** Insertion-ordered as in the file; names match AGENT_NAME. */
  agents: Record<string, AgentSpec>;
}

// How the gateway treats the model API route (api.anthropic.com).
export interface ModelSpec {
  /** Let model API requests make the API contact URLs they name (MCP connector, web fetch);
   * off by default: that is an exit the gateway cannot scan. Web search is always allowed. */
  serverFetch: boolean;
}

// What the operator tells the gateway's DLP and the git gate about content they scan.
export interface DlpSpec {
  /** Finding fingerprints (`sha256:` + 16 hex, from `bottle scan` or a git gate rejection) of
   * values known to be harmless (test dummies); a finding with one does not block. */
  ignore: string[];
}

// What supervise may settle without asking the operator (defaults and per agent, merged by the plan).
export interface SuperviseSpec {
  /** `auto_approve`: hosts (a hostname, `*.domain` of one owner, an IP) whose allowlist proposals
   * are approved at once; never a public suffix wildcard, never route proposals. */
  autoApprove: string[];
}

export interface AgentSpec {
  name: string;
  /** Appended to claude's system prompt. */
  prompt?: string;
  /** Skill folders, relative to the manifest's directory (or absolute, or `~/...`). */
  skills: string[];
  /** Plain agent env; scalars are stored as their source text. Null-prototype object. */
  env: Record<string, string>;
  /** Env names whose values look like secrets but are not (the check at start lets them
   * through); only when the manifest sets it. */
  notSecret?: string[];
  /** Host repo whose .git is copied in, relative to the manifest's directory. */
  workspace?: string;
  git: GitRemoteSpec[];
  egress: EgressSpec;
  supervise: boolean;
  /** The agent's `supervise:` mapping; merged with defaults.supervise by the plan; only when set. */
  superviseSpec?: SuperviseSpec;
  /** Merged with defaults.dlp by the plan; only when the manifest sets it. */
  dlp?: DlpSpec;
  /** Model price overrides (USD per million tokens); merged over defaults.prices by the plan; only when set. */
  prices?: PriceTable;
  /** Overrides defaults.auth; only when set. */
  auth?: AuthSetting;
  /** Merged over defaults.budget key by key; only when set. */
  budget?: BudgetSpec;
  backend?: BackendName;
  image?: string;
  /** Overrides defaults.engine; only when set. */
  engine?: string;
}

// A named engine: a URL (with its TLS settings, as DOCKER_HOST, DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH would give them) or a docker context.
export type EngineSpec =
  | { host: string; tlsVerify?: boolean; certPath?: string; context?: never }
  | { context: string; host?: never };

export interface GitRemoteSpec {
  name: string;
  upstream: string;
  /** Host-side SSH key for pushes; only git-gate ever holds it. */
  identity?: string;
  /** Push review: git-gate holds each clean push for the operator up to holdMs. */
  review?: { holdMs: number };
}

export interface EgressSpec {
  /** Host patterns: hostname, `*.domain`, IP literal, or `*` (DLP-only mode). */
  allow: string[];
  block: string[];
  routes: RouteSpec[];
  /** Hosts whose TLS is not intercepted (hostname checks only). */
  passthrough: string[];
}

// A credentialed host: the gateway injects these headers, reading ${VAR}s from the host env.
export interface RouteSpec {
  host: string;
  headers: HeaderTemplate[];
  /** The HTTPS port the headers go to; only when the manifest names one other than 443. */
  port?: number;
}

// A route's port when the manifest names none.
export const DEFAULT_ROUTE_PORT = 443;

export interface HeaderTemplate {
  name: string;
  /** The value as written, e.g. `Bearer ${GITHUB_TOKEN}`; never resolved at parse time. */
  template: string;
  /** Host env var names the template references, in order of first use. */
  vars: string[];
}

// One problem found in a manifest, positioned at the offending YAML node (1-based).
export interface ManifestIssue {
  file: string;
  line: number;
  col: number;
  /** Key path like `agents.implementer.egress.routes[0].host`; empty for YAML syntax errors. */
  path: string;
  message: string;
}

// 1-based, as editors count.
export interface Position { line: number; col: number }

export type ManifestSource = 'flag' | 'cwd' | 'xdg' | 'embedded';

// A manifest found on disk and validated, with where it came from.
export interface LoadedManifest {
  /** Absolute path. */
  path: string;
  /** The name the operator recognises (as given, `bottle.yaml`, `examples/bottle.yaml`). */
  display: string;
  source: ManifestSource;
  manifest: Manifest;
  /** Position of every validated key path, so later checks can cite file:line:col. */
  positions: ReadonlyMap<string, Position>;
}
