// SmolvmClient against the stateful fake smolvm on PATH: real spawning, a lifecycle that
// `machine ls --json` reflects, exec exit codes, injected failures and a missing binary.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryNotFoundError } from '../../lib/errors.js';
import { SmolvmClient, SmolvmError, vmPath } from '../../lib/backends/smolvm/cli.js';
import { fakeSmolvm } from '../helpers/fake-smolvm.js';

t.test('create → start → ls running → stop → delete → ls empty', async (t) => {
  const fake = await fakeSmolvm(t);
  const smolvm = new SmolvmClient({ env: fake.env });
  t.same(await smolvm.list(), []);
  await smolvm.create({ name: 'bottle-x', source: { image: 'alpine:3' }, cpus: 2, memMib: 1024, allowCidrs: ['10.213.9.2/32'], env: { A: '1' } });
  t.same(await smolvm.list(), [{ name: 'bottle-x', state: 'created', cpus: 2, memoryMib: 1024, image: 'alpine:3' }]);
  t.same((await fake.machines())['bottle-x']?.allowCidrs, ['10.213.9.2/32'], 'flags reach the CLI intact');
  t.same((await fake.machines())['bottle-x']?.env, { A: '1' });
  await smolvm.start('bottle-x');
  const [running] = await smolvm.list();
  t.equal(running?.state, 'running');
  t.type(running?.pid, 'number');
  await smolvm.stop('bottle-x');
  t.equal((await smolvm.list())[0]?.state, 'stopped');
  await smolvm.delete('bottle-x');
  t.same(await smolvm.list(), []);
  t.same(await fake.calls(), [
    ['machine', 'ls', '--json'],
    ['machine', 'create', 'bottle-x', '-I', 'alpine:3', '--cpus', '2', '--mem', '1024', '--allow-cidr', '10.213.9.2/32', '-e', 'A=1'],
    ['machine', 'ls', '--json'],
    ['machine', 'start', '--name', 'bottle-x'],
    ['machine', 'ls', '--json'],
    ['machine', 'stop', '--name', 'bottle-x'],
    ['machine', 'ls', '--json'],
    ['machine', 'delete', 'bottle-x', '-f'],
    ['machine', 'ls', '--json'],
  ]);
});

t.test('exec returns the in-VM exit code and output, never throws on non-zero', async (t) => {
  const fake = await fakeSmolvm(t);
  const smolvm = new SmolvmClient({ env: fake.env });
  await smolvm.create({ name: 'vm', source: { image: 'alpine' } });
  await smolvm.start('vm');
  await fake.script({ exec: [
    { args: ['sh', '-c', 'exit 3'], exitCode: 3, stderr: 'three\n' },
    { args: ['id', '-u'], stdout: '1000\n' },
  ] });
  t.same(await smolvm.exec({ name: 'vm', command: ['id', '-u'] }), { exitCode: 0, stdout: '1000', stderr: '', timedOut: false });
  t.same(await smolvm.exec({ name: 'vm', command: ['sh', '-c', 'exit 3'] }), { exitCode: 3, stdout: '', stderr: 'three', timedOut: false });
  t.equal((await smolvm.exec({ name: 'vm', command: ['echo', 'hello', 'vm'], workdir: '/w', env: { X: 'y' } })).stdout, 'hello vm');
  t.equal((await smolvm.exec({ name: 'vm', command: ['no-such-cmd'] })).exitCode, 127);
  t.same((await fake.calls()).at(-2), ['machine', 'exec', '--name', 'vm', '-w', '/w', '-e', 'X=y', '--', 'echo', 'hello', 'vm']);

  await smolvm.stop('vm');
  const stopped = await smolvm.exec({ name: 'vm', command: ['true'] });
  t.not(stopped.exitCode, 0, 'exec on a stopped VM fails (smolvm\'s own exit code)');
  t.match(stopped.stderr, /is stopped, not running/);
});

t.test('the fake pins the CLI surface: exec has no -n, delete needs -f', async (t) => {
  const fake = await fakeSmolvm(t);
  const smolvm = new SmolvmClient({ env: fake.env });
  await smolvm.create({ name: 'vm', source: { image: 'alpine' } });
  await smolvm.start('vm');
  const r = await smolvm.probe(['machine', 'exec', '-n', 'vm', '--', 'true']);
  t.equal(r.exitCode, 2);
  t.match(r.stderr, /unexpected argument '-n'/);
  t.equal((await smolvm.probe(['machine', 'delete', 'vm'])).exitCode, 1, 'without -f delete asks, and there is no tty');
  t.equal((await smolvm.probe(['machine', 'create', 'x', '--from', '/nope', '-I', 'alpine'])).exitCode, 2, '--from excludes --image');
});

t.test('machine cp both ways through NAME:/path', async (t) => {
  const fake = await fakeSmolvm(t);
  const smolvm = new SmolvmClient({ env: fake.env });
  const dir = await mkdtemp(join(tmpdir(), 'bottle-smolvm-cp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.pem'), 'CERT');
  await smolvm.create({ name: 'vm', source: { image: 'alpine' } });
  await smolvm.start('vm');
  await smolvm.cp(join(dir, 'ca.pem'), vmPath('vm', '/usr/local/share/ca-certificates/bottle.crt'));
  await smolvm.cp(vmPath('vm', '/usr/local/share/ca-certificates/bottle.crt'), join(dir, 'back.pem'));
  t.equal(await readFile(join(dir, 'back.pem'), 'utf8'), 'CERT');
  await t.rejects(smolvm.cp(vmPath('vm', '/missing'), join(dir, 'x')), SmolvmError);
});

t.test('a failing command is a SmolvmError with argv, exit code and stderr', async (t) => {
  const fake = await fakeSmolvm(t);
  const ok = new SmolvmClient({ env: fake.env });
  await ok.create({ name: 'vm', source: { image: 'alpine' } });
  const failing = new SmolvmClient({ env: { ...fake.env, FAKE_SMOLVM_FAIL: 'machine start,pack create' } });
  const err = (await failing.start('vm').catch((e: unknown) => e)) as SmolvmError;
  t.type(err, SmolvmError);
  t.same(err.argv, ['smolvm', 'machine', 'start', '--name', 'vm']);
  t.equal(err.exitCode, 1);
  t.match(err.stderr, /injected failure/);
  t.match(err.message, /^smolvm machine start --name vm: exited 1: Error: injected failure/);
  t.equal((await ok.list())[0]?.state, 'created', 'the failed start changed nothing');
  await t.rejects(failing.packCreate({ image: 'localhost:1/x:y', output: '/tmp/never' }), SmolvmError);
  await t.rejects(ok.create({ name: 'vm', source: { image: 'alpine' } }), { name: 'SmolvmError', message: /already exists/ });
  await t.rejects(ok.delete('ghost'), { name: 'SmolvmError', message: /not found/ });

  await fake.script({ ls: 'NAME STATE\nvm created\n' });
  await t.rejects(ok.list(), { name: 'SmolvmError', message: /unexpected output \(not JSON/ });
});

t.test('a missing binary is BinaryNotFoundError with a hint', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-empty-path-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const smolvm = new SmolvmClient({ env: { PATH: dir } });
  const err = (await smolvm.list().catch((e: unknown) => e)) as BinaryNotFoundError;
  t.type(err, BinaryNotFoundError);
  t.equal(err.binary, 'smolvm');
  t.match(err.message, /^smolvm: command not found; smolvm is only needed for `backend: smolvm`.*bottle doctor/);
  await t.rejects(smolvm.exec({ name: 'vm', command: ['true'] }), BinaryNotFoundError, 'exec too: there is no exit code to return');
});
