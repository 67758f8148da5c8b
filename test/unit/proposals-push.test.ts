// The host side of a held push (lib/proposals/push.ts): the lines every screen prints about it,
// made safe from what the agent wrote (subjects, authors), and its diff, read as the untrusted
// file the bundle could tamper with.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { UserError } from '../../lib/errors.js';
import { pushLines, readPushDiff } from '../../lib/proposals/index.js';
import { PUSH_DIFF, samplePush, writePushProposal } from '../helpers/push-proposal.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const Z = '0'.repeat(40);

function tmp(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-push-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('pushLines: where it goes, each ref, the commits (capped), the stat, the scan, the hold', async (t) => {
  const push = samplePush({
    refs: [
      { ref: 'refs/heads/main', old: '1'.repeat(40), new: 'a'.repeat(40) },
      { ref: 'refs/heads/topic', old: Z, new: 'b'.repeat(40) },
      { ref: 'refs/tags/old', old: 'c'.repeat(40), new: Z },
    ],
    commits: [{ sha: 'a'.repeat(40), author: 'agent <agent@bottle>', subject: 'change a' }, { sha: 'b'.repeat(40), author: 'agent <agent@bottle>', subject: 'add b' }],
    commitCount: 5,
    stat: { files: 3, insertions: 12, deletions: 4 },
    scan: { findings: 0, commits: 5, objects: 9 },
  }, now);
  t.same(pushLines(push, now.getTime()), [
    'push to origin (git@github.com:acme/app.git)',
    '  refs      refs/heads/main  1111111 -> aaaaaaa',
    '            refs/heads/topic  new at bbbbbbb',
    '            refs/tags/old  delete (was ccccccc)',
    '  commits   5 new',
    '    aaaaaaa change a (agent <agent@bottle>)',
    '    bbbbbbb add b (agent <agent@bottle>)',
    '    ... and 3 more',
    '  changes   3 files, +12 -4',
    '  scan      clean (5 commits, 9 objects scanned)',
    '  hold      refused unless approved within 1h',
  ]);
  const one = pushLines(samplePush({ scan: { findings: 0, commits: 1, objects: 1 } }, now), now.getTime() + 90_000);
  t.equal(one.find((l) => l.startsWith('  changes')), '  changes   1 file, +1 -1', 'one file');
  t.equal(one.find((l) => l.startsWith('  scan')), '  scan      clean (1 commit, 1 object scanned)', 'one commit, one object');
  t.equal(one.at(-1), '  hold      refused unless approved within 58m', 'the time left');
  t.equal(pushLines(push, Date.parse(push.holdUntil)).at(-1), '  hold      ran out: the push was refused');
});

t.test('pushLines: agent-written subjects and authors cannot reach the terminal raw (control and bidi characters)', async (t) => {
  const push = samplePush({
    commits: [{ sha: 'a'.repeat(40), author: 'ev\u001b[31mil\u009b <e@x>', subject: 'fix\u202etxt.exe\u0007 bell\r\nInjected:\u2066 line' }],
    refs: [{ ref: 'refs/heads/\u001b]0;pwned\u0007x', old: '1'.repeat(40), new: 'a'.repeat(40) }],
  }, now);
  const lines = pushLines(push, now.getTime());
  const text = lines.join('\n');
  t.notMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, 'no control or bidi character survives');
  t.ok(lines.includes('    aaaaaaa fix?txt.exe? bell??Injected:? line (ev?[31mil? <e@x>)'), 'a subject stays one line, each bad character a ?');
  t.equal(lines[1], '  refs      refs/heads/?]0;pwned?x  1111111 -> aaaaaaa');
  t.equal(lines.length, 7, 'a line break in a subject adds no line');
});

t.test('readPushDiff: the diff as printable text; tabs and newlines kept, other controls and bidi shown as ?', async (t) => {
  const dir = tmp(t);
  const p = await writePushProposal(dir, { diff: '+\tindented\r\n+\u001b[2Jclear\u0000\n+abc\u202edcba\u2067\n+kept: é ü 日本\n' });
  t.equal(readPushDiff(dir, p), '+\tindented?\n+?[2Jclear?\n+abc?dcba?\n+kept: é ü 日本\n');
  const plain = await writePushProposal(dir);
  t.equal(readPushDiff(dir, plain), PUSH_DIFF, 'a plain diff is unchanged');
});

t.test('readPushDiff: a missing diff is one UserError line; a symlink planted as <id>.diff is refused, not followed', async (t) => {
  const dir = tmp(t);
  const gone = await writePushProposal(dir, { diff: null });
  const err = t.throws(() => readPushDiff(dir, gone)) as Error;
  t.type(err, UserError);
  t.equal(err.message, `${gone.id}'s diff is gone (${join(dir, `${gone.id}.diff`)}); the push is no longer held`);

  const secret = join(dir, 'host-secret');
  writeFileSync(secret, 'ghp_not_for_the_screen\n');
  const planted = await writePushProposal(dir, { diff: null });
  symlinkSync(secret, join(dir, `${planted.id}.diff`));
  const refused = t.throws(() => readPushDiff(dir, planted)) as Error;
  t.type(refused, UserError);
  t.equal(refused.message, `cannot show ${planted.id}'s diff: ${join(dir, `${planted.id}.diff`)}: is a symbolic link; not following it`);
  t.notMatch(refused.message, /ghp_not_for_the_screen/);
  t.notMatch(refused.message, /\n/, 'one line');
});
