// Policy text transforms for approvals and live edits. The operator's file keeps its comments
// and layout where possible: entries are patched in the YAML document, and the result is
// checked to mean exactly the intended policy (else it is re-serialised from scratch).
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { allowItem, loadPolicy, normalizeHost, normalizePattern, policyHash, PolicyError, serializePolicy, type Policy, type Route } from '../policy/index.js';

const LIST_KEYS = ['allow', 'block', 'passthrough'] as const;

// The part of policy.yaml each edit verb shows, and the verb that owns the other parts.
export const SECTIONS = {
  allowlist: ['allow', 'block', 'passthrough'],
  routes: ['routes'],
} as const;
export type SectionName = keyof typeof SECTIONS;

// Policy text meaning `next`, made by patching `currentText` (comments survive) when possible.
export function rewritePolicy(currentText: string, next: Policy): string {
  try {
    const doc = parseDocument(currentText);
    if (doc.errors.length === 0 && isMap(doc.contents) && patchDocument(doc, next)) {
      const text = doc.toString({ lineWidth: 0 });
      if (means(text, next)) return text;
    }
  } catch {
    // An unusual layout (aliases, odd node types): fall back to a fresh rendering below.
  }
  return serializePolicy(next);
}

function means(text: string, p: Policy): boolean {
  try {
    return policyHash(loadPolicy(text)) === policyHash(p);
  } catch {
    return false;
  }
}

function patchDocument(doc: Document, next: Policy): boolean {
  for (const key of LIST_KEYS) if (!patchList(doc, key, next[key], key === 'allow' ? next.allowUntil ?? {} : {})) return false;
  return patchRoutes(doc, next.routes);
}

// An allow/block/passthrough item as written: a pattern, or `{ host, until }` (grants.ts).
function itemNode(doc: Document, pattern: string, allowUntil: Record<string, string>): unknown {
  return doc.createNode(allowItem({ allowUntil }, pattern));
}

function patchList(doc: Document, key: string, want: string[], until: Record<string, string>): boolean {
  const node = doc.get(key, true);
  if (node === undefined) {
    if (want.length > 0) doc.set(key, doc.createNode(want.map((p) => itemNode(doc, p, until))));
    return true;
  }
  if (!isSeq(node)) return false;
  const kept = new Set<string>();
  const drop: number[] = [];
  for (const [i, item] of node.items.entries()) {
    const raw = isScalar(item) ? item.value : isMap(item) ? item.get('host') : undefined;
    if (typeof raw !== 'string') return false;
    const r = normalizePattern(raw);
    const pattern = 'pattern' in r ? r.pattern : undefined;
    if (pattern === undefined || !want.includes(pattern) || kept.has(pattern)) {
      drop.push(i);
      continue;
    }
    kept.add(pattern);
    const had = isMap(item) ? item.get('until') : undefined;
    if (had !== until[pattern]) node.items[i] = itemNode(doc, pattern, until) as Node;
  }
  for (const i of drop.reverse()) node.items.splice(i, 1);
  for (const p of want) if (!kept.has(p)) node.add(itemNode(doc, p, until));
  return true;
}

function patchRoutes(doc: Document, want: Route[]): boolean {
  const node = doc.get('routes', true);
  const plain = (r: Route) => doc.createNode({ host: r.host, headers: { ...r.headers } });
  if (node === undefined) {
    if (want.length > 0) doc.set('routes', doc.createNode(want.map((r) => ({ host: r.host, headers: { ...r.headers } }))));
    return true;
  }
  if (!isSeq(node)) return false;
  const byHost = new Map(want.map((r) => [r.host, r]));
  const kept = new Set<string>();
  const drop: number[] = [];
  for (const [i, item] of node.items.entries()) {
    if (!isMap(item)) return false;
    const raw = item.get('host');
    const host = typeof raw === 'string' ? normalizeHost(raw)?.host : undefined;
    const w = host === undefined ? undefined : byHost.get(host);
    if (host === undefined || w === undefined || kept.has(host)) {
      drop.push(i);
      continue;
    }
    kept.add(host);
    const headers = (item.get('headers', true) as YAMLMap | undefined)?.toJSON() as unknown;
    if (JSON.stringify(headers) !== JSON.stringify(w.headers)) item.set('headers', doc.createNode({ ...w.headers }));
  }
  for (const i of drop.reverse()) node.items.splice(i, 1);
  for (const r of want) if (!kept.has(r.host)) node.add(plain(r));
  return true;
}

const HEADERS: Record<SectionName, (slug: string) => string[]> = {
  allowlist: (slug) => [
    `bottle allowlist edit ${slug}: the hosts this bottle's agent may reach.`,
    'Save and quit to apply it live; quit unchanged to cancel.',
    '  allow:        exact host (registry.npmjs.org), "*.example.com" (subdomains and the',
    '                apex), an IP literal, or "*" (any host: DLP-only mode)',
    '  block:        same patterns; wins over allow and routes',
    '  passthrough:  hosts whose TLS is not intercepted (hostname checks only); each must',
    '                also be allowed (or be a route host)',
    `Routes are edited with \`bottle routes edit ${slug}\`; limits and dlp in policy/policy.yaml.`,
  ],
  routes: (slug) => [
    `bottle routes edit ${slug}: credentialed hosts; the gateway injects these headers.`,
    'Save and quit to apply it live; quit unchanged to cancel.',
    'Header values NAME host env vars, never secrets: "Bearer ${GITHUB_TOKEN}" or a bare',
    'GITHUB_TOKEN. Each variable must be set in the shell running this command; its value is',
    'handed to the running gateway, never written to a file. A route host is allowed too.',
    'The model route (api.anthropic.com: claude\'s own API calls) must stay.',
    '  routes:',
    '    - host: api.github.com        # one exact host (no wildcards, ports or URLs)',
    '      headers:',
    '        Authorization: "Bearer ${GITHUB_TOKEN}"',
    `Allowed hosts are edited with \`bottle allowlist edit ${slug}\`.`,
  ],
};

// What the editor shows: a comment header, then the section's entries from the live file
// (with their comments), every key present even when empty.
export function sectionText(currentText: string, section: SectionName, slug: string): string {
  const current = parseDocument(currentText);
  const out = new Document({});
  out.commentBefore = HEADERS[section](slug).map((l) => ` ${l}`).join('\n');
  const items = (out.contents as YAMLMap).items;
  for (const key of SECTIONS[section]) {
    const pair = isMap(current.contents) ? findPair(current.contents, key) : undefined;
    items.push(pair ? (pair.clone() as Pair) : (out.createPair(key, []) as Pair));
  }
  return out.toString({ lineWidth: 0 });
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair | undefined;
}

// The result of applying an edited section: the policy it means and the text to write.
export interface SectionEdit {
  next: Policy;
  text: string;
}

// Applies the edited section text to the live policy text. Invalid edits throw a PolicyError
// whose position is in `editedFile`, so the operator can go straight to the line.
export function applySection(currentText: string, currentFile: string, editedText: string, editedFile: string, section: SectionName): SectionEdit {
  const keys: readonly string[] = SECTIONS[section];
  const lc = new LineCounter();
  const edited = parseDocument(editedText, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined, path: string, msg: string): never => {
    const { line, col } = lc.linePos(node?.range?.[0] ?? 0);
    throw new PolicyError(msg, editedFile, line, col, path);
  };
  const err = edited.errors[0];
  if (err) {
    const { line, col } = lc.linePos(err.pos[0]);
    throw new PolicyError(err.message.split('\n')[0]!, editedFile, line, col, '');
  }
  const root = edited.contents;
  const empty = root === null || (isScalar(root) && root.value === null);
  if (!empty && !isMap(root)) at(root, '', `must be a mapping with the keys ${keys.join(', ')}`);
  const pairs = empty ? [] : (root as YAMLMap).items as Pair[];
  for (const p of pairs) {
    const name = isScalar(p.key) ? p.key.value : undefined;
    if (typeof name !== 'string' || !keys.includes(name)) at(p.key as Node, String(name ?? ''), `not editable here (${hintFor(String(name), keys)})`);
  }
  const current = parseDocument(currentText);
  const rest = new Document({});
  if (isMap(current.contents)) {
    for (const p of current.contents.items) if (!(isScalar(p.key) && keys.includes(String(p.key.value)))) (rest.contents as YAMLMap).items.push(p.clone() as Pair);
  }
  // The edited text comes first, unchanged, so loader positions in it are positions in the
  // operator's file; the untouched rest of the policy follows for the cross-checks.
  let head = editedText;
  if (!empty && (root as YAMLMap).flow) {
    (root as YAMLMap).flow = false;
    head = edited.toString({ lineWidth: 0 });
  }
  if (head !== '' && !head.endsWith('\n')) head += '\n';
  const headLines = empty ? 0 : head.split('\n').length - 1;
  const combined = `${empty ? '' : head}${rest.toString({ lineWidth: 0 })}`;
  let next: Policy;
  try {
    next = loadPolicy(combined, editedFile);
  } catch (e) {
    if (!(e instanceof PolicyError) || e.line <= headLines) throw e;
    // The edit broke a rule whose entry is outside this editor: say what the edit did.
    const model = e.keyPath === 'model.host' ? modelRoute(currentText) : undefined;
    const routesKey = pairs.find((p) => isScalar(p.key) && p.key.value === 'routes')?.key as Node | undefined;
    if (model) at(routesKey, 'routes', `${model.host} is the model API route (claude's own API calls and their key go through it) and cannot be removed; put its entry back: - ${flowRoute(model)}`);
    const owner = e.keyPath.split(/[.[]/)[0]!;
    throw new PolicyError(`${bareMessage(e)}; ${e.keyPath} is not in this editor (${hintFor(owner, keys)}): change your edit, or that entry first`, currentFile, 0, 0, e.keyPath);
  }
  return { next, text: replacePairs(currentText, current, pairs, !edited.commentBefore, keys, next) };
}

// The live policy's model route (what a routes edit must keep), if it has one.
function modelRoute(currentText: string): Route | undefined {
  try {
    const p = loadPolicy(currentText);
    return p.model && p.routes.find((r) => r.host === p.model!.host);
  } catch {
    return undefined;
  }
}

// `{ host: h, headers: { x-api-key: "${ANTHROPIC_API_KEY}" } }`: a route as one line of YAML.
function flowRoute(r: Route): string {
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return `{ host: ${r.host}${r.port === undefined ? '' : `, port: ${r.port}`}, headers: { ${headers} } }`;
}

function hintFor(key: string, keys: readonly string[]): string {
  if (keys.includes('routes') && LIST_KEYS.includes(key as (typeof LIST_KEYS)[number])) return 'use `bottle allowlist edit`';
  if (key === 'routes') return 'use `bottle routes edit`';
  return `this editor holds only ${keys.join(', ')}; other keys live in policy/policy.yaml`;
}

function bareMessage(e: PolicyError): string {
  const prefix = `${e.file}:${e.line}:${e.col}: ${e.keyPath ? `${e.keyPath}: ` : ''}`;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

// The live file with the section's pairs swapped for the edited ones (their comments kept),
// other keys untouched; falls back to rewritePolicy if that would not mean `next`.
function replacePairs(currentText: string, current: Document, edited: Pair[], headerGlued: boolean, keys: readonly string[], next: Policy): string {
  if (current.errors.length > 0 || !isMap(current.contents)) return rewritePolicy(currentText, next);
  const items = current.contents.items as Pair[];
  const byKey = new Map(edited.map((p) => [String((p.key as { value?: unknown }).value), p]));
  const copy = (p: Pair): Pair => {
    const c = p.clone() as Pair;
    // Without a blank line after it, the editor's header comment belongs to the first key.
    if (headerGlued && p === edited[0] && isScalar(c.key)) c.key.commentBefore = undefined;
    return c;
  };
  for (let i = items.length - 1; i >= 0; i--) {
    const key = String((items[i]!.key as { value?: unknown }).value);
    if (!keys.includes(key)) continue;
    const replacement = byKey.get(key);
    if (replacement) items[i] = copy(replacement);
    else items.splice(i, 1);
    byKey.delete(key);
  }
  for (const p of byKey.values()) items.push(copy(p));
  const text = current.toString({ lineWidth: 0 });
  return means(text, next) ? text : rewritePolicy(currentText, next);
}
