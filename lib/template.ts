// Route headers, one language for the manifest, the policy file the gateway loads and the
// approval forms. Names are HTTP tokens the gateway does not manage; values are templates: literal text, `${NAME}` for a host env var, `$${`
// for a literal `${`. A `$` not followed by `{` is literal. Values never appear in errors.

// An environment variable name.
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// An HTTP header name (RFC 9110 token).
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers the gateway manages itself: no route (manifest, policy or approval) may set them.
export const RESERVED_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-authorization']);

// Why `name` cannot be a route header's name, or undefined.
export function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return 'expected an HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)';
  if (RESERVED_HEADERS.has(name.toLowerCase())) return 'this header is managed by the gateway and cannot be set by a route';
  return undefined;
}

export type TemplatePart = { literal: string } | { variable: string };

// Splits a header template into literal text and variable references.
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

// Why a template cannot be a header value (blank, unparseable, a line break / NUL), or undefined.
export function templateProblem(template: string): string | undefined {
  if (template.trim() === '') return 'header value is empty';
  if (/[\r\n\0]/.test(template)) return 'header value contains a line break or NUL';
  const parsed = parseTemplate(template);
  return 'error' in parsed ? parsed.error : undefined;
}

// Variable names a template references, in order of first use, without duplicates.
export function templateVars(template: string): string[] {
  const parsed = parseTemplate(template);
  if ('error' in parsed) return [];
  const names: string[] = [];
  for (const p of parsed.parts) if ('variable' in p && !names.includes(p.variable)) names.push(p.variable);
  return names;
}

// The header value a template means under `env`, or the variables it lacks. An empty variable
// counts as missing: injecting an empty credential is never intended.
export function renderTemplate(template: string, env: Record<string, string | undefined>): { value: string } | { missing: string[] } | { error: string } {
  const parsed = parseTemplate(template);
  if ('error' in parsed) return parsed;
  let value = '';
  const missing: string[] = [];
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
  return missing.length ? { missing } : { value };
}

// Bare names typed into an approval form must look like env vars (UPPER_SNAKE): a pasted token
// such as ghp_x1Y2 does not.
const BARE_ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

// A credential header typed by the operator (approval forms): a bare `GITHUB_TOKEN` is short
// for `${GITHUB_TOKEN}`, and the result must reference at least one host env var, so a typed
// secret is refused rather than stored. Returns the template in the one language above.
export function credentialTemplate(input: string): { template: string } | { error: string } {
  const v = input.trim();
  if (v === '') return { error: 'name a host env var, e.g. Bearer ${GITHUB_TOKEN}' };
  const template = BARE_ENV_NAME.test(v) ? `\${${v}}` : v;
  const problem = templateProblem(template);
  if (problem) return { error: problem };
  if (templateVars(template).length === 0) return { error: 'the value must name a host env var as ${NAME} (e.g. Bearer ${GITHUB_TOKEN}), never hold the secret itself' };
  return { template };
}

// Route secrets shorter than this are refused (at start, approval and routes edit): the gateway
// masks a route secret wherever a response reflects it, and a short one is not safely maskable
// (too many innocent matches, and its slices are guessable).
export const MIN_ROUTE_SECRET = 8;

// Why these route variables' values cannot be used, or undefined. Unset ones are someone
// else's message (they name what to export); values never appear.
export function shortSecretProblem(names: readonly string[], env: Record<string, string | undefined>): string | undefined {
  const short = names.filter((n) => env[n] !== undefined && env[n] !== '' && env[n]!.length < MIN_ROUTE_SECRET);
  if (short.length === 0) return undefined;
  return `route secret${short.length > 1 ? 's' : ''} ${short.join(', ')} ${short.length > 1 ? 'are' : 'is'} shorter than ${MIN_ROUTE_SECRET} characters; ` +
    'a copy reflected in a response could not be masked safely, so it is refused: export the full credential';
}
