// `bottle policy explain|check`: run the gateway's policy engine offline, no network.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import {
  dlpOnlyPolicy, evaluate, loadPolicy, PolicyError, prepareCanaries, routeSecretValues,
  type HttpRequest, type Policy,
} from '../lib/policy/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';

// Exit code for unreadable or invalid input to `explain` (a verdict of either kind exits 0).
const BAD_INPUT = 2;

// Opening /dev/stdin fails with ENXIO when stdin is a socket (as node's child pipes are), so
// the stdin spellings read file descriptor 0 directly.
const STDIN_NAMES = new Set(['-', '/dev/stdin', '/dev/fd/0']);

function readInput(path: string, ctx: Ctx, what: string): string {
  try {
    return STDIN_NAMES.has(path) ? readFileSync(0, 'utf8') : readFileSync(resolve(ctx.cwd, path), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UserError(`cannot read ${what} ${path}: ${code}`, BAD_INPUT);
  }
}

const REQUEST_KEYS = new Set(['method', 'url', 'headers', 'body', 'body_base64']);

// Validates REQUEST.json: {"method","url","headers":{},"body"} (or "body_base64").
export function parseRequestJson(text: string, name: string): HttpRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${name}: not valid JSON (${(e as Error).message})`, BAD_INPUT);
  }
  const bad = (msg: string) => new UserError(`${name}: ${msg}`, BAD_INPUT);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('must be a JSON object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !REQUEST_KEYS.has(k));
  if (unknown) throw bad(`unknown key "${unknown}" (expected: ${[...REQUEST_KEYS].join(', ')})`);
  if (typeof o.url !== 'string' || o.url === '') throw bad('"url" must be a non-empty string');
  if (o.method !== undefined && typeof o.method !== 'string') throw bad('"method" must be a string');
  const headers: Record<string, string | string[]> = {};
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null || Array.isArray(o.headers)) throw bad('"headers" must be an object');
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v === 'string') headers[k] = v;
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) headers[k] = v as string[];
      else throw bad(`header "${k}" must be a string or a list of strings`);
    }
  }
  if (o.body !== undefined && o.body_base64 !== undefined) throw bad('give "body" or "body_base64", not both');
  let body: HttpRequest['body'];
  if (o.body !== undefined) {
    if (typeof o.body !== 'string') throw bad('"body" must be a string');
    body = o.body;
  } else if (o.body_base64 !== undefined) {
    if (typeof o.body_base64 !== 'string' || !/^[A-Za-z0-9+/_\-\s]*={0,2}\s*$/.test(o.body_base64)) throw bad('"body_base64" must be a base64 string');
    body = new Uint8Array(Buffer.from(o.body_base64, 'base64'));
  }
  return { method: (o.method as string | undefined) ?? 'GET', url: o.url, headers, ...(body === undefined ? {} : { body }) };
}

function loadPolicyFile(path: string, ctx: Ctx, exitCode: number): Policy {
  const text = readInput(path, ctx, 'policy');
  try {
    return loadPolicy(text, path);
  } catch (e) {
    if (e instanceof PolicyError) throw new UserError(e.message, exitCode);
    throw e;
  }
}

export function registerPolicy(program: Command, ctx: Ctx, outcome: Outcome): void {
  const policy = program.command('policy').description("inspect and test a bottle's egress policy (offline)");

  policy
    .command('explain')
    .description('print the gateway verdict for one request: {"verdict","stage","reason","rule"}; exit 0 for allow and block')
    .argument('<request>', 'REQUEST.json: {"method","url","headers":{},"body"} ("body_base64" for binary); "-" for stdin')
    .option('--policy <file>', 'policy.yaml to evaluate against (default: allow ["*"], DLP only)')
    .addHelpText('after', [
      '',
      '"rule" is what matched: the allow entry of an allow, the block entry of a blocklist block,',
      'the DLP rule id of a DLP block, or the check\'s name (not-allowed, private-address, ...).',
    ].join('\n'))
    .action((requestPath: string, opts: { policy?: string }) => {
      const request = parseRequestJson(readInput(requestPath, ctx, 'request'), requestPath);
      const p = opts.policy ? loadPolicyFile(opts.policy, ctx, BAD_INPUT) : dlpOnlyPolicy();
      // Canaries come from the route env vars set in this shell, as the daemon's would.
      const v = evaluate(p, request, prepareCanaries(routeSecretValues(p, ctx.env)));
      ctx.out(JSON.stringify({ verdict: v.verdict, stage: v.stage, reason: v.reason, rule: v.rule ?? null }));
      outcome.exitCode = 0;
    });

  policy
    .command('check')
    .description('validate a policy.yaml; errors name file:line:col and the key path')
    .argument('<file>', 'policy.yaml')
    .action((file: string) => {
      const p = loadPolicyFile(file, ctx, 1);
      ctx.out(`${file}: ok (${p.allow.length} allow, ${p.block.length} block, ${p.routes.length} routes, ${p.passthrough.length} passthrough)`);
    });
}
