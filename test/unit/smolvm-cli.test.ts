// smolvm argv builders (exact arrays: the CLI's name-flag inconsistencies are pinned here),
// the secret guard on `-e`, and `machine ls --json` parsing.
import t from 'tap';
import * as a from '../../lib/backends/smolvm/cli.js';
import { SecretInArgvError, SmolvmError, parseMachineList } from '../../lib/backends/smolvm/cli.js';

t.test('pack create: -I IMAGE -o PATH (no .smolmachine suffix: the CLI appends it)', async (t) => {
  t.same(a.packCreate({ image: 'localhost:5000/bottle-agent:abc', output: '/c/abc' }),
    ['pack', 'create', '-I', 'localhost:5000/bottle-agent:abc', '-o', '/c/abc']);
});

t.test('machine create: positional name, source, every flag in a fixed order', async (t) => {
  t.same(a.machineCreate({ name: 'b-1', source: { from: '/c/k.smolmachine' } }),
    ['machine', 'create', 'b-1', '--from', '/c/k.smolmachine']);
  t.same(a.machineCreate({ name: 'b-1', source: { image: 'alpine:3' } }),
    ['machine', 'create', 'b-1', '-I', 'alpine:3']);
  t.same(a.machineCreate({
    name: 'b-1',
    source: { from: '/c/k.smolmachine' },
    cpus: 2,
    memMib: 2048,
    volumes: [{ host: '/h/ws', guest: '/workspace' }, { host: '/h/ca', guest: '/ca', readOnly: true }],
    allowCidrs: ['10.213.4.2/32', '10.213.5.0/24'],
    env: { HTTPS_PROXY: 'http://10.213.4.2:8888', NO_PROXY: '10.213.4.2' },
    workdir: '/workspace',
  }), [
    'machine', 'create', 'b-1', '--from', '/c/k.smolmachine',
    '--cpus', '2', '--mem', '2048',
    '-v', '/h/ws:/workspace', '-v', '/h/ca:/ca:ro',
    '--allow-cidr', '10.213.4.2/32', '--allow-cidr', '10.213.5.0/24',
    '-e', 'HTTPS_PROXY=http://10.213.4.2:8888', '-e', 'NO_PROXY=10.213.4.2',
    '-w', '/workspace',
  ]);
  t.throws(() => a.machineCreate({ name: 'x', source: { image: 'i' }, cpus: 0 }), /--cpus must be a positive integer/);
  t.throws(() => a.machineCreate({ name: 'x', source: { image: 'i' }, memMib: 1.5 }), /--mem/);
  t.throws(() => a.machineCreate({ name: '-f', source: { image: 'i' } }), /invalid machine name/, 'a name cannot pose as a flag');
  t.throws(() => a.machineCreate({ name: 'x', source: { image: 'i' }, env: { 'A=B': 'c' } }), /invalid env name/);
});

t.test('start/stop take --name; delete is positional with -f', async (t) => {
  t.same(a.machineStart('b-1'), ['machine', 'start', '--name', 'b-1']);
  t.same(a.machineStop('b-1'), ['machine', 'stop', '--name', 'b-1']);
  t.same(a.machineDelete('b-1'), ['machine', 'delete', 'b-1', '-f']);
  t.throws(() => a.machineStart(''), /invalid machine name/, 'an empty name would silently mean `default`');
});

t.test('machine exec: --name (never -n), flags, then -- and the command', async (t) => {
  t.same(a.machineExec({ name: 'b-1', command: ['echo', 'hi'] }), ['machine', 'exec', '--name', 'b-1', '--', 'echo', 'hi']);
  t.same(a.machineExec({
    name: 'b-1', command: ['sh', '-c', 'id -u'], workdir: '/workspace', env: { A: '1', B: 'x=y' },
    timeoutS: 30, interactive: true, tty: true,
  }), ['machine', 'exec', '--name', 'b-1', '-w', '/workspace', '-e', 'A=1', '-e', 'B=x=y', '--timeout', '30s', '-i', '-t', '--', 'sh', '-c', 'id -u']);
  t.same(a.machineExec({ name: 'b', command: ['ls', '-la'], interactive: true }), ['machine', 'exec', '--name', 'b', '-i', '--', 'ls', '-la'],
    'the command\'s own flags come after --');
  t.throws(() => a.machineExec({ name: 'b', command: [] }), /needs a command/);
  t.throws(() => a.machineExec({ name: 'b', command: ['x'], timeoutS: 0 }), /--timeout/);
});

t.test('machine cp: exactly one side is NAME:/path', async (t) => {
  t.equal(a.vmPath('b-1', '/etc/ca.pem'), 'b-1:/etc/ca.pem');
  t.same(a.machineCp('/h/ca.pem', a.vmPath('b-1', '/etc/ca.pem')), ['machine', 'cp', '/h/ca.pem', 'b-1:/etc/ca.pem']);
  t.same(a.machineCp(a.vmPath('b-1', '/out'), './out'), ['machine', 'cp', 'b-1:/out', './out']);
  t.throws(() => a.machineCp('/a', '/b'), /exactly one side/);
  t.throws(() => a.machineCp('x:/a', 'y:/b'), /exactly one side/);
  t.throws(() => a.vmPath('b-1', 'relative'), /absolute/);
});

t.test('machine ls --json', async (t) => {
  t.same(a.machineLs(), ['machine', 'ls', '--json']);
});

t.test('secret guard: a value containing a flagged secret never reaches argv', async (t) => {
  const token = 'ghp_exampleexampleexample';
  const err = t.throws(() => a.machineCreate({
    name: 'b', source: { image: 'i' }, env: { OK: 'plain', https_proxy: `http://u:${token}@10.0.0.2:8888` }, secretValues: [token],
  }));
  t.type(err, SecretInArgvError);
  t.match((err as Error).message, /refusing to pass -e https_proxy=…/);
  t.notMatch((err as Error).message, token, 'the error does not echo the secret either');
  t.throws(() => a.machineExec({ name: 'b', command: ['true'], env: { T: token }, secretValues: [token] }), SecretInArgvError);
  t.same(a.machineExec({ name: 'b', command: ['true'], env: { T: 'fine' }, secretValues: [token, ''] }),
    ['machine', 'exec', '--name', 'b', '-e', 'T=fine', '--', 'true'], 'an empty secret does not match everything');
});

t.test('parseMachineList: records, optional fields, unknown states', async (t) => {
  t.same(parseMachineList('[]\n'), []);
  t.same(parseMachineList(JSON.stringify([
    { name: 'a', state: 'running', cpus: 2, memory_mib: 1024, pid: 4242, image: 'alpine', extra: true },
    { name: 'b', state: 'created', cpus: null, pid: null, image: null },
    { name: 'c', state: 'Stopped' },
    { name: 'd', state: 'hibernating' },
    { name: 'e' },
  ])), [
    { name: 'a', state: 'running', cpus: 2, memoryMib: 1024, pid: 4242, image: 'alpine' },
    { name: 'b', state: 'created' },
    { name: 'c', state: 'stopped' },
    { name: 'd', state: 'unknown', rawState: 'hibernating' },
    { name: 'e', state: 'unknown', rawState: 'null' },
  ]);
  for (const s of ['created', 'running', 'stopped', 'failed', 'unreachable']) {
    t.equal(parseMachineList(JSON.stringify([{ name: 'x', state: s }]))[0]?.state, s);
  }
});

t.test('parseMachineList: malformed output is a SmolvmError naming the output', async (t) => {
  for (const [out, why] of [
    ['NAME  STATE\nb-1   running', /not JSON/],
    ['', /expected a JSON array/],
    ['{"name":"a"}', /expected a JSON array/],
    ['[1]', /entry 0 is not an object/],
    ['[{"state":"running"}]', /entry 0 has no name/],
  ] as const) {
    const err = t.throws(() => parseMachineList(out));
    t.type(err, SmolvmError);
    t.match((err as SmolvmError).message, why);
    t.match((err as SmolvmError).message, /^smolvm machine ls --json: unexpected output/);
    t.same((err as SmolvmError).argv, ['smolvm', 'machine', 'ls', '--json']);
    if (out) t.match((err as SmolvmError).message, JSON.stringify(out).slice(1, 10), 'quotes the output');
  }
});
