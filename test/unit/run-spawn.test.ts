// The long-lived child wrapper through real spawning: exits, stdio, process groups, and children
// that cannot start settling as the runner's typed errors.
import t from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryNotFoundError, CommandError } from '../../lib/errors.js';
import { spawnChild, type Child } from '../../lib/run/spawn.js';

function collect(child: Child): { out: () => string } {
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => { out += c; });
  return { out: () => out };
}

// Rejects instead of hanging the test when a promise does not settle.
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

t.test('exit code, signal and output', async (t) => {
  const child = spawnChild(['sh', '-c', 'echo out; echo err >&2; exit 3']);
  const { out } = collect(child);
  t.type(child.pid, 'number');
  t.same(await child.closed, { exitCode: 3, signal: null });
  t.same(await child.exited, { exitCode: 3, signal: null });
  t.equal(out(), 'out\n', 'closed waits for the whole output');
  t.equal(child.running, false);
  const slow = spawnChild(['sleep', '30'], { stdio: 'ignore' });
  t.teardown(() => slow.kill('SIGKILL'));
  t.equal(slow.running, true);
  slow.kill('SIGTERM');
  t.same(await slow.exited, { exitCode: null, signal: 'SIGTERM' });
  t.equal(slow.running, false);
});

t.test('env is the whole environment, argv is never a shell string', async (t) => {
  const child = spawnChild(['sh', '-c', 'printf "%s|%s" "$BOTTLE_T" "$HOME"', 'ignored $(echo no)'], { env: { BOTTLE_T: 'a b', PATH: process.env.PATH } });
  const { out } = collect(child);
  await child.closed;
  t.equal(out(), 'a b|');
});

t.test('a missing binary is BinaryNotFoundError with the hint; both promises reject', async (t) => {
  for (const argv of [['bottle-no-such-binary-x', '--v'], ['/nonexistent/bottle-daemon']]) {
    const child = spawnChild(argv, { installHint: 'install it' });
    t.equal(child.pid, undefined);
    const err = await child.exited.catch((e: unknown) => e);
    t.type(err, BinaryNotFoundError, argv.join(' '));
    t.equal((err as BinaryNotFoundError).message, `${argv[0]}: command not found; install it`);
    t.same((err as BinaryNotFoundError).argv, argv);
    t.match((err as Error).cause, { code: 'ENOENT' }, 'the system error is kept as the cause');
    t.equal(await child.closed.catch((e: unknown) => e), err);
    t.equal(child.running, false);
  }
});

t.test('a process that never started rejects even when nobody waits for it', async (t) => {
  spawnChild(['/nonexistent/bottle-daemon']);
  const child = spawnChild(['/nonexistent/bottle-daemon']);
  await t.rejects(child.exited, BinaryNotFoundError);
  await new Promise((r) => setImmediate(r));
  t.pass('no unhandled rejection from the unwatched child');
});

// Regression (as for run): spawn reports a missing cwd as ENOENT, which read as "sh: command not found".
t.test('a missing cwd or a file that is not executable is CommandError, not BinaryNotFoundError', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-spawn-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const noCwd = await spawnChild(['sh', '-c', 'true'], { cwd: join(dir, 'gone') }).exited.catch((e: unknown) => e);
  t.type(noCwd, CommandError);
  t.notOk(noCwd instanceof BinaryNotFoundError);
  t.match((noCwd as Error).message, /^sh -c true: did not start: spawn sh ENOENT$/);
  const script = join(dir, 'not-executable');
  await writeFile(script, '#!/bin/sh\n');
  await chmod(script, 0o644);
  const noExec = await spawnChild([script]).exited.catch((e: unknown) => e);
  t.type(noExec, CommandError);
  t.match((noExec as Error).message, /did not start: spawn .* EACCES/);
});

t.test('killGroup reaches the children of a detached child', async (t) => {
  // The grandchild holds stdout open: closed settles only once it is gone too.
  const child = spawnChild(['sh', '-c', 'sleep 30 & echo started; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => child.killGroup('SIGKILL'));
  const { out } = collect(child);
  await within(5000, 'started', new Promise<void>((resolve) => child.stdout!.on('data', () => { if (out().includes('started')) resolve(); })));
  child.killGroup('SIGTERM');
  t.same(await within(5000, 'the whole group', child.closed), { exitCode: null, signal: 'SIGTERM' });
  t.doesNotThrow(() => child.killGroup('SIGKILL'), 'signalling a group that is gone is no error');
});

t.test('empty argv is a programming error', async (t) => {
  t.throws(() => spawnChild([]), /empty argv/);
});
