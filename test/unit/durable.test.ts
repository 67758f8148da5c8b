// Durable bottles over the fake backend, whose "agent" is a host directory: the lifecycle's real
// save and restore scripts run against real git. Stop keeps the work; resume brings it back;
// a crash is `down` and resumable; export hands the work over; a failed resume loses nothing.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest } from '../../lib/manifest/index.js';
import { preparePlan } from '../../lib/plan/index.js';
import { projectRoot } from '../../lib/paths.js';
import {
  bottleStatuses, changeBudget, exportBottle, lifecycleDeps, planAttach, planResume, readBudgetFile, readSavedSummary, renderTranscript, resumeBottle,
  startBottle, stopBottle,
} from '../../lib/lifecycle/index.js';
import { bottlePaths, readMetadata } from '../../lib/state/index.js';
import { readUsage } from '../../lib/usage/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { renderStatusTable, statusJson } from '../../commands/lifecycle-verbs.js';
import { crashFake, fakeAgentRoot, fakeBackends } from '../helpers/fake-backend.js';
import { bottleProcess } from '../helpers/cli.js';

const loaded = loadManifest({ flag: join(projectRoot(), 'examples', 'bottle.yaml'), cwd: projectRoot(), env: {} });
const quiet = { log: () => undefined, signal: new AbortController().signal };
const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd } }).trim();

// A host repo with one commit that is also on origin (so it is not "unpushed").
function hostRepo(dir: string): string {
  const origin = join(dir, 'origin.git');
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  git(dir, 'init', '-q', '--bare', origin);
  git(repo, 'init', '-q');
  writeFileSync(join(repo, 'README.md'), 'hello\n');
  writeFileSync(join(repo, 'app.txt'), 'v1\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'base');
  git(repo, 'remote', 'add', 'origin', origin);
  git(repo, 'push', '-q', 'origin', 'main');
  return repo;
}

function setup(t: Test, extra: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '1', HOME: dir, PATH: process.env.PATH, ...extra };
  const repo = hostRepo(dir);
  const deps = lifecycleDeps(env, { backends: fakeBackends });
  const start = () => startBottle(deps, preparePlan(loaded, 'reviewer', { workspace: repo }, env), loaded.manifest.agents.reviewer!, quiet);
  return { dir, env, repo, deps, start };
}

// What an agent does: a commit, a changed tracked file, a new file, two claude sessions.
function work(agent: string): void {
  const ws = join(agent, 'workspace');
  writeFileSync(join(ws, 'feature.txt'), 'agent commit\n');
  git(ws, 'add', 'feature.txt');
  git(ws, 'commit', '-q', '-m', 'agent work');
  writeFileSync(join(ws, 'app.txt'), 'v2 uncommitted\n');
  writeFileSync(join(ws, 'notes.bin'), Buffer.from([0, 1, 2, 255]));
  writeFileSync(join(ws, '.git', 'info', 'exclude'), '*.log\n');
  writeFileSync(join(ws, 'build.log'), 'ignored by git\n');
  const proj = join(agent, 'home/node/.claude/projects/-workspace');
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, `${S1}.jsonl`), `${JSON.stringify({ type: 'user', message: { role: 'user', content: 'first' } })}\n`);
  writeFileSync(join(proj, `${S2}.jsonl`), [
    JSON.stringify({ type: 'user', timestamp: '2026-12-07T10:00:00Z', message: { role: 'user', content: 'add a feature\u001b[31m' } }),
    JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: 'Done.' }, { type: 'tool_use', name: 'Bash', input: { command: 'ls' } }] } }),
    JSON.stringify({ type: 'summary', summary: 'x' }),
  ].join('\n') + '\n');
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(proj, `${S1}.jsonl`), old, old);
}

t.test('stop saves sessions, unpushed commits and uncommitted changes; resume restores them and attach resumes the last session', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  const agent = fakeAgentRoot(env, meta.slug);
  work(agent);
  const lines: string[] = [];
  const stopped = await stopBottle(deps, meta.slug, (l) => lines.push(l));
  t.match(stopped.saved, { commits: 1, changedFiles: 2, sessions: 2, lastSession: S2 });
  t.match(lines.join('\n'), /saved 1 unpushed commit, 2 uncommitted files, 2 claude sessions/);
  t.notOk(existsSync(agent), 'the agent is gone');
  const rec = await readMetadata(deps.root, meta.slug);
  t.match(rec, { state: 'stopped', claudeSessionId: S2 });
  const [row] = await bottleStatuses(deps);
  t.match(row, { state: 'stopped', engine: 'missing', saved: { commits: 1 } });
  t.match(renderStatusTable([row!]), new RegExp(`Stopped and down .*\\n.*\\n${meta.slug}\\s+reviewer\\s+fake\\s+stopped\\s+\\S+\\s+1 unpushed commit, 2 uncommitted files, 2 claude sessions`));

  const rp = await planResume(deps, meta.slug);
  const back = await resumeBottle(deps, rp, quiet);
  t.match(back, { slug: meta.slug, state: 'running', claudeSessionId: S2 });
  const ws = join(agent, 'workspace');
  t.equal(git(ws, 'log', '-1', '--format=%s'), 'agent work', 'the commit is back');
  t.equal(git(ws, 'symbolic-ref', 'HEAD'), 'refs/heads/main', 'on its branch');
  t.equal(readFileSync(join(ws, 'app.txt'), 'utf8'), 'v2 uncommitted\n', 'the uncommitted change is back');
  t.same([...readFileSync(join(ws, 'notes.bin'))], [0, 1, 2, 255], 'a new binary file too');
  t.notOk(existsSync(join(ws, 'build.log')), 'a file git ignores is not saved (README says so)');
  t.same(readdirSync(join(agent, 'home/node/.claude/projects/-workspace')).sort(), [`${S1}.jsonl`, `${S2}.jsonl`]);
  const attach = await planAttach(deps, meta.slug);
  t.match(attach, { resume: true, sessionId: S2 });
  t.match(attach.argv.join(' '), new RegExp(`--resume ${S2}`));
  t.notOk(existsSync(join(agent, 'home/node/.bottle/restore')), 'the restore staging is gone');

  // A second round keeps the first round's commit and adds nothing twice.
  const again = await stopBottle(deps, meta.slug, () => undefined);
  t.match(again.saved, { commits: 1, changedFiles: 2 });
});

t.test('a crash leaves the bottle down; resume saves what the stopped agent holds, then brings it back', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  const agent = fakeAgentRoot(env, meta.slug);
  writeFileSync(join(agent, 'workspace', 'app.txt'), 'edited before the crash\n');
  crashFake(env, meta.slug);
  const [row] = await bottleStatuses(deps);
  t.match(row, { state: 'down', engine: 'exited' });
  t.match(renderStatusTable([row!]), /down\s+not yet \(engine: exited\)/);
  const lines: string[] = [];
  await resumeBottle(deps, await planResume(deps, meta.slug), { ...quiet, log: (l) => lines.push(l) });
  t.match(lines.join('\n'), /is down \(engine: exited\); saving its work from what is left first/);
  t.match(lines.join('\n'), /the agent is not running \(engine: exited\); starting it without network to save its work/);
  t.equal(readFileSync(join(agent, 'workspace', 'app.txt'), 'utf8'), 'edited before the crash\n');
  t.equal((await readMetadata(deps.root, meta.slug)).state, 'running');
});

t.test('a down bottle whose containers are gone resumes with a fresh workspace and says so', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  rmSync(join(bottlePaths(deps.root, meta.slug).dir, 'fake-engine.json'));
  rmSync(fakeAgentRoot(env, meta.slug), { recursive: true });
  t.equal((await bottleStatuses(deps))[0]!.state, 'down');
  const lines: string[] = [];
  await resumeBottle(deps, await planResume(deps, meta.slug), { ...quiet, log: (l) => lines.push(l) });
  t.match(lines.join('\n'), /\(no saved work: a fresh workspace\)/);
  t.equal(git(join(fakeAgentRoot(env, meta.slug), 'workspace'), 'log', '-1', '--format=%s'), 'base');
});

t.test('a failed save stops nothing; --no-save stops anyway', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  writeFileSync(join(fakeAgentRoot(env, meta.slug), 'workspace', '.git', 'index'), 'not an index');
  await t.rejects(stopBottle(deps, meta.slug, () => undefined), {
    name: 'UserError', message: new RegExp(`^saving the work in ${meta.slug} failed \\(exit 1: .*\\); ${meta.slug} was not stopped\\. \`bottle stop --no-save ${meta.slug}\` stops it anyway`),
  });
  t.equal((await readMetadata(deps.root, meta.slug)).state, 'running', 'still running');
  t.ok(existsSync(fakeAgentRoot(env, meta.slug)), 'nothing torn down');
  const r = await stopBottle(deps, meta.slug, () => undefined, { save: false });
  t.same(r, { slug: meta.slug, state: 'stopped', saved: null });
});

t.test('a failed resume leaves the bottle stopped with its saved work untouched', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  work(fakeAgentRoot(env, meta.slug));
  await stopBottle(deps, meta.slug, () => undefined);
  const before = readSavedSummary(deps.root, meta.slug);
  const failing = lifecycleDeps({ ...env, BOTTLE_FAKE_FAIL: 'launch' }, { backends: fakeBackends });
  await t.rejects(resumeBottle(failing, await planResume(failing, meta.slug), quiet), /fake launch failure/);
  t.equal((await readMetadata(deps.root, meta.slug)).state, 'stopped');
  t.same(readSavedSummary(deps.root, meta.slug), before);
  // Resuming a running bottle is refused with the attach hint.
  await resumeBottle(deps, await planResume(deps, meta.slug), quiet);
  await t.rejects(planResume(deps, meta.slug), { message: `${meta.slug} is running; attach with: bottle attach ${meta.slug}` });
});

t.test('resume reads the policy as it ended: a route approved after the start needs its value again, by name', async (t) => {
  const { dir, env, deps, start } = setup(t);
  const meta = await start();
  await stopBottle(deps, meta.slug, () => undefined);
  const policyFile = join(bottlePaths(deps.root, meta.slug).policy, 'policy.yaml');
  writeFileSync(policyFile, `${readFileSync(policyFile, 'utf8').replace(/^routes:\n/m, 'routes:\n  - host: late.test\n    headers:\n      Authorization: Bearer ${LATE_TOKEN}\n')}`);
  const rp = await planResume(deps, meta.slug);
  t.ok(rp.plan.egress.routes.some((r) => r.host === 'late.test' && r.headers[0]!.vars[0] === 'LATE_TOKEN'));
  const full = { ...process.env, ...env, ANTHROPIC_API_KEY: 'placeholder-value-1' };
  const missing = await bottleProcess(['resume', meta.slug, '--no-attach'], { env: full, cwd: dir, fake: true });
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, /^bottle: host env not set: LATE_TOKEN; export it before resuming/m);
  t.equal((await readMetadata(deps.root, meta.slug)).state, 'stopped', 'nothing started');
  const ok = await bottleProcess(['resume', meta.slug, '--json'], { env: { ...full, LATE_TOKEN: 'late-token-value' }, cwd: dir, fake: true });
  t.equal(ok.exitCode, 0, ok.stderr);
  t.match(JSON.parse(ok.stdout), { slug: meta.slug, agent: 'reviewer', backend: 'fake' });
  const rec = JSON.parse(readFileSync(join(bottlePaths(deps.root, meta.slug).dir, 'fake-engine.json'), 'utf8')) as { routeValues: Record<string, string> };
  t.ok(rec.routeValues.LATE_TOKEN, 'the launch read LATE_TOKEN');
  t.notMatch(readFileSync(policyFile, 'utf8'), /late-token-value/, 'never written');
});

t.test('until-stop grants end at stop and are not restored by resume; timed ones stay in the saved policy', async (t) => {
  const { env, deps, start } = setup(t);
  const meta = await start();
  const policyFile = join(bottlePaths(deps.root, meta.slug).policy, 'policy.yaml');
  const grant = (text: string) => text.replace(/^allow:\n/m, 'allow:\n  - { host: session.test, until: stop }\n  - { host: timed.test, until: "2030-01-01T00:00:00Z" }\n');
  writeFileSync(policyFile, grant(readFileSync(policyFile, 'utf8')));
  t.equal(loadPolicy(readFileSync(policyFile, 'utf8')).allowUntil?.['session.test'], 'stop', 'the fixture edit took');
  const lines: string[] = [];
  await stopBottle(deps, meta.slug, (l) => lines.push(l));
  t.match(lines.join('\n'), /dropped the until-stop grant for session\.test/);
  const saved = loadPolicy(readFileSync(policyFile, 'utf8'));
  t.notOk(saved.allow.includes('session.test'), 'gone from the saved policy');
  t.same(saved.allowUntil, { 'timed.test': '2030-01-01T00:00:00.000Z' }, 'a timed grant keeps its own expiry');
  // A bottle that went down (no stop ran) still holding one: resume does not restore it.
  await resumeBottle(deps, await planResume(deps, meta.slug), quiet);
  writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace(/^allow:\n/m, 'allow:\n  - { host: session.test, until: stop }\n'));
  rmSync(join(bottlePaths(deps.root, meta.slug).dir, 'fake-engine.json'));
  rmSync(fakeAgentRoot(env, meta.slug), { recursive: true });
  const resumed: string[] = [];
  await resumeBottle(deps, await planResume(deps, meta.slug), { ...quiet, log: (l) => resumed.push(l) });
  t.match(resumed.join('\n'), /not restoring the until-stop grant for session\.test/);
  t.notOk(loadPolicy(readFileSync(policyFile, 'utf8')).allow.includes('session.test'));
});

t.test('a budget changed live and the usage so far survive stop and resume', async (t) => {
  const { deps, start } = setup(t);
  const meta = await start();
  const paths = bottlePaths(deps.root, meta.slug);
  t.same(readBudgetFile(paths), { warnAt: 0.8 }, 'start wrote the plan\'s budget (the example manifest sets none)');
  changeBudget(paths, { usd: 3 });
  appendFileSync(paths.eventsFile, `${JSON.stringify({ type: 'usage', time: new Date().toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5', input: 1_000_000, output: 0, cacheRead: 0, cacheWrite: 0, requestId: null, path: '/v1/messages', status: 200 })}\n`);
  await stopBottle(deps, meta.slug, () => undefined);
  await resumeBottle(deps, await planResume(deps, meta.slug), quiet);
  t.same(readBudgetFile(paths), { usd: 3, warnAt: 0.8 }, 'the raised cap is still in force');
  t.equal((await readUsage(paths.eventsFile)).totals.usd, 3, 'and the usage counted before the stop still counts against it');
  const [row] = await bottleStatuses(deps);
  t.match(row, { slug: meta.slug, budget: { level: 'paused', fraction: 1, cap: '$3.00' } }, 'bottle ls judges it: $3 of $3');
  t.notOk(row!.usage, 'usage itself only with --json');
  t.match(renderStatusTable([row!]), new RegExp(`${meta.slug}\\s+reviewer\\s+fake\\s+paused: budget\\s+.*budget \\$3\\.00: 100% used \\(bottle budget raises it\\)`));
  t.match(statusJson(row!), { budget: { level: 'paused', fraction: 1, cap: '$3.00' } });
  changeBudget(paths, { usd: null });
  t.notOk((await bottleStatuses(deps))[0]!.budget, 'no cap, no budget state');
});

t.test('export writes transcripts (JSONL + text), the bundle and the patch; a running bottle is saved first', async (t) => {
  const { dir, env, deps, start, repo } = setup(t);
  const meta = await start();
  work(fakeAgentRoot(env, meta.slug));
  const r = await exportBottle(deps, meta.slug, 'out', dir);
  t.equal(r.savedNow, true);
  t.equal((await readMetadata(deps.root, meta.slug)).state, 'running', 'still running');
  t.same(r.files.sort(), ['README.txt', `transcripts/${S1}.jsonl`, `transcripts/${S1}.txt`, `transcripts/${S2}.jsonl`, `transcripts/${S2}.txt`, 'uncommitted.patch', 'work.bundle'].sort());
  const text = readFileSync(join(dir, 'out', 'transcripts', `${S2}.txt`), 'utf8');
  t.equal(text, '── user 2026-12-07T10:00:00Z\nadd a feature[31m\n\n── assistant\nDone.\n[tool Bash] {"command":"ls"}\n', 'readable, control characters dropped');
  git(repo, 'fetch', '-q', join(dir, 'out', 'work.bundle'), 'refs/heads/*:refs/remotes/bottle/*');
  t.equal(git(repo, 'log', '-1', '--format=%s', 'bottle/main'), 'agent work', 'the bundle fetches into the host repo');
  git(repo, 'checkout', '-q', 'bottle/main');
  git(repo, 'apply', '--binary', join(dir, 'out', 'uncommitted.patch'));
  t.equal(readFileSync(join(repo, 'app.txt'), 'utf8'), 'v2 uncommitted\n', 'the patch applies');
  await t.rejects(exportBottle(deps, meta.slug, 'out', dir), /exists and is not empty; pass --out with a new directory/);
});

t.test('renderTranscript skips what is not a message and survives bad lines', async (t) => {
  t.equal(renderTranscript('not json\n{"type":"summary"}\n'), '(no messages)\n');
  t.equal(renderTranscript(`${JSON.stringify({ type: 'user', message: { content: [{ type: 'tool_result', content: 'x'.repeat(2100) }] } })}\n`).length, '── user\n[tool result] '.length + 2000 + '… (100 more characters)\n'.length);
});
