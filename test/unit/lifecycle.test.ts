// The lifecycle over the fake backend: state, policy, CA, logs, failure cleanup, attach
// session decisions, ls and cleanup — everything the verbs and the dashboard rely on.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, parseManifest } from '../../lib/manifest/index.js';
import { preparePlan } from '../../lib/plan/index.js';
import { projectRoot } from '../../lib/paths.js';
import {
  bottleStatuses, claimBottle, cleanup, lifecycleDeps, planAttach, startBottle, stopBottle, waitingFromEvents,
} from '../../lib/lifecycle/index.js';
import { bottlePaths, listBottles, readMetadata, updateMetadata } from '../../lib/state/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { renderStatusTable, statusJson } from '../../commands/lifecycle-verbs.js';
import { bottleProcess } from '../helpers/cli.js';
import { FakeBackend, fakeBackends } from '../helpers/fake-backend.js';
import { writeFileSync, mkdirSync } from 'node:fs';

const loaded = loadManifest({ flag: join(projectRoot(), 'examples', 'bottle.yaml'), cwd: projectRoot(), env: {} });

function setup(t: Test, extra: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-life-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { BOTTLE_STATE_DIR: join(dir, 'state'), BOTTLE_FAKE_STEP_MS: '1', HOME: dir, ...extra };
  return { dir, env, deps: lifecycleDeps(env, { backends: fakeBackends }) };
}

const quiet = { log: () => undefined, signal: new AbortController().signal };

t.test('start writes state, policy and CA, and records the launch', async (t) => {
  const { deps, env } = setup(t);
  const plan = preparePlan(loaded, 'implementer', {}, env);
  const lines: string[] = [];
  const meta = await startBottle(deps, plan, loaded.manifest.agents.implementer!, { ...quiet, log: (l) => lines.push(l) });
  t.match(meta.slug, /^implementer-[a-z2-7]{6}$/);
  t.equal(meta.state, 'running');
  t.equal(meta.backend, 'fake');
  t.same(meta.resources.containers, [`fake-${meta.slug}-agent`, `fake-${meta.slug}-sidecars`]);
  const paths = bottlePaths(deps.root, meta.slug);
  const policy = loadPolicy(readFileSync(join(paths.policy, 'policy.yaml'), 'utf8'), 'policy.yaml');
  t.same(policy.routes.map((r) => r.host), ['api.github.com', 'api.anthropic.com']);
  t.equal(policy.model?.host, 'api.anthropic.com', 'the model route, written from the plan');
  t.equal(statSync(join(paths.ca, 'ca.key')).mode & 0o777, 0o600, 'CA key is private');
  const log = readFileSync(paths.bringupLog, 'utf8');
  t.match(log, /\[fake\] starting sidecars/);
  t.match(log, new RegExp(`bottle ${meta.slug} is up`));
  t.same(lines, log.trim().split('\n'), 'the caller sees exactly what the log gets');
});

t.test('a failed launch leaves no state behind', async (t) => {
  const { deps, env } = setup(t, { BOTTLE_FAKE_FAIL: 'launch' });
  const plan = preparePlan(loaded, 'reviewer', {}, env);
  await t.rejects(startBottle(deps, plan, loaded.manifest.agents.reviewer!, quiet), /fake launch failure/);
  t.same(await listBottles(deps.root), []);
});

t.test('a claimed slug is used by start; a wrong or missing one is refused', async (t) => {
  const { deps, env } = setup(t);
  const plan = preparePlan(loaded, 'reviewer', {}, env);
  const claimed = await claimBottle(deps, plan);
  t.equal(claimed.state, 'claimed');
  t.ok(existsSync(bottlePaths(deps.root, claimed.slug).bringupLog), 'bring-up log exists before launch (dashboard tails it)');
  await t.rejects(startBottle(deps, preparePlan(loaded, 'implementer', {}, env), loaded.manifest.agents.implementer!, { ...quiet, slug: claimed.slug }), /not a claimed implementer/);
  await t.rejects(startBottle(deps, plan, loaded.manifest.agents.reviewer!, { ...quiet, slug: 'reviewer-zzzzzz' }), /no claimed bottle/);
  const meta = await startBottle(deps, plan, loaded.manifest.agents.reviewer!, { ...quiet, slug: claimed.slug });
  t.equal(meta.slug, claimed.slug);
});

t.test('attach starts a recorded session, then keeps its id; stop keeps the bottle, stopped', async (t) => {
  const { deps, env } = setup(t);
  const meta = await startBottle(deps, preparePlan(loaded, 'implementer', {}, env), loaded.manifest.agents.implementer!, quiet);
  const first = await planAttach(deps, meta.slug);
  t.equal(first.resume, false);
  t.match(first.sessionId, /^[0-9a-f-]{36}$/);
  t.equal((await readMetadata(deps.root, meta.slug)).claudeSessionId, first.sessionId, 'session id recorded');
  t.match(first.argv.join(' '), /--session-id [0-9a-f-]{36} --dangerously-skip-permissions --append-system-prompt-file/);
  // The fake agent has no transcript, so there is nothing to resume: a fresh session, never an error.
  const second = await planAttach(deps, meta.slug.slice(0, -2));
  t.equal(second.resume, false);
  const twin = await startBottle(deps, preparePlan(loaded, 'implementer', {}, env), loaded.manifest.agents.implementer!, quiet);
  await t.rejects(planAttach(deps, 'implementer'), { name: 'UserError', message: `implementer is ambiguous: it starts ${[meta.slug, twin.slug].sort().join(', ')}; give more of the slug` });
  await stopBottle(deps, twin.slug, () => {});
  const lines: string[] = [];
  const stopped = await stopBottle(deps, meta.slug, (l) => lines.push(l));
  t.equal(stopped.state, 'stopped');
  t.match(lines.join('\n'), /\[fake\] removing networks/);
  t.match(lines.join('\n'), /saved 0 unpushed commits, 0 uncommitted files, 0 claude sessions/);
  t.same((await listBottles(deps.root)).map((b) => b.ok && b.metadata.state), ['stopped', 'stopped']);
  await t.rejects(planAttach(deps, meta.slug), { message: `${meta.slug} is stopped; bring it back with: bottle resume ${meta.slug}` });
});

t.test('attach resumes (--resume, same id) once claude has a transcript for the recorded session', async (t) => {
  const { env, deps: base } = setup(t);
  const probes: string[][] = [];
  // An agent that has a transcript for exactly the ids in `transcripts`.
  const transcripts = new Set<string>();
  class WithTranscripts extends FakeBackend {
    override async exec(_meta: unknown, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
      probes.push(argv);
      return { exitCode: transcripts.has(argv.at(-1)!) ? 0 : 2, stdout: '', stderr: '' };
    }
  }
  const deps = { ...base, backends: { ...fakeBackends, load: async () => new WithTranscripts(env) } };
  const meta = await startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet);
  const first = await planAttach(deps, meta.slug);
  t.equal(first.resume, false, 'nothing recorded yet: a new session');
  transcripts.add(first.sessionId);
  const second = await planAttach(deps, meta.slug);
  t.equal(second.resume, true);
  t.equal(second.sessionId, first.sessionId, 'the same conversation');
  t.match(second.argv.join(' '), new RegExp(`--resume ${first.sessionId} `));
  t.same(probes.at(-1)!.slice(-2), ['/home/node/.claude/projects', first.sessionId], 'asked the agent for the transcript file');
  transcripts.clear();
  const third = await planAttach(deps, meta.slug);
  t.equal(third.resume, false, 'a transcript that is gone: a fresh session, never an error');
  t.not(third.sessionId, first.sessionId);
});

t.test('ls joins state, engine view, proposals and the waiting marker', async (t) => {
  const { deps, env } = setup(t);
  const meta = await startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet);
  const paths = bottlePaths(deps.root, meta.slug);
  mkdirSync(paths.events, { recursive: true });
  writeFileSync(paths.eventsFile, [
    JSON.stringify({ time: '2026-01-01T00:00:00Z', type: 'agent-waiting' }),
    JSON.stringify({ time: '2026-01-01T00:01:00Z', type: 'agent-idle' }),
    JSON.stringify({ time: '2026-01-01T00:02:00Z', type: 'agent-waiting' }),
  ].join('\n') + '\n');
  const [row] = await bottleStatuses(deps);
  t.match(row, { slug: meta.slug, agent: 'reviewer', backend: 'fake', state: 'running', engine: 'running', pendingProposals: 0, waitingSince: '2026-01-01T00:02:00Z' });
  t.equal(waitingFromEvents(join(deps.root, 'nope')), undefined);
  const table = renderStatusTable([row!], Date.parse(row!.created) + 125_000);
  t.match(table, /^SLUG\s+AGENT\s+BACKEND\s+STATE\s+ENGINE\s+AGE\s+PROPOSALS\s+NOTE$/m, 'every column is labelled');
  const idle = statusJson({ ...row!, waitingSince: undefined });
  t.same(Object.keys(idle), ['slug', 'agent', 'backend', 'state', 'engine', 'dockerHost', 'on', 'unreachable', 'created', 'pendingProposals', 'waitingSince', 'broken', 'stoppedAt', 'saved', 'usage', 'budget']);
  t.match(idle, { waitingSince: null, broken: null, stoppedAt: null, saved: null, budget: null }, 'absent values are null in --json, not missing keys');
  t.match(table, new RegExp(`${meta.slug}\\s+reviewer\\s+fake\\s+running\\s+running\\s+2m\\s+0\\s+waiting for input`));
  t.equal(renderStatusTable([]), 'no bottles; start one with: bottle start <agent>');
});

t.test('cleanup keeps down and stopped bottles (resumable); --purge removes them; broken state goes unless it holds saved work', async (t) => {
  const { deps, env } = setup(t);
  const start = () => startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet);
  const gone = await start();
  const alive = await start();
  const stopped = await start();
  await stopBottle(deps, stopped.slug, () => undefined);
  rmSync(join(bottlePaths(deps.root, gone.slug).dir, 'fake-engine.json'));
  const broken = bottlePaths(deps.root, 'reviewer-brokn2');
  mkdirSync(broken.dir);
  writeFileSync(broken.metadata, '{not json');
  const keeper = bottlePaths(deps.root, 'reviewer-brokn3');
  mkdirSync(join(keeper.saved, 'git'), { recursive: true });
  writeFileSync(keeper.metadata, '{not json');
  const states = Object.fromEntries((await bottleStatuses(deps)).map((s) => [s.slug, s.state]));
  t.same(states, { [gone.slug]: 'down', [alive.slug]: 'running', [stopped.slug]: 'stopped', 'reviewer-brokn2': 'broken', 'reviewer-brokn3': 'broken' });
  const dry = await cleanup(deps, { dryRun: true, log: () => undefined });
  t.same(dry.map((i) => [i.what, i.slug, i.done]), [['state', 'reviewer-brokn2', false]], 'only the broken state without saved work');
  t.equal((await listBottles(deps.root)).length, 5, 'dry run removes nothing');
  await t.rejects(planAttach(deps, gone.slug), { name: 'UserError', message: `${gone.slug} is down (engine: its containers are gone); \`bottle resume ${gone.slug}\` brings it back` }, 'attach says so instead of the engine\'s raw exec error');
  const logs: string[] = [];
  await cleanup(deps, { log: (l) => logs.push(l) });
  t.same((await listBottles(deps.root)).map((b) => b.slug).sort(), [alive.slug, gone.slug, stopped.slug, 'reviewer-brokn3'].sort());
  t.match(logs.join('\n'), /kept reviewer-brokn3: its metadata is broken .* but it holds saved work/);
  await cleanup(deps, { purge: true, log: () => undefined });
  t.same((await listBottles(deps.root)).map((b) => b.slug).sort(), [alive.slug, 'reviewer-brokn3'].sort(), '--purge: stopped and down bottles go, running ones stay');
});

t.test('the verbs end to end through the CLI (fake backend)', async (t) => {
  const { env, dir } = setup(t, { ANTHROPIC_API_KEY: 'placeholder-value', GITHUB_TOKEN: 'placeholder-value' });
  const full = { ...process.env, ...env };
  const noYes = await bottleProcess(['start', 'reviewer'], { env: full, cwd: dir, fake: true });
  t.equal(noYes.exitCode, 1);
  t.match(noYes.stderr, /stdin is not a terminal; pass --yes/);
  const started = await bottleProcess(['start', 'reviewer', '--yes', '--no-attach'], { env: full, cwd: dir, fake: true });
  t.equal(started.exitCode, 0, started.stderr);
  const slug = started.stdout.trim();
  t.match(slug, /^reviewer-[a-z2-7]{6}$/);
  const ls = await bottleProcess(['ls', '--json'], { env: full, cwd: dir, fake: true });
  t.same(JSON.parse(ls.stdout).map((r: { slug: string }) => r.slug), [slug]);
  const stop = await bottleProcess(['stop', slug], { env: full, cwd: dir, fake: true });
  t.equal(stop.exitCode, 0, stop.stderr);
  t.match(stop.stderr, new RegExp(`${slug} stopped; bring it back with: bottle resume ${slug}`));
  const again = await bottleProcess(['stop', slug], { env: full, cwd: dir, fake: true });
  t.equal(again.exitCode, 0, again.stderr);
  t.match(again.stderr, /is already stopped/);
  const rmNoTty = await bottleProcess(['rm', slug], { env: full, cwd: dir, fake: true });
  t.equal(rmNoTty.exitCode, 1);
  t.match(rmNoTty.stderr, new RegExp(`^bottle: removing ${slug} loses the saved 0 unpushed commits, 0 uncommitted files, 0 claude sessions; pass --yes`));
  const rm = await bottleProcess(['rm', slug, '--yes'], { env: full, cwd: dir, fake: true });
  t.equal(rm.exitCode, 0, rm.stderr);
  const missing = await bottleProcess(['stop', slug], { env: full, cwd: dir, fake: true });
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, /^bottle: no bottle named .*there are no bottles/m);
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace');
});

t.test('without a terminal, start --yes brings the bottle up and does not attach; attach refuses in one line', async (t) => {
  const { env, dir } = setup(t, { ANTHROPIC_API_KEY: 'placeholder-value', GITHUB_TOKEN: 'placeholder-value' });
  const full = { ...process.env, ...env };
  const started = await bottleProcess(['start', 'reviewer', '--yes'], { env: full, cwd: dir, fake: true });
  t.equal(started.exitCode, 0, started.stderr);
  const slug = started.stdout.trim();
  t.match(slug, /^reviewer-[a-z2-7]{6}$/);
  t.match(started.stderr, new RegExp(`bottle: ${slug} is running; not attaching \\(stdin is not a terminal\\); attach from a terminal with: bottle attach ${slug}$`));
  const ls = await bottleProcess(['ls', '--json'], { env: full, cwd: dir, fake: true });
  t.same(JSON.parse(ls.stdout).map((r: { slug: string; state: string }) => [r.slug, r.state]), [[slug, 'running']], 'the bottle is up');
  const attach = await bottleProcess(['attach', slug], { env: full, cwd: dir, fake: true });
  t.equal(attach.exitCode, 1);
  t.equal(attach.stderr, `bottle: cannot attach to ${slug}: stdin is not a terminal; run bottle attach in a terminal (or --print-argv for the command)`);
  t.equal((await readMetadata(join(dir, 'state'), slug)).claudeSessionId, undefined, 'no session recorded for an attach that did not happen');
  const look = await bottleProcess(['attach', slug, '--print-argv'], { env: full, cwd: dir, fake: true });
  t.equal(look.exitCode, 0, look.stderr);
  t.match(JSON.parse(look.stdout), { slug, resume: false });
  t.equal((await readMetadata(join(dir, 'state'), slug)).claudeSessionId, undefined, '--print-argv records nothing');
});

t.test('start refuses before creating anything when a route variable is missing', async (t) => {
  const { env, dir } = setup(t);
  const r = await bottleProcess(['start', 'implementer', '--yes', '--no-attach'], { env: { ...process.env, ...env, GITHUB_TOKEN: '', ANTHROPIC_API_KEY: 'sk-long-enough-key' }, cwd: dir, fake: true });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /host env not set: GITHUB_TOKEN/);
  t.notOk(existsSync(join(dir, 'state')) && (await listBottles(join(dir, 'state'))).length > 0, 'no state created');
});

t.test('start without any Claude credential (auth: auto) refuses in one line that says how to get one; nothing created', async (t) => {
  const { env, dir } = setup(t);
  const manifest = join(projectRoot(), 'examples', 'bottle.yaml');
  const none = { ...process.env, ...env, XDG_CONFIG_HOME: join(dir, 'config'), GITHUB_TOKEN: 'ghp_long_enough', ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: '' };
  const r = await bottleProcess(['start', 'implementer', '--yes', '--no-attach', '--manifest', manifest], { env: none, cwd: dir, fake: true });
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr.trimEnd().split('\n').length, 1, 'exactly one line');
  t.match(r.stderr, /^bottle: no Claude credential on this host: export ANTHROPIC_API_KEY .*run `claude setup-token`.*CLAUDE_CODE_OAUTH_TOKEN; or name a source in .*credentials\.yaml\n?$/);
  t.notOk(existsSync(join(dir, 'state')) && readdirSync(join(dir, 'state')).length > 0, 'nothing created in the state dir');
  const token = await bottleProcess(['start', 'implementer', '--yes', '--no-attach', '--manifest', manifest], { env: { ...none, CLAUDE_CODE_OAUTH_TOKEN: `sk-ant-oat01-${'t'.repeat(40)}` }, cwd: dir, fake: true });
  t.equal(token.exitCode, 0, `the subscription token alone is enough: ${token.stderr}`);
});

t.test('cleanup --all removes every bottle and its state (dry run first changes nothing)', async (t) => {
  const { deps, env } = setup(t);
  const a = await startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet);
  const b = await startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet);
  const dry = await cleanup(deps, { all: true, dryRun: true, log: () => undefined });
  t.same(dry.map((i) => [i.slug, i.done]).sort(), [[a.slug, false], [b.slug, false]].sort());
  t.equal((await listBottles(deps.root)).length, 2, 'a dry run removes nothing');
  const done = await cleanup(deps, { all: true, log: () => undefined });
  t.ok(done.every((i) => i.done && !i.error), JSON.stringify(done));
  t.same(await listBottles(deps.root), []);
});

t.test('start refuses a route secret too short to mask, before creating anything, never echoing it', async (t) => {
  const { env, dir } = setup(t);
  const r = await bottleProcess(['start', 'implementer', '--yes', '--no-attach'], { env: { ...process.env, ...env, GITHUB_TOKEN: 'ghp_12', ANTHROPIC_API_KEY: 'sk-long-enough-key' }, cwd: dir, fake: true });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: route secret GITHUB_TOKEN is shorter than 8 characters; .*export the full credential$/m);
  t.notMatch(r.stderr, /ghp_12/);
  t.same(existsSync(join(dir, 'state')) ? await listBottles(join(dir, 'state')) : [], [], 'no state created');
});

t.test('cleanup never takes another state root\'s bottles for orphans', async (t) => {
  const { ownsResource } = await import('../../lib/lifecycle/cleanup.js');
  const known = new Set(['mine-aaaaaa']);
  const r = (slug: string, stateKey?: string) => ({ kind: 'container' as const, name: `bottle-${slug}-agent`, slug, ...(stateKey ? { stateKey } : {}) });
  t.equal(ownsResource(r('other-bbbbbb', 'k-ours'), 'k-ours', known, false), true, 'our orphan');
  t.equal(ownsResource(r('mine-aaaaaa', 'k-ours'), 'k-ours', known, false), false, 'our live bottle');
  t.equal(ownsResource(r('other-bbbbbb', 'k-theirs'), 'k-ours', known, false), false, 'another root: never');
  t.equal(ownsResource(r('other-bbbbbb', 'k-theirs'), 'k-ours', known, true), false, 'another root: not even with --all');
  t.equal(ownsResource(r('old-cccccc'), 'k-ours', known, false), false, 'unlabelled: only with --all');
  t.equal(ownsResource(r('old-cccccc'), 'k-ours', known, true), true);
});

t.test('a backend that cannot load leaves no claimed state behind', async (t) => {
  const { env } = setup(t);
  const deps = lifecycleDeps(env, { backends: { ...fakeBackends, load: async () => { throw new Error('backend unavailable'); } } });
  await t.rejects(startBottle(deps, preparePlan(loaded, 'reviewer', {}, env), loaded.manifest.agents.reviewer!, quiet), /backend unavailable/);
  t.same(await listBottles(deps.root), []);
});

t.test('start writes a manifest route\'s port into the bottle policy', async (t) => {
  const { deps, env } = setup(t, { CORP_TOKEN: 'corp-token-value', ANTHROPIC_API_KEY: 'sk-long-enough-key' });
  const manifest = parseManifest('version: 1\nagents:\n  a:\n    egress:\n      routes:\n        - { host: git.corp.test, port: 8443, headers: { Authorization: "Bearer ${CORP_TOKEN}" } }\n', 'b.yaml').manifest!;
  const meta = await startBottle(deps, preparePlan({ path: join(projectRoot(), 'b.yaml'), manifest }, 'a', {}, env), manifest.agents.a!, quiet);
  const text = readFileSync(join(bottlePaths(deps.root, meta.slug).policy, 'policy.yaml'), 'utf8');
  t.same(loadPolicy(text).routes.map((r) => [r.host, r.port]), [['git.corp.test', 8443], ['api.anthropic.com', undefined]]);
});
