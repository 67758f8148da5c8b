// The supervise MCP tools: the agent proposes an allowlist or route change, optionally waits for
// the operator's decision, or checks on an earlier proposal. Bad arguments come back as isError.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { readDecision, readProposal, readQueue, writeProposal } from '../../lib/proposals/files.js';
import { isStale, policyHash } from '../../lib/proposals/stale.js';
import {
  PROPOSAL_ID_RE, normalizeHost, normalizeReason, noteForAgent,
  type Decision, type ProposalKind, type ProposalStatus,
} from '../../lib/proposals/types.js';
import type { DecisionWatcher } from '../../lib/proposals/watch.js';

// What the tools need, shared by every per-request McpServer of one process.
export interface ToolDeps {
  queueDir: string;
  decisionsDir: string;
  policyFile?: string;
  watcher: DecisionWatcher;
  /** How long a proposing call waits for the operator before answering "pending". */
  waitMs: number;
  /** Undecided proposals allowed at once; more is refused so the agent cannot flood the operator. */
  maxPending?: number;
  /** Period of MCP progress notifications while waiting (only if the client sent a progress token). */
  progressMs?: number;
  /** Told about each new proposal once its file is in the queue. */
  announce?: (p: { id: string; kind: string }) => void;
}

// What every tool answers, as structured content (and as text for clients that ignore it).
export interface ProposalAnswer {
  id: string;
  kind: ProposalKind;
  host: string;
  status: ProposalStatus;
  /** The operator's note, one line of at most AGENT_NOTE_MAX characters. */
  note?: string;
  stale?: boolean;
  /** Set when a manifest auto_approve rule approved it: that rule. */
  autoRule?: string;
  message: string;
  [key: string]: unknown;
}

const answerShape = {
  id: z.string(),
  kind: z.enum(['allowlist', 'route']),
  host: z.string(),
  status: z.enum(['approved', 'rejected', 'pending']),
  note: z.string().optional(),
  stale: z.boolean().optional(),
  autoRule: z.string().optional(),
  message: z.string(),
};

// The human sentence that tells the agent what to do next (pure, so its wording is tested). The
// operator's note leads a rejection (`Rejected by the operator: "use the internal mirror at …"`),
// cleaned and capped by noteForAgent: operator-written, but it lands in the agent's context.
export function describe(id: string, kind: ProposalKind, host: string, decision: Decision | null, reused = false): ProposalAnswer {
  const note = noteForAgent(decision?.note);
  let message: string;
  if (!decision) {
    message = `${reused ? `A proposal for ${host} was already pending; no new one was made. ` : ''}`
      + `Pending: the operator has not decided yet. Carry on with other work and call check_proposal with id "${id}" later; do not propose ${host} again.`;
  } else if (decision.decision === 'approved') {
    const by = decision.auto ? `Approved (pre-approved by the operator's rule ${decision.auto.rule})` : 'Approved';
    message = kind === 'allowlist'
      ? `${by}: ${host} is now allowed through the gateway. Retry the request.`
      : `${by}: the gateway now adds the credentials for ${host}. Retry the request without adding credentials yourself.`;
    if (note) message += ` Operator's note: ${note}`;
  } else {
    message = note
      ? `Rejected by the operator: "${note}". Do not propose ${host} again; follow the note, or continue without it.`
      : `Rejected by the operator. Do not retry; continue without ${host}.`;
  }
  return {
    id, kind, host, status: decision?.decision ?? 'pending', message,
    ...(note ? { note } : {}),
    ...(decision?.stale !== undefined ? { stale: decision.stale } : {}),
    ...(decision?.auto ? { autoRule: decision.auto.rule } : {}),
  };
}

function result(answer: ProposalAnswer): CallToolResult {
  return { content: [{ type: 'text', text: `${answer.message}\n\n${JSON.stringify(answer)}` }], structuredContent: answer };
}

function hostSchema(kind: ProposalKind) {
  return z.string().max(300).transform((h, ctx) => {
    const r = normalizeHost(h, kind);
    if (!r.ok) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error });
      return z.NEVER;
    }
    return r.host;
  });
}

const reasonSchema = z.string().transform((r, ctx) => {
  const n = normalizeReason(r);
  if (!n.ok) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: n.error });
    return z.NEVER;
  }
  return n.reason;
});

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

// Queueing is serialised per server, so two concurrent calls for one host make one proposal.
const queueLocks = new WeakMap<ToolDeps, Promise<unknown>>();

function serially<T>(deps: ToolDeps, fn: () => Promise<T>): Promise<T> {
  const next = (queueLocks.get(deps) ?? Promise.resolve()).then(fn, fn);
  queueLocks.set(deps, next.catch(() => undefined));
  return next;
}

// Queues a proposal (or reuses a pending one for the same host) and waits, bounded, for its decision.
async function propose(deps: ToolDeps, kind: ProposalKind, host: string, reason: string, extra: Extra): Promise<CallToolResult> {
  const { proposal, reused } = await serially(deps, async () => {
    const { proposals } = await readQueue(deps.queueDir);
    const pending = [];
    for (const p of proposals) if (!(await readDecision(deps.decisionsDir, p.id).catch(() => null))) pending.push(p);
    const current = await policyHash(deps.policyFile);
    const same = pending.find((p) => p.kind === kind && p.payload.host === host && !isStale(p, current));
    if (same) return { proposal: same, reused: true };
    if (pending.length >= (deps.maxPending ?? 20)) {
      throw new Error(`${pending.length} proposals are already waiting for the operator; call check_proposal on them before proposing more`);
    }
    const written = await writeProposal(deps.queueDir, { kind, host, reason }, { policyFile: deps.policyFile });
    deps.announce?.(written);
    return { proposal: written, reused: false };
  });
  const decision = await waitWithProgress(deps, proposal.id, extra);
  return result(describe(proposal.id, kind, proposal.payload.host, decision, reused));
}

// Sends MCP progress notifications while waiting, so clients that reset timeouts on progress stay patient.
async function waitWithProgress(deps: ToolDeps, id: string, extra: Extra): Promise<Decision | null> {
  const token = extra._meta?.progressToken;
  const started = Date.now();
  const tick = token === undefined ? undefined : setInterval(() => {
    // Progress must increase with each notification: elapsed milliseconds out of the wait.
    const elapsed = Date.now() - started;
    void extra.sendNotification({
      method: 'notifications/progress',
      params: { progressToken: token, progress: elapsed, total: deps.waitMs, message: `waiting for the operator (${Math.round(elapsed / 1000)} s)` },
    }).catch(() => undefined);
  }, deps.progressMs ?? 10_000);
  try {
    return await deps.watcher.wait(id, deps.waitMs, extra.signal);
  } finally {
    clearInterval(tick);
  }
}

// Registers the three tools on a (per-request) McpServer.
export function registerTools(server: McpServer, deps: ToolDeps): void {
  const waitNote = `Waits up to ${Math.round(deps.waitMs / 1000)} s for the operator's decision`;
  server.registerTool('propose_allowlist_change', {
    title: 'Ask the operator to allow a host',
    description: `Ask the operator to let the gateway reach a host that was blocked (403 "blocked: ..."). `
      + `Give the bare hostname (e.g. registry.example.com, or *.example.com) and why you need it. ${waitNote}; `
      + "if approved, retry; if rejected, follow the operator's note when there is one; if pending, call check_proposal later with the returned id.",
    inputSchema: { host: hostSchema('allowlist'), reason: reasonSchema },
    outputSchema: answerShape,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  }, async ({ host, reason }, extra) => propose(deps, 'allowlist', host, reason, extra));

  server.registerTool('propose_route_change', {
    title: 'Ask the operator for credentials on a host',
    description: 'Ask the operator to have the gateway add credentials (an auth header) to requests for a host. '
      + 'Name the exact hostname and why; you never see the credential, the operator picks it when approving. '
      + `${waitNote}; if approved, retry without credentials; if pending, call check_proposal later.`,
    inputSchema: { host: hostSchema('route'), reason: reasonSchema },
    outputSchema: answerShape,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  }, async ({ host, reason }, extra) => propose(deps, 'route', host, reason, extra));

  server.registerTool('check_proposal', {
    title: 'Check on a proposal',
    description: 'Return the current status (approved / rejected / pending) of a proposal made earlier, by its id, '
      + "with the operator's note when they left one (a rejection's note says what to do instead).",
    inputSchema: { id: z.string().regex(PROPOSAL_ID_RE, 'id must be a proposal id as returned by a propose_* tool') },
    outputSchema: answerShape,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, async ({ id }) => {
    const proposal = await readProposal(deps.queueDir, id);
    const decision = await deps.watcher.current(id);
    // The host may remove decided proposals from the queue; the decision alone still answers.
    if (!proposal && !decision) throw new Error(`no proposal with id ${id}; use the id returned by propose_allowlist_change or propose_route_change`);
    if (proposal?.kind === 'push') throw new Error(`${id} is a push held for operator review; its answer comes back to the waiting git push`);
    const kind = proposal?.kind ?? 'allowlist';
    return result(describe(id, kind, proposal?.payload.host ?? '(unknown host)', decision));
  });
}
