// `manifest check` and `start` share one plan check (lib/plan/check.ts): whatever start refuses,
// check reports per agent at its manifest position, and `start --dry-run` prints the same lines.
import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleProcess, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../../lib/secrets/index.js';

// Built at runtime so this file holds no whole token.
const GH_VALUE = `ghp_${'R7tq2Lk9XwPz4'}${'MnB8vYc1JdF6sHa3Ue0GiKo'}`; // gitleaks:allow (test dummy)
const ROUTE_ENV = { ANTHROPIC_API_KEY: `sk-ant-${'x'.repeat(40)}`, GITHUB_TOKEN: `ghp_${'y'.repeat(36)}` };

interface World { dir: string; state: string; env: NodeJS.ProcessEnv }

// A temp dir holding the manifest, its folders, HOME, config and state.
function world(t: { teardown(fn: () => void): void }, manifest: string): World {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-plancheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['home', 'config', 'state']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'bottle.yaml'), manifest);
  const env = { PATH: process.env.PATH, HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state'), BOTTLE_STATE_DIR: join(dir, 'state', 'bottle') };
  return { dir, state: join(dir, 'state'), env };
}

const run = (w: World, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
  bottleProcess(args, { cwd: w.dir, env: { ...w.env, ...env }, fake: true });

// The lines a run printed that name a manifest position.
const positioned = (r: CliResult): string[] => r.stderr.split('\n').filter((l) => /^bottle\.yaml:\d+:\d+: /.test(l));

t.test('check reports the folder problems start refuses, at their positions; start --dry-run prints the same lines', async (t) => {
  const w = world(t, [
    'version: 1',
    'agents:',
    '  dev:',
    '    skills: [./skills/missing, ./skills/empty, ./skills/ok]',
    '    workspace: ./ws',
  ].join('\n'));
  mkdirSync(join(w.dir, 'skills', 'empty'), { recursive: true });
  mkdirSync(join(w.dir, 'skills', 'ok'));
  writeFileSync(join(w.dir, 'skills', 'ok', 'SKILL.md'), '---\nname: ok\n---\n');
  mkdirSync(join(w.dir, 'ws'));
  const expected = [
    `bottle.yaml:4:14: agents.dev.skills[0]: skill folder not found: ${join(w.dir, 'skills', 'missing')}`,
    `bottle.yaml:4:32: agents.dev.skills[1]: skill folder has no SKILL.md: ${join(w.dir, 'skills', 'empty')}`,
    `bottle.yaml:5:16: agents.dev.workspace: workspace is not a git checkout (no .git directory; worktrees and submodules are not supported): ${join(w.dir, 'ws')}`,
  ];
  const [check, json, dry] = await Promise.all([
    run(w, ['manifest', 'check'], ROUTE_ENV),
    run(w, ['manifest', 'check', '--json'], ROUTE_ENV),
    run(w, ['start', 'dev', '--dry-run'], ROUTE_ENV),
  ]);
  t.equal(check.exitCode, 1);
  t.same(positioned(check), expected);
  t.match(check.stderr, /^bottle: bottle\.yaml: 3 errors$/m);
  t.equal(json.exitCode, 1);
  t.match(JSON.parse(json.stdout), { ok: false, errors: [{ file: 'bottle.yaml', line: 4, col: 14, path: 'agents.dev.skills[0]' }, { line: 4, col: 32 }, { line: 5, col: 16, path: 'agents.dev.workspace' }] });
  t.equal(dry.exitCode, 1);
  t.same(positioned(dry), expected, 'start --dry-run prints what check printed');
  t.match(dry.stderr, /^bottle: bottle\.yaml: 3 errors; not starting dev$/m);
  t.equal(dry.stdout, '', 'no plan for a bottle that cannot start');

  // A git checkout and a SKILL.md later, both pass.
  mkdirSync(join(w.dir, 'ws', '.git'));
  mkdirSync(join(w.dir, 'skills', 'missing'));
  for (const s of ['missing', 'empty']) writeFileSync(join(w.dir, 'skills', s, 'SKILL.md'), '---\nname: x\n---\n');
  const [ok, dryOk] = await Promise.all([run(w, ['manifest', 'check'], ROUTE_ENV), run(w, ['start', 'dev', '--dry-run'], ROUTE_ENV)]);
  t.same([ok.exitCode, ok.stdout, dryOk.exitCode], [0, 'OK bottle.yaml: 1 agent (dev)', 0]);
});

t.test('check warns about unset route variables by name and position; a credentials.yaml source is not unset', async (t) => {
  const w = world(t, [
    'version: 1',
    'agents:',
    '  dev:',
    '    egress:',
    '      routes:',
    '        - host: api.github.com',
    '          headers:',
    '            Authorization: "Bearer ${GITHUB_TOKEN}"',
  ].join('\n'));
  const [unset, dry] = await Promise.all([
    run(w, ['manifest', 'check'], { ANTHROPIC_API_KEY: ROUTE_ENV.ANTHROPIC_API_KEY }),
    run(w, ['start', 'dev', '--dry-run'], { ANTHROPIC_API_KEY: ROUTE_ENV.ANTHROPIC_API_KEY }),
  ]);
  t.equal(unset.exitCode, 0, 'a warning: start may run where it is set');
  t.equal(unset.stdout, 'OK bottle.yaml: 1 agent (dev)');
  t.same(positioned(unset), [
    'bottle.yaml:8:28: agents.dev.egress.routes[0].headers.Authorization: warning: host env not set here: GITHUB_TOKEN (a route needs it; start reads it from its own environment or a source in credentials.yaml)',
  ]);
  t.equal(dry.exitCode, 0);
  t.match(dry.stdout, /^warning: host env not set: GITHUB_TOKEN /m, 'start --dry-run shows it too');

  mkdirSync(join(w.env.XDG_CONFIG_HOME!, 'bottle'));
  writeFileSync(join(w.env.XDG_CONFIG_HOME!, 'bottle', 'credentials.yaml'), 'GITHUB_TOKEN: { command: "pass show github" }\n');
  const sourced = await run(w, ['manifest', 'check', '--json'], { ANTHROPIC_API_KEY: ROUTE_ENV.ANTHROPIC_API_KEY });
  t.equal(sourced.exitCode, 0);
  t.same(JSON.parse(sourced.stdout).warnings, [], 'a sourced variable is not unset');
});

const secretManifest = (extra: string[] = []): string => [
  'version: 1',
  'agents:',
  '  dev:',
  '    env:',
  '      LOG_LEVEL: debug',
  `      GH: ${GH_VALUE}`,
  ...extra,
].join('\n');

t.test('a secret in plain env: check and start refuse, one line naming the variable, never the value', async (t) => {
  const w = world(t, secretManifest());
  const line = 'bottle.yaml:6:11: agents.dev.env.GH: looks like a secret (github-token); put it in a route (egress.routes[].headers: "... ${GH}") so the agent never holds it, or mark it notSecret: [GH]';
  const [check, dry, start] = await Promise.all([
    run(w, ['manifest', 'check'], ROUTE_ENV),
    run(w, ['start', 'dev', '--dry-run'], ROUTE_ENV),
    run(w, ['start', 'dev', '--yes', '--no-attach'], ROUTE_ENV),
  ]);
  t.equal(check.exitCode, 1);
  t.same(positioned(check), [line]);
  t.same([dry.exitCode, dry.stderr.split('\n')[1]], [1, `bottle: ${line}`]);
  t.same([start.exitCode, start.stderr.split('\n')[1]], [1, `bottle: ${line}`]);
  t.equal(start.stdout, '', 'no bottle started');
  t.same(readdirSync(w.state), [], 'nothing created');
  for (const r of [check, dry, start]) t.notMatch(r.stdout + r.stderr, GH_VALUE.slice(4, 14), 'the value is never printed');
});

t.test('notSecret (or the value\'s fingerprint in dlp.ignore) lets a deliberate value through; an unknown name is an error', async (t) => {
  const marked = world(t, secretManifest(['    notSecret: [GH]']));
  const ignored = world(t, secretManifest(['    dlp:', `      ignore: ["${fingerprint(GH_VALUE)}"]`]));
  const typo = world(t, secretManifest(['    notSecret: [GH, GHH]']));
  const [check, dry, start, ign, bad] = await Promise.all([
    run(marked, ['manifest', 'check'], ROUTE_ENV),
    run(marked, ['start', 'dev', '--dry-run'], ROUTE_ENV),
    run(marked, ['start', 'dev', '--yes', '--no-attach'], ROUTE_ENV),
    run(ignored, ['manifest', 'check'], ROUTE_ENV),
    run(typo, ['manifest', 'check'], ROUTE_ENV),
  ]);
  t.same([check.exitCode, check.stdout, positioned(check)], [0, 'OK bottle.yaml: 1 agent (dev)', []]);
  t.equal(dry.exitCode, 0);
  t.equal(start.exitCode, 0, start.stderr);
  t.same([ign.exitCode, positioned(ign)], [0, []]);
  t.equal(bad.exitCode, 1);
  t.same(positioned(bad), ['bottle.yaml:7:21: agents.dev.notSecret[1]: GHH is not a variable in this agent\'s env']);
});
