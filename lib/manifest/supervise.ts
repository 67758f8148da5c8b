// Validation of `supervise:` (per agent: true, false or a mapping; in defaults: a mapping) and of
// its `auto_approve` list: hosts whose allowlist proposals are approved without asking. A rule
// that reaches across a public suffix (`*`, `*.com`, `*.github.io`) is refused here, at check.
import { coversPublicSuffix } from '../policy/public-suffix.js';
import { parseHostPattern } from './syntax.js';
import type { SuperviseSpec } from './types.js';
import { isMap, isScalar } from 'yaml';
import { kindOf, type Val, type Walker } from './walk.js';

const SUPERVISE_KEYS = ['auto_approve'] as const;

// An agent's `supervise:`: true/false, or a mapping (which turns supervise on).
export function readAgentSupervise(w: Walker, v: Val): { on: boolean; spec?: SuperviseSpec } {
  if (v.node && isScalar(v.node) && typeof v.node.value === 'boolean') return { on: w.bool(v) ?? true };
  if (v.node && isMap(v.node)) return { on: true, spec: readSupervise(w, v) };
  w.fail(v, `expected true, false or a mapping (auto_approve: [hosts]), got ${kindOf(v.node)}`);
  return { on: true };
}

// `supervise: { auto_approve: [...] }` (defaults, or an agent's mapping form).
export function readSupervise(w: Walker, v: Val): SuperviseSpec {
  const spec: SuperviseSpec = { autoApprove: [] };
  const f = w.fields(v, SUPERVISE_KEYS);
  if (!f?.auto_approve) return spec;
  for (const item of w.list(f.auto_approve) ?? []) {
    const raw = w.str(item, 'a host or *.domain');
    if (raw === undefined) continue;
    const problem = autoApproveProblem(raw);
    if (problem) w.fail(item, problem);
    else {
      const host = parseHostPattern(raw)!.host;
      if (!spec.autoApprove.includes(host)) spec.autoApprove.push(host);
    }
  }
  return spec;
}

// What is wrong with one auto_approve entry, or undefined (pure: the words tests and docs quote).
export function autoApproveProblem(raw: string): string | undefined {
  const parsed = parseHostPattern(raw);
  if (!parsed) return 'expected a hostname, *.domain or an IP address';
  if (parsed.kind === 'any') return '"*" would approve every host the agent asks for; list the hosts or *.domain you trust';
  const suffix = coversPublicSuffix(parsed.host);
  if (suffix) {
    return `"${parsed.host}" spans the public suffix ${suffix}, whose names belong to many different owners; `
      + 'list the hosts or the *.domain of one owner you trust (e.g. *.example.com)';
  }
  return undefined;
}
