// prepare (SPEC §5): manifest + options → BottlePlan, pure; check.ts looks at what it names.
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { BACKENDS, type BackendName, type DlpSpec, type LoadedManifest, type SuperviseSpec } from '../manifest/types.js';
import { closest } from '../manifest/syntax.js';
import type { PriceTable } from '../usage/prices.js';
import { DEFAULT_WARN_AT, hasCap, type Budget } from '../usage/budget.js';
import type { BudgetSpec } from '../manifest/budget.js';
import { AUTH, resolveAuth, type AuthMode, type PlanAuth } from './auth.js';
import { resolveEngine, type PlanEngine } from './engine.js';
import { LOCAL_ENGINE } from '../manifest/engines.js';

export const ANTHROPIC_HOST = 'api.anthropic.com';
export const ANTHROPIC_KEY_VAR = AUTH['api-key'].variable;

export interface PlanHeader {
  name: string;
  /** As written in the manifest (`Bearer ${GITHUB_TOKEN}`); holds names, never values. */
  template: string;
  vars: string[];
}

export interface PlanRoute {
  host: string;
  headers: PlanHeader[];
  /** The HTTPS port the headers go to; absent means 443. */
  port?: number;
  /** Added by bottle rather than the manifest (the api.anthropic.com key route). */
  default?: true;
}

// The model API route (preparePlan always sets it: the api.anthropic.com route claude talks
// to): the gateway does not pattern-scan it (conversations look like secrets) but allows only
// claude's own API calls there.
export interface PlanModel {
  host: string;
  /** defaults.model.serverFetch: requests may make the API fetch URLs they name. */
  serverFetch: boolean;
}

export interface PlanGitRemote {
  name: string;
  upstream: string;
  /** Absolute host path of the SSH key. */
  identity?: string;
  /** Push review: each clean push waits for the operator up to holdMs. */
  review?: { holdMs: number };
}

// Everything a backend needs to bring a bottle up, and what the preflight shows.
export interface BottlePlan {
  agent: string;
  /** Undefined until launch mints one (or a resume reuses one). */
  slug?: string;
  backend: BackendName;
  /** The Docker engine the bottle runs on (--engine, the agent's engine:, defaults.engine, else
   * local: the one this shell selects) and how to reach it. preparePlan always sets it; a plan
   * from an older launch.json has none. */
  engine?: PlanEngine;
  image: string;
  prompt?: string;
  /** Sorted names of the agent's plain env; values stay in the manifest. */
  envNames: string[];
  /** Absolute skill folders. */
  skills: string[];
  workspace?: string;
  workspaceFrom?: 'option' | 'manifest';
  git: PlanGitRemote[];
  egress: { allow: string[]; block: string[]; routes: PlanRoute[]; passthrough: string[]; model?: PlanModel };
  supervise: boolean;
  /** Hosts whose allowlist proposals are approved at once (defaults.supervise.auto_approve +
   * the agent's); absent when supervise is off or none is named. */
  autoApprove?: string[];
  /** Fingerprints of known-harmless values (defaults.dlp.ignore + the agent's dlp.ignore): the
   * gateway and the git gate do not block on them. Absent or empty: none. */
  dlpIgnore?: string[];
  /** Model price overrides, USD per million tokens (defaults.prices, the agent's prices over
   * it, key by key): what `bottle usage` prices this bottle's tokens with before the built-in
   * table. Absent: none. */
  prices?: PriceTable;
  /** How claude authenticates: the model route injects that credential, the agent holds its placeholder. */
  auth: PlanAuth;
  /** The spend cap (defaults.budget, the agent's keys over it); absent without a usd or tokens cap. */
  budget?: Budget;
  /** Host env vars the routes need that are unset or empty now (names only). */
  missingVars: string[];
  manifestPath: string;
}

export interface PlanOptions {
  backend?: string;
  /** An `engines:` name or local; overrides the manifest. */
  engine?: string;
  /** Relative paths resolve against `cwd` (the operator's directory). */
  workspace?: string;
  slug?: string;
  cwd?: string;
  /** Variables with a source in credentials.yaml (auth: auto counts them as present). */
  sourced?: ReadonlySet<string>;
}

// The route every bottle gets (SPEC §7): the agent holds a placeholder, the gateway the key
// (or, with auth: oauth-token, the subscription token as a bearer).
export function defaultAnthropicRoute(mode: AuthMode = 'api-key'): PlanRoute {
  const a = AUTH[mode];
  return { host: ANTHROPIC_HOST, headers: [{ name: a.header, template: a.template, vars: [a.variable] }], default: true };
}

// SPEC §5 prepare: one agent of a manifest + start options → the plan; reads no files, so the
// dashboard can show it and tests can assert it. `env` supplies HOME and the route variables.
export function preparePlan(
  loaded: Pick<LoadedManifest, 'path' | 'manifest'> & { display?: string },
  agentName: string,
  options: PlanOptions = {},
  env: NodeJS.ProcessEnv = {},
): BottlePlan {
  const { manifest } = loaded;
  const names = Object.keys(manifest.agents);
  const agent = Object.hasOwn(manifest.agents, agentName) ? manifest.agents[agentName] : undefined;
  if (!agent) {
    const guess = closest(agentName, names);
    throw new UserError(
      `unknown agent ${agentName}${guess ? ` (did you mean ${guess}?)` : ''}; ${loaded.display ?? 'the manifest'} has: ${names.join(', ')}`,
    );
  }
  const backend = options.backend !== undefined ? checkBackend(options.backend) : (agent.backend ?? manifest.defaults.backend);
  const base = dirname(loaded.path);
  const home = env.HOME;
  const routes: PlanRoute[] = agent.egress.routes.map((r) => ({
    host: r.host,
    headers: r.headers.map((h) => ({ name: h.name, template: h.template, vars: [...h.vars] })),
    ...(r.port === undefined ? {} : { port: r.port }),
  }));
  const auth = resolveAuth(agent.auth ?? manifest.defaults.auth ?? 'auto', (n) => Boolean(env[n]) || (options.sourced?.has(n) ?? false));
  if (!routes.some((r) => r.host === ANTHROPIC_HOST)) routes.push(defaultAnthropicRoute(auth.mode));
  const model: PlanModel = { host: ANTHROPIC_HOST, serverFetch: manifest.defaults.model?.serverFetch ?? false };

  let workspace: string | undefined;
  let workspaceFrom: BottlePlan['workspaceFrom'];
  if (options.workspace !== undefined) {
    workspace = expandPath(options.workspace, options.cwd ?? base, home);
    workspaceFrom = 'option';
  } else if (agent.workspace !== undefined) {
    workspace = expandPath(agent.workspace, base, home);
    workspaceFrom = 'manifest';
  }

  return {
    agent: agent.name,
    ...(options.slug !== undefined ? { slug: options.slug } : {}),
    backend,
    engine: resolveEngine(manifest.engines, options.engine ?? agent.engine ?? manifest.defaults.engine ?? LOCAL_ENGINE, env, (p) => expandPath(p, base, home)),
    image: agent.image ?? manifest.defaults.image,
    ...(agent.prompt !== undefined ? { prompt: agent.prompt } : {}),
    envNames: Object.keys(agent.env).sort(),
    skills: agent.skills.map((s) => expandPath(s, base, home)),
    ...(workspace !== undefined ? { workspace, workspaceFrom } : {}),
    git: agent.git.map((g) => ({
      name: g.name,
      upstream: g.upstream,
      ...(g.identity !== undefined ? { identity: expandPath(g.identity, base, home) } : {}),
      ...(g.review ? { review: { holdMs: g.review.holdMs } } : {}),
    })),
    egress: { allow: [...agent.egress.allow], block: [...agent.egress.block], routes, passthrough: [...agent.egress.passthrough], model },
    supervise: agent.supervise,
    ...(agent.supervise ? autoApprove(manifest.defaults.supervise, agent.superviseSpec) : {}),
    ...dlpIgnore(manifest.defaults.dlp, agent.dlp),
    ...prices(manifest.defaults.prices, agent.prices),
    auth,
    ...budget(manifest.defaults.budget, agent.budget),
    missingVars: missingRouteVars(routes, env),
    manifestPath: loaded.path,
  };
}

// defaults.dlp.ignore then the agent's own, once each; no key when both are empty.
function dlpIgnore(...specs: Array<DlpSpec | undefined>): Pick<BottlePlan, 'dlpIgnore'> {
  const all = [...new Set(specs.flatMap((s) => s?.ignore ?? []))];
  return all.length > 0 ? { dlpIgnore: all } : {};
}

// defaults.prices with the agent's over it (a key in both: the agent's); no key when both are empty.
function prices(...tables: Array<PriceTable | undefined>): Pick<BottlePlan, 'prices'> {
  const all: PriceTable = {};
  for (const t of tables) for (const [k, r] of Object.entries(t ?? {})) all[k] = { ...r };
  return Object.keys(all).length > 0 ? { prices: all } : {};
}

// defaults.budget with the agent's keys over it; no key without a cap.
function budget(...specs: Array<BudgetSpec | undefined>): Pick<BottlePlan, 'budget'> {
  const b: Budget = { warnAt: DEFAULT_WARN_AT };
  for (const s of specs) Object.assign(b, s ?? {});
  return hasCap(b) ? { budget: b } : {};
}

// defaults.supervise.auto_approve then the agent's own, once each; no key when both are empty.
function autoApprove(...specs: Array<SuperviseSpec | undefined>): Pick<BottlePlan, 'autoApprove'> {
  const all = [...new Set(specs.flatMap((s) => s?.autoApprove ?? []))];
  return all.length > 0 ? { autoApprove: all } : {};
}

// Every host env var the routes' headers name, once each, sorted.
export function routeVarNames(routes: readonly PlanRoute[]): string[] {
  return [...new Set(routes.flatMap((r) => r.headers.flatMap((h) => h.vars)))].sort();
}

function missingRouteVars(routes: PlanRoute[], env: NodeJS.ProcessEnv): string[] {
  return routeVarNames(routes).filter((n) => !env[n]);
}

// Validates a --backend value; the message is the one-line CLI error.
export function checkBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  if (name === 'kubernetes') throw new UserError(`the kubernetes backend exists only on paper (docs/kubernetes.md) until it has run on a real cluster; use ${BACKENDS.join(' or ')}`);
  throw new UserError(`unknown backend ${name}; use ${BACKENDS.join(' or ')}`);
}

// `~` and `~/x` use HOME; other relative paths resolve against base.
export function expandPath(p: string, base: string, home: string | undefined): string {
  if (p === '~' || p.startsWith('~/')) {
    if (!home) throw new UserError(`cannot expand ${p}: HOME is not set`);
    return join(home, p.slice(1));
  }
  return isAbsolute(p) ? normalize(p) : resolve(base, p);
}
