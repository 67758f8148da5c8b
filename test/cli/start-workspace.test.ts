// `start` and its dry run say what a workspace does not carry into the bottle: uncommitted files
// (the bottle checks out the last commit; staged changes stay behind too) and a missing remote.
// Regression for issue 20: "`--workspace` copies only `.git` without saying that uncommitted
// files stay behind or that there is no `origin`".
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleProcess } from '../helpers/cli.js';
import { EXAMPLE_MANIFEST } from '../helpers/dashboard.js';
import { parseRemotes, parseStatus } from '../../lib/plan/workspace.js';

const CREDS = { ANTHROPIC_API_KEY: 'sk-test-dummy', GITHUB_TOKEN: 'ghp-test-dummy', BOTTLE_FAKE_STEP_MS: '5' };

function world(t: { teardown(fn: () => void): void }): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-start-ws-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, env: { PATH: process.env.PATH, HOME: dir, BOTTLE_STATE_DIR: join(dir, 'state'), ...CREDS } };
}

// A repository with one commit; `dirty` adds one unstaged change, one staged new file and one
// untracked file.
function repo(dir: string, opts: { dirty: boolean; origin: boolean }): string {
  const r = join(dir, 'repo');
  mkdirSync(r);
  const git = (...args: string[]) => execFileSync('git', ['-C', r, '-c', 'user.email=t@example.test', '-c', 'user.name=t', ...args]);
  git('init', '-q');
  writeFileSync(join(r, 'a.txt'), 'one\n');
  git('add', 'a.txt');
  git('commit', '-qm', 'first');
  if (opts.origin) git('remote', 'add', 'origin', 'git@github.com:acme/app.git');
  if (opts.dirty) {
    writeFileSync(join(r, 'a.txt'), 'two\n');
    writeFileSync(join(r, 'staged.txt'), 'new\n');
    git('add', 'staged.txt');
    writeFileSync(join(r, 'loose.txt'), 'untracked\n');
  }
  return r;
}

const dryRun = (ws: string, env: NodeJS.ProcessEnv, ...more: string[]) =>
  bottleProcess(['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--workspace', ws, '--dry-run', ...more], { env, fake: true });

t.test('dry run: uncommitted files and no remote, each a warning with its fix', async (t) => {
  const w = world(t);
  const ws = repo(w.dir, { dirty: true, origin: false });
  const [text, json] = await Promise.all([dryRun(ws, w.env), dryRun(ws, w.env, '--json')]);
  t.equal(text.exitCode, 0, text.stderr);
  const expected = [
    `warning: workspace ${ws}: 3 uncommitted files (2 changed, 1 untracked) stay on the host: the bottle checks out the last commit; commit first to take them along`,
    `warning: workspace ${ws} has no remote: the agent will have no remote to push to (git remote add origin URL on the host, with URL as one of the agent's git: upstreams)`,
  ];
  t.same(text.stdout.split('\n').filter((l) => l.includes('workspace ') && l.startsWith('warning:')), expected);
  t.match(JSON.parse(json.stdout), { workspace: ws, workspaceFrom: 'option', warnings: expected });
});

t.test('a clean checkout with an origin: no workspace warning', async (t) => {
  const w = world(t);
  const ws = repo(w.dir, { dirty: false, origin: true });
  const r = await dryRun(ws, w.env, '--json');
  t.equal(r.exitCode, 0, r.stderr);
  t.same((JSON.parse(r.stdout) as { warnings: string[] }).warnings.filter((l) => l.includes('workspace')), []);
});

t.test('start --yes says it too, before the bring-up', async (t) => {
  const w = world(t);
  const ws = repo(w.dir, { dirty: true, origin: true });
  const r = await bottleProcess(['start', 'reviewer', '--manifest', EXAMPLE_MANIFEST, '--workspace', ws, '--yes', '--no-attach'], { env: w.env, fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  const lines = r.stderr.split('\n');
  const warned = lines.findIndex((l) => l.startsWith(`warning: workspace ${ws}: 3 uncommitted files`));
  t.ok(warned >= 0, r.stderr);
  t.ok(warned < lines.findIndex((l) => l.startsWith('[fake] creating networks')), 'before the bring-up');
  t.notMatch(r.stderr, /has no (origin )?remote/);
});

t.test('parseStatus and parseRemotes read git\'s machine formats', async (t) => {
  t.same(parseStatus(' M a.txt\0A  new.txt\0R  to.txt\0from.txt\0?? x/y.txt\0MM both.txt\0'), { changed: 4, untracked: 1 }, 'a rename\'s source is not an entry');
  t.same(parseStatus(''), { changed: 0, untracked: 0 });
  t.same(parseRemotes('remote.origin.url git@github.com:acme/app.git\nremote.up.stream.url https://x.test/r.git\n'), ['origin', 'up.stream']);
});
