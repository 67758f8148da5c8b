// Route header values in the manifest: templates (lib/template.ts) recorded by name at parse
// time, resolved from the host env only when a bottle is launched. Values never appear in errors.
import { UserError } from '../errors.js';
import { renderTemplate } from '../template.js';

export { parseTemplate, templateVars, type TemplatePart } from '../template.js';

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
    const r = renderTemplate(h.template, env);
    if ('error' in r) throw new UserError(`route ${route.host}: header ${h.name}: ${r.error}`);
    if ('value' in r) {
      headers[h.name] = r.value;
      continue;
    }
    for (const name of r.missing) if (!missing.includes(name)) missing.push(name);
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
