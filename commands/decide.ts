// `bottle proposals decide ID`: one proposal's risk summary and a one-key decision (approve,
// reject with a note, later), applied through approveFound / reject exactly as
// `bottle proposals approve|reject` apply them. The dashboard's new-proposal popup runs it; in
// a terminal it works the same.
import { withCredentials } from '../lib/credentials.js';
import { UserError } from '../lib/errors.js';
import { clip, sanitize } from '../lib/format.js';
import { bundleControl, cliDeps } from '../lib/lifecycle/index.js';
import { policyFilePath } from '../lib/policy-edit/index.js';
import { GRANT_CHOICES, parseGrantFor, routeEnvNames } from '../lib/policy/index.js';
import {
  approve, assessRisk, defaultRouteHeaders, isStale, listProposals, policyHash, pushLines, readDecision, reject, riskLines,
  type ApproveResult, type Decision, type FoundProposal,
} from '../lib/proposals/index.js';
import { readMetadata, stateRoot } from '../lib/state/index.js';
import type { Ctx } from '../lib/cli.js';

// Approves as `bottle proposals approve` does: the bottle's bundle control, route values from
// this environment or credentials.yaml (`when` completes the "export it ..." hint).
// Rejects a found proposal, telling its running bundle (where the agent waits on it).
export async function rejectFound(ctx: Ctx, found: FoundProposal, note?: string): Promise<Decision> {
  const { control } = await bundleControl(cliDeps(ctx), await readMetadata(stateRoot(ctx.env), found.slug));
  return reject(found.paths, found.proposal.id, control, note);
}

export async function approveFound(ctx: Ctx, found: FoundProposal, opts: { headers?: Record<string, string>; note?: string; until?: string }, when: string): Promise<ApproveResult> {
  const { control, warning } = await bundleControl(cliDeps(ctx), await readMetadata(stateRoot(ctx.env), found.slug));
  const { headers } = opts;
  const env = headers && Object.keys(headers).length > 0
    ? await withCredentials(routeEnvNames({ host: found.proposal.payload.host, headers }), ctx.env, ctx.run, when)
    : ctx.env;
  const r = await approve(found.paths, found.proposal.id, {
    ...(headers ? { headers } : {}), ...(opts.note ? { note: opts.note } : {}), ...(opts.until ? { until: opts.until } : {}),
  }, control, env);
  // The warning is about a policy change; a held push changes none (git-gate reads the decision).
  if (warning && r.proposal.kind !== 'push') ctx.err(`bottle: warning: ${warning}`);
  return r;
}

// `--for 1h` (or a popup choice) as the grant's `until`; a bad value is one UserError line.
export function parseFor(text: string, now = new Date()): string {
  const r = parseGrantFor(text, now);
  if ('error' in r) throw new UserError(r.error);
  return r.until;
}

// What an approval did, in one line (the CLI and the popup say the same).
export function approvedLine(r: ApproveResult): string {
  if (r.proposal.kind === 'push') return `approved ${r.proposal.id} (${r.slug}): git-gate forwards the push to ${r.proposal.payload.host}`;
  const what = r.changed ? r.summary.join(', ') : `${r.proposal.payload.host} was already in the policy; nothing to change`;
  return `approved ${r.proposal.id} (${r.slug}): ${what}${r.live ? '; reloaded' : ''}`;
}

// The terminal the decision is typed on. Tests pass a scripted one; the CLI wraps stdin/stdout.
export interface KeyTerminal {
  /** The next key press (one chunk of input); null when input has ended. */
  next(): Promise<string | null>;
  /** Waits `ms`, dropping what is typed meanwhile: keys meant for the pane the popup covered. */
  drain(ms: number): Promise<void>;
  /** Writes text as is (prompts, echo). */
  write(text: string): void;
  close(): void;
}

// Keys typed within this long of the popup appearing are dropped, so a word being typed in the
// operator's editor cannot approve anything; the key line appears when they count.
export const ARM_MS = 400;

const ESC = '\x1b';
const CTRL_C = '\x03';

// The decision screen: who asks what, why, the risk summary; pure, tested on strings. The queue
// file is the bundle's to write: every line is sanitised for the operator's terminal.
export function decideScreen(found: FoundProposal, risk: ReturnType<typeof assessRisk>, o: { stale: boolean; othersPending: number }): string[] {
  const p = found.proposal;
  const lines = [
    `${found.slug} asks: ${p.kind} ${p.payload.host}`,
    `reason: ${clip(p.reason, 300)}`,
    ...(o.stale ? ['(stale) the policy changed for this host since it was proposed; approval applies to the current policy'] : []),
    '',
    ...riskLines(risk),
    ...(o.othersPending > 0 ? ['', `${o.othersPending} more pending: see the dashboard or \`bottle proposals\``] : []),
  ];
  return lines.map(sanitize);
}

// A held push's screen: where it goes, what it carries, how long it is held; pure like decideScreen.
export function pushScreen(found: FoundProposal, o: { othersPending: number }, now = Date.now()): string[] {
  const p = found.proposal;
  return [
    `${found.slug} pushes to ${p.payload.host} and waits for your review`,
    '',
    ...pushLines(p.payload.push!, now),
    '',
    `full diff: Enter on it in the dashboard, or bottle proposals show ${p.id}`,
    ...(o.othersPending > 0 ? ['', `${o.othersPending} more pending: see the dashboard or \`bottle proposals\``] : []),
  ].map(sanitize);
}

// The key line; a refused approval says so, and a route (always permanent) has no `t`.
export function keyLine(refused: boolean, timed = true): string {
  const t = timed ? `   ${refused ? 't approve for a time (refused)' : 't approve for a time'}` : '';
  return `${refused ? 'a approve (refused)' : 'a approve'}${t}   r reject with a note   l later`;
}


// Reads a line with echo and backspace; null when the operator backs out (Esc, Ctrl-C, end).
async function readLine(term: KeyTerminal, prompt: string): Promise<string | null> {
  term.write(prompt);
  let line = '';
  for (;;) {
    const chunk = await term.next();
    if (chunk === null || chunk === ESC || chunk === CTRL_C) {
      term.write('\n');
      return null;
    }
    for (const ch of chunk) {
      if (ch === '\r' || ch === '\n') {
        term.write('\n');
        return line;
      }
      if (ch === '\x7f' || ch === '\b') {
        if (line.length > 0) {
          line = line.slice(0, -1);
          term.write('\b \b');
        }
      } else if (ch >= ' ' && ch !== '\x7f') {
        line += ch;
        term.write(ch);
      }
    }
  }
}

// Shows the summary, then applies the first meaningful key. Returns the exit code: 0 decided
// or left for later, 1 when the decision failed (after the operator has read why).
export async function decideProposal(ctx: Ctx, found: FoundProposal, term: KeyTerminal, opts: { headers?: Record<string, string> } = {}): Promise<number> {
  const { proposal: p, paths } = found;
  const fail = async (message: string): Promise<number> => {
    term.write(`\n${sanitize(message)}\n(press any key to close)`);
    await term.next();
    return 1;
  };
  const decided = await readDecision(paths.superviseDecisions, p.id);
  if (decided) return fail(`proposal ${p.id} was already ${decided.decision} at ${decided.decided}; nothing to decide`);
  const current = await policyHash(policyFilePath(paths));
  const headers = p.kind === 'route' ? (opts.headers ?? defaultRouteHeaders(current?.policy ?? null, p.payload.host)) : undefined;
  const risk = p.kind === 'push' ? undefined : assessRisk({ kind: p.kind, host: p.payload.host, policy: current?.policy ?? null, ...(headers ? { headers } : {}) });
  const pending = await listProposals(stateRoot(ctx.env)).then((l) => l.rows.filter((r) => r.id !== p.id).length, () => 0);
  const others = { stale: isStale(p, current), othersPending: pending };
  term.write(`${(risk ? decideScreen(found, risk, others) : pushScreen(found, others)).join('\n')}\n\n`);
  await term.drain(ARM_MS);
  const timed = p.kind === 'allowlist';
  const refusal = risk?.refusal;
  const keys = (): string => `${keyLine(refusal !== undefined, timed)}\n`;
  term.write(keys());
  for (;;) {
    const key = await term.next();
    if (key === null || key === 'l' || key === 'q' || key === ESC || key === CTRL_C) {
      ctx.out(`later: ${p.id} stays pending`);
      return 0;
    }
    try {
      if (key === 'a' || (key === 't' && timed)) {
        if (refusal) {
          term.write(`cannot approve: ${sanitize(refusal)}; r rejects (say what to ask for instead), l leaves it\n`);
          continue;
        }
        let until: string | undefined;
        if (key === 't') {
          term.write(`approve ${sanitize(p.payload.host)} for: ${GRANT_CHOICES.map((c) => `${c.key} ${c.label}`).join('   ')}   (Esc goes back)\n`);
          const pick = await term.next();
          const choice = GRANT_CHOICES.find((c) => c.key === pick);
          if (!choice) {
            term.write(keys());
            continue;
          }
          until = parseFor(choice.for);
        }
        ctx.out(approvedLine(await approveFound(ctx, found, { ...(headers ? { headers } : {}), ...(until ? { until } : {}) }, 'before starting tmux (this popup has the tmux server\'s environment)')));
        return 0;
      }
      if (key === 'r') {
        const note = await readLine(term, 'note to the agent (Enter sends, empty for none, Esc goes back): ');
        if (note === null) {
          term.write(keys());
          continue;
        }
        const d = await rejectFound(ctx, found, note.trim() || undefined);
        ctx.out(`rejected ${p.id} (${found.slug}): ${p.kind} ${p.payload.host}${d.note ? ' (with a note)' : ''}`);
        return 0;
      }
    } catch (e) {
      if (e instanceof UserError) return fail(e.message);
      throw e;
    }
  }
}

// stdin/stdout as a KeyTerminal, in raw mode until close(). Refuses a non-terminal: piped
// input would be taken as key presses.
export function ttyTerminal(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): KeyTerminal {
  if (!stdin.isTTY) throw new UserError('bottle proposals decide reads one key from a terminal; in scripts use `bottle proposals approve|reject ID`');
  const queue: (string | null)[] = [];
  let waiting: ((v: string | null) => void) | undefined;
  const push = (v: string | null): void => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(v);
    } else {
      queue.push(v);
    }
  };
  const onData = (b: Buffer): void => push(b.toString('utf8'));
  const onEnd = (): void => push(null);
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.resume();
  return {
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => { waiting = resolve; })),
    drain: async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const ended = queue.includes(null);
      queue.length = 0;
      if (ended) queue.push(null);
    },
    write: (text) => void stdout.write(text),
    close: () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
