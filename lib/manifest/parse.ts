// bottle.yaml text → validated Manifest, or every problem positioned at its YAML node.
import { posix } from 'node:path';
import { LineCounter, isScalar, parseDocument } from 'yaml';
import { readDlp, readEgress } from './egress.js';
import { readAuth, readBudget } from './budget.js';
import { checkEngineRef, readEngineRef, readEngines } from './engines.js';
import { readPrices } from './prices.js';
import { readAgentSupervise, readSupervise } from './supervise.js';
import { AGENT_NAME, ENV_NAME, GIT_REMOTE_NAME, gitUpstreamProblem } from './syntax.js';
import {
  BACKENDS, DEFAULT_BACKEND, DEFAULT_IMAGE,
  type AgentSpec, type BackendName, type GitRemoteSpec, type Manifest, type ManifestIssue, type ModelSpec, type Position,
} from './types.js';
import { Walker, isEmpty, type Val } from './walk.js';
import { CREDENTIAL_ENV } from '../plan/auth.js';
import { DEFAULT_REVIEW_HOLD_MS } from '../proposals/types.js';

const TOP_KEYS = ['version', 'engines', 'defaults', 'agents'] as const;
const DEFAULTS_KEYS = ['backend', 'image', 'model', 'auth', 'budget', 'dlp', 'supervise', 'prices', 'engine'] as const;
const MODEL_KEYS = ['serverFetch'] as const;
const AGENT_KEYS = ['prompt', 'skills', 'env', 'notSecret', 'workspace', 'git', 'egress', 'dlp', 'supervise', 'prices', 'auth', 'budget', 'backend', 'image', 'engine'] as const;
const GIT_KEYS = ['name', 'upstream', 'identity', 'review'] as const;

// Env the bottle sets itself; a manifest value would break the sandbox wiring or leak the key.
const GATEWAY_WIRING = 'bottle points the agent at its gateway';
const RESERVED_ENV = new Map<string, string>([
  ...['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'].map((n): [string, string] => [n, GATEWAY_WIRING]),
  ['NODE_EXTRA_CA_CERTS', 'bottle installs its CA for the agent'],
  ...CREDENTIAL_ENV.map((n): [string, string] => [n, 'the gateway injects your Claude credential; the agent only gets a placeholder']),
]);

export interface ParseResult {
  /** Present only when there are no issues. */
  manifest?: Manifest;
  issues: ManifestIssue[];
  positions: ReadonlyMap<string, Position>;
}

// Parses and validates; never throws for bad input. `file` is the name errors show.
export function parseManifest(text: string, file: string): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const w = new Walker(file, doc, lines);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) w.failAt(e.pos[0], yamlMessage(e.code, e.message));
    return { issues: w.issues, positions: w.positions };
  }
  const root = w.root();
  if (!root.node) {
    w.failAt(0, 'the manifest is empty; expected a mapping with version: 1 and agents:');
    return { issues: w.issues, positions: w.positions };
  }
  const manifest = readTop(w, root);
  const issues = [...w.issues].sort((a, b) => a.line - b.line || a.col - b.col);
  return { manifest: issues.length === 0 ? manifest : undefined, issues, positions: w.positions };
}

function yamlMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'a manifest is a single YAML document; remove the extra ---';
  return message.split('\n')[0]!;
}

function readTop(w: Walker, root: Val): Manifest {
  const manifest: Manifest = { version: 1, defaults: { backend: DEFAULT_BACKEND, image: DEFAULT_IMAGE }, agents: {} };
  const f = w.fields(root, TOP_KEYS);
  if (!f) return manifest;
  if (!f.version) w.fail({ ...root, path: 'version' }, 'required; add version: 1 at the top');
  else readVersion(w, f.version);
  if (f.engines) manifest.engines = readEngines(w, f.engines);
  // `engine:` keys, checked against engines: once everything is read.
  const refs: Array<{ v: Val; name: string }> = [];
  if (f.defaults) {
    const d = w.fields(f.defaults, DEFAULTS_KEYS);
    if (d?.backend) manifest.defaults.backend = readBackend(w, d.backend) ?? DEFAULT_BACKEND;
    if (d?.image) manifest.defaults.image = readImage(w, d.image) ?? DEFAULT_IMAGE;
    if (d?.model) manifest.defaults.model = readModel(w, d.model);
    if (d?.dlp) manifest.defaults.dlp = readDlp(w, d.dlp);
    if (d?.supervise) manifest.defaults.supervise = readSupervise(w, d.supervise);
    if (d?.prices) manifest.defaults.prices = readPrices(w, d.prices);
    if (d?.auth) manifest.defaults.auth = readAuth(w, d.auth);
    if (d?.budget) manifest.defaults.budget = readBudget(w, d.budget);
    if (d?.engine) {
      const name = readEngineRef(w, d.engine);
      if (name !== undefined) {
        manifest.defaults.engine = name;
        refs.push({ v: d.engine, name });
      }
    }
  }
  if (!f.agents) {
    w.fail({ ...root, path: 'agents' }, 'required; name at least one agent under agents:');
    return manifest;
  }
  const entries = w.entries(f.agents);
  if (!entries) return manifest;
  if (entries.length === 0) w.fail(f.agents, 'expected at least one agent');
  for (const e of entries) {
    if (!AGENT_NAME.test(e.key)) {
      w.fail(e.val, 'expected an agent name: a lowercase letter, then up to 30 lowercase letters, digits or -', e.keyNode);
      continue;
    }
    manifest.agents[e.key] = readAgent(w, e.key, e.val, refs);
  }
  for (const r of refs) checkEngineRef(w, r.v, r.name, manifest.engines);
  return manifest;
}

function readVersion(w: Walker, v: Val): void {
  const n = v.node && isScalar(v.node) ? v.node.value : undefined;
  if (n === 1) return;
  if (typeof n === 'number') w.fail(v, `unsupported version ${n}; this bottle understands version 1`);
  else w.fail(v, 'expected 1');
}

function readBackend(w: Walker, v: Val): BackendName | undefined {
  const s = w.str(v, 'a backend');
  if (s === undefined) return undefined;
  if ((BACKENDS as readonly string[]).includes(s)) return s as BackendName;
  w.fail(v, `expected one of: ${BACKENDS.join(', ')}`);
  return undefined;
}

function readImage(w: Walker, v: Val): string | undefined {
  const s = w.str(v, 'an image reference');
  if (s !== undefined && /\s/.test(s)) {
    w.fail(v, 'an image reference has no spaces');
    return undefined;
  }
  return s;
}

function readModel(w: Walker, v: Val): ModelSpec {
  const f = w.fields(v, MODEL_KEYS);
  return { serverFetch: (f?.serverFetch && w.bool(f.serverFetch)) ?? false };
}

function readAgent(w: Walker, name: string, v: Val, refs: Array<{ v: Val; name: string }>): AgentSpec {
  const agent: AgentSpec = {
    name, skills: [], env: Object.create(null) as Record<string, string>, git: [],
    egress: { allow: [], block: [], routes: [], passthrough: [] }, supervise: true,
  };
  // `reviewer:` with nothing under it is an agent with every default.
  if (isEmpty(v)) return agent;
  const f = w.fields(v, AGENT_KEYS);
  if (!f) return agent;
  if (f.prompt) agent.prompt = w.str(f.prompt, 'a prompt');
  if (f.skills) agent.skills = readSkills(w, f.skills);
  if (f.env) agent.env = readEnv(w, f.env);
  if (f.notSecret) agent.notSecret = readNotSecret(w, f.notSecret, agent.env);
  if (f.workspace) agent.workspace = w.str(f.workspace, 'a path');
  if (f.git) agent.git = readGit(w, f.git);
  agent.egress = readEgress(w, f.egress);
  if (f.dlp) agent.dlp = readDlp(w, f.dlp);
  if (f.supervise) {
    const s = readAgentSupervise(w, f.supervise);
    agent.supervise = s.on;
    if (s.spec) agent.superviseSpec = s.spec;
  }
  if (f.prices) agent.prices = readPrices(w, f.prices);
  if (f.auth) agent.auth = readAuth(w, f.auth);
  if (f.budget) agent.budget = readBudget(w, f.budget);
  if (f.backend) agent.backend = readBackend(w, f.backend);
  if (f.image) agent.image = readImage(w, f.image);
  if (f.engine) {
    const engine = readEngineRef(w, f.engine);
    if (engine !== undefined) {
      agent.engine = engine;
      refs.push({ v: f.engine, name: engine });
    }
  }
  return agent;
}

function readSkills(w: Walker, v: Val): string[] {
  const out: string[] = [];
  const byFolder = new Map<string, number>();
  for (const item of w.list(v) ?? []) {
    const s = w.str(item, 'a path to a skill folder');
    if (s === undefined) continue;
    const folder = posix.basename(s.replace(/\/+$/, ''));
    const first = byFolder.get(folder);
    if (first !== undefined) {
      w.fail(item, `two skills named ${folder} (first at line ${first}); they would overwrite each other`);
      continue;
    }
    byFolder.set(folder, w.lineOf(item));
    out.push(s);
  }
  return out;
}

function readEnv(w: Walker, v: Val): Record<string, string> {
  const env = Object.create(null) as Record<string, string>;
  for (const e of w.entries(v) ?? []) {
    if (!ENV_NAME.test(e.key)) {
      w.fail(e.val, 'expected an environment variable name (letters, digits and _, not starting with a digit)', e.keyNode);
      continue;
    }
    const reserved = RESERVED_ENV.get(e.key);
    if (reserved) {
      w.fail(e.val, `${e.key} is set by bottle (${reserved})`, e.keyNode);
      continue;
    }
    const value = w.scalarText(e.val);
    if (value !== undefined) env[e.key] = value;
  }
  return env;
}

// Names of env entries the operator vouches for: the secret check at check/start skips them.
function readNotSecret(w: Walker, v: Val, env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const item of w.list(v) ?? []) {
    const name = w.str(item, 'an env variable name');
    if (name === undefined) continue;
    if (!Object.hasOwn(env, name)) w.fail(item, `${name} is not a variable in this agent's env`);
    else if (!out.includes(name)) out.push(name);
  }
  return out;
}

function readGit(w: Walker, v: Val): GitRemoteSpec[] {
  const out: GitRemoteSpec[] = [];
  const names = new Map<string, number>();
  for (const item of w.list(v) ?? []) {
    const f = w.fields(item, GIT_KEYS);
    if (!f) continue;
    if (!f.name) w.fail({ ...item, path: `${item.path}.name` }, 'required (the remote name, e.g. origin)');
    if (!f.upstream) w.fail({ ...item, path: `${item.path}.upstream` }, 'required (the repository git-gate pushes to)');
    const name = f.name ? readRemoteName(w, f.name) : undefined;
    const upstream = f.upstream ? w.str(f.upstream, 'a git URL') : undefined;
    if (upstream !== undefined && f.upstream) {
      const problem = gitUpstreamProblem(upstream);
      if (problem) w.fail(f.upstream, problem);
    }
    const identity = f.identity ? w.str(f.identity, 'a path to an SSH key') : undefined;
    if (name === undefined || !f.name || upstream === undefined) continue;
    const first = names.get(name);
    if (first !== undefined) {
      w.fail(f.name, `duplicate git remote name ${name} (first at line ${first})`);
      continue;
    }
    names.set(name, w.lineOf(f.name));
    const review = f.review ? readReview(w, f.review) : undefined;
    out.push({ name, upstream, ...(identity !== undefined ? { identity } : {}), ...(review !== undefined ? { review } : {}) });
  }
  return out;
}

// A git remote's `review`: true (hold each clean push for the operator, up to 10 minutes), a
// duration (the hold's bound: 90s, 30m, 2h; at most 24h), or false.
const REVIEW_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000 };

function readReview(w: Walker, v: Val): { holdMs: number } | undefined {
  if (v.node && isScalar(v.node) && typeof v.node.value === 'boolean') return w.bool(v) ? { holdMs: DEFAULT_REVIEW_HOLD_MS } : undefined;
  const text = w.str(v, 'true, false or a duration such as 30m');
  if (text === undefined) return undefined;
  const m = /^(\d{1,6})(s|m|h)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * REVIEW_UNITS[m[2]!]! : NaN;
  if (!m || ms < 10_000 || ms > 24 * 3600_000) {
    w.fail(v, `expected true, false or how long a push may wait for you, from 10s to 24h (e.g. 30m), got ${JSON.stringify(text)}`);
    return undefined;
  }
  return { holdMs: ms };
}

function readRemoteName(w: Walker, v: Val): string | undefined {
  const s = w.str(v, 'a remote name');
  if (s === undefined) return undefined;
  if (GIT_REMOTE_NAME.test(s)) return s;
  w.fail(v, 'expected a remote name (letters, digits, ., _ and -)');
  return undefined;
}
