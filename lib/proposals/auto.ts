// Pre-approval (manifest `supervise.auto_approve`): the operator's standing answer for allowlist
// proposals to hosts they named. It runs on the host, through approve() itself, so the policy
// write, the gateway reload and the decision file are exactly those of a human approval; the
// decision records the rule, and the bottle's events file and every listing show it. Route
// proposals (credential injection) are never approved here.
import { readFileSync } from 'node:fs';
import { appendFileNoFollow } from '../fs-safe.js';
import { autoApproveProblem } from '../manifest/supervise.js';
import { parseIp } from '../policy/ip.js';
import { type BottlePaths, listBottles, type Metadata } from '../state/index.js';
import { approve, type ApproveResult } from './apply.js';
import type { BundleControl, ControlChoice } from './control.js';
import { readDecision, readQueue } from './files.js';
import type { Proposal } from './types.js';

// The rule of `rules` that pre-approves `proposal`, or undefined. Pure. An exact rule matches
// that host; `*.d` matches d, its subdomains and wildcards inside it (`*.a.d`), like a policy
// allow entry. Route proposals, `*` and rules spanning a public suffix never match (the
// manifest check refuses those rules; a hand-edited launch.json does not bring them back).
export function matchAutoApprove(proposal: Pick<Proposal, 'kind' | 'payload'>, rules: readonly string[]): string | undefined {
  if (proposal.kind !== 'allowlist') return undefined;
  const host = proposal.payload.host;
  const wild = host.startsWith('*.');
  const name = wild ? host.slice(2) : host;
  const usable = rules.filter((r) => autoApproveProblem(r) === undefined);
  if (!wild && usable.includes(host)) return host;
  if (parseIp(name)) return undefined;
  return usable.find((r) => r.startsWith('*.') && (name === r.slice(2) || name.endsWith(r.slice(1))));
}

// The rules a bottle was started with (launch.json: the plan's autoApprove); none when it has no
// launch.json or names none. Rules are fixed at start, like the rest of the bottle's definition.
export function autoApproveRules(paths: BottlePaths): string[] {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(paths.launchSpec, 'utf8'));
  } catch {
    return [];
  }
  const rules = (spec as { plan?: { autoApprove?: unknown } } | null)?.plan?.autoApprove;
  return Array.isArray(rules) ? rules.filter((r): r is string => typeof r === 'string') : [];
}

// One proposal a sweep acted on: approved (`result`), or matched but left pending (`error`).
export interface AutoApproval {
  slug: string;
  proposal: Proposal;
  rule: string;
  result?: ApproveResult;
  error?: string;
  /** The bundle control's note (not running: the change applies at next start). */
  warning?: string;
}

// The line appended to the bottle's events file for each auto-approval.
export interface AutoApprovedEvent {
  type: 'proposal-auto-approved';
  time: string;
  origin: 'host';
  id: string;
  host: string;
  rule: string;
}

// How a sweep reaches a bottle's bundle; asked only when something is to be approved.
export type ControlFor = (meta: Metadata) => Promise<ControlChoice>;

// Approves every pending proposal of one bottle that its rules match. A proposal decided
// meanwhile (another dashboard, the CLI) is skipped; one approve() refuses (a blocked host) or
// fails on (the bundle cannot be reloaded) stays pending for the operator, reported with the reason.
export async function autoApproveBottle(paths: BottlePaths, meta: Metadata, controlFor: ControlFor, now: () => Date = () => new Date()): Promise<AutoApproval[]> {
  const rules = autoApproveRules(paths);
  if (rules.length === 0) return [];
  const out: AutoApproval[] = [];
  let choice: ControlChoice | undefined;
  for (const proposal of (await readQueue(paths.superviseQueue)).proposals) {
    const rule = matchAutoApprove(proposal, rules);
    if (!rule || (await decided(paths, proposal.id))) continue;
    choice ??= await controlFor(meta);
    const base = { slug: meta.slug, proposal, rule, ...(choice.warning ? { warning: choice.warning } : {}) };
    try {
      const result = await approve(paths, proposal.id, { auto: { rule }, now: now() }, choice.control, {});
      out.push({ ...base, result });
      await logAutoApproval(paths, meta.slug, choice.control, { type: 'proposal-auto-approved', time: result.decision.decided, origin: 'host', id: proposal.id, host: proposal.payload.host, rule });
    } catch (e) {
      if (await decided(paths, proposal.id)) continue;
      out.push({ ...base, error: (e as Error).message });
    }
  }
  return out;
}

// The same over every bottle in state (or one slug), for the CLI and the dashboard.
export async function autoApproveAll(root: string, controlFor: ControlFor, slug?: string): Promise<AutoApproval[]> {
  const out: AutoApproval[] = [];
  for (const b of await listBottles(root)) {
    if (!b.ok || (slug !== undefined && b.slug !== slug)) continue;
    out.push(...(await autoApproveBottle(b.paths, b.metadata, controlFor)));
  }
  return out;
}

// The one-line account of an auto-approval for a terminal or a status line.
export function describeAutoApproval(a: AutoApproval): string {
  const what = `${a.proposal.kind} ${a.proposal.payload.host} for ${a.slug} (auto_approve rule ${a.rule})`;
  if (a.error) return `${a.proposal.id} matches auto_approve rule ${a.rule} but stays pending: ${a.error}`;
  const r = a.result!;
  return `auto-approved ${what}: ${r.changed ? r.summary.join(', ') : 'already in the policy'}${r.live ? '; reloaded' : ''}`;
}

async function decided(paths: BottlePaths, id: string): Promise<boolean> {
  return (await readDecision(paths.superviseDecisions, id).catch(() => null)) !== null;
}

// Best effort: the decision file is the record. A bundle that keeps its own events file gets the
// line there (the host's copy mirrors it); otherwise it is appended to the host's file, where a
// planted symlink or FIFO is not written through.
async function logAutoApproval(paths: BottlePaths, slug: string, control: BundleControl, ev: AutoApprovedEvent): Promise<void> {
  const line = JSON.stringify(ev);
  if (control.appendEvent) {
    await control.appendEvent(slug, line).catch(() => undefined);
    return;
  }
  try {
    appendFileNoFollow(paths.eventsFile, `${line}\n`);
  } catch { /* events dir gone or unsafe */ }
}
