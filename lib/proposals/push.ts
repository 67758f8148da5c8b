// The host side of a push held for review (git-gate's review.ts writes it): the lines the popup,
// the dashboard and `bottle proposals show` print about it, and its diff, read as the untrusted
// file it is (the bundle writes the queue) and made safe for the operator's terminal.
import { join } from 'node:path';
import { readFileNoFollow, UnsafeFileError } from '../fs-safe.js';
import { formatAge, sanitize } from '../format.js';
import { UserError } from '../errors.js';
import { PUSH_DIFF_MAX, type Proposal, type PushReview } from './types.js';

const ZERO = /^0+$/;
const short = (sha: string): string => sha.slice(0, 7);
const count = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

function refLine(r: PushReview['refs'][number]): string {
  if (ZERO.test(r.new)) return `${r.ref}  delete (was ${short(r.old)})`;
  if (ZERO.test(r.old)) return `${r.ref}  new at ${short(r.new)}`;
  return `${r.ref}  ${short(r.old)} -> ${short(r.new)}`;
}

// What a held push would send, as labelled lines (sanitised: the agent wrote the messages).
export function pushLines(push: PushReview, now = Date.now()): string[] {
  const left = Date.parse(push.holdUntil) - now;
  const commits = push.commits.map((c) => `    ${short(c.sha)} ${c.subject} (${c.author})`);
  if (push.commitCount > push.commits.length) commits.push(`    ... and ${push.commitCount - push.commits.length} more`);
  return [
    `push to ${push.repo} (${push.upstream})`,
    ...push.refs.map((r, i) => `  ${(i === 0 ? 'refs' : '').padEnd(10)}${refLine(r)}`),
    `  commits   ${push.commitCount} new`,
    ...commits,
    `  changes   ${count(push.stat.files, 'file')}, +${push.stat.insertions} -${push.stat.deletions}`,
    `  scan      clean (${count(push.scan.commits, 'commit')}, ${count(push.scan.objects, 'object')} scanned)`,
    `  hold      ${left > 0 ? `refused unless approved within ${formatAge(new Date(now - left).toISOString(), now)}` : 'ran out: the push was refused'}`,
  ].map(sanitize);
}

const UNSAFE_DIFF = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

// The held push's diff as text safe to print (tabs and newlines kept; other control and bidi
// characters shown as `?`). A missing diff is one UserError line.
export function readPushDiff(queueDir: string, proposal: Proposal): string {
  const file = join(queueDir, `${proposal.id}.diff`);
  let read;
  try {
    read = readFileNoFollow(file, { maxBytes: PUSH_DIFF_MAX + 64 * 1024 });
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new UserError(`cannot show ${proposal.id}'s diff: ${e.message}`);
    throw e;
  }
  if (!read) throw new UserError(`${proposal.id}'s diff is gone (${file}); the push is no longer held`);
  return read.data.toString('utf8').replace(UNSAFE_DIFF, '?');
}
