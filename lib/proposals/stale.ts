// When a proposal is stale: the policy changed since it was made in a way that concerns its
// host. A proposal records the policy file's sha256 and a hash of only the part of the policy
// its host depends on, so approving one proposal does not mark every other one stale.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadPolicy, patternsOverlap, PolicyError, type Policy } from '../policy/index.js';
import type { Proposal } from './types.js';

// The live policy as proposals are judged against it: the file's sha256 (what a proposal
// records as `policyHash`) and what the file means (null when it does not load).
export interface PolicyHash {
  sha256: string;
  policy: Policy | null;
}

// The policy file's hash and meaning, or null when there is no policy file (yet).
export async function policyHash(file: string | undefined): Promise<PolicyHash | null> {
  if (!file) return null;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
    throw e;
  }
  let policy: Policy | null = null;
  try {
    policy = loadPolicy(bytes.toString('utf8'), file);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
  }
  return { sha256: createHash('sha256').update(bytes).digest('hex'), policy };
}

// sha256 of what `policy` says about `host` (a proposal's host, maybe `*.domain`): every allow,
// block and passthrough entry and route that can match a host it names, and the model route if
// it is one. A change anywhere else (another host, limits, dlp) leaves it equal.
export function hostBaseHash(policy: Policy, host: string): string {
  const touches = (pattern: string) => patternsOverlap(pattern, host);
  const entries = (list: string[]) => list.filter(touches).sort();
  const part = {
    allow: entries(policy.allow),
    block: entries(policy.block),
    passthrough: entries(policy.passthrough),
    routes: policy.routes.filter((r) => touches(r.host)).sort((a, b) => (a.host < b.host ? -1 : 1)).map((r) => ({
      host: r.host, port: r.port ?? null, headers: Object.keys(r.headers).sort().map((k) => [k.toLowerCase(), r.headers[k]]),
    })),
    model: policy.model && touches(policy.model.host) ? { ...policy.model, paths: [...policy.model.paths].sort() } : null,
  };
  return createHash('sha256').update(JSON.stringify(part)).digest('hex');
}

// Stale when the policy moved on since the proposal and, where both are known, what it says
// about the proposal's host changed (a proposal without `baseHash`, from an older bundle, or a
// policy that does not load: any change counts).
export function isStale(proposal: Proposal, current: PolicyHash | null): boolean {
  if (proposal.kind === 'push') return false; // a held push does not depend on the policy
  if (proposal.policyHash === (current?.sha256 ?? null)) return false;
  if (proposal.baseHash === undefined || !current?.policy) return true;
  return hostBaseHash(current.policy, proposal.payload.host) !== proposal.baseHash;
}
