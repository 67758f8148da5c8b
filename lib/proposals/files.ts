// Reading and writing the proposal queue and the decisions directory. Every write is atomic
// (temp file + rename in the same directory) so a reader never sees half a JSON document.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { readFileNoFollow, UnsafeFileError } from '../fs-safe.js';
import { clip } from '../format.js';
import { hostBaseHash, policyHash } from './stale.js';
import {
  DecisionSchema, ProposalSchema, isProposalId, normalizeHost,
  normalizeReason, type Decision, type Proposal, type ProposalInput,
} from './types.js';

// A file in the queue or decisions dir that exists but is not a valid document. The reason can
// quote the file (JSON.parse does) and the bundle writes the queue: sanitized and clipped.
export class ProposalFileError extends Error {
  override name = 'ProposalFileError';
  readonly reason: string;
  constructor(readonly file: string, reason: string) {
    const shown = clip(reason, 300);
    super(`${file}: ${shown}`);
    this.reason = shown;
  }
}

// A proposal or decision is a few hundred bytes; the cap only has to stop abuse.
export const PROPOSAL_FILE_MAX = 64 * 1024;

// Last stamp this process used: two ids minted in one millisecond still sort in creation order.
let lastMs = 0;

// Time prefix (UTC, ms) keeps ids sortable by creation; the random tail keeps them unique.
export function mintProposalId(now: Date = new Date(), random: Buffer = randomBytes(6)): string {
  const ms = now.getTime() <= lastMs && now.getTime() > lastMs - 1000 ? lastMs + 1 : now.getTime();
  lastMs = Math.max(lastMs, ms);
  const stamp = new Date(ms).toISOString().replace(/[-:.]/g, ''); // 20260131T235959123Z
  return `${stamp}-${random.toString('hex').slice(0, 12).padEnd(12, '0')}`;
}

// Writes `value` as `<dir>/<name>` via a hidden temp file + rename (readers skip dotfiles).
export function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<string> {
  return writeFileAtomic(dir, name, `${JSON.stringify(value, null, 2)}\n`);
}

// Writes `text` as `<dir>/<name>` via a hidden temp file + rename.
export async function writeFileAtomic(dir: string, name: string, text: string): Promise<string> {
  const target = join(dir, name);
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return target;
}

// Clock and policy location, injectable for tests.
export interface WriteProposalOptions {
  now?: Date;
  /** Policy file whose hashes are recorded, so the host can tell a stale proposal (stale.ts). */
  policyFile?: string;
}

// Validates and queues one proposal; returns it as written. Throws on invalid input.
export async function writeProposal(queueDir: string, input: ProposalInput, opts: WriteProposalOptions = {}): Promise<Proposal> {
  const host = normalizeHost(input.host, input.kind);
  if (!host.ok) throw new Error(host.error);
  const reason = normalizeReason(input.reason);
  if (!reason.ok) throw new Error(reason.error);
  const now = opts.now ?? new Date();
  const current = await policyHash(opts.policyFile);
  const proposal: Proposal = {
    id: mintProposalId(now),
    kind: input.kind,
    payload: { host: host.host },
    reason: reason.reason,
    created: now.toISOString(),
    policyHash: current?.sha256 ?? null,
    ...(current?.policy ? { baseHash: hostBaseHash(current.policy, host.host) } : {}),
  };
  await mkdir(queueDir, { recursive: true });
  await writeJsonAtomic(queueDir, `${proposal.id}.json`, proposal);
  return proposal;
}

// The bundle writes the queue: a symlink it planted (to a host secret), a FIFO or a huge file
// is refused, never read.
async function readDoc<T>(file: string, parse: (v: unknown) => T): Promise<T | null> {
  let text: string;
  try {
    const read = readFileNoFollow(file, { maxBytes: PROPOSAL_FILE_MAX });
    if (!read) return null;
    text = read.data.toString('utf8');
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new ProposalFileError(file, e.reason);
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProposalFileError(file, `not JSON (${(e as Error).message})`);
  }
  return parse(json);
}

function parseWith<T extends { id: string }>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, file: string, id: string) {
  return (json: unknown): T => {
    const r = schema.safeParse(json);
    if (!r.success) {
      const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new ProposalFileError(file, why);
    }
    if (r.data.id !== id) throw new ProposalFileError(file, `id ${r.data.id} does not match the file name`);
    return r.data;
  };
}

function checkId(id: string): void {
  if (!isProposalId(id)) throw new Error(`not a proposal id: ${JSON.stringify(id)}`);
}

// One proposal by id, or null if it is not in the queue.
export async function readProposal(queueDir: string, id: string): Promise<Proposal | null> {
  checkId(id);
  const file = join(queueDir, `${id}.json`);
  return readDoc(file, parseWith<Proposal>(ProposalSchema, file, id));
}

// A bad file must not hide the good ones, nor vanish silently.
export interface QueueListing {
  /** Valid proposals, oldest first. */
  proposals: Proposal[];
  /** Files that could not be read as proposals; skipped, reported for the operator. */
  errors: ProposalFileError[];
}

// Everything in the queue dir, oldest first; a missing dir is an empty queue.
export async function readQueue(queueDir: string): Promise<QueueListing> {
  let names: string[];
  try {
    names = await readdir(queueDir);
  } catch (e) {
    if (isNotFound(e)) return { proposals: [], errors: [] };
    throw e;
  }
  const listing: QueueListing = { proposals: [], errors: [] };
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    const file = join(queueDir, name);
    const id = name.slice(0, -'.json'.length);
    try {
      if (!isProposalId(id)) throw new ProposalFileError(file, 'file name is not <proposal id>.json');
      const p = await readDoc(file, parseWith<Proposal>(ProposalSchema, file, id));
      if (p) listing.proposals.push(p);
    } catch (e) {
      listing.errors.push(e instanceof ProposalFileError ? e : new ProposalFileError(file, (e as Error).message));
    }
  }
  return listing;
}

// The decision for `id`, or null if none yet. Throws ProposalFileError if the file is malformed.
export async function readDecision(decisionsDir: string, id: string): Promise<Decision | null> {
  checkId(id);
  const file = join(decisionsDir, `${id}.json`);
  return readDoc(file, parseWith<Decision>(DecisionSchema, file, id));
}

// Records the operator's decision atomically (host side only; the bundle mounts this dir read-only).
export async function writeDecision(decisionsDir: string, decision: Decision): Promise<Decision> {
  const parsed = DecisionSchema.parse(decision);
  await mkdir(decisionsDir, { recursive: true });
  await writeJsonAtomic(decisionsDir, `${parsed.id}.json`, parsed);
  return parsed;
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}
