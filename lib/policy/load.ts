// Loads policy.yaml. The format (unknown keys are errors; every error is file:line:col):
//
//   version: 1                          # required
//   allow:                              # hosts the agent may reach
//     - registry.npmjs.org              #   exact host name
//     - "*.githubusercontent.com"       #   wildcard: subdomains AND the apex itself
//     - 93.184.216.34                   #   IP literal: matches exactly (any spelling of it)
//     - "*"                             #   any host: DLP-only mode
//     - { host: api.example.com, until: "2026-12-07T14:00:00Z" }  # time-boxed (grants.ts):
//     - { host: x.example.com, until: stop }                     #   ISO 8601 with zone, or
//                                       #   `stop` (dropped when the bottle stops)
//   block: [evil.example.com]           # same patterns; wins over allow and routes
//   routes:                             # credentialed hosts (implicitly allowed, exact host)
//     - host: api.github.com
//       port: 443                       # optional: the HTTPS port the headers go to (443)
//       headers:                        # header name -> template over host env var names:
//         Authorization: "Bearer ${GITHUB_TOKEN}"   # template (lib/template.ts): ${VAR} references,
//         X-Env: production                         # literal text, $${ for a literal ${
//   passthrough: [pypi.org]             # TLS not intercepted: hostname checks only, on port 443 (other ports are intercepted); each
//                                       #   entry must also be allowed (or be a route host).
//                                       #   Plain http to it, and a route host listed here
//                                       #   (terminated to inject its header), get every stage.
//   model:                              # the model API route, written by bottle from the plan:
//     host: api.anthropic.com           #   a route host; no pattern DLP (conversations look
//     paths: ["POST /v1/messages"]      #   like secrets) but only these `METHOD /path` or
//     serverFetch: false                #   `METHOD /prefix/*` calls (default: MODEL_API_PATHS),
//                                       #   no server-side URL fetching unless serverFetch, and
//                                       #   the route-secret canary (lib/policy/model-api.ts)
//   limits: { maxUrlLength: 2048, maxBodyBytes: 10MiB }   # defaults; sizes take B/KiB/MiB/GiB
//   dlp: { headers: all, entropy: true }                  # defaults; headers: only "all"
//   dlp: { ignore: ["sha256:0123456789abcdef"] }          # finding fingerprints (bottle scan, git
//                                                         #   gate rejections) that do not block
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UserError } from '../errors.js';
import { egressConflicts } from './conflicts.js';
import { normalizeUntil } from './grants.js';
import { normalizeHost, normalizePattern } from './hosts.js';
import { MODEL_API_PATHS, modelPathProblem } from './model-api.js';
import { DEFAULT_DLP, DEFAULT_LIMITS, type ModelApi, type Policy, type Route } from './types.js';
import { headerNameProblem, templateProblem } from '../template.js';
import { fingerprintProblem } from '../secrets/fingerprint.js';

// An invalid policy file; the message is `file:line:col: key.path: what is wrong` (no
// position for errors that are not about a file, e.g. a rejected proposal merge).
export class PolicyError extends UserError {
  override name = 'PolicyError';
  constructor(message: string, readonly file: string, readonly line: number, readonly col: number, readonly keyPath: string, exitCode = 1) {
    const where = line > 0 ? `${file}:${line}:${col}: ` : file ? `${file}: ` : '';
    super(`${where}${keyPath ? `${keyPath}: ` : ''}${message}`, exitCode);
  }
}

const TOP_KEYS = ['version', 'allow', 'block', 'routes', 'passthrough', 'limits', 'dlp', 'model'];
// Headers the gateway owns; a route may not set them.

class Walker {
  constructor(readonly file: string, readonly lc: LineCounter, readonly doc: Document) {}

  fail(node: Node | null | undefined, path: string, message: string): never {
    const { line, col } = this.lc.linePos(node?.range?.[0] ?? 0);
    throw new PolicyError(message, this.file, line, col, path);
  }

  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }

  // Iterates a mapping's entries, rejecting keys not in `known`.
  entries(node: Node | null, path: string, known: readonly string[] | null): Array<[string, Node | null, Node]> {
    if (!isMap(node)) this.fail(node, path, 'must be a mapping');
    return node.items.map((pair) => {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') this.fail(key, path, 'keys must be strings');
      const name = key.value as string;
      if (known && !known.includes(name)) {
        this.fail(key, join(path, name), `unknown key (expected one of: ${known.join(', ')})`);
      }
      return [name, this.deref(pair.value), key] as [string, Node | null, Node];
    });
  }

  string(node: Node | null, path: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') this.fail(node, path, 'must be a string (quote it)');
    return node.value as string;
  }

  list(node: Node | null, path: string): Array<{ value: string; node: Node; path: string }> {
    if (!isSeq(node)) this.fail(node, path, 'must be a list');
    return node.items.map((item, i) => {
      const n = this.deref(item);
      const p = `${path}[${i}]`;
      return { value: this.string(n, p), node: n as Node, path: p };
    });
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

// Parses and validates policy text; throws PolicyError naming file:line:col and key path.
export function loadPolicy(text: string, fileName = 'policy.yaml'): Policy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const w: Walker = new Walker(fileName, lc, doc);
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lc.linePos(err.pos[0]);
    throw new PolicyError(err.message.split('\n')[0]!, fileName, line, col, '');
  }
  const root = w.deref(doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) w.fail(null, '', 'policy file is empty (it needs at least "version: 1")');
  const policy: Policy = { allow: [], block: [], routes: [], passthrough: [], limits: { ...DEFAULT_LIMITS }, dlp: { ...DEFAULT_DLP } };
  const passNodes: Array<{ node: Node; path: string }> = [];
  const routeNodes: Node[] = [];
  let modelNode: Node | undefined;
  let version = false;
  for (const [key, value] of w.entries(root, '', TOP_KEYS)) {
    if (key === 'version') {
      if (!isScalar(value) || value.value !== 1) w.fail(value, 'version', 'must be 1');
      version = true;
    } else if (key === 'allow') {
      loadAllow(w, value, policy);
    } else if (key === 'block' || key === 'passthrough') {
      for (const item of w.list(value, key)) {
        const r = normalizePattern(item.value);
        if ('error' in r) w.fail(item.node, item.path, r.error);
        if (!policy[key].includes(r.pattern)) {
          policy[key].push(r.pattern);
          if (key === 'passthrough') passNodes.push(item);
        }
      }
    } else if (key === 'routes') {
      if (!isSeq(value)) w.fail(value, key, 'must be a list');
      value.items.forEach((item, i) => {
        const node = w.deref(item);
        const route = loadRoute(w, node, `routes[${i}]`);
        const dup = policy.routes.findIndex((r) => r.host === route.host);
        if (dup >= 0) w.fail(node, `routes[${i}].host`, `duplicate route for ${route.host} (merge its headers into routes[${dup}])`);
        policy.routes.push(route);
        routeNodes.push(node as Node);
      });
    } else if (key === 'limits') {
      for (const [k, v] of w.entries(value, key, ['maxUrlLength', 'maxBodyBytes'])) {
        if (k === 'maxUrlLength') policy.limits.maxUrlLength = intIn(w, v, 'limits.maxUrlLength', 16, 1 << 20);
        else policy.limits.maxBodyBytes = sizeIn(w, v, 'limits.maxBodyBytes');
      }
    } else if (key === 'model') {
      policy.model = loadModel(w, value);
      modelNode = value ?? undefined;
    } else if (key === 'dlp') {
      for (const [k, v] of w.entries(value, key, ['headers', 'entropy', 'ignore'])) {
        if (k === 'ignore') {
          const ignore: string[] = [];
          for (const item of w.list(v, 'dlp.ignore')) {
            const bad = fingerprintProblem(item.value);
            if (bad) w.fail(item.node, item.path, bad);
            if (!ignore.includes(item.value)) ignore.push(item.value);
          }
          if (ignore.length > 0) policy.dlp.ignore = ignore;
        } else if (k === 'headers') {
          if (w.string(v, 'dlp.headers') !== 'all') w.fail(v, 'dlp.headers', 'only "all" is supported (a sensitive-only mode is bypassed with X-Custom headers)');
        } else {
          if (!isScalar(v) || typeof v.value !== 'boolean') w.fail(v, 'dlp.entropy', 'must be true or false');
          policy.dlp.entropy = v.value as boolean;
        }
      }
    }
  }
  if (!version) w.fail(root, '', 'missing "version: 1"');
  crossCheck(w, policy, passNodes, routeNodes);
  if (policy.model && !policy.routes.some((r) => r.host === policy.model!.host)) {
    w.fail(modelNode, 'model.host', `${policy.model.host} is not a route host; the model API route needs its route (the key is injected there)`);
  }
  return policy;
}

// allow: patterns, each a string or `{ host, until }`. A pattern listed both ways is
// permanent (the wider grant wins; a duplicate never narrows).
function loadAllow(w: Walker, value: Node | null, policy: Policy): void {
  if (!isSeq(value)) w.fail(value, 'allow', 'must be a list');
  const until: Record<string, string> = {};
  const permanent = new Set<string>();
  value.items.forEach((item, i) => {
    const n = w.deref(item);
    const path = `allow[${i}]`;
    let raw: { value: string; node: Node | null };
    let when: string | undefined;
    if (isMap(n)) {
      let host: { value: string; node: Node | null } | undefined;
      for (const [k, v] of w.entries(n, path, ['host', 'until'])) {
        if (k === 'host') host = { value: w.string(v, `${path}.host`), node: v };
        else {
          when = normalizeUntil(w.string(v, `${path}.until`));
          if (when === undefined) w.fail(v, `${path}.until`, 'must be an ISO 8601 time with a zone ("2026-12-07T14:00:00Z") or "stop"');
        }
      }
      if (!host) w.fail(n, path, 'missing "host"');
      if (when === undefined) w.fail(n, path, 'missing "until" (a permanent entry is the plain host)');
      raw = host;
    } else {
      raw = { value: w.string(n, path), node: n };
    }
    const r = normalizePattern(raw.value);
    if ('error' in r) w.fail(raw.node, isMap(n) ? `${path}.host` : path, r.error);
    if (!policy.allow.includes(r.pattern)) policy.allow.push(r.pattern);
    if (when === undefined) permanent.add(r.pattern);
    else if (!(r.pattern in until)) until[r.pattern] = when;
  });
  for (const p of permanent) delete until[p];
  if (Object.keys(until).length > 0) policy.allowUntil = until;
}

function loadModel(w: Walker, node: Node | null): ModelApi {
  let host: string | undefined;
  let paths = [...MODEL_API_PATHS];
  let serverFetch = false;
  for (const [k, v] of w.entries(node, 'model', ['host', 'paths', 'serverFetch'])) {
    if (k === 'host') {
      const raw = w.string(v, 'model.host');
      const h = raw.includes('*') ? undefined : normalizeHost(raw);
      if (!h) w.fail(v, 'model.host', `"${raw}" must be one exact host name (no wildcards, ports or URLs)`);
      host = h.host;
    } else if (k === 'paths') {
      paths = [];
      for (const item of w.list(v, 'model.paths')) {
        const bad = modelPathProblem(item.value);
        if (bad) w.fail(item.node, item.path, bad);
        if (!paths.includes(item.value)) paths.push(item.value);
      }
    } else {
      if (!isScalar(v) || typeof v.value !== 'boolean') w.fail(v, 'model.serverFetch', 'must be true or false');
      serverFetch = v.value as boolean;
    }
  }
  if (host === undefined) w.fail(node, 'model', 'missing "host"');
  return { host, paths, serverFetch };
}

function loadRoute(w: Walker, node: Node | null, path: string): Route {
  let host: string | undefined;
  let headers: Record<string, string> | undefined;
  let port: number | undefined;
  for (const [k, v] of w.entries(node, path, ['host', 'port', 'headers'])) {
    if (k === 'port') port = intIn(w, v, `${path}.port`, 1, 65535);
    else if (k === 'host') {
      const raw = w.string(v, `${path}.host`);
      const h = raw.includes('*') ? undefined : normalizeHost(raw);
      if (!h) w.fail(v, `${path}.host`, `"${raw}" must be one exact host name (no wildcards, ports or URLs)`);
      host = h.host;
    } else {
      headers = {};
      for (const [name, tv, keyNode] of w.entries(v, `${path}.headers`, null)) {
        const hp = `${path}.headers.${name}`;
        const bad = headerNameProblem(name);
        if (bad) w.fail(keyNode, hp, bad);
        const err = templateProblem(w.string(tv, hp));
        if (err) w.fail(tv, hp, err);
        headers[name] = w.string(tv, hp);
      }
      if (Object.keys(headers).length === 0) w.fail(v, `${path}.headers`, 'a route needs at least one header');
    }
  }
  if (host === undefined) w.fail(node, path, 'missing "host"');
  if (headers === undefined) w.fail(node, path, 'missing "headers"');
  return port === undefined ? { host, headers } : { host, headers, port };
}


function intIn(w: Walker, v: Node | null, path: string, min: number, max: number): number {
  if (!isScalar(v) || typeof v.value !== 'number' || !Number.isInteger(v.value)) w.fail(v, path, 'must be an integer');
  const n = v.value as number;
  if (n < min || n > max) w.fail(v, path, `must be between ${min} and ${max}`);
  return n;
}

const UNITS: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

function sizeIn(w: Walker, v: Node | null, path: string): number {
  let n: number;
  if (isScalar(v) && typeof v.value === 'string') {
    const m = /^(\d+)\s*([a-z]+)?$/i.exec(v.value.trim());
    const unit = UNITS[(m?.[2] ?? 'b').toLowerCase()];
    if (!m || unit === undefined) w.fail(v, path, 'must be a byte count like 10485760 or 10MiB');
    n = Number(m[1]) * unit;
  } else {
    n = intIn(w, v, path, 0, Number.MAX_SAFE_INTEGER);
  }
  if (n < 1024 || n > 1024 ** 3) w.fail(v, path, 'must be between 1KiB and 1GiB');
  return n;
}

// The cross-list rules (lib/policy/conflicts.ts), reported at the route or passthrough entry.
function crossCheck(w: Walker, p: Policy, passNodes: Array<{ node: Node; path: string }>, routeNodes: Node[]): void {
  const lists = { allow: p.allow, block: p.block, passthrough: p.passthrough, routes: p.routes.map((r) => r.host), model: p.model?.host };
  const [c] = egressConflicts(lists);
  if (!c) return;
  if (c.kind === 'route-blocked') w.fail(routeNodes[c.route], `routes[${c.route}].host`, c.message);
  const at = passNodes[c.passthrough]!;
  w.fail(at.node, at.path, c.message);
}
