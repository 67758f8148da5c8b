// `bottle start --json`, on the fake backend. Regression for issue 20: "`start --json` without
// `--dry-run` is ignored silently and the dry-run JSON lacks `workspace`".
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleProcess } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST } from '../helpers/dashboard.js';

function world(t: { teardown(fn: () => void): void }): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-start-json-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    PATH: process.env.PATH, HOME: dir, BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '5',
    ANTHROPIC_API_KEY: 'sk-test-dummy', GITHUB_TOKEN: 'ghp-test-dummy',
  };
  return { dir, env };
}

t.test('start --json without --dry-run: the result as JSON, and no attach to bury it', async (t) => {
  const { env } = world(t);
  const r = await bottleProcess(['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--yes', '--json'], { env, fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { ok: boolean; slug: string; agent: string; backend: string };
  t.match(doc, { ok: true, slug: /^reviewer-[a-z2-7]{6}$/, agent: 'reviewer', backend: 'fake' });
  t.equal(r.stdout.trim().split('\n').length, 1, 'one JSON document, nothing else on stdout');
  t.match(r.stderr, new RegExp(`^bottle: ${doc.slug} is running; attach with: bottle attach ${doc.slug}$`, 'm'));
  t.notMatch(r.stderr, /not attaching/, 'not attaching is what --json asks for, not a missing terminal');
});

t.test('start --dry-run --json names the workspace, null when there is none', async (t) => {
  const { dir, env } = world(t);
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  execFileSync('git', ['init', '-q', repo]);
  const [none, given] = await Promise.all([
    bottleProcess(['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--dry-run', '--json'], { env, fake: true }),
    bottleProcess(['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--dry-run', '--json', '--workspace', repo], { env, fake: true }),
  ]);
  t.equal(none.exitCode, 0, none.stderr);
  const plan = JSON.parse(none.stdout) as Record<string, unknown>;
  t.strictSame([plan.agent, plan.workspace, plan.workspaceFrom], ['reviewer', null, null], 'present as null, not left out');
  t.equal(given.exitCode, 0, given.stderr);
  t.match(JSON.parse(given.stdout), { agent: 'reviewer', workspace: repo, workspaceFrom: 'option' });
});
