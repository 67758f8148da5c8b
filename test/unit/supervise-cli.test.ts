// `bottle sidecar supervise` as a real process: alone, and started by init from the daemon registry.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../lib/paths.js';
import { tsxArgv } from '../helpers/cli.js';
import { InitProcess, isAlive } from '../fixtures/daemons/harness.js';

function tmp(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-supervise-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const LISTENING = /supervise listening on (http:\/\/\S+\/)/;

t.test('runs standalone on loopback, answers /healthz, exits 0 on SIGTERM', async (t) => {
  const dir = tmp(t);
  const child = spawn(process.execPath, [
    ...tsxArgv(), join(projectRoot(), 'commands', 'main.ts'), 'sidecar', 'supervise',
    '--listen', '127.0.0.1:0', '--queue-dir', join(dir, 'q'), '--decisions-dir', join(dir, 'd'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  let err = '';
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 15_000;
  while (!LISTENING.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no listening line\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = LISTENING.exec(out)![1]!;
  const res = await fetch(new URL('/healthz', url));
  t.equal(res.status, 200);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit on SIGTERM');
});

t.test('init starts the real supervise from the registry and stops it cleanly', async (t) => {
  const dir = tmp(t);
  const p = new InitProcess([], {
    BOTTLE_SIDECAR_DAEMONS: 'supervise',
    BOTTLE_SUPERVISE_LISTEN: '127.0.0.1:0',
    BOTTLE_SUPERVISE_QUEUE_DIR: join(dir, 'q'),
    BOTTLE_SUPERVISE_DECISIONS_DIR: join(dir, 'd'),
    BOTTLE_EVENTS_FILE: join(dir, 'events.jsonl'),
  });
  t.teardown(() => p.kill());
  const url = await p.waitFor('supervise to listen', 20_000, () => p.stdout.map((l) => /^\[supervise\] supervise listening on (\S+)/.exec(l)?.[1]).find(Boolean));
  const hook = await fetch(new URL('/hooks/claude', url), { method: 'POST', body: JSON.stringify({ hook_event_name: 'Stop', session_id: 's' }) });
  t.equal(hook.status, 204);
  const { events } = await (await fetch(new URL('/events', url))).json() as { events: { type: string }[] };
  t.same(events.map((e) => e.type), ['init-started', 'daemon-started', 'daemon-ready', 'agent-idle'], 'init and supervise share the events file (supervise reported ready through its pipe)');
  const pid = p.events().find((e) => e.type === 'daemon-started');
  p.signal('SIGTERM');
  t.same(await p.waitExit(15_000), { code: 0, signal: null }, 'supervise exits 0 on SIGTERM, so init does too');
  t.ok(pid?.type === 'daemon-started' && !isAlive(pid.pid), 'supervise is gone');
});
