// How failures reach the user: one line for anything they can fix (their input, an engine that
// is not there), a stack trace only with BOTTLE_DEBUG=1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { reportError } from '../../commands/report.js';
import type { Ctx } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/run/index.js';
import { bottleInProcess } from '../helpers/cli.js';

function capture(env: NodeJS.ProcessEnv = {}): { ctx: Ctx; lines: () => string[] } {
  const out: string[] = [];
  const ctx: Ctx = { env, cwd: '/', run, out: (s) => out.push(s), err: (s) => out.push(...s.replace(/\n$/, '').split('\n')), isTTY: false };
  return { ctx, lines: () => out };
}

// What node's http client throws when the engine's socket is not there.
function socketGone(path: string): Error {
  return Object.assign(new Error(`connect ENOENT ${path}`), { code: 'ENOENT', syscall: 'connect', address: path, errno: -2 });
}

t.test('a UserError is one line; BOTTLE_DEBUG=1 adds its stack, BOTTLE_DEBUG=0 does not', async (t) => {
  let c = capture();
  t.equal(reportError(new UserError('no bottle named x; start one'), c.ctx), 1);
  t.same(c.lines(), ['bottle: no bottle named x; start one']);
  c = capture({ BOTTLE_DEBUG: '1' });
  reportError(new UserError('bad'), c.ctx);
  t.equal(c.lines()[0], 'bottle: bad');
  t.match(c.lines()[1], /^UserError: bad$/);
  t.ok(c.lines().some((l) => /^\s+at /.test(l)), 'stack frames follow');
  c = capture({ BOTTLE_DEBUG: '0' });
  reportError(new UserError('bad'), c.ctx);
  t.same(c.lines(), ['bottle: bad'], '0 means off');
});

t.test('an unreachable engine, however deep in the cause chain, is the user\'s to fix: one line, exit 1', async (t) => {
  const wrapped = new Error('inspecting image bottle-sidecars:latest: connect ENOENT /run/nope.sock', { cause: socketGone('/run/nope.sock') });
  let c = capture({ DOCKER_HOST: 'unix:///run/nope.sock' });
  t.equal(reportError(wrapped, c.ctx), 1);
  t.same(c.lines(), ['bottle: no Docker engine at unix:///run/nope.sock: no socket at /run/nope.sock (is dockerd running?); start dockerd, or point DOCKER_HOST at a running engine (bottle doctor checks it)']);
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2375'), { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 2375 });
  c = capture();
  reportError(refused, c.ctx);
  t.match(c.lines()[0], /^bottle: no Docker engine at 127\.0\.0\.1:2375: connection refused/);
});

// Issue 17: a --tlsverify engine refusing the client (or a server certificate the client does
// not trust) used to be an "internal error" with exit 70.
t.test('a TLS engine this client cannot talk to is one line with the fix, exit 1, not an internal error', async (t) => {
  const alert = Object.assign(new Error('80BCC1F3EE7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n'), {
    code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', reason: 'sslv3 alert bad certificate', library: 'SSL routines',
  });
  let c = capture({ DOCKER_HOST: 'tcp://10.0.0.5:2376' });
  t.equal(reportError(new Error('inspecting image bottle-sidecars:latest: …', { cause: alert }), c.ctx), 1);
  t.same(c.lines(), ['bottle: cannot talk to the Docker engine at tcp://10.0.0.5:2376: TLS: the engine refused this client\'s certificate (sslv3 alert bad certificate); DOCKER_CERT_PATH needs the cert.pem and key.pem its CA signed, with DOCKER_TLS_VERIFY=1']);
  c = capture({ DOCKER_HOST: 'tcp://10.0.0.5:2376' });
  reportError(Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), c.ctx);
  t.same(c.lines(), ['bottle: cannot talk to the Docker engine at tcp://10.0.0.5:2376: TLS: the engine\'s certificate is not trusted (unable to verify the first certificate); put its CA in DOCKER_CERT_PATH/ca.pem and set DOCKER_TLS_VERIFY=1']);
  c = capture({ DOCKER_HOST: 'tcp://10.0.0.5:2375', DOCKER_TLS_VERIFY: '1' });
  reportError(Object.assign(new Error('C0A7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER', reason: 'wrong version number' }), c.ctx);
  t.match(c.lines(), [/^bottle: cannot talk to the Docker engine at tcp:\/\/10\.0\.0\.5:2375: TLS handshake failed \(wrong version number\); a tcp engine on port 2376 is spoken to with TLS/], 'TLS to a plain-HTTP port');
});

t.test('anything else is an internal error with the debug hint (a bug, not the user\'s doing)', async (t) => {
  const c = capture();
  t.equal(reportError(new TypeError('x is undefined'), c.ctx), 70);
  t.same(c.lines(), ['bottle: internal error: x is undefined', 'bottle: set BOTTLE_DEBUG=1 to see the stack trace']);
  const notEngine = capture();
  reportError(Object.assign(new Error('open ENOENT /x'), { code: 'ENOENT', syscall: 'open' }), notEngine.ctx);
  t.match(notEngine.lines()[0], /internal error/, 'a missing file is not taken for a missing engine');
});

t.test('through the CLI: --json failures print {ok:false,error} on stdout; usage errors say bottle:; an unknown verb with --help is named', async (t) => {
  const env = { ...process.env, BOTTLE_STATE_DIR: mkdtempSync(join(tmpdir(), 'bottle-report-')) };
  t.teardown(() => rmSync(env.BOTTLE_STATE_DIR!, { recursive: true, force: true }));
  const stop = await bottleInProcess(['stop', 'nope-aaaaaa', '--json'], { env });
  t.equal(stop.exitCode, 1);
  t.match(stop.stderr, /^bottle: no bottle named nope-aaaaaa; there are no bottles/);
  t.same(JSON.parse(stop.stdout), { ok: false, error: 'no bottle named nope-aaaaaa; there are no bottles; start one with bottle start <agent>', exitCode: 1 });
  const plain = await bottleInProcess(['stop', 'nope-aaaaaa'], { env });
  t.equal(plain.stdout, '', 'without --json stdout stays empty');
  const afterDashes = await bottleInProcess(['scan', '--', '--json'], { env });
  t.equal(afterDashes.exitCode, 2);
  t.equal(afterDashes.stdout, '', '--json after -- is an argument (a file name), not the option');

  const usage = await bottleInProcess(['ls', '--bogus'], { env });
  t.equal(usage.exitCode, 1);
  t.match(usage.stderr, /^bottle: unknown option '--bogus'/);
  t.notMatch(usage.stderr, /^error:/m);
  const usageJson = await bottleInProcess(['ls', '--bogus', '--json'], { env });
  t.match(JSON.parse(usageJson.stdout), { ok: false, error: "unknown option '--bogus'" });

  const typo = await bottleInProcess(['stpo', '--help'], { env });
  t.equal(typo.exitCode, 1, 'not the root help with exit 0');
  t.match(typo.stderr, /^bottle: unknown command 'stpo'/);
  t.match(typo.stderr, /Did you mean stop\?/);
  t.notMatch(typo.stdout, /Usage: bottle/);
  const help = await bottleInProcess(['stop', '--help'], { env });
  t.equal(help.exitCode, 0);
  t.match(help.stdout, /Usage: bottle stop/);
});
