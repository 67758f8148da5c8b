// One bottle's policy file on disk: where it is, reading it, the lock that serialises host-side
// read-merge-write cycles, and the atomic write the bundle can see (SPEC §8).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { loadPolicy, PolicyError, type Policy } from '../policy/index.js';
import { type BottlePaths, withFileLock, writeFileAtomic } from '../state/index.js';

// The file the gateway reads, inside the bind-mounted policy/ dir.
export const POLICY_FILE_NAME = 'policy.yaml';

// <bottle>/policy/policy.yaml
export function policyFilePath(paths: BottlePaths): string {
  return join(paths.policy, POLICY_FILE_NAME);
}

// Outside the mounted dir, so the bundle sees nothing but the final rename.
export function policyLockPath(paths: BottlePaths): string {
  return join(paths.dir, 'policy.lock');
}

// The live policy as text and as loaded.
export interface PolicySnapshot {
  file: string;
  text: string;
  policy: Policy;
}

// Reads and validates the policy file; a missing or invalid file is a UserError with a fix.
export async function readPolicyFile(paths: BottlePaths): Promise<PolicySnapshot> {
  const file = policyFilePath(paths);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(`${file} does not exist, so there is no policy to change; the bottle's start writes it (format: lib/policy/load.ts)`);
    }
    throw e;
  }
  try {
    return { file, text, policy: loadPolicy(text, file) };
  } catch (e) {
    if (e instanceof PolicyError) throw new UserError(`the live policy is invalid: ${e.message}; fix it by hand (check with \`bottle policy check ${file}\`)`);
    throw e;
  }
}

// Waiting long enough for another operator's approval (which may exec into the bundle), and
// breaking only locks old enough to be from a crashed process.
const LOCK = { timeoutMs: 30_000, staleMs: 120_000 };

// Runs fn holding the bottle's policy lock: two approvals or edits never lose each other's update.
export function withPolicyLock<T>(paths: BottlePaths, fn: () => Promise<T>): Promise<T> {
  return withFileLock(policyLockPath(paths), fn, LOCK);
}

// Validates, then replaces the policy file by temp file + rename in the policy dir (the bundle
// bind-mounts the directory, so it sees the new inode). Keeps the file's mode.
export async function writePolicyFile(paths: BottlePaths, text: string): Promise<void> {
  const file = policyFilePath(paths);
  loadPolicy(text, file);
  const mode = await stat(file).then((s) => s.mode & 0o777, () => 0o644);
  await writeFileAtomic(file, text, { mode });
}
