// `bottle doctor` against fake binaries on PATH and a fake engine socket, plus one real run.
import t from 'tap';
import { Command } from 'commander';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ctx, Outcome } from '../../lib/cli.js';
import { type Check, type DoctorDeps, registerDoctor, renderChecks } from '../../commands/doctor.js';
import { run } from '../../lib/run/index.js';
import { bottleInProcess, bottleProcess } from '../helpers/cli.js';
import { type FakeBinSpec, fakeBins, fakeDockerEngine } from '../helpers/fakebin.js';

const TOOLS: Record<string, FakeBinSpec> = {
  tmux: { stdout: 'tmux 3.3a\n' },
  docker: { stdout: 'Docker version 27.3.1, build ce12230\n' },
  git: { stdout: 'git version 2.43.0\n' },
  smolvm: { stdout: 'smolvm 0.8.2\n' },
};
const NAMES = ['node', 'tmux', 'docker', 'docker-engine', 'git', 'smolvm', 'state-dir', 'images', 'credentials', 'auth'];

interface Setup { env: NodeJS.ProcessEnv; calls: () => Promise<Array<{ bin: string; argv: string[] }>> }

// Only the given fakes on PATH (real tools hidden), a fake engine (holding `images`, default
// bottle's two), a temp state dir.
async function machine(t: { teardown(fn: () => unknown): void }, tools: Record<string, FakeBinSpec>, engine = true, images?: string[]): Promise<Setup> {
  const fb = await fakeBins(t, tools, { inheritPath: false, env: {} });
  const dir = await mkdtemp(join(tmpdir(), 'bottle-doctor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const host = engine ? (await fakeDockerEngine(t, images ? { images } : {})).host : `unix://${join(dir, 'no-engine.sock')}`;
  // The example manifest's agents need these two; with them set, the credentials row is ok.
  return { env: { ...fb.env, HOME: dir, DOCKER_HOST: host, BOTTLE_STATE_DIR: join(dir, 'state'), ANTHROPIC_API_KEY: 'sk-dummy', GITHUB_TOKEN: 'ghp-dummy' }, calls: fb.calls };
}

function parseJson(stdout: string): { ok: boolean; checks: Check[] } {
  return JSON.parse(stdout) as { ok: boolean; checks: Check[] };
}

const byName = (checks: Check[], name: string): Check | undefined => checks.find((c) => c.name === name);

t.test('everything present: exit 0, valid JSON, versions parsed', async (t) => {
  const m = await machine(t, TOOLS);
  const r = await bottleInProcess(['doctor', '--json'], { env: m.env });
  t.equal(r.exitCode, 0, r.stdout);
  const doc = parseJson(r.stdout);
  t.equal(doc.ok, true);
  t.same(doc.checks.map((c) => c.name), NAMES);
  t.ok(doc.checks.every((c) => c.status === 'ok'));
  t.match(byName(doc.checks, 'tmux'), { version: '3.3a', required: true });
  t.match(byName(doc.checks, 'docker'), { version: '27.3.1' });
  t.match(byName(doc.checks, 'docker-engine'), { version: '27.3.1', detail: /API 1\.47/ });
  t.match(byName(doc.checks, 'git'), { version: '2.43.0' });
  t.match(byName(doc.checks, 'smolvm'), { version: '0.8.2', required: false });
  t.match(byName(doc.checks, 'state-dir'), { detail: /will be created/ });
  t.ok(doc.checks.every((c) => c.fix === undefined), 'no fix on an ok row');
  t.same((await m.calls()).map((c) => [c.bin, c.argv]).sort(), [
    ['docker', ['--version']], ['git', ['--version']], ['smolvm', ['--version']], ['tmux', ['-V']],
  ], 'the images are asked of the engine, not the docker CLI');
  t.match(byName(doc.checks, 'images'), { status: 'ok', required: false, detail: 'bottle-agent:latest, bottle-sidecars:latest' });
  t.match(byName(doc.checks, 'credentials'), { status: 'ok', required: false, detail: 'ANTHROPIC_API_KEY from environment; GITHUB_TOKEN from environment' });
  t.notMatch(r.stdout, /sk-dummy|ghp-dummy/, 'names and sources, never values');
  t.equal(r.stderr, '');
});

t.test('tmux missing: exit 1, a MISSING line with its fix', async (t) => {
  const { tmux: _tmux, ...rest } = TOOLS;
  const m = await machine(t, rest);
  const r = await bottleInProcess(['doctor'], { env: m.env });
  t.equal(r.exitCode, 1);
  const lines = r.stdout.split('\n');
  const i = lines.findIndex((l) => /^MISSING\s+tmux\s+not found on PATH$/.test(l));
  t.ok(i >= 0, r.stdout);
  t.match(lines[i + 1], /^\s+fix: install tmux/);
  t.match(r.stdout, /^OK\s+git\s+2\.43\.0$/m);
  t.match(r.stdout, /missing required: tmux\n$/);

  const json = await bottleInProcess(['doctor', '--json'], { env: m.env });
  t.equal(json.exitCode, 1);
  const doc = parseJson(json.stdout);
  t.equal(doc.ok, false);
  t.match(byName(doc.checks, 'tmux'), { status: 'missing', required: true, fix: /install tmux/ });
});

t.test('smolvm absent: a warning, still exit 0', async (t) => {
  const { smolvm: _smolvm, ...rest } = TOOLS;
  const m = await machine(t, rest);
  const r = await bottleInProcess(['doctor'], { env: m.env });
  t.equal(r.exitCode, 0, r.stdout);
  t.match(r.stdout, /^WARN\s+smolvm\s+not installed \(optional; needed only for --backend smolvm\)$/m);
  t.match(r.stdout, /all required checks passed/);
  const doc = parseJson((await bottleInProcess(['doctor', '--json'], { env: m.env })).stdout);
  t.equal(doc.ok, true);
  t.match(byName(doc.checks, 'smolvm'), { status: 'warn', required: false });
});

t.test('engine unreachable: MISSING with a DOCKER_HOST hint', async (t) => {
  const m = await machine(t, TOOLS, false);
  const r = await bottleInProcess(['doctor', '--json'], { env: m.env });
  t.equal(r.exitCode, 1);
  t.match(byName(parseJson(r.stdout).checks, 'docker-engine'), {
    status: 'missing', detail: /no-engine\.sock: no socket/, fix: /start the Docker engine.*DOCKER_HOST/,
  });
  t.same(byName(parseJson(r.stdout).checks, 'images'), {
    name: 'images', status: 'warn', required: false, detail: `not checked (${m.env.DOCKER_HOST}: no socket at ${m.env.DOCKER_HOST!.slice(7)} (is dockerd running?))`,
  }, 'images: not checked, rather than "not built"');
});

t.test('a tool that fails or is too old is MISSING with why', async (t) => {
  const m = await machine(t, {
    ...TOOLS,
    tmux: { stdout: 'tmux 3.1c\n' },
    git: { exitCode: 1, stderr: 'git: broken install\n' },
    docker: { stdout: 'something unexpected\n' },
  });
  const doc = parseJson((await bottleInProcess(['doctor', '--json'], { env: m.env })).stdout);
  t.match(byName(doc.checks, 'tmux'), { status: 'missing', version: '3.1c', detail: 'older than 3.2' },
    'regression: doctor passed tmux 3.0/3.1, which bottle tmux refuses');
  t.match(byName(doc.checks, 'git'), { status: 'missing', detail: '`git --version` exited 1: git: broken install' });
  t.match(byName(doc.checks, 'docker'), { status: 'ok', detail: 'something unexpected' }, 'unparsed version is not fatal');
});

t.test('state dir that cannot be created is MISSING', async (t) => {
  const m = await machine(t, TOOLS);
  const file = join(m.env.HOME!, 'a-file');
  await writeFile(file, '');
  const doc = parseJson((await bottleInProcess(['doctor', '--json'], { env: { ...m.env, BOTTLE_STATE_DIR: join(file, 'state') } })).stdout);
  t.match(byName(doc.checks, 'state-dir'), { status: 'missing', detail: /a-file is not a directory/, fix: /BOTTLE_STATE_DIR/ });
  t.equal(doc.ok, false);
});

t.test('injected deps: old node and a stub engine probe', async (t) => {
  const m = await machine(t, TOOLS);
  let out = '';
  const ctx: Ctx = { env: m.env, cwd: process.cwd(), run, out: (s) => { out += s; }, err: () => {}, isTTY: false };
  const outcome: Outcome = { exitCode: 0 };
  const seen: NodeJS.ProcessEnv[] = [];
  const deps: DoctorDeps = {
    nodeVersion: '18.19.0',
    probeEngine: async ({ env }) => { seen.push(env); return { ok: true, host: 'stub://', version: '1.0', apiVersion: '1.0', os: 'linux' }; },
  };
  const program = new Command('bottle').exitOverride();
  registerDoctor(program, ctx, outcome, deps);
  await program.parseAsync(['doctor', '--json'], { from: 'user' });
  t.equal(outcome.exitCode, 1);
  const doc = parseJson(out);
  t.match(byName(doc.checks, 'node'), { status: 'missing', version: '18.19.0', fix: /Node\.js ≥ 20\.5/ });
  t.match(byName(doc.checks, 'docker-engine'), { status: 'ok', version: '1.0' });
  t.equal(seen[0], m.env, 'the probe gets ctx.env');
});

t.test('an engine that refuses this client over TLS or ssh is fixed as the detail says, not by starting one', async (t) => {
  const m = await machine(t, TOOLS);
  for (const [disagrees, error, fix] of [
    ['tls', "TLS: the engine's certificate is not trusted (self-signed certificate); put its CA in DOCKER_CERT_PATH/ca.pem", /is up but the TLS settings for it must change/],
    ['ssh', 'ssh: the host key of build.example has changed', /is up but the ssh access for it must change/],
    [undefined, 'connection refused (is dockerd running?)', /start the Docker engine/],
  ] as const) {
    let out = '';
    const ctx: Ctx = { env: m.env, cwd: process.cwd(), run, out: (s) => { out += s; }, err: () => {}, isTTY: false };
    const deps: DoctorDeps = { nodeVersion: process.versions.node, probeEngine: async () => ({ ok: false, host: 'tcp://build.example:2376', error, ...(disagrees ? { disagrees } : {}) }) };
    const program = new Command('bottle').exitOverride();
    registerDoctor(program, ctx, { exitCode: 0 }, deps);
    await program.parseAsync(['doctor', '--json'], { from: 'user' });
    const row = byName(parseJson(out).checks, 'docker-engine');
    t.match(row, { status: 'missing', detail: `tcp://build.example:2376: ${error}`, fix }, String(disagrees));
    if (disagrees) t.notMatch(row?.fix, /start the Docker engine|set DOCKER_HOST/, `${disagrees}: no contradicting fix`);
  }
});

t.test('renderChecks aligns columns and puts the fix under the row', async (t) => {
  const text = renderChecks([
    { name: 'node', status: 'ok', required: true, version: '22.1.0' },
    { name: 'docker-engine', status: 'missing', required: true, detail: 'refused', fix: 'start dockerd' },
    { name: 'smolvm', status: 'warn', required: false, detail: 'not installed', fix: 'install it' },
  ]);
  t.equal(text, [
    'OK       node           22.1.0',
    'MISSING  docker-engine  refused',
    '                        fix: start dockerd',
    'WARN     smolvm         not installed',
    '                        fix: install it',
    '',
    'missing required: docker-engine',
    '',
  ].join('\n'));
});

t.test('real run: `bottle doctor --json` names every tool', async (t) => {
  const r = await bottleProcess(['doctor', '--json']);
  const doc = parseJson(r.stdout);
  t.same(doc.checks.map((c) => c.name), NAMES);
  for (const c of doc.checks) t.match(c.status, /^(ok|missing|warn)$/, c.name);
  t.equal(r.exitCode, doc.ok ? 0 : 1, 'exit code agrees with "ok"');
  t.equal(r.stderr, '');
});

t.test('images not built: a WARN with the build command, still exit 0', async (t) => {
  const m = await machine(t, TOOLS, true, []);
  const r = await bottleInProcess(['doctor', '--json'], { env: m.env });
  t.equal(r.exitCode, 0, 'images are optional: they can be built');
  t.same(byName(parseJson(r.stdout).checks, 'images'), {
    name: 'images', status: 'warn', required: false, detail: 'not in the engine: bottle-agent:latest, bottle-sidecars:latest', fix: 'run `bottle images build`',
  });
});

t.test('credentials: every route variable and where it would come from; a missing one is a warning with the fix', async (t) => {
  const m = await machine(t, TOOLS);
  const config = join(m.env.HOME!, '.config', 'bottle');
  await mkdir(config, { recursive: true });
  await writeFile(join(config, 'credentials.yaml'), 'ANTHROPIC_API_KEY: { command: "pass show anthropic" }\n');
  const env = { ...m.env };
  delete env.ANTHROPIC_API_KEY;
  delete env.GITHUB_TOKEN;
  const r = await bottleInProcess(['doctor', '--json'], { env });
  t.equal(r.exitCode, 0, 'a warning, not a failure');
  t.same(byName(parseJson(r.stdout).checks, 'credentials'), {
    name: 'credentials', status: 'warn', required: false,
    detail: 'ANTHROPIC_API_KEY from command `pass show anthropic` (run at start); GITHUB_TOKEN from environment (not available)',
    fix: `export GITHUB_TOKEN in the shell that starts bottles, or name a source in ${join(config, 'credentials.yaml')} (env, file with mode 0600, or command)`,
  });
});

t.test('auth: which Claude credential the agents would start with; neither is a warning that says how to get one', async (t) => {
  const m = await machine(t, TOOLS);
  const { ANTHROPIC_API_KEY: _key, ...noKey } = m.env;
  const auth = async (env: NodeJS.ProcessEnv) => byName(parseJson((await bottleInProcess(['doctor', '--json'], { env })).stdout).checks, 'auth');
  t.same(await auth(m.env), { name: 'auth', status: 'ok', required: false, detail: 'api-key (auto): ANTHROPIC_API_KEY' });
  t.same(await auth({ ...m.env, CLAUDE_CODE_OAUTH_TOKEN: 'tok-dummy' }), { name: 'auth', status: 'ok', required: false, detail: 'api-key (auto): ANTHROPIC_API_KEY' }, 'both: the API key first');
  t.same(await auth({ ...noKey, CLAUDE_CODE_OAUTH_TOKEN: 'tok-dummy' }), { name: 'auth', status: 'ok', required: false, detail: 'oauth-token (auto): CLAUDE_CODE_OAUTH_TOKEN' });
  const r = await bottleInProcess(['doctor', '--json'], { env: noKey });
  t.equal(r.exitCode, 0, 'a warning, not a failure');
  const none = byName(parseJson(r.stdout).checks, 'auth')!;
  t.match(none, { status: 'warn', required: false, detail: 'api-key (auto): ANTHROPIC_API_KEY (neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN is set)' });
  t.match(none.fix, /^no Claude credential on this host: export ANTHROPIC_API_KEY .*run `claude setup-token`.*CLAUDE_CODE_OAUTH_TOKEN; or name a source in .*credentials\.yaml$/);
  t.notMatch(r.stdout, /tok-dummy|sk-dummy/, 'never a value');

  const config = join(m.env.HOME!, '.config', 'bottle');
  await mkdir(config, { recursive: true });
  await writeFile(join(config, 'credentials.yaml'), 'CLAUDE_CODE_OAUTH_TOKEN: { command: "pass show claude" }\n');
  t.same(await auth(noKey), { name: 'auth', status: 'ok', required: false, detail: 'oauth-token (auto): CLAUDE_CODE_OAUTH_TOKEN' }, 'a source in credentials.yaml counts');
});
