// `bottle sidecar git-gate` as a real process: startup, JSON decision lines on stdout, SIGTERM,
// a dying git daemon, bad flags. Runs the registration through a minimal entry, and through
// commands/main.ts too once commands/sidecar.ts wires it.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { projectRoot } from '../../lib/paths.js';
import { isAlive } from '../fixtures/daemons/harness.js';
import { SECRETS, bareUpstream, commit, freePort, git, gitProbe, gitWorld, identity, rev, serveUpstreams } from '../fixtures/git-gate/world.js';
import { bottleProcess, tsxArgv } from '../helpers/cli.js';

const FIXTURE_ENTRY = join(projectRoot(), 'test', 'fixtures', 'git-gate', 'cli-entry.ts');
const MAIN = join(projectRoot(), 'commands', 'main.ts');

interface Gate { stdout: string[]; stderr: string[]; done: boolean; exited: Promise<number | null>; kill(sig: NodeJS.Signals): void; dump(): string }

function startProcess(t: Test, entry: string, args: string[], env: NodeJS.ProcessEnv): Gate {
  const child = spawn(process.execPath, [...tsxArgv(), entry, 'sidecar', 'git-gate', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const gate: Gate = {
    stdout: [], stderr: [], done: false,
    exited: new Promise((r) => child.once('exit', (code) => { gate.done = true; r(code); })),
    kill: (sig) => child.kill(sig),
    dump: () => `--- stdout\n${gate.stdout.join('\n')}\n--- stderr\n${gate.stderr.join('\n')}`,
  };
  for (const [stream, into] of [[child.stdout, gate.stdout], [child.stderr, gate.stderr]] as const) {
    let pending = '';
    stream.on('data', (c: Buffer) => {
      const parts = (pending + c.toString()).split('\n');
      pending = parts.pop() ?? '';
      into.push(...parts);
    });
  }
  return gate;
}

async function waitFor<T>(gate: Gate, what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline || gate.done) throw new Error(`${gate.done ? 'exited' : 'timed out'} waiting for ${what}\n${gate.dump()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const events = (gate: Gate): Array<Record<string, unknown>> =>
  gate.stdout.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });

async function world(t: Test) {
  const { root, env } = gitWorld(t, 'bottle-git-gate-cli-');
  const upstream = join(root, 'app.git');
  await bareUpstream(env, upstream);
  const file = join(root, 'upstreams.yaml');
  writeFileSync(file, `- name: app\n  upstream: ${upstream}\n`);
  return { root, env, upstream, file };
}

async function scenario(t: Test, entry: string): Promise<void> {
  const w = await world(t);
  const port = await freePort();
  const gate = startProcess(t, entry, ['--repos-dir', join(w.root, 'repos'), '--upstreams', w.file, '--port', String(port)], w.env);
  const ready = await waitFor(gate, 'ready event', () => events(gate).find((e) => e.event === 'ready'));
  t.match(ready, { listen: `127.0.0.1:${port}`, repos: ['app'] });
  const work = join(w.root, 'work');
  await git(w.env, w.root, 'clone', '--quiet', `git://127.0.0.1:${port}/app.git`, work);
  await identity(w.env, work);
  const before = await rev(w.env, w.upstream, 'main');
  await commit(w.env, work, { '.env': `AWS_ACCESS_KEY_ID=${SECRETS.aws}\n` }, 'oops');
  const push = await gitProbe(w.env, work, 'push', 'origin', 'HEAD:main');
  t.not(push.exitCode, 0);
  t.match(push.stderr, '.env:1: aws-access-key-id');
  const decision = await waitFor(gate, 'push decision on stdout', () => events(gate).find((e) => e.event === 'push'));
  t.match(decision, { repo: 'app', verdict: 'rejected', rules: ['aws-access-key-id'] });
  t.equal(await rev(w.env, w.upstream, 'main'), before);
  t.notOk([...gate.stdout, ...gate.stderr].join('\n').includes(SECRETS.aws), 'no secret in the daemon output');
  gate.kill('SIGTERM');
  t.equal(await gate.exited, 0, 'exit 0 on SIGTERM');
  t.notOk(isAlive(ready.daemonPid as number), 'git daemon is gone');
}

t.test('runs standalone: clone, rejected push logged as JSON, clean exit on SIGTERM', (t) => scenario(t, FIXTURE_ENTRY));

t.test('exits 1 when git daemon dies, so the init supervisor restarts the gate', async (t) => {
  const w = await world(t);
  const gate = startProcess(t, FIXTURE_ENTRY, ['--repos-dir', join(w.root, 'repos'), '--upstreams', w.file, '--port', String(await freePort())], w.env);
  const ready = await waitFor(gate, 'ready event', () => events(gate).find((e) => e.event === 'ready'));
  process.kill(ready.daemonPid as number, 'SIGKILL');
  t.equal(await gate.exited, 1);
  t.match(gate.stderr.join('\n'), /git daemon exited unexpectedly \(SIGKILL\); exiting so the supervisor restarts the gate/);
});

t.test('a port in use fails startup with a clear message', async (t) => {
  const w = await world(t);
  const taken = await serveUpstreams(t, w.env, w.root);
  const gate = startProcess(t, FIXTURE_ENTRY, ['--repos-dir', join(w.root, 'repos'), '--upstreams', w.file, '--port', String(taken.port)], w.env);
  t.equal(await gate.exited, 1, gate.dump());
  t.match(gate.stderr.join('\n'), /bottle: git-gate: git daemon exited before listening on 127\.0\.0\.1:\d+ .*is the port free/);
});

t.test('bad upstreams file and flags are user errors', async (t) => {
  const w = await world(t);
  writeFileSync(w.file, '- name: app\n');
  const bad = startProcess(t, FIXTURE_ENTRY, ['--repos-dir', join(w.root, 'repos'), '--upstreams', w.file], w.env);
  t.equal(await bad.exited, 1);
  t.match(bad.stderr.join('\n'), /bottle: .*upstreams\.yaml: entry 1: missing "upstream" for "app"/);
  const port = startProcess(t, FIXTURE_ENTRY, ['--repos-dir', w.root, '--upstreams', w.file, '--port', 'x'], w.env);
  t.equal(await port.exited, 1);
  t.match(port.stderr.join('\n'), /--port x: expected a number from 1 to 65535/);
});

const wired = /^\s+git-gate\b/m.test((await bottleProcess(['sidecar', '--help'])).stdout);
t.test('through the real CLI (commands/main.ts)', { skip: wired ? false : 'commands/sidecar.ts does not register git-gate yet' }, (t) => scenario(t, MAIN));
