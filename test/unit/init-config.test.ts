// Which daemons init runs, with what argv; and the output line prefixer.
import t from 'tap';
import { UserError } from '../../lib/errors.js';
import { DAEMON_NAMES, DAEMON_NODE_FLAGS, daemonArgv } from '../../sidecars/daemons.js';
import { collectOverrides, parseCommandsJson, parseDaemonFlag, resolveDaemons } from '../../sidecars/init/config.js';
import { LinePrefixer } from '../../sidecars/init/lines.js';

const SELF = ['node', 'bottle'];
const none = new Map<string, string[]>();

t.test('by default every built-in daemon runs as `bottle sidecar <name>`', async (t) => {
  const specs = resolveDaemons({}, none, SELF);
  t.same(specs.map((s) => s.name), [...DAEMON_NAMES]);
  t.same(specs[0]!.argv, [
    'node', 'bottle', 'sidecar', 'gateway', '--listen', '0.0.0.0:8888', '--policy-dir', '/bottle/policy',
    '--ca-dir', '/bottle/ca', '--control-socket', '/tmp/bottle-gateway.sock',
  ]);
  const test = resolveDaemons({ BOTTLE_GATEWAY_UPSTREAM_CA: '/t/ca.pem', BOTTLE_GATEWAY_ALLOW_PRIVATE: 'a.test, b.test', BOTTLE_GATEWAY_RESOLVE_ONLY: 'test' }, none, SELF)[0]!;
  t.same(test.argv.slice(-8), ['--upstream-ca', '/t/ca.pem', '--allow-private-upstream', 'a.test', '--allow-private-upstream', 'b.test', '--resolve-only', 'test'], 'test-upstream allowances only when configured');
  t.same(daemonArgv('gateway', { BOTTLE_EVENTS_FILE: 'e.jsonl' }, SELF).slice(-2), ['--events-file', 'e.jsonl'], 'a lapsed grant still in use is an event');
  t.same(specs[2]!.argv, [
    'node', '--max-semi-space-size=1', 'bottle', 'sidecar', 'supervise', '--listen', '0.0.0.0:9100',
    '--queue-dir', '/bottle/supervise/queue', '--decisions-dir', '/bottle/supervise/decisions',
  ]);
});

// Issue 19: a daemon's young generation grew to 16 MiB while its modules loaded and stayed
// resident; the cap is a V8 flag, so it must sit between node and the script.
t.test('each daemon gets its V8 flags right after the node binary, before the script', async (t) => {
  for (const name of DAEMON_NAMES) {
    const argv = daemonArgv(name, {}, ['/usr/bin/node', '--import', 'tsx', 'main.ts']);
    t.same(argv.slice(0, 5 + DAEMON_NODE_FLAGS[name].length), ['/usr/bin/node', ...DAEMON_NODE_FLAGS[name], '--import', 'tsx', 'main.ts', 'sidecar'], name);
    // The gateway keeps V8's default: the cap cost it ~30% of routed HTTPS throughput.
    t.equal(DAEMON_NODE_FLAGS[name].includes('--max-semi-space-size=1'), name !== 'gateway', `${name}: young generation ${name === 'gateway' ? 'not ' : ''}capped`);
  }
});

t.test('supervise flags come from the bundle env', async (t) => {
  const argv = daemonArgv('supervise', {
    BOTTLE_SUPERVISE_LISTEN: '127.0.0.1:9200', BOTTLE_SUPERVISE_QUEUE_DIR: 'q', BOTTLE_SUPERVISE_DECISIONS_DIR: 'd',
    BOTTLE_POLICY_FILE: 'p.json', BOTTLE_EVENTS_FILE: 'e.jsonl', BOTTLE_SUPERVISE_WAIT_SECONDS: '5',
  }, SELF);
  t.same(argv.slice(5), ['--listen', '127.0.0.1:9200', '--queue-dir', 'q', '--decisions-dir', 'd',
    '--policy-file', 'p.json', '--events-file', 'e.jsonl', '--wait-seconds', '5']);
});

t.test('git-gate gets the review dirs only when the bundle says BOTTLE_GIT_GATE_REVIEW=1', async (t) => {
  const base = ['node', '--max-semi-space-size=1', 'bottle', 'sidecar', 'git-gate', '--listen', '0.0.0.0', '--port', '9418', '--repos-dir', '/bottle/git-gate/repos', '--upstreams', '/bottle/git-gate/upstreams.json'];
  t.same(daemonArgv('git-gate', {}, SELF), base, 'off by default');
  t.same(daemonArgv('git-gate', { BOTTLE_GIT_GATE_REVIEW: '0', BOTTLE_SUPERVISE_QUEUE_DIR: 'q' }, SELF), base, 'only 1 turns it on; the queue dir alone does not');
  t.same(daemonArgv('git-gate', { BOTTLE_GIT_GATE_REVIEW: '1' }, SELF), [...base,
    '--review-queue-dir', '/bottle/supervise/queue', '--review-decisions-dir', '/bottle/supervise/decisions'], 'the bundle defaults');
  t.same(daemonArgv('git-gate', { BOTTLE_GIT_GATE_REVIEW: '1', BOTTLE_SUPERVISE_QUEUE_DIR: 'q', BOTTLE_SUPERVISE_DECISIONS_DIR: 'd' }, SELF).slice(-4),
    ['--review-queue-dir', 'q', '--review-decisions-dir', 'd'], 'the supervise dirs from the env');
});

t.test('BOTTLE_SIDECAR_DAEMONS narrows and orders; empty means none', async (t) => {
  t.same(resolveDaemons({ BOTTLE_SIDECAR_DAEMONS: 'supervise, gateway,supervise' }, none, SELF).map((s) => s.name), ['supervise', 'gateway']);
  t.same(resolveDaemons({ BOTTLE_SIDECAR_DAEMONS: '' }, none, SELF), []);
  t.throws(() => resolveDaemons({ BOTTLE_SIDECAR_DAEMONS: 'gateway,bogus' }, none, SELF), UserError);
});

t.test('overrides replace argv; without the csv only the overridden daemons run', async (t) => {
  const o = new Map([['gateway', ['x', 'y']], ['extra', ['z']]]);
  t.same(resolveDaemons({}, o, SELF), [{ name: 'gateway', argv: ['x', 'y'] }, { name: 'extra', argv: ['z'] }]);
  t.same(resolveDaemons({ BOTTLE_SIDECAR_DAEMONS: 'gateway,git-gate' }, o, SELF), [
    { name: 'gateway', argv: ['x', 'y'] },
    { name: 'git-gate', argv: ['node', '--max-semi-space-size=1', 'bottle', 'sidecar', 'git-gate', '--listen', '0.0.0.0', '--port', '9418', '--repos-dir', '/bottle/git-gate/repos', '--upstreams', '/bottle/git-gate/upstreams.json'], env: { MALLOC_ARENA_MAX: '1' } },
  ]);
});

t.test('override parsing: env JSON and --daemon flags (flags win)', async (t) => {
  t.same([...parseCommandsJson('{"a":["node","a.js"]}')], [['a', ['node', 'a.js']]]);
  t.same(parseDaemonFlag('web=["node","web.js","--x=1"]'), ['web', ['node', 'web.js', '--x=1']]);
  const merged = collectOverrides({ BOTTLE_SIDECAR_COMMANDS: '{"a":["one"],"b":["two"]}' }, ['a=["three"]']);
  t.same([...merged], [['a', ['three']], ['b', ['two']]]);
  for (const bad of ['{', '[]', '{"a":[]}', '{"a":"node"}', '{"A B":["x"]}', '{"a":[1]}']) {
    t.throws(() => parseCommandsJson(bad), UserError, `rejects ${bad}`);
  }
  for (const bad of ['noequals', '=["x"]', 'a=node', 'a=[]']) t.throws(() => parseDaemonFlag(bad), UserError, `rejects ${bad}`);
});

t.test('LinePrefixer prefixes whole lines across chunks and flushes the tail', async (t) => {
  const out: string[] = [];
  const p = new LinePrefixer('[gw] ', (l) => out.push(l), 10);
  p.push('hel');
  p.push('lo\r\nwor');
  p.push('ld\n\n');
  t.same(out, ['[gw] hello', '[gw] world', '[gw] ']);
  p.push('0123456789ABC');
  t.same(out.at(-1), '[gw] 0123456789ABC', 'an over-long line without newline is emitted, not buffered forever');
  p.push('tail');
  p.flush();
  p.flush();
  t.same(out.at(-1), '[gw] tail');
  t.equal(out.length, 5);
});
