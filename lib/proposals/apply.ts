// The host side of proposals (SPEC §8): find them across bottles, approve (merge into the live
// policy, hand the gateway new route secrets, reload, then record the decision) or reject.
// planApproval is the pure core; approve/reject are the thin I/O around it.
import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { diffPolicies, requireEnv } from '../policy-edit/diff.js';
import { policyFilePath, readPolicyFile, withPolicyLock, writePolicyFile, type PolicySnapshot } from '../policy-edit/store.js';
import { rewritePolicy } from '../policy-edit/text.js';
import {
  addAllow, addRoute, policyHash as meaningHash, PolicyError, publicSuffixWildcardProblem, routeEnvNames, type Policy,
} from '../policy/index.js';
import { type BottlePaths, bottlePaths, listBottles, validateSlug } from '../state/index.js';
import type { BundleControl } from './control.js';
import { ProposalFileError, readDecision, readProposal, readQueue, writeDecision } from './files.js';
import { isStale, policyHash } from './stale.js';
import { isProposalId, normalizeHost, NOTE_MAX, type Decision, type Proposal, type PushReview } from './types.js';

// What the operator adds when approving: route headers (templates over host env var names).
export interface ApproveOptions {
  headers?: Record<string, string>;
  note?: string;
  now?: Date;
  /** A time-boxed grant (allowlist proposals): ISO 8601 instant or "stop" (parseGrantFor). */
  until?: string;
  /** Approved by a manifest auto_approve rule (auto.ts), recorded in the decision. */
  auto?: { rule: string };
}

// The merge an approval makes, computed without touching disk or the bundle.
export interface ApprovalPlan {
  next: Policy;
  /** Text to write; equals the current text when nothing changes. */
  text: string;
  changed: boolean;
  /** `+ allow example.com`-style lines. */
  summary: string[];
  /** Env var names whose values the gateway must be handed (route approvals). */
  secrets: string[];
}

// Merges one proposal into the current policy. Throws UserError for anything the operator must
// fix (missing headers, unset env var, blocked host) and for what is never granted (a wildcard
// over a public suffix), naming variables but never their values. The CLI and the dashboard
// both approve through here. `until` makes an allowlist grant time-boxed (grants.ts).
export function planApproval(proposal: Proposal, current: PolicySnapshot, headers: Record<string, string> | undefined, env: NodeJS.ProcessEnv, until?: string): ApprovalPlan {
  if (proposal.kind === 'push') throw new UserError(`proposal ${proposal.id} is a push held for review; it changes no policy`);
  const host = normalizeHost(proposal.payload.host, proposal.kind);
  if (!host.ok) throw new UserError(`proposal ${proposal.id} is malformed (${host.error}); reject it with \`bottle proposals reject ${proposal.id}\``);
  const wide = publicSuffixWildcardProblem(host.host);
  if (wide) {
    throw new UserError(`cannot approve ${proposal.id}: ${wide}; reject it with a note asking for the exact host: bottle proposals reject ${proposal.id} --note 'name the exact host you need'`);
  }
  const given = headers && Object.keys(headers).length > 0 ? headers : undefined;
  let next: Policy;
  let secrets: string[] = [];
  try {
    if (proposal.kind === 'allowlist') {
      if (given) throw new UserError(`proposal ${proposal.id} asks to allow ${host.host}; --header applies to route proposals only`);
      next = addAllow(current.policy, host.host, until);
    } else {
      if (until !== undefined) throw new UserError(`proposal ${proposal.id} asks for a route to ${host.host}; --for applies to allowlist proposals only (routes are permanent until removed)`);
      if (!given) {
        throw new UserError(
          `route proposal ${proposal.id} for ${host.host} needs the header(s) the gateway should inject, naming host env vars: ` +
          `pass --header 'Authorization=Bearer \${GITHUB_TOKEN}' (single quotes, so your shell does not expand the variable)`,
        );
      }
      secrets = routeEnvNames({ host: host.host, headers: given });
      requireEnv(secrets, env, `route ${host.host}`);
      next = addRoute(current.policy, host.host, given);
    }
  } catch (e) {
    if (e instanceof PolicyError) throw new UserError(`cannot approve ${proposal.id}: ${e.message}`);
    throw e;
  }
  const changed = meaningHash(next) !== meaningHash(current.policy);
  return {
    next,
    text: changed ? rewritePolicy(current.text, next) : current.text,
    changed,
    summary: diffPolicies(current.policy, next),
    secrets: [...secrets].sort(),
  };
}

// What an approval did, for the CLI's text and JSON output and the dashboard.
export interface ApproveResult {
  slug: string;
  proposal: Proposal;
  decision: Decision;
  /** The policy changed between the proposal and the approval (applied against the current one). */
  stale: boolean;
  /** The policy file was rewritten (false when the host was already allowed/routed that way). */
  changed: boolean;
  summary: string[];
  secrets: string[];
  /** The running bundle was reloaded (false: the change applies at next start). */
  live: boolean;
}

function slugOf(paths: BottlePaths): string {
  return basename(paths.dir);
}

function checkNote(note: string | undefined): void {
  if (note !== undefined && note.length > NOTE_MAX) throw new UserError(`--note is ${note.length} characters; keep it under ${NOTE_MAX}`);
}

async function loadUndecided(paths: BottlePaths, id: string): Promise<Proposal> {
  const slug = slugOf(paths);
  if (!isProposalId(id)) throw new UserError(`not a proposal id: ${JSON.stringify(id)}; run \`bottle proposals\` to see pending ones`);
  let proposal: Proposal | null;
  let decision: Decision | null;
  try {
    proposal = await readProposal(paths.superviseQueue, id);
    decision = proposal && (await readDecision(paths.superviseDecisions, id));
  } catch (e) {
    if (e instanceof ProposalFileError) throw new UserError(`unreadable proposal file ${e.message}`);
    throw e;
  }
  if (!proposal) throw new UserError(`no proposal ${id} in ${slug}'s queue; run \`bottle proposals --all\` to see them`);
  if (decision) {
    throw new UserError(`proposal ${id} was already ${decision.decision} at ${decision.decided}${decision.note ? ` (${decision.note})` : ''}; nothing changed`);
  }
  return proposal;
}

// Approves one proposal under the bottle's policy lock: validate, write the policy (atomic
// rename in the policy dir), provide new route secrets, reload, and only THEN write the
// decision, so an agent woken by the decision finds the new policy live.
export async function approve(paths: BottlePaths, id: string, opts: ApproveOptions, control: BundleControl, env: NodeJS.ProcessEnv): Promise<ApproveResult> {
  const slug = slugOf(paths);
  checkNote(opts.note);
  return withPolicyLock(paths, async () => {
    const proposal = await loadUndecided(paths, id);
    if (proposal.kind === 'push') return approvePush(paths, proposal, opts, control);
    const stale = isStale(proposal, await policyHash(policyFilePath(paths)));
    const current = await readPolicyFile(paths);
    const plan = planApproval(proposal, current, opts.headers, env, opts.until);
    if (plan.changed) await writePolicyFile(paths, plan.text);
    try {
      if (plan.secrets.length > 0) await control.provideSecrets(slug, plan.secrets, env);
      await control.reload(slug);
    } catch (e) {
      throw new UserError(
        `the policy file ${current.file} was updated, but ${slug}'s bundle was not (${(e as Error).message}); ` +
        `the proposal is still pending: run \`bottle proposals approve ${id}\` again to retry`,
      );
    }
    const decision = await writeDecision(paths.superviseDecisions, {
      id, decision: 'approved', decided: (opts.now ?? new Date()).toISOString(), stale,
      ...(opts.note ? { note: opts.note } : {}), ...(opts.auto ? { auto: opts.auto } : {}),
    });
    await deliver(control, slug, id);
    return { slug, proposal, decision, stale, changed: plan.changed, summary: plan.summary, secrets: plan.secrets, live: control.live };
  });
}

// A held push (git-gate's review): the decision is the whole approval; git-gate, waiting on it,
// forwards the push. Nothing in the policy changes, nothing is reloaded.
async function approvePush(paths: BottlePaths, proposal: Proposal, opts: ApproveOptions, control: BundleControl): Promise<ApproveResult> {
  const { id } = proposal;
  if (opts.headers && Object.keys(opts.headers).length > 0) throw new UserError(`proposal ${id} is a push held for review; --header applies to route proposals only`);
  if (opts.until !== undefined) throw new UserError(`proposal ${id} is a push held for review; --for applies to allowlist proposals only`);
  const now = opts.now ?? new Date();
  const push = proposal.payload.push!;
  if (Date.parse(push.holdUntil) <= now.getTime()) {
    throw new UserError(`push ${id} was held until ${push.holdUntil}; git-gate has refused it since, and the agent must push again`);
  }
  const decision = await writeDecision(paths.superviseDecisions, {
    id, decision: 'approved', decided: now.toISOString(), ...(opts.note ? { note: opts.note } : {}),
  });
  await deliver(control, slugOf(paths), id);
  return {
    slug: slugOf(paths), proposal, decision, stale: false, changed: false,
    summary: [`forward the push to ${push.repo}`], secrets: [], live: true,
  };
}

// Rejects one proposal: a decision only, the policy is untouched (under the same lock, so an
// approval and a rejection of one proposal cannot both land).
export async function reject(paths: BottlePaths, id: string, control: BundleControl, note?: string, now: Date = new Date()): Promise<Decision> {
  checkNote(note);
  return withPolicyLock(paths, async () => {
    const proposal = await loadUndecided(paths, id);
    const stale = isStale(proposal, await policyHash(policyFilePath(paths)));
    const decision = await writeDecision(paths.superviseDecisions, {
      id, decision: 'rejected', decided: now.toISOString(), stale, ...(note ? { note } : {}),
    });
    await deliver(control, slugOf(paths), id);
    return decision;
  });
}

// Hands a decision just written on the host to the running bundle (where the agent waits on it).
// The host file is the record: a bundle that cannot be told now is given it when it next starts.
async function deliver(control: BundleControl, slug: string, id: string): Promise<void> {
  if (!control.deliverDecision) return;
  try {
    await control.deliverDecision(slug, id);
  } catch (e) {
    throw new UserError(`the decision on ${id} is recorded, but ${slug}'s bundle was not told (${(e as Error).message}); it gets it when ${slug} next starts`);
  }
}

// One proposal as listed: where it is, what it asks, and where it stands.
export interface ProposalRow {
  id: string;
  slug: string;
  kind: Proposal['kind'];
  host: string;
  reason: string;
  created: string;
  status: 'pending' | 'approved' | 'rejected';
  /** Pending: the policy changed since; decided: it had when the decision was made. */
  stale: boolean;
  decided?: string;
  note?: string;
  /** Approved by this manifest auto_approve rule rather than by a person. */
  auto?: { rule: string };
  /** A push held for review: what it would send (kind push only). */
  push?: PushReview;
}

// Rows plus the files and bottles that could not be read (reported, never hidden).
export interface ProposalListing {
  rows: ProposalRow[];
  problems: string[];
}

// Proposals across every bottle in state (or one), oldest first: pending and auto-approved ones
// (an approval nobody saw is always listed), every decided one with `all`.
export async function listProposals(root: string, opts: { slug?: string; all?: boolean } = {}): Promise<ProposalListing> {
  const listing: ProposalListing = { rows: [], problems: [] };
  for (const b of await bottlesIn(root, opts.slug)) {
    if (!b.ok) {
      listing.problems.push(`${b.slug}: ${b.error}`);
      continue;
    }
    const { proposals, errors } = await readQueue(b.paths.superviseQueue);
    listing.problems.push(...errors.map((e) => e.message));
    const hash = await policyHash(policyFilePath(b.paths));
    for (const p of proposals) {
      let d: Decision | null = null;
      try {
        d = await readDecision(b.paths.superviseDecisions, p.id);
      } catch (e) {
        listing.problems.push((e as Error).message);
      }
      if (d && !d.auto && !opts.all) continue;
      listing.rows.push({
        id: p.id, slug: b.slug, kind: p.kind, host: p.payload.host, reason: p.reason, created: p.created,
        status: d ? d.decision : 'pending', stale: d ? d.stale === true : isStale(p, hash),
        ...(d ? { decided: d.decided } : {}), ...(d?.note ? { note: d.note } : {}), ...(d?.auto ? { auto: d.auto } : {}),
        ...(p.payload.push ? { push: p.payload.push } : {}),
      });
    }
  }
  listing.rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return listing;
}

async function bottlesIn(root: string, slug: string | undefined) {
  const all = await listBottles(root);
  if (slug === undefined) return all;
  validateSlug(slug);
  const one = all.filter((b) => b.slug === slug);
  if (one.length === 0) throw new UserError(`no bottle ${slug} under ${root}; run \`bottle ls\` to see existing bottles`);
  return one;
}

// A proposal located by id: its bottle's paths and the proposal itself.
export interface FoundProposal {
  slug: string;
  paths: BottlePaths;
  proposal: Proposal;
}

// Shortest query accepted as a prefix (ids start with a timestamp, so short ones collide).
export const MIN_ID_PREFIX = 4;

// Finds a proposal in any bottle's queue by full id, or an unambiguous prefix of the id or of
// its random part (the hex after the '-'). Decided proposals are found too.
export async function findProposal(root: string, query: string): Promise<FoundProposal> {
  const q = query.trim().toLowerCase();
  if (q.length < MIN_ID_PREFIX) throw new UserError(`proposal id ${JSON.stringify(query)} is too short: give at least ${MIN_ID_PREFIX} characters (see \`bottle proposals\`)`);
  const matches: FoundProposal[] = [];
  for (const b of await listBottles(root)) {
    if (!b.ok) continue;
    for (const p of (await readQueue(b.paths.superviseQueue)).proposals) {
      const id = p.id.toLowerCase();
      if (id === q) return { slug: b.slug, paths: bottlePaths(root, b.slug), proposal: p };
      if (id.startsWith(q) || (id.split('-')[1] ?? '').startsWith(q)) matches.push({ slug: b.slug, paths: b.paths, proposal: p });
    }
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UserError(`no proposal matches ${JSON.stringify(query)}; run \`bottle proposals\` to see pending ones (--all for decided ones)`);
  const shown = matches.slice(0, 5).map((m) => `${m.proposal.id} (${m.slug})`).join(', ');
  throw new UserError(`${matches.length} proposals match ${JSON.stringify(query)}: ${shown}${matches.length > 5 ? ', ...' : ''}; give more of the id`);
}
