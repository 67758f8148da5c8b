// `${VAR}` references in route header values: recorded by name at parse time, resolved from
// the host env only when a bottle is launched. Values never appear in errors.
import { UserError } from '../errors.js';
import { ENV_NAME } from './syntax.js';

export type TemplatePart = { literal: string } | { variable: string };

// Splits a header template into literal text and variable references.
// `$${` is an escaped literal `${`; a `$` not followed by `{` is literal.
export function parseTemplate(template: string): { parts: TemplatePart[] } | { error: string } {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (template.startsWith('${', i)) {
      const end = template.indexOf('}', i + 2);
      if (end < 0) return { error: `unclosed \${ at character ${i + 1}; write $\${ for a literal \${` };
      const name = template.slice(i + 2, end);
      if (!ENV_NAME.test(name)) return { error: `\${${name}} is not an environment variable name` };
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ variable: name });
      i = end + 1;
    } else {
      literal += template[i];
      i += 1;
    }
  }
  if (literal) parts.push({ literal });
  return { parts };
}

// Variable names a template references, in order of first use, without duplicates.
export function templateVars(template: string): string[] {
  const parsed = parseTemplate(template);
  if ('error' in parsed) return [];
  const names: string[] = [];
  for (const p of parsed.parts) if ('variable' in p && !names.includes(p.variable)) names.push(p.variable);
  return names;
}

export interface RouteLike {
  host: string;
  headers: ReadonlyArray<{ name: string; template: string }>;
}

// The concrete headers for a route, read from env; throws naming every missing variable.
// An empty variable counts as missing: injecting an empty credential is never intended.
export function resolveRouteHeaders(route: RouteLike, env: NodeJS.ProcessEnv): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const missing: string[] = [];
  for (const h of route.headers) {
    const parsed = parseTemplate(h.template);
    if ('error' in parsed) throw new UserError(`route ${route.host}: header ${h.name}: ${parsed.error}`);
    let value = '';
    for (const p of parsed.parts) {
      if ('literal' in p) {
        value += p.literal;
        continue;
      }
      const v = env[p.variable];
      if (v === undefined || v === '') {
        if (!missing.includes(p.variable)) missing.push(p.variable);
      } else {
        value += v;
      }
    }
    headers[h.name] = value;
  }
  if (missing.length > 0) {
    const names = missing.join(', ');
    const plural = missing.length > 1 ? 'variables' : 'variable';
    throw new UserError(
      `route ${route.host} needs host environment ${plural} ${names}, not set; export ${missing.length > 1 ? 'them' : 'it'} before starting the bottle`,
    );
  }
  return headers;
}
