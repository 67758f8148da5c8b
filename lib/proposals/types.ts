// The proposal and decision file formats shared by supervise (in the bundle, writes proposals)
// and the host side (dashboard / CLI, writes decisions). Schemas double as the TS types.
import { z } from 'zod';
import { UNSAFE_TEXT } from '../format.js';
import { parseIp } from '../policy/ip.js';

// What the agent asks for: reach a host (allowlist) or have the gateway inject credentials (route).
export const PROPOSAL_KINDS = ['allowlist', 'route'] as const;
export type ProposalKind = (typeof PROPOSAL_KINDS)[number];

// What the queue holds: the agent's proposals, and pushes git-gate holds for review (a manifest
// git remote with `review`). The agent never writes a `push`: only git-gate does.
export const QUEUE_KINDS = [...PROPOSAL_KINDS, 'push'] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

// Long enough to explain, short enough to read in the dashboard's proposals pane.
export const REASON_MAX = 500;

// Sortable (UTC time to the millisecond) and unique (48 random bits): 20260131T235959123Z-1a2b3c4d5e6f.
export const PROPOSAL_ID_RE = /^\d{8}T\d{9}Z-[0-9a-f]{12}$/;

// Ids become file names, so anything else (paths, dots) is refused before touching the disk.
export function isProposalId(id: string): boolean {
  return PROPOSAL_ID_RE.test(id);
}

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// Turns what the agent typed into the bare lowercase host the policy will hold, or explains
// what is wrong. What the operator is shown is exactly what approval applies: an IP literal in
// any spelling (`1.1`, `0x7f.1`) becomes its canonical address, and anything the policy could
// not take (a port, a private address) is refused here with the reason, not at approval.
// Only allowlist proposals may use a leading `*.` wildcard (routes inject secrets: exact hosts only).
export function normalizeHost(input: string, kind: ProposalKind): { ok: true; host: string } | { ok: false; error: string } {
  const raw = input.trim().toLowerCase();
  const bad = (why: string) => ({ ok: false as const, error: `host ${JSON.stringify(input)} ${why}; give a bare hostname such as api.example.com` });
  if (raw === '') return bad('is empty');
  if (raw.includes('://')) return bad('has a scheme');
  if (/[/?#\\]/.test(raw)) return bad('has a path, query or fragment');
  if (raw.includes('@')) return bad('has credentials');
  if (/\s/.test(raw)) return bad('contains whitespace');
  if (raw.startsWith('[')) return bad('is an IPv6 literal (not supported)');
  if (raw.includes(':')) return bad('has a port (the policy names hosts: an allowed host is allowed on its ports, a route injects on 443)');
  let name = raw;
  if (name.endsWith('.')) name = name.slice(0, -1);
  const ip = parseIp(name);
  if (ip) {
    if (ip.forbidden) return bad(`is ${ip.canonical}, in a range the gateway never reaches (${ip.forbidden})`);
    return { ok: true, host: ip.canonical };
  }
  let wildcard = '';
  if (name.startsWith('*.')) {
    if (kind !== 'allowlist') return bad('is a wildcard (routes need an exact host)');
    wildcard = '*.';
    name = name.slice(2);
  }
  if (name.length > 253) return bad('is longer than 253 characters');
  const labels = name.split('.');
  if (labels.length < 2) return bad('is not a fully qualified name');
  if (!labels.every((l) => LABEL_RE.test(l))) return bad('is not a valid hostname');
  return { ok: true, host: `${wildcard}${name}` };
}

// The agent's reason as the operator will read it: one trimmed line of plain text, 1..500 chars.
export function normalizeReason(input: string): { ok: true; reason: string } | { ok: false; error: string } {
  const reason = input.replace(/[\t\r\n]+/g, ' ').trim();
  if (reason === '') return { ok: false, error: 'reason must not be empty' };
  if (reason.length > REASON_MAX) return { ok: false, error: `reason must be at most ${REASON_MAX} characters` };
  if (UNSAFE_TEXT.test(reason)) return { ok: false, error: 'reason must be plain text (no control or bidi characters)' };
  return { ok: true, reason };
}

const SHA = z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/);
const SHORT_TEXT = z.string().max(300);

// Caps of what a held push shows (the full diff is in `<id>.diff` beside the proposal, cut at
// PUSH_DIFF_MAX bytes: the scan was not cut, only what the operator reads).
export const PUSH_MAX_REFS = 50;
export const PUSH_MAX_COMMITS = 50;
export const PUSH_DIFF_MAX = 8 * 1024 * 1024;
// How long a push waits for review when the manifest says only `review: true`.
export const DEFAULT_REVIEW_HOLD_MS = 10 * 60_000;

// A push git-gate holds for the operator: what would leave, as the gate scanned it.
export const PushSchema = z.object({
  /** The git remote (the manifest's name) and where the gate forwards it. */
  repo: z.string().min(1).max(100),
  upstream: z.string().min(1).max(1000),
  refs: z.array(z.object({ ref: z.string().min(1).max(1000), old: SHA, new: SHA })).min(1).max(PUSH_MAX_REFS),
  /** New commits, newest first, the first PUSH_MAX_COMMITS of `commitCount`. */
  commits: z.array(z.object({ sha: SHA, author: SHORT_TEXT, subject: SHORT_TEXT })).max(PUSH_MAX_COMMITS),
  commitCount: z.number().int().nonnegative(),
  stat: z.object({ files: z.number().int().nonnegative(), insertions: z.number().int().nonnegative(), deletions: z.number().int().nonnegative() }),
  /** The secret scan passed (a push with findings is rejected before it is ever held). */
  scan: z.object({ findings: z.literal(0), commits: z.number().int().nonnegative(), objects: z.number().int().nonnegative() }),
  /** Bytes in `<id>.diff`; `truncated`: the diff was cut there (the scan was not). */
  diffBytes: z.number().int().nonnegative(),
  truncated: z.boolean(),
  /** When the gate stops waiting and rejects the push. */
  holdUntil: z.string().datetime(),
});
export type PushReview = z.infer<typeof PushSchema>;

// Validates a queue file; the inferred type below is the file format.
export const ProposalSchema = z.object({
  id: z.string().regex(PROPOSAL_ID_RE),
  kind: z.enum(QUEUE_KINDS),
  /** `host`: the host asked for; for a push, the git remote's name. */
  payload: z.object({ host: z.string().min(1), push: PushSchema.optional() }),
  reason: z.string().min(1).max(REASON_MAX),
  created: z.string().datetime(),
  policyHash: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  /** sha256 of the part of the policy the host depends on (stale.ts); absent from older bundles. */
  baseHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
}).refine((p) => (p.kind === 'push') === (p.payload.push !== undefined), { message: 'payload.push is present exactly when kind is push', path: ['payload', 'push'] });
// One queued request from the agent; `policyHash` and `baseHash` let the host flag it stale if
// the policy moved on where it concerns the proposal's host.
export type Proposal = z.infer<typeof ProposalSchema>;

// The longest operator note a decision file holds (`--note`, the dashboard's `r` note).
export const NOTE_MAX = 2000;

// Validates a decision file (host side writes it with writeDecision).
export const DecisionSchema = z.object({
  id: z.string().regex(PROPOSAL_ID_RE),
  decision: z.enum(['approved', 'rejected']),
  decided: z.string().datetime(),
  note: z.string().max(NOTE_MAX).optional(),
  stale: z.boolean().optional(),
  /** Approved by a manifest `supervise.auto_approve` rule, not by a person: the rule that matched. */
  auto: z.object({ rule: z.string().min(1).max(300) }).optional(),
});
// The operator's answer to one proposal; written only by the host side.
export type Decision = z.infer<typeof DecisionSchema>;

// How much of the operator's note reaches the agent: enough for "use the internal mirror at …",
// short enough that a pasted log cannot flood the agent's context.
export const AGENT_NOTE_MAX = 500;

const CONTROL_OR_BIDI = new RegExp(UNSAFE_TEXT.source, 'g');

// The operator's note as the agent is shown it: one line (line breaks and tabs become spaces,
// other control and bidi characters are dropped), trimmed, at most AGENT_NOTE_MAX characters
// ending in an ellipsis when cut; undefined when nothing is left.
export function noteForAgent(note: string | undefined): string | undefined {
  if (note === undefined) return undefined;
  const text = note.replace(/[\t\n\r\v\f\u0085\u2028\u2029]+/g, ' ').replace(CONTROL_OR_BIDI, '').replace(/ {2,}/g, ' ').trim();
  if (text === '') return undefined;
  return text.length > AGENT_NOTE_MAX ? `${text.slice(0, AGENT_NOTE_MAX - 1).trimEnd()}…` : text;
}

// What the agent learns when it asks about a proposal.
export type ProposalStatus = 'approved' | 'rejected' | 'pending';

// The fields a proposer supplies; id, created and policyHash are minted by writeProposal.
export interface ProposalInput {
  kind: ProposalKind;
  host: string;
  reason: string;
}
