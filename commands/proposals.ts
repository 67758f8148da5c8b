// `bottle proposals [ls|show ID|approve ID|reject ID|decide ID]`: the operator's side of the
// agent's requests and of pushes held for review.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { bundleControl, cliDeps, findBottle, pullAllBundles } from '../lib/lifecycle/index.js';
import { UserError } from '../lib/errors.js';
import { credentialTemplate, headerNameProblem } from '../lib/template.js';
import { clip, formatAge, sanitize } from '../lib/format.js';
import {
  assessRisk, autoApproveAll, defaultRouteHeaders, describeAutoApproval, findProposal, listProposals, policyHash, pushLines,
  readPushDiff, reject, riskLines, type ApproveResult, type FoundProposal, type ProposalRow,
} from '../lib/proposals/index.js';
import { policyFilePath } from '../lib/policy-edit/index.js';
import { readMetadata, stateRoot } from '../lib/state/index.js';
import { which } from '../lib/run/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';
import { approvedLine, approveFound, decideProposal, parseFor, rejectFound, ttyTerminal } from './decide.js';

function status(r: ProposalRow): string {
  return `${r.status}${r.auto ? ` (auto: ${r.auto.rule})` : ''}${r.stale ? ' (stale)' : ''}`;
}

// The human table for `bottle proposals`; pure, so it is tested on strings.
export function renderProposals(rows: ProposalRow[], now: number, all = false): string {
  if (rows.length === 0) return all ? 'no proposals' : 'no pending proposals';
  const table = [
    ['ID', 'BOTTLE', 'KIND', 'HOST', 'AGE', 'STATUS', 'REASON'],
    ...rows.map((r) => [r.id, r.slug, r.kind, clip(r.host, 60), formatAge(r.created, now), status(r), clip(r.reason, 60)]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  if (rows.some((r) => r.stale && r.status === 'pending')) {
    lines.push('', '(stale): what the policy says about that host changed since the proposal was made; approving applies it to the current policy');
  }
  return lines.join('\n');
}

// Stable JSON for scripts: every key always present.
function rowJson(r: ProposalRow) {
  return {
    id: r.id, slug: r.slug, kind: r.kind, host: r.host, reason: r.reason, created: r.created,
    status: r.status, stale: r.stale, decided: r.decided ?? null, note: r.note ?? null, auto: r.auto ?? null,
    push: r.push ?? null,
  };
}

// `--header 'Authorization=Bearer ${GITHUB_TOKEN}'` (or `Name: value`) → { name: template }.
export function parseHeaders(specs: readonly string[]): Record<string, string> | undefined {
  if (specs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^\s*([^=:\s]+)\s*[=:]\s*(.*?)\s*$/.exec(spec);
    if (!m) throw new UserError(`--header must be NAME=VALUE, e.g. --header 'Authorization=Bearer \${GITHUB_TOKEN}'`);
    const [, name, value] = m as unknown as [string, string, string];
    if (Object.keys(out).some((k) => k.toLowerCase() === name.toLowerCase())) throw new UserError(`--header ${name} is given twice`);
    const badName = headerNameProblem(name);
    if (badName) throw new UserError(`--header ${name}: ${badName}`);
    // Never echo the value: if the shell expanded ${VAR}, it is the secret itself.
    const c = credentialTemplate(value);
    if ('error' in c) {
      throw new UserError(`--header ${name}: ${c.error}; single-quote it so your shell does not expand \${...}`);
    }
    out[name] = c.template;
  }
  return out;
}

// The text `show` prints: the row, then the risk summary or (a held push) the commits and diff.
export async function showText(found: FoundProposal, row: ProposalRow, now = Date.now()): Promise<string> {
  const p = found.proposal;
  const head = [
    `${p.id}  ${found.slug}  ${p.kind} ${p.payload.host}  ${status(row)}${row.decided ? ` at ${row.decided}` : ''}`,
    ...(row.note ? [`note: ${row.note}`] : []),
    `reason: ${p.reason}`,
    '',
  ].map(sanitize);
  if (p.kind === 'push') return [...head, ...pushLines(p.payload.push!, now), '', readPushDiff(found.paths.superviseQueue, p)].join('\n');
  const current = await policyHash(policyFilePath(found.paths));
  const headers = p.kind === 'route' ? defaultRouteHeaders(current?.policy ?? null, p.payload.host) : undefined;
  return [...head, ...riskLines(assessRisk({ kind: p.kind, host: p.payload.host, policy: current?.policy ?? null, ...(headers ? { headers } : {}) }))].join('\n');
}

// `bottle proposals show`: on a terminal through the pager ($PAGER, else `less -R`, else `more`;
// LESS=FRX unless set), else to stdout; JSON adds the diff of a held push.
async function showProposal(ctx: Ctx, found: FoundProposal, opts: { json: boolean; pager: boolean }): Promise<number> {
  const row = (await listProposals(stateRoot(ctx.env), { slug: found.slug, all: true })).rows.find((r) => r.id === found.proposal.id);
  if (!row) throw new UserError(`proposal ${found.proposal.id} is gone from ${found.slug}'s queue; run \`bottle proposals --all\``);
  if (opts.json) {
    const diff = found.proposal.kind === 'push' ? readPushDiff(found.paths.superviseQueue, found.proposal) : null;
    ctx.out(JSON.stringify({ ...rowJson(row), diff }, null, 2));
    return 0;
  }
  const text = await showText(found, row);
  if (!opts.pager || !ctx.isTTY) {
    ctx.out(text);
    return 0;
  }
  const pager = ctx.env.PAGER || ((await which('less', ctx.env.PATH)) ? 'less -R' : (await which('more', ctx.env.PATH)) ? 'more' : undefined);
  if (!pager || !(await pageText(`${text}\n`, pager, { ...ctx.env, LESS: ctx.env.LESS ?? 'FRX' }))) ctx.out(text);
  return 0;
}

// Pipes text into the pager (a shell command line, like git's); false when it could not run.
function pageText(text: string, pager: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', pager], { stdio: ['pipe', 'inherit', 'inherit'], env });
    child.once('error', () => resolve(false));
    child.stdin.on('error', () => undefined); // the reader quit early (q in less): fine
    child.stdin.end(text);
    child.once('exit', (code) => resolve(code !== 127));
  });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function approvedJson(r: ApproveResult) {
  return {
    id: r.proposal.id, slug: r.slug, kind: r.proposal.kind, host: r.proposal.payload.host, decision: r.decision.decision,
    decided: r.decision.decided, stale: r.stale, changed: r.changed, live: r.live, summary: r.summary, secrets: r.secrets,
  };
}

// A proposal by id or prefix, after the running bundles' queues were copied into the state dir.
async function findFresh(ctx: Ctx, query: string): Promise<FoundProposal> {
  await pullAllBundles(cliDeps(ctx));
  return findProposal(stateRoot(ctx.env), query);
}

export function registerProposals(program: Command, ctx: Ctx, outcome: Outcome): void {
  const proposals = program
    .command('proposals')
    .description("list, approve and reject the agents' requests for egress access (default: ls)");

  proposals
    .command('ls', { isDefault: true })
    .description('list pending (and auto-approved) proposals of every bottle in state, oldest first')
    .option('--slug <slug>', 'only this bottle (a unique prefix works)')
    .option('--all', 'include approved and rejected ones')
    .option('--json', 'print a JSON array: {id, slug, kind, host, reason, created, status, stale, decided, note, auto, push}')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle proposals',
      '  bottle proposals ls --slug implementer-k3x7qa --all',
      "  bottle proposals --json | jq -r '.[] | select(.kind == \"allowlist\") | .id'",
      '',
      'A proposal marked (stale) was made before the policy changed where it concerns its host (an',
      'allow, block, passthrough entry or route that can match it); other changes do not count.',
      '',
      "Pending allowlist proposals that a bottle's supervise.auto_approve rules match are approved",
      'first (as `approve` would, each one said on stderr) and listed as "approved (auto: RULE)";',
      'the dashboard does the same the moment they arrive.',
    ].join('\n'))
    .action(async (opts: { slug?: string; all?: boolean; json?: boolean }) => {
      const deps = cliDeps(ctx);
      const slug = opts.slug === undefined ? undefined : (await findBottle(deps, opts.slug)).slug;
      const root = stateRoot(ctx.env);
      await pullAllBundles(deps, slug);
      for (const a of await autoApproveAll(root, (meta) => bundleControl(deps, meta), slug)) {
        ctx.err(`bottle: ${a.error ? 'warning: ' : ''}${clip(describeAutoApproval(a), 400)}${a.warning && !a.error ? ` (${a.warning})` : ''}`);
      }
      const listing = await listProposals(root, { slug, all: opts.all });
      for (const p of listing.problems) ctx.err(`bottle: warning: skipped ${p}`);
      ctx.out(opts.json ? JSON.stringify(listing.rows.map(rowJson), null, 2) : renderProposals(listing.rows, Date.now(), opts.all));
      outcome.exitCode = 0;
    });

  proposals
    .command('show')
    .description('print one proposal: what it asks and its risk summary; for a held push, the commits and the full diff')
    .argument('<id>', 'proposal id, or an unambiguous prefix of it or of its hex part')
    .option('--json', 'print {id, slug, kind, host, reason, created, status, ..., push, diff}')
    .option('--no-pager', 'write to stdout even on a terminal (default there: $PAGER, else less)')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle proposals show a1b2c3',
      '  bottle proposals show a1b2c3 --no-pager | grep -n TODO',
      "  bottle proposals show a1b2c3 --json | jq -r .diff",
    ].join('\n'))
    .action(async (query: string, opts: { json?: boolean; pager: boolean }) => {
      outcome.exitCode = await showProposal(ctx, await findFresh(ctx, query), { json: opts.json === true, pager: opts.pager });
    });

  proposals
    .command('approve')
    .description('approve a proposal: merge it into the live policy, reload the bottle, tell the agent (a held push: forward it)')
    .argument('<id>', 'proposal id, or an unambiguous prefix of it or of its hex part')
    .option('--header <name=value>', 'route proposals: header to inject, naming host env vars (repeatable)', collect)
    .option('--for <duration>', 'allowlist proposals: a time-boxed grant, 90s|10m|1h|2d (at most 30d) or until-stop (dropped when the bottle stops)')
    .option('--note <text>', 'note recorded with the decision (the agent sees it)')
    .option('--json', 'print {id, slug, kind, host, decision, decided, stale, changed, live, summary, secrets}')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle proposals approve 20260301T100000000Z-a1b2c3d4e5f6',
      "  bottle proposals approve a1b2c3 --header 'Authorization=Bearer ${GITHUB_TOKEN}'",
      "  bottle proposals approve a1b2c3 --header 'X-Api-Key=ACME_KEY' --note 'read-only key'",
      '  bottle proposals approve a1b2c3 --for 1h',
      '',
      'With --for the allow entry carries its expiry ({ host: H, until: ISO-8601 | stop } in',
      'policy.yaml); the gateway stops honouring it at that instant (no reload needed) and logs',
      'the lapse. A host already allowed for good stays so; approving again without --for makes a',
      'time-boxed entry permanent.',
      '',
      'Header values name env vars (single-quote them): set in THIS shell, or with a source in',
      '$XDG_CONFIG_HOME/bottle/credentials.yaml (see README).',
      'Its value is handed to the running gateway; policy.yaml only ever holds the name.',
    ].join('\n'))
    .action(async (query: string, opts: { header?: string[]; note?: string; json?: boolean; for?: string }) => {
      const headers = parseHeaders(opts.header ?? []);
      const until = opts.for === undefined ? undefined : parseFor(opts.for);
      const found = await findFresh(ctx, query);
      // The route's values come from this shell or credentials.yaml, like at start.
      const r = await approveFound(ctx, found, {
        ...(headers ? { headers } : {}), ...(opts.note ? { note: opts.note } : {}), ...(until ? { until } : {}),
      }, 'in this shell (the running gateway is handed it for the approved route)');
      if (opts.json) {
        ctx.out(JSON.stringify(approvedJson(r), null, 2));
      } else {
        ctx.out(approvedLine(r));
        if (r.stale) ctx.out('note: the policy changed for this host since the proposal was made (stale); it was applied to the current policy');
      }
      outcome.exitCode = 0;
    });

  proposals
    .command('decide')
    .description('show one proposal\'s risk summary and decide it with one key (what the dashboard\'s popup runs)')
    .argument('<id>', 'proposal id, or an unambiguous prefix of it or of its hex part')
    .option('--header <name=value>', 'route proposals: header to inject instead of the suggested one (repeatable)', collect)
    .addHelpText('after', [
      '',
      'Keys: a approve, t approve for a time (then 1 for 10m, 2 for 1h, 3 until the bottle stops;',
      '      allowlist proposals), r reject with a note for the agent, l / q / Esc later (the',
      '      proposal stays pending).',
      'Keys typed in the first moments are ignored, so typing meant for another pane decides nothing.',
      '',
      'The risk summary: is the host new to the policy, how broad a wildcard is (one over a public',
      'suffix such as *.co.uk or *.github.io is refused), which header and host env var a route',
      'would inject (the existing route\'s, else Authorization: Bearer ${<DOMAIN>_TOKEN}), private or',
      'metadata addresses and local-only names, known paste/tunnel/request-capture services.',
      'Approval and rejection are those of `bottle proposals approve|reject`.',
      '',
      'Examples:',
      '  bottle proposals decide a1b2c3',
      "  bottle proposals decide a1b2c3 --header 'X-Api-Key=ACME_KEY'",
    ].join('\n'))
    .action(async (query: string, opts: { header?: string[] }) => {
      const headers = parseHeaders(opts.header ?? []);
      const found = await findFresh(ctx, query);
      const term = ttyTerminal(process.stdin, process.stdout);
      try {
        outcome.exitCode = await decideProposal(ctx, found, term, headers ? { headers } : {});
      } finally {
        term.close();
      }
    });

  proposals
    .command('reject')
    .description('reject a proposal; the policy is unchanged and the agent is told')
    .argument('<id>', 'proposal id, or an unambiguous prefix of it or of its hex part')
    .option('--note <text>', 'reason recorded with the decision (the agent sees it)')
    .option('--json', 'print {id, slug, kind, host, decision, decided, stale, note}')
    .addHelpText('after', [
      '',
      'Examples:',
      '  bottle proposals reject a1b2c3',
      "  bottle proposals reject a1b2c3 --note 'use the npm mirror instead'",
    ].join('\n'))
    .action(async (query: string, opts: { note?: string; json?: boolean }) => {
      const found = await findFresh(ctx, query);
      const d = await rejectFound(ctx, found, opts.note);
      const p = found.proposal;
      if (opts.json) {
        ctx.out(JSON.stringify({ id: p.id, slug: found.slug, kind: p.kind, host: p.payload.host, decision: d.decision, decided: d.decided, stale: d.stale === true, note: d.note ?? null }, null, 2));
      } else {
        ctx.out(`rejected ${p.id} (${found.slug}): ${p.kind} ${p.payload.host}`);
      }
      outcome.exitCode = 0;
    });
}
