// The real `bottle sidecar init` as a subprocess, supervising the fixture daemons.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseEventLine } from '../../sidecars/supervise/events.js';
import { bottleInProcess } from '../helpers/cli.js';
import { InitProcess, daemonFlag, fixtureArgv, isAlive } from '../fixtures/daemons/harness.js';

// The bit of a tap Test the helpers need.
interface Teardown { teardown(fn: () => unknown): void }

function tmp(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function init(t: Teardown, args: string[], env?: NodeJS.ProcessEnv): InitProcess {
  const p = new InitProcess(args, env);
  t.teardown(() => p.kill());
  return p;
}

t.test('a daemon killed with -9 is back quickly; the others keep their pids', async (t) => {
  const dir = tmp(t);
  const eventsFile = join(dir, 'events.jsonl');
  const p = init(t, [
    ...daemonFlag('gateway', fixtureArgv('gateway')),
    ...daemonFlag('git-gate', fixtureArgv('git-gate')),
    ...daemonFlag('supervise', fixtureArgv('supervise')),
  ], { BOTTLE_EVENTS_FILE: eventsFile });
  const before = {
    gateway: await p.daemonPid('gateway'),
    gitGate: await p.daemonPid('git-gate'),
    supervise: await p.daemonPid('supervise'),
  };
  const killedAt = performance.now();
  process.kill(before.gitGate, 'SIGKILL');
  const again = await p.daemonPid('git-gate', 1, 5000);
  const ms = Math.round(performance.now() - killedAt);
  t.comment(`measured restart (kill -9 to "ready" of the new process): ${ms} ms`);
  t.ok(ms < 5000, `git-gate back within 5 s (took ${ms} ms; target < 1 s)`);
  t.not(again, before.gitGate, 'a new process');
  t.notOk(isAlive(before.gitGate), 'the killed one is gone');
  t.ok(isAlive(before.gateway) && isAlive(before.supervise), 'the others are still running');
  const started = p.events().filter((e) => e.type === 'daemon-started');
  t.same(started.filter((e) => e.daemon !== 'git-gate').map((e) => e.type === 'daemon-started' && e.pid), [before.gateway, before.supervise], 'no other daemon was restarted');
  const death = p.events().find((e) => e.type === 'daemon-exited');
  t.match(death, { daemon: 'git-gate', pid: before.gitGate, signal: 'SIGKILL', restartInMs: 200 }, 'the death is reported with its restart delay');
  const fromFile = readFileSync(eventsFile, 'utf8').trim().split('\n').map(parseEventLine);
  t.same(fromFile.map((e) => e?.type).slice(0, 6), ['init-started', 'daemon-started', 'daemon-started', 'daemon-started', 'daemon-exited', 'daemon-started'], 'events are appended to the events file');
  p.signal('SIGTERM');
  t.same(await p.waitExit(10_000), { code: 0, signal: null }, 'clean shutdown exits 0');
});

t.test('SIGTERM: every child is gone and the first non-zero exit code is init\'s', async (t) => {
  const p = init(t, [
    '--grace-ms', '5000',
    ...daemonFlag('a', fixtureArgv('a')),
    ...daemonFlag('b', fixtureArgv('b', '--term-exit', '3', '--stderr-line', 'to stderr')),
  ]);
  const pids = [await p.daemonPid('a'), await p.daemonPid('b')];
  await p.waitFor('stderr lines', 5000, () => p.stderr.includes('[b] to stderr'));
  p.signal('SIGTERM');
  const exit = await p.waitExit(10_000);
  t.same(exit, { code: 3, signal: null }, 'exit code 3 propagated');
  t.same(pids.filter(isAlive), [], 'no daemon pid exists any more');
  t.ok(p.stdout.includes('[b] exiting on SIGTERM with 3'), 'children\'s stdout is prefixed');
  t.ok(p.stderr.includes('[b] partial-without-newline'), 'a trailing partial stderr line is flushed, prefixed');
  t.match(p.events().at(-1), { type: 'init-exited', exitCode: 3 });
});

t.test('a daemon that ignores SIGTERM is SIGKILLed after the grace period', async (t) => {
  const p = init(t, [
    '--grace-ms', '400',
    ...daemonFlag('polite', fixtureArgv('polite')),
    ...daemonFlag('stubborn', fixtureArgv('stubborn', '--ignore-term')),
  ]);
  const stubborn = await p.daemonPid('stubborn');
  await p.daemonPid('polite');
  const sentAt = performance.now();
  p.signal('SIGTERM');
  const exit = await p.waitExit(10_000);
  const ms = Math.round(performance.now() - sentAt);
  t.ok(p.stdout.includes('[stubborn] ignoring SIGTERM'), 'it saw the SIGTERM');
  t.same(exit, { code: 137, signal: null }, 'killed by SIGKILL counts as 128+9');
  t.ok(ms >= 400 && ms < 5000, `exited after the grace (${ms} ms)`);
  t.notOk(isAlive(stubborn), 'the stubborn daemon is gone');
  t.match(p.events().find((e) => e.type === 'daemon-exited' && e.daemon === 'stubborn'), { signal: 'SIGKILL', restartInMs: null });
});

t.test('SIGHUP reaches the gateway only', async (t) => {
  const dir = tmp(t);
  const p = init(t, [
    ...daemonFlag('gateway', fixtureArgv('gateway', '--marker-dir', dir)),
    ...daemonFlag('supervise', fixtureArgv('supervise', '--marker-dir', dir)),
  ]);
  const gw = await p.daemonPid('gateway');
  const sup = await p.daemonPid('supervise');
  p.signal('SIGHUP');
  await p.waitFor('gateway marker', 5000, () => existsSync(join(dir, 'gateway.hup')));
  t.equal(readFileSync(join(dir, 'gateway.hup'), 'utf8').trim(), String(gw), 'the gateway process got it');
  // init records the forward after sending it: the gateway may see the signal first (a CI flake).
  await p.waitFor('init\'s signal event', 5000, () => p.events().some((e) => e.type === 'signal'));
  t.match(p.events().find((e) => e.type === 'signal'), { signal: 'SIGHUP', action: 'forward', daemons: ['gateway'] });
  p.signal('SIGTERM');
  t.same(await p.waitExit(10_000), { code: 0, signal: null });
  t.notOk(existsSync(join(dir, 'supervise.hup')), 'supervise never saw SIGHUP');
  t.equal(p.events().filter((e) => e.type === 'daemon-started').length, 2, 'nobody was restarted by it');
  t.notOk(isAlive(gw) || isAlive(sup));
});

t.test('a daemon that keeps dying is restarted with doubling delays', async (t) => {
  const p = init(t, ['--daemon', `flaky=${JSON.stringify([process.execPath, '-e', 'process.exit(5)'])}`]);
  const delays = await p.waitFor('three deaths', 10_000, () => {
    const d = p.events().flatMap((e) => (e.type === 'daemon-exited' ? [e.restartInMs] : []));
    return d.length >= 3 ? d.slice(0, 3) : undefined;
  });
  t.same(delays, [200, 400, 800]);
  t.match(p.events().find((e) => e.type === 'daemon-exited'), { daemon: 'flaky', exitCode: 5, signal: null });
  p.signal('SIGINT');
  t.same(await p.waitExit(10_000), { code: 0, signal: null }, 'a daemon waiting in backoff is just not restarted');
});

t.test('a command that cannot be spawned is reported and retried, not fatal', async (t) => {
  const p = init(t, [
    '--daemon', 'ghost=["/nonexistent/bottle-daemon"]',
    ...daemonFlag('ok', fixtureArgv('ok')),
  ]);
  await p.daemonPid('ok');
  const ev = await p.waitFor('ghost exit event', 5000, () => p.events().find((e) => e.type === 'daemon-exited' && e.daemon === 'ghost'));
  t.match(ev, { exitCode: 127, restartInMs: 200, error: /ENOENT/ });
  p.signal('SIGTERM');
  t.same(await p.waitExit(10_000), { code: 0, signal: null });
});

t.test('with BOTTLE_SIDECAR_DAEMONS set but empty, init idles until signalled', async (t) => {
  const p = init(t, [], { BOTTLE_SIDECAR_DAEMONS: '' });
  const started = await p.waitFor('init-started', 10_000, () => p.events().find((e) => e.type === 'init-started'));
  t.match(started, { daemons: [] });
  // Init answers a SIGHUP with an event (no gateway to forward it to): one that arrives after
  // init-started proves it is still running, and idle, rather than done once it started nothing.
  p.signal('SIGHUP');
  const hup = await p.waitFor('the SIGHUP to be answered', 10_000, () => p.events().find((e) => e.type === 'signal'));
  t.match(hup, { signal: 'SIGHUP', action: 'ignored', daemons: [] });
  t.same(p.events().map((e) => e.type), ['init-started', 'signal'], 'nothing started, still running');
  p.signal('SIGTERM');
  t.same(await p.waitExit(10_000), { code: 0, signal: null });
});

t.test('an unknown daemon name is a one-line user error', async (t) => {
  const r = await bottleInProcess(['sidecar', 'init'], { env: { BOTTLE_SIDECAR_DAEMONS: 'gateway,nope' } });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: unknown daemon "nope" in BOTTLE_SIDECAR_DAEMONS; known: gateway, git-gate, supervise/);
});

t.test('bottle sidecar --help says where the daemons run', async (t) => {
  const r = await bottleInProcess(['sidecar', '--help']);
  t.equal(r.exitCode, 0);
  t.match(r.stdout, /init/);
  t.match(r.stdout, /supervise/);
  t.match(r.stdout, /inside a bottle's sidecar bundle/);
  t.match(r.stdout, /run locally/);
});

t.test('a daemon ended by the SIGTERM init forwarded counts as clean; readiness comes through the pipe', async (t) => {
  // `sleep` has no handler: SIGTERM ends it by signal, as it would a daemon still starting up.
  const script = 'const fs = require("fs"); fs.writeSync(Number(process.env.BOTTLE_READY_FD), "ready\\n"); setInterval(() => {}, 1000);';
  const p = init(t, [...daemonFlag('plain', ['sleep', '600']), ...daemonFlag('notifier', [process.execPath, '-e', script])]);
  const ready = await p.waitFor('the notifier to report ready', 10_000, () => p.events().find((e) => e.type === 'daemon-ready'));
  t.match(ready, { type: 'daemon-ready', daemon: 'notifier' }, 'a line on $BOTTLE_READY_FD becomes a daemon-ready event');
  t.notOk(p.events().some((e) => e.type === 'daemon-ready' && e.daemon === 'plain'), 'a daemon that says nothing is not reported ready');
  p.signal('SIGTERM');
  t.same(await p.waitExit(10_000), { code: 0, signal: null }, 'exit 0, not 143');
  t.match(p.events().find((e) => e.type === 'daemon-exited' && e.daemon === 'plain'), { signal: 'SIGTERM' });
});
