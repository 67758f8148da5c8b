// The fake-binary harness itself: scripting, argv prefix rules, logging, PATH isolation.
import t from 'tap';
import { execa } from 'execa';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FAKEBIN_SCRIPT, fakeBins } from '../helpers/fakebin.js';

t.test('default response, prefix rules and the call log', async (t) => {
  const fb = await fakeBins(t, {
    tmux: { stdout: 'tmux 3.3a\n' },
    docker: {
      stdout: 'default\n',
      when: [
        { args: ['version'], exitCode: 1, stderr: 'Cannot connect to the Docker daemon\n' },
        { args: ['network', 'inspect', 'x'], stdout: '[]' },
      ],
    },
  });
  const tmux = await execa('tmux', ['-V'], { env: fb.env, reject: false });
  t.equal(tmux.stdout, 'tmux 3.3a');
  t.equal(tmux.exitCode, 0);

  const v = await execa('docker', ['version', '--format', 'json'], { env: fb.env, reject: false });
  t.equal(v.exitCode, 1);
  t.match(v.stderr, /Cannot connect/);
  const inspect = await execa('docker', ['network', 'inspect', 'x'], { env: fb.env, reject: false });
  t.equal(inspect.stdout, '[]');
  const notPrefix = await execa('docker', ['network', 'inspect'], { env: fb.env, reject: false });
  t.equal(notPrefix.stdout, 'default', 'a rule longer than argv does not match');

  const calls = await fb.calls();
  t.same(calls.map((c) => [c.bin, c.argv]), [
    ['tmux', ['-V']],
    ['docker', ['version', '--format', 'json']],
    ['docker', ['network', 'inspect', 'x']],
    ['docker', ['network', 'inspect']],
  ]);
  t.equal((await fb.calls('tmux')).length, 1);
  t.equal(calls[0]?.cwd, process.cwd());
});

t.test('records stdin, cwd and requested env vars', async (t) => {
  const fb = await fakeBins(t, { git: { recordEnv: ['GIT_DIR', 'UNSET_VAR'] } });
  await execa('git', ['commit', '-F', '-'], {
    env: { ...fb.env, GIT_DIR: '/x/.git' }, input: 'message\n', cwd: fb.dir,
  });
  const [call] = await fb.calls('git');
  t.equal(call?.stdin, 'message\n');
  t.equal(call?.cwd, fb.dir);
  t.same(call?.env, { GIT_DIR: '/x/.git', UNSET_VAR: null });
});

t.test('no stdin key when nothing is piped', async (t) => {
  const fb = await fakeBins(t, { smolvm: {} });
  const r = await execa('smolvm', ['machine', 'ls'], { env: fb.env, stdin: 'ignore' });
  t.equal(r.stdout, '', 'an unscripted fake prints nothing and exits 0');
  const [call] = await fb.calls();
  t.notOk(call && 'stdin' in call);
});

t.test('set() adds fakes and rescripts existing ones', async (t) => {
  const fb = await fakeBins(t, { tmux: { exitCode: 1 } });
  t.equal((await execa('tmux', ['has-session'], { env: fb.env, reject: false })).exitCode, 1);
  await fb.set({ tmux: { exitCode: 0 }, git: { stdout: 'git version 2.43.0' } });
  t.equal((await execa('tmux', ['has-session'], { env: fb.env, reject: false })).exitCode, 0);
  t.equal((await execa('git', ['--version'], { env: fb.env })).stdout, 'git version 2.43.0');
});

t.test('inheritPath: false hides real binaries', async (t) => {
  const fb = await fakeBins(t, { docker: {} }, { inheritPath: false });
  t.equal(fb.env.PATH, fb.dir);
  const r = await execa('/bin/sh', ['-c', 'command -v git || command -v docker'], { env: fb.env, extendEnv: false });
  t.equal(r.stdout, `${fb.dir}/docker`);
});

t.test('delay and signal', async (t) => {
  const fb = await fakeBins(t, { slow: { delayMs: 300, stdout: 'late' }, dies: { signal: 'SIGKILL' } });
  const started = Date.now();
  t.equal((await execa('slow', [], { env: fb.env })).stdout, 'late');
  t.ok(Date.now() - started >= 300);
  const d = await execa('dies', [], { env: fb.env, reject: false });
  t.equal(d.signal, 'SIGKILL');
});

t.test('the bare script works through a symlink, named by its basename', async (t) => {
  const fb = await fakeBins(t, {});
  const link = join(fb.dir, 'kubectl');
  await symlink(FAKEBIN_SCRIPT, link);
  const log = join(fb.dir, '..', 'calls.jsonl');
  await execa(link, ['get', 'pods'], { env: { ...process.env, FAKEBIN_LOG: log } });
  t.same((await fb.calls()).map((c) => [c.bin, c.argv]), [['kubectl', ['get', 'pods']]]);
});
