// Mirror freshness: the access hook refreshes before each service, bounded in time; when the
// upstream is gone or hangs, the last mirrored state is served and the failure is logged.
import { renameSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startGitGate, type GitGate } from '../../sidecars/git-gate/daemon.js';
import type { Upstream } from '../../sidecars/git-gate/config.js';
import { bareUpstream, freePort, git, gitWorld } from '../fixtures/git-gate/world.js';

async function gate(t: Test, root: string, env: NodeJS.ProcessEnv, upstream: Upstream, fetchTimeoutMs: number): Promise<{ g: GitGate; out: string[] }> {
  const out: string[] = [];
  const g = await startGitGate({ reposDir: join(root, 'gate'), upstreams: [upstream], port: await freePort(), env, fetchTimeoutMs, out: (l) => out.push(l), err: () => {} });
  t.teardown(() => g.stop());
  return { g, out };
}

async function refreshFailure(out: string[]): Promise<{ error: string }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const e = out.map((l) => JSON.parse(l) as { event: string; error: string }).find((x) => x.event === 'refresh-failed');
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`no refresh-failed event\n${out.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('an upstream that disappears: fetches serve the last mirrored state', async (t) => {
  const { root, env } = gitWorld(t, 'bottle-git-gate-fresh-');
  const up = join(root, 'up.git');
  await bareUpstream(env, up);
  const head = (await git(env, root, '--git-dir', up, 'rev-parse', 'main')).stdout;
  const { g, out } = await gate(t, root, env, { name: 'app', upstream: up, kind: 'file' }, 20_000);
  renameSync(up, `${up}.moved`);
  await git(env, root, 'clone', '--quiet', g.repos[0]!.url, join(root, 'work'));
  t.equal((await git(env, join(root, 'work'), 'rev-parse', 'HEAD')).stdout, head, 'stale but served');
  t.match(await refreshFailure(out), { repo: 'app', error: /fetch from upstream failed: .*does not appear to be a git repository/ });
});

t.test('an upstream that hangs cannot hang a fetch past --fetch-timeout-ms', async (t) => {
  const { root, env } = gitWorld(t, 'bottle-git-gate-hang-');
  const held: Socket[] = [];
  const hole = createServer((s) => { held.push(s); });
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of held) s.destroy(); hole.close(); });
  const port = (hole.address() as { port: number }).port;
  const { g, out } = await gate(t, root, env, { name: 'app', upstream: `git://127.0.0.1:${port}/app.git`, kind: 'git' }, 1_000);
  out.length = 0; // drop the startup refresh's outcome
  const started = Date.now();
  await git(env, root, 'clone', '--quiet', g.repos[0]!.url, join(root, 'work'));
  const ms = Date.now() - started;
  t.ok(ms < 15_000, `clone finished in ${ms} ms despite the hanging upstream`);
  t.match(await refreshFailure(out), { error: 'fetch from upstream timed out after 1 s' });
});
