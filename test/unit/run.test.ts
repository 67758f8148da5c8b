// The runner through real spawning: fake binaries on PATH plus a few real ones (sh, node).
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryNotFoundError, CommandError, UserError } from '../../lib/errors.js';
import { run, which } from '../../lib/run/index.js';
import { fakeBins } from '../helpers/fakebin.js';

const RESULT_KEYS = ['argv', 'durationMs', 'exitCode', 'failed', 'stderr', 'stdout', 'timedOut'];

t.test('success and probed failure share one result shape', async (t) => {
  const fb = await fakeBins(t, {
    tmux: { stdout: 'tmux 3.3a\n', when: [{ args: ['has-session'], exitCode: 1, stderr: "can't find session: x\n" }] },
  });
  const ok = await run(['tmux', '-V'], { env: fb.env });
  t.same(Object.keys(ok).sort(), RESULT_KEYS);
  t.match(ok, { argv: ['tmux', '-V'], exitCode: 0, stdout: 'tmux 3.3a', stderr: '', failed: false, timedOut: false });
  t.type(ok.durationMs, 'number');

  const probed = await run(['tmux', 'has-session', '-t', '=x'], { env: fb.env, probe: true });
  t.same(Object.keys(probed).sort(), RESULT_KEYS);
  t.match(probed, { exitCode: 1, failed: true, timedOut: false, stderr: "can't find session: x" });
  t.same((await fb.calls()).map((c) => c.argv), [['-V'], ['has-session', '-t', '=x']]);
});

t.test('a failing command throws CommandError carrying argv, exitCode, stderr', async (t) => {
  const fb = await fakeBins(t, { docker: { exitCode: 125, stderr: 'line1\nError: no such network\n' } });
  const err = await run(['docker', 'network', 'rm', 'n'], { env: fb.env }).catch((e: unknown) => e);
  t.type(err, CommandError);
  const ce = err as CommandError;
  t.same(ce.argv, ['docker', 'network', 'rm', 'n']);
  t.equal(ce.exitCode, 125);
  t.equal(ce.stderr, 'line1\nError: no such network');
  t.equal(ce.timedOut, false);
  t.match(ce.message, /^docker network rm n: exited 125: line1 \| Error: no such network$/);
  t.notOk(ce instanceof UserError, 'a command failure is not the operator’s typo');
});

t.test('a missing binary is BinaryNotFoundError with the install hint, probe or not', async (t) => {
  const fb = await fakeBins(t, {}, { inheritPath: false });
  for (const probe of [false, true]) {
    const err = await run(['tmux', '-V'], { env: fb.env, probe, installHint: 'install tmux (apt-get install tmux)' })
      .catch((e: unknown) => e);
    t.type(err, BinaryNotFoundError, `probe=${probe}`);
    const bnf = err as BinaryNotFoundError;
    t.equal(bnf.binary, 'tmux');
    t.same(bnf.argv, ['tmux', '-V']);
    t.equal(bnf.message, 'tmux: command not found; install tmux (apt-get install tmux)');
    t.type(bnf, UserError, 'printed as one line by commands/');
  }
  const abs = await run(['/nonexistent/bin/smolvm'], {}).catch((e: unknown) => e);
  t.type(abs, BinaryNotFoundError);
});

// Regression: spawn reports a missing cwd as ENOENT, which was reported as "ls: command not found".
t.test('a missing cwd is not reported as a missing binary', async (t) => {
  const err = await run(['sh', '-c', 'true'], { cwd: join(tmpdir(), 'bottle-no-such-dir-x') }).catch((e: unknown) => e);
  t.type(err, CommandError);
  t.notOk(err instanceof BinaryNotFoundError);
  t.match((err as Error).message, /cwd/);
});

t.test('input goes to stdin; no input means stdin is closed, not inherited', async (t) => {
  const fb = await fakeBins(t, { git: {} });
  await run(['git', 'hash-object', '--stdin'], { env: fb.env, input: 'blob contents\n' });
  await run(['git', 'status'], { env: fb.env });
  const [withInput, without] = await fb.calls();
  t.equal(withInput?.stdin, 'blob contents\n');
  t.notOk(without && 'stdin' in without);
  const cat = await run(['sh', '-c', 'cat'], { input: 'round trip' });
  t.equal(cat.stdout, 'round trip');
  const eof = await run(['sh', '-c', 'cat; echo done'], { timeoutMs: 5000 });
  t.equal(eof.stdout, 'done', 'cat sees EOF at once');
});

t.test('env extends the parent by default and replaces it with extendEnv: false', async (t) => {
  const fb = await fakeBins(t, { docker: { recordEnv: ['DOCKER_HOST', 'HOME'] } });
  await run(['docker', 'info'], { env: { ...fb.env, DOCKER_HOST: 'unix:///tmp/d.sock' } });
  await run(['docker', 'info'], { env: { PATH: fb.env.PATH }, extendEnv: false });
  const [extended, replaced] = await fb.calls();
  t.same(extended?.env, { DOCKER_HOST: 'unix:///tmp/d.sock', HOME: process.env.HOME ?? null });
  t.same(replaced?.env, { DOCKER_HOST: null, HOME: null });
  const real = await run(['sh', '-c', 'printf %s "$BOTTLE_T"'], { env: { BOTTLE_T: 'x y' } });
  t.equal(real.stdout, 'x y');
});

t.test('cwd is honoured', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fb = await fakeBins(t, { git: {} });
  await run(['git', 'init'], { env: fb.env, cwd: dir });
  t.equal((await fb.calls())[0]?.cwd, dir);
});

t.test('a timeout kills the command and sets timedOut', async (t) => {
  const fb = await fakeBins(t, { smolvm: { delayMs: 10_000 } });
  const started = Date.now();
  const probed = await run(['smolvm', 'machine', 'ls'], { env: fb.env, timeoutMs: 300, probe: true });
  t.ok(Date.now() - started < 5000, 'did not wait for the command');
  t.match(probed, { timedOut: true, failed: true, exitCode: undefined });
  const err = await run(['smolvm', 'machine', 'ls'], { env: fb.env, timeoutMs: 300 }).catch((e: unknown) => e);
  t.type(err, CommandError);
  t.equal((err as CommandError).timedOut, true);
  t.match((err as Error).message, /timed out/);
});

t.test('a command killed by a signal fails with exitCode undefined', async (t) => {
  const fb = await fakeBins(t, { tmux: { signal: 'SIGKILL' } });
  const r = await run(['tmux', 'kill-server'], { env: fb.env, probe: true });
  t.match(r, { failed: true, exitCode: undefined, timedOut: false });
});

t.test('empty argv is a programming error', async (t) => {
  await t.rejects(run([]), /empty argv/);
});

t.test('which finds binaries on a given PATH without spawning', async (t) => {
  const fb = await fakeBins(t, { smolvm: {} }, { inheritPath: false });
  t.equal(await which('smolvm', fb.env.PATH), join(fb.dir, 'smolvm'));
  t.equal(await which('tmux', fb.env.PATH), undefined);
  t.equal(await which(join(fb.dir, 'smolvm')), join(fb.dir, 'smolvm'));
  t.equal((await fb.calls()).length, 0);
});
