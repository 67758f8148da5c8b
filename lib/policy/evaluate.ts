// The per-request verdict: every stage in order, first block wins. Pure and synchronous, so the
// same function is unit-tested, benchmarked and run by the gateway daemon.
import { dlpScanner } from '../secrets/index.js';
import { parseBody } from './body.js';
import { findCanary, isCanaries, prepareCanaries, type Canaries } from './canary.js';
import { Candidates, inReferenceMode, joinTexts, scanCandidates, withReferenceMode, type Candidate, type PatternScanner } from './candidates.js';
import { checkHeaderStructure, headerCandidates, headerEntries } from './headers.js';
import { EXFIL_SERVICES } from './exfil.js';
import { untilMs } from './grants.js';
import { HostMatcher, normalizeHost, type HostInfo } from './hosts.js';
import { checkModelBody, checkModelPath, jsonStrings } from './model-api.js';
import {
  addHostCandidates, checkCrlf, checkEntropy, checkSubdomainEntropy, checkTraversal, checkUrlLength,
  parseRequestUrl, urlCandidates, urlParts, type UrlView,
} from './url.js';
import { allow, block, type HttpRequest, type ModelApi, type Policy, type Route, type Stage, type Verdict } from './types.js';

// The port an uninspected (passthrough) tunnel may reach: HTTPS, not ssh or anything else.
export const PASSTHROUGH_PORT = 443;

export interface EvaluateOptions {
  // Defaults to lib/secrets' dlpScanner(); injectable for tests and benchmarks.
  scanner?: PatternScanner;
  // Ports an uninspected (passthrough) tunnel may reach; default [PASSTHROUGH_PORT].
  passthroughPorts?: readonly number[];
  // The clock at request time (ms since the epoch) against which time-boxed allow entries
  // (grants.ts) are judged; default Date.now(). A lapsed entry simply stops matching.
  now?: number;
  // The unoptimized reference path (no memo, no skipped work, no canary prefilter), for the
  // differential test of the fast path (test/unit/evaluate-fastpath.test.ts); same verdicts.
  reference?: boolean;
}

// A time-boxed allow entry: honoured while now < until.
interface Timed {
  pattern: string;
  until: number;
  matcher: HostMatcher;
}

interface Compiled {
  allow: HostMatcher;
  timed: Timed[];
  block: HostMatcher;
  passthrough: HostMatcher;
  routes: Map<string, Route>;
  replaced: Map<string, Set<string>>;
  ignore: ReadonlySet<string> | undefined;
}

const compiledCache = new WeakMap<Policy, Compiled>();
// Compiled once: the list is the same for every policy.
const EXFIL_MATCHER = new HostMatcher(EXFIL_SERVICES);

// Matchers are built once per policy object (policies are treated as immutable values).
function compile(p: Policy): Compiled {
  let c = compiledCache.get(p);
  if (!c) {
    c = {
      allow: new HostMatcher(p.allow.filter((a) => untilMs(p.allowUntil?.[a]) === Infinity)),
      timed: p.allow.flatMap((a) => {
        const until = untilMs(p.allowUntil?.[a]);
        // An unparsable instant (only a hand-built Policy can hold one) counts as lapsed.
        return until === Infinity ? [] : [{ pattern: a, until: Number.isNaN(until) ? -Infinity : until, matcher: new HostMatcher([a]) }];
      }),
      block: new HostMatcher(p.block),
      passthrough: new HostMatcher(p.passthrough),
      routes: new Map(p.routes.map((r) => [r.host, r])),
      replaced: new Map(p.routes.map((r) => [r.host, new Set(Object.keys(r.headers).map((h) => h.toLowerCase()))])),
      ignore: p.dlp.ignore?.length ? new Set(p.dlp.ignore) : undefined,
    };
    compiledCache.set(p, c);
  }
  return c;
}

const noCanaries: Canaries = { forms: [] };
const NO_HEADERS: ReadonlySet<string> = new Set();

function canariesOf(secrets: Canaries | readonly string[] | undefined): Canaries {
  if (secrets === undefined) return noCanaries;
  return isCanaries(secrets) ? secrets : prepareCanaries(secrets as readonly string[]);
}

// The route for a host (exact match), which the daemon uses to inject headers after allow.
export function routeFor(policy: Policy, host: string): Route | undefined {
  const h = normalizeHost(host);
  return h && compile(policy).routes.get(h.host);
}

// Whether the daemon terminates TLS for a host (and, given, port). A host that is both a route
// and passthrough is still terminated (the route's header must be injected), and so is a
// passthrough host on a port other than the passthrough ports: an uninspected tunnel is for
// HTTPS only, anything else there is judged in full (ssh and the like fail the handshake).
// Only a spliced tunnel gets hostname-level checks alone.
export function tlsMode(policy: Policy, host: string, port?: number, passthroughPorts: readonly number[] = [PASSTHROUGH_PORT]): 'intercept' | 'passthrough' {
  const h = normalizeHost(host);
  if (!h) return 'intercept';
  const c = compile(policy);
  const spliced = c.passthrough.match(h) !== undefined && !c.routes.has(h.host) && (port === undefined || passthroughPorts.includes(port));
  return spliced ? 'passthrough' : 'intercept';
}

// The allow entry that admits `h` at `now`: a permanent one first, else a grant not yet lapsed.
function allowMatch(c: Compiled, h: HostInfo, now: number): string | undefined {
  const permanent = c.allow.match(h);
  if (permanent !== undefined) return permanent;
  for (const t of c.timed) if (now < t.until && t.matcher.match(h) !== undefined) return t.pattern;
  return undefined;
}

// The time-boxed allow entry that would admit `host` had it not lapsed by `now` (the one that
// lapsed last when several match), or undefined. Says why an allowlist block happened, for the
// gateway's "grant lapsed but still in use" event; no verdict ever depends on it.
export function lapsedGrantFor(policy: Policy, host: string, now: number): { pattern: string; until: string } | undefined {
  const h = normalizeHost(host);
  if (!h) return undefined;
  let last: Timed | undefined;
  for (const t of compile(policy).timed) {
    if (Number.isFinite(t.until) && t.until <= now && t.matcher.match(h) !== undefined && (!last || t.until > last.until)) last = t;
  }
  const until = last && policy.allowUntil?.[last.pattern];
  return last && until ? { pattern: last.pattern, until } : undefined;
}

// allowlist, blocklist and ssrf stages: shared by requests and CONNECT.
function hostStages(c: Compiled, h: HostInfo, show: () => string, now: number): Verdict | undefined {
  const allowedBy = allowMatch(c, h, now) ?? (c.routes.has(h.host) ? `route ${h.host}` : undefined);
  if (allowedBy === undefined) return block('allowlist', `${show()} is not on the allowlist`, 'not-allowed');
  // Allowed only by "*": the well-known exfiltration services stay blocked unless named in allow.
  if (allowedBy === '*' && EXFIL_MATCHER.match(h) !== undefined) {
    return block('blocklist', `${show()} is a well-known paste, capture or tunnel service, blocked when allow is "*"; the operator can allow it by name`, 'exfil-service');
  }
  const blockedBy = c.block.match(h);
  // The rule is the block entry that matched, as an allow's rule is its allow entry.
  if (blockedBy !== undefined) return block('blocklist', `${show()} is blocked by "${blockedBy}"`, blockedBy);
  if (h.ip?.forbidden) return block('ssrf', `${h.ip.canonical} is in a forbidden range (${h.ip.forbidden})`, 'private-address');
  return undefined;
}

// The scanner every pattern-DLP stage of one policy uses: the operator's known-harmless values
// (dlp.ignore) left out of its findings. The canary and entropy stages do not consult it.
function policyScanner(c: Compiled, scanner: PatternScanner): PatternScanner {
  const { ignore } = c;
  return ignore ? { first: (text) => scanner.first(text, { ignore }) } : scanner;
}

function dlpHit(scanner: PatternScanner, stage: Stage, cands: Candidates): Verdict | undefined {
  const hit = inReferenceMode() ? scanCandidates(scanner, cands.items) : scanCandidates(scanner, cands.items, cands.joined());
  return hit && block(stage, `secret in ${hit.where} (${hit.rule})`, hit.rule);
}

// Candidates, or a plain list of them (the model route's body), for the canary stage.
type CanaryGroup = Candidates | readonly Candidate[];
const itemsOf = (g: CanaryGroup): readonly Candidate[] => (g instanceof Candidates ? g.items : g);

// Fast-path prefilter of the canary stage: whether any form occurs in any group's joined text.
// An item is a substring of its group's joined text, so a form found in no joined text is in
// no item; when one is found, the per-item search below names the item as before.
// The joined texts are searched for every form at once by character pairs: with m the
// shortest form's length, an occurrence of any form covers m - 1 consecutive pair positions
// (a pair at q is the characters q and q + 1), so it covers a probe when pairs are probed m - 1
// apart. Each form is indexed under the pair at each of its offsets; a probe checks the forms
// indexed under its pair, at the start that offset implies. No occurrence is missed, and most
// characters of a text are never read.
function anyCanary(canaries: Canaries, groups: readonly CanaryGroup[]): boolean {
  const index = canaryIndex(canaries);
  for (const g of groups) if (pairSearch(index, g instanceof Candidates ? g.joined() : joinTexts(g))) return true;
  return false;
}

interface CanaryIndex {
  step: number;
  // For each pair hash: [form, offset, form, offset, ...] of the pairs with that hash.
  byPair: Array<Array<string | number> | undefined>;
}

const canaryIndexes = new WeakMap<Canaries, CanaryIndex>();
const pairHash = (a: number, b: number) => ((a * 31) ^ b) & 0xfff;

function canaryIndex(c: Canaries): CanaryIndex {
  let index = canaryIndexes.get(c);
  if (!index) {
    const byPair: Array<Array<string | number> | undefined> = new Array<Array<string | number> | undefined>(0x1000).fill(undefined);
    let shortest = Infinity;
    for (const { text: f } of c.forms) {
      shortest = Math.min(shortest, f.length);
      for (let k = 0; k + 1 < f.length; k++) (byPair[pairHash(f.charCodeAt(k), f.charCodeAt(k + 1))] ??= []).push(f, k);
    }
    // Forms are 8+ characters (canary.ts); the guard keeps a step of at least 1 regardless.
    index = { step: Math.max(1, shortest - 1), byPair };
    canaryIndexes.set(c, index);
  }
  return index;
}

function pairSearch(index: CanaryIndex, text: string): boolean {
  const { byPair, step } = index;
  for (let q = 0; q + 1 < text.length; q += step) {
    const entries = byPair[pairHash(text.charCodeAt(q), text.charCodeAt(q + 1))];
    if (entries === undefined) continue;
    for (let e = 0; e < entries.length; e += 2) {
      const at = q - (entries[e + 1] as number);
      if (at >= 0 && text.startsWith(entries[e] as string, at)) return true;
    }
  }
  return false;
}

function canaryHit(canaries: Canaries, groups: readonly CanaryGroup[]): Verdict | undefined {
  if (canaries.forms.length === 0) return undefined;
  if (!inReferenceMode() && !anyCanary(canaries, groups)) return undefined;
  for (const group of groups) {
    const items = itemsOf(group);
    for (const item of items) {
      const kind = findCanary(canaries, item.text);
      if (kind) return block('canary', `route secret (${kind} form) in ${item.where}`, `canary-${kind}`);
    }
  }
  return undefined;
}

// Hostname-only DLP for CONNECT and passthrough hosts: patterns, subdomain entropy, canaries.
function hostnameDlp(h: HostInfo, entropy: boolean, scanner: PatternScanner, canaries: Canaries): Verdict | undefined {
  const cands = new Candidates();
  addHostCandidates(cands, h);
  return dlpHit(scanner, 'url-dlp', cands)
    ?? (entropy ? checkSubdomainEntropy(h) : undefined)
    ?? canaryHit(canaries, [cands]);
}

// The host as quoted in an allowlist/blocklist reason (which reaches logs and the agent's
// 403): withheld when the name itself looks like it carries a secret.
function hostForReason(h: HostInfo, scanner: PatternScanner, canaries: Canaries): () => string {
  return () => (hostnameDlp(h, true, scanner, canaries) ? 'a host name that appears to carry a secret' : h.host);
}

// The verdict for one request. `secrets` are the bottle's route secret values (better: their
// prepareCanaries() form, computed once per policy load). Never throws: anything unexpected
// while judging is a block (a gate must fail closed), with no input echoed in the reason.
export function evaluate(policy: Policy, request: HttpRequest, secrets?: Canaries | readonly string[], opts: EvaluateOptions = {}): Verdict {
  if (!SHADOW || opts.reference) return evaluateOnce(policy, request, secrets, opts);
  const pinned = { ...opts, now: opts.now ?? Date.now() };
  const v = evaluateOnce(policy, request, secrets, pinned);
  shadowCheck(v, evaluateOnce(policy, request, secrets, { ...pinned, reference: true }), request.url);
  return v;
}

function evaluateOnce(policy: Policy, request: HttpRequest, secrets: Canaries | readonly string[] | undefined, opts: EvaluateOptions): Verdict {
  try {
    return opts.reference ? withReferenceMode(true, () => judge(policy, request, secrets, opts)) : judge(policy, request, secrets, opts);
  } catch {
    return block('error', 'the request could not be evaluated', 'internal-error');
  }
}

// BOTTLE_EVALUATE_SHADOW=1 (tests only): every evaluate() and evaluateConnect() also runs the
// reference path, and a different verdict is reported on stderr and fails the process (exit
// code 1). Running the unit suites so checks the fast path on every input they hold.
const SHADOW = process.env.BOTTLE_EVALUATE_SHADOW === '1';

function shadowCheck(fast: Verdict, reference: Verdict, what: string): void {
  const a = JSON.stringify(fast);
  const b = JSON.stringify(reference);
  if (a === b) return;
  process.stderr.write(`evaluate fast path differs from the reference for ${JSON.stringify(what.slice(0, 200))}:\n  fast:      ${a}\n  reference: ${b}\n`);
  process.exitCode = 1;
}

function judge(policy: Policy, request: HttpRequest, secrets: Canaries | readonly string[] | undefined, opts: EvaluateOptions): Verdict {
  const c = compile(policy);
  const scanner = policyScanner(c, opts.scanner ?? dlpScanner());
  const canaries = canariesOf(secrets);
  const view = parseRequestUrl(request.url);
  if ('verdict' in view) return view;
  const now = opts.now ?? Date.now();
  const early = checkCrlf(request.url) ?? checkTraversal(view) ?? hostStages(c, view.host, hostForReason(view.host, scanner, canaries), now);
  if (early) return early;
  // A passthrough host's requests reach evaluate() only when the gateway sees them in the
  // clear (plain http; a route host, which is always terminated): they get every stage.
  // Spliced tunnels are judged by evaluateConnect alone.
  if (policy.model && view.host.host === policy.model.host) return judgeModel(policy, policy.model, request, view, c, canaries);
  const lengthBlock = checkUrlLength(request.url, policy.limits.maxUrlLength);
  if (lengthBlock) return lengthBlock;
  const parts = urlParts(view);
  const urlCands = urlCandidates(view, parts);
  const urlBlock = dlpHit(scanner, 'url-dlp', urlCands) ?? (policy.dlp.entropy ? checkEntropy(view, parts) : undefined);
  if (urlBlock) return urlBlock;
  const entries = headerEntries(request.headers ?? {});
  const structure = checkHeaderStructure(entries, view.host);
  if (structure) return structure;
  const headerCands = headerCandidates(entries, c.replaced.get(view.host.host) ?? NO_HEADERS);
  const headerBlock = dlpHit(scanner, 'header-dlp', headerCands);
  if (headerBlock) return headerBlock;
  const body = parseBody(request.body, entries, policy.limits.maxBodyBytes);
  if ('verdict' in body) return body;
  const bodyBlock = dlpHit(scanner, 'body-dlp', body.candidates);
  if (bodyBlock) return bodyBlock;
  const canary = canaryHit(canaries, [urlCands, headerCands, body.candidates]);
  if (canary) return canary;
  const by = allowMatch(c, view.host, now) ?? `route ${view.host.host}`;
  return allow(`allowed by "${by}"`, by);
}

// The model route: no pattern DLP (conversations look like secrets); instead the model-api
// stage (path allowlist, no server-side fetching of request-chosen URLs), then the canary of
// the operator's own secrets over the URL, headers and body.
function judgeModel(policy: Policy, model: ModelApi, request: HttpRequest, view: UrlView, c: Compiled, canaries: Canaries): Verdict {
  const early = checkUrlLength(request.url, policy.limits.maxUrlLength) ?? checkModelPath(model, request.method, view.rawPath);
  if (early) return early;
  const entries = headerEntries(request.headers ?? {});
  const structure = checkHeaderStructure(entries, view.host);
  if (structure) return structure;
  const body = checkModelBody(model, request.body, entries, policy.limits.maxBodyBytes);
  if ('verdict' in body) return body;
  const canary = canaries.forms.length > 0 && canaryHit(canaries, [
    urlCandidates(view, urlParts(view)),
    headerCandidates(entries, c.replaced.get(view.host.host) ?? NO_HEADERS),
    [{ where: 'the model API request body', text: jsonStrings(body.json) }],
  ]);
  return canary || allow(`allowed by "route ${model.host}" (model API)`, `route ${model.host}`);
}

// The decision before TLS for a CONNECT (or any hostname-only check): scheme-free host and
// port validation, allow/block, literal-IP SSRF and hostname DLP. The daemon then calls
// tlsMode() to splice (passthrough) or terminate and evaluate() each request.
export function evaluateConnect(policy: Policy, host: string, port: number, secrets?: Canaries | readonly string[], opts: EvaluateOptions = {}): Verdict {
  if (!SHADOW || opts.reference) return evaluateConnectOnce(policy, host, port, secrets, opts);
  const pinned = { ...opts, now: opts.now ?? Date.now() };
  const v = evaluateConnectOnce(policy, host, port, secrets, pinned);
  shadowCheck(v, evaluateConnectOnce(policy, host, port, secrets, { ...pinned, reference: true }), `CONNECT ${host}:${port}`);
  return v;
}

function evaluateConnectOnce(policy: Policy, host: string, port: number, secrets: Canaries | readonly string[] | undefined, opts: EvaluateOptions): Verdict {
  try {
    return opts.reference ? withReferenceMode(true, () => judgeConnect(policy, host, port, secrets, opts)) : judgeConnect(policy, host, port, secrets, opts);
  } catch {
    return block('error', 'the CONNECT could not be evaluated', 'internal-error');
  }
}

function judgeConnect(policy: Policy, host: string, port: number, secrets: Canaries | readonly string[] | undefined, opts: EvaluateOptions): Verdict {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return block('scheme', `invalid port ${port}`, 'bad-port');
  const h = normalizeHost(host);
  if (!h) return block('scheme', 'malformed host name', 'malformed-host');
  const c = compile(policy);
  const scanner = policyScanner(c, opts.scanner ?? dlpScanner());
  const canaries = canariesOf(secrets);
  const early = hostStages(c, h, hostForReason(h, scanner, canaries), opts.now ?? Date.now());
  if (early) return early;
  const dlp = hostnameDlp(h, policy.dlp.entropy, scanner, canaries);
  if (dlp) return dlp;
  if (tlsMode(policy, h.host, port, opts.passthroughPorts) === 'intercept') return allow('allowed (TLS intercepted; each request is evaluated)');
  return allow('allowed (passthrough: TLS not intercepted)');
}
