// What `bottle start` says on the terminal, on the fake backend: each line once. Regression for
// issue 20: "`bottle X is up` and every failure printed twice, Ctrl-C prints four lines".
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleProcess, fakeBottleArgv } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST } from '../helpers/dashboard.js';
import { pollUntil } from '../helpers/wait.js';

const CREDS = { ANTHROPIC_API_KEY: 'sk-test-dummy', GITHUB_TOKEN: 'ghp-test-dummy' };

function world(t: { teardown(fn: () => void): void }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-start-out-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { PATH: process.env.PATH, HOME: dir, BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '5', ...CREDS, ...extra };
}

const START = ['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--yes', '--no-attach'];
const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

t.test('`bottle <slug> is up` is printed once', async (t) => {
  const r = await bottleProcess(START, { env: world(t), fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  const slug = r.stdout.trim();
  t.equal(count(r.stderr, /is up/), 1, r.stderr);
  t.match(r.stderr, new RegExp(`^bottle ${slug} is up \\(\\d+\\.\\ds\\)$`, 'm'));
});

t.test('a failed bring-up is reported once', async (t) => {
  const r = await bottleProcess(START, { env: world(t, { BOTTLE_FAKE_FAIL: 'launch' }), fake: true });
  t.equal(r.exitCode, 1);
  t.equal(count(r.stderr, /fake launch failure/), 1, r.stderr);
  t.match(r.stderr, /^bottle: fake launch failure \(BOTTLE_FAKE_FAIL=launch\)$/m);
  t.notMatch(r.stderr, /bring-up failed/, 'that line is for bringup.log (the dashboard tails it)');
});

t.test('Ctrl-C during start: two lines, what is happening and what became of it', async (t) => {
  const child = execa(fakeBottleArgv()[0]!, [...fakeBottleArgv(...START).slice(1)], {
    env: world(t, { BOTTLE_FAKE_STEP_MS: '300' }), extendEnv: false, reject: false, stdin: 'ignore',
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  await pollUntil('the bring-up to begin', () => /\[fake\] creating networks/.test(stderr), { timeoutMs: 20_000, describe: () => stderr });
  const before = stderr.split('\n').length - 1;
  child.kill('SIGINT');
  const r = await child;
  t.equal(r.exitCode, 130, stderr);
  const after = stderr.split('\n').slice(before).filter(Boolean);
  t.equal(after.length, 2, after.join('\n'));
  t.equal(after[0], 'interrupted: removing what was created');
  t.match(after[1], /^bottle: bring-up of reviewer-[a-z2-7]{6} interrupted; everything it created was removed$/);
  t.equal(r.stdout, '', 'no slug: nothing was started');
});
