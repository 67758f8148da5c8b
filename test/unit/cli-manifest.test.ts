import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleProcess, type CliResult } from '../helpers/cli.js';
import { projectRoot } from '../../lib/paths.js';

const fixtures = join(projectRoot(), 'test', 'fixtures', 'manifests');
const USING_EXAMPLE = 'bottle: using manifest examples/bottle.yaml (built-in example; create ./bottle.yaml to use your own)';

// An isolated world: empty cwd, HOME, config and state dirs, all under one temp dir.
function world(t: { teardown(fn: () => void): void }): { cwd: string; state: string; env: NodeJS.ProcessEnv } {
  const root = mkdtempSync(join(tmpdir(), 'bottle-cli-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dirs = { cwd: join(root, 'cwd'), home: join(root, 'home'), state: join(root, 'state'), config: join(root, 'config') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const env = {
    PATH: process.env.PATH,
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.config,
    XDG_STATE_HOME: dirs.state,
    BOTTLE_STATE_DIR: join(dirs.state, 'bottle'),
  };
  return { cwd: dirs.cwd, state: dirs.state, env };
}

// A user error must not print a stack trace (`    at ...` lines) or the internal-error banner.
function crashed(r: CliResult): boolean {
  return /^\s{4}at /m.test(r.stderr) || /internal error/.test(r.stderr);
}

t.test('manifest check: OK on the built-in example', async (t) => {
  const w = world(t);
  // Route variables set: unset ones would be warnings (cli-plan-check.test.ts).
  const env = { ...w.env, ANTHROPIC_API_KEY: 'a'.repeat(40), GITHUB_TOKEN: 'b'.repeat(40) };
  const r = await bottleProcess(['manifest', 'check'], { cwd: w.cwd, env });
  t.equal(r.exitCode, 0);
  t.equal(r.stdout, 'OK examples/bottle.yaml: 2 agents (implementer, reviewer)');
  t.equal(r.stderr, USING_EXAMPLE);
});

t.test('manifest check: every error, one per line, exit 1', async (t) => {
  const w = world(t);
  copyFileSync(join(fixtures, 'many-errors.yaml'), join(w.cwd, 'bottle.yaml'));
  const r = await bottleProcess(['manifest', 'check'], { cwd: w.cwd, env: w.env });
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, [
    'bottle: using manifest ./bottle.yaml',
    'bottle.yaml:4:16: agents.implementer.supervise: expected true, false or a mapping (auto_approve: [hosts]), got a string',
    'bottle.yaml:6:15: agents.implementer.egress.allow[0]: expected a host pattern (a hostname, *.domain or an IP address, or "*")',
    'bottle.yaml:8:17: agents.implementer.egress.routes[0].host: expected a hostname',
    'bottle: bottle.yaml: 3 errors',
  ].join('\n'));
  t.notOk(crashed(r), 'no stack trace');
});

t.test('manifest check --manifest F --json', async (t) => {
  const w = world(t);
  const [bad, good, missing] = await Promise.all([
    bottleProcess(['manifest', 'check', '--json', '--manifest', join(fixtures, 'unknown-key.yaml')], { cwd: w.cwd, env: w.env }),
    bottleProcess(['manifest', 'check', '--json', '--manifest', join('examples', 'bottle.yaml')], { cwd: projectRoot(), env: w.env }),
    bottleProcess(['manifest', 'check', '--manifest', 'nope.yaml'], { cwd: w.cwd, env: w.env }),
  ]);
  t.equal(bad.exitCode, 1);
  t.equal(bad.stderr, '', 'an explicit --manifest needs no notice');
  t.same(JSON.parse(bad.stdout), {
    ok: false, path: join(fixtures, 'unknown-key.yaml'), source: 'flag',
    errors: [{ file: join(fixtures, 'unknown-key.yaml'), line: 7, col: 5, path: 'agents.implementer.promt', message: 'unknown key; did you mean prompt?' }],
  });
  t.equal(good.exitCode, 0);
  t.match(JSON.parse(good.stdout), { ok: true, source: 'flag', agents: ['implementer', 'reviewer'], warnings: [{ path: 'agents.implementer', message: /ANTHROPIC_API_KEY/ }], manifest: { version: 1 } });
  t.same([missing.exitCode, missing.stderr], [1, 'bottle: manifest not found: nope.yaml (given with --manifest)']);
});

t.test('start --dry-run prints the plan and creates nothing', async (t) => {
  const w = world(t);
  const [r, json] = await Promise.all([
    bottleProcess(['start', 'implementer', '--dry-run'], { cwd: w.cwd, env: { ...w.env, GITHUB_TOKEN: 'ghp_do_not_print' } }),
    bottleProcess(['start', 'reviewer', '--dry-run', '--json', '--backend', 'smolvm'], { cwd: w.cwd, env: w.env }),
  ]);
  t.equal(r.exitCode, 0);
  t.equal(r.stderr, USING_EXAMPLE);
  t.match(r.stdout, /^Plan for a new implementer bottle \(dry run: nothing created\)\n\nagent       implementer\n/);
  t.match(r.stdout, /^slug        \(minted at launch\)$/m);
  t.match(r.stdout, /^engine      local \(unix:\/\/\/var\/run\/docker\.sock\)$/m, 'the engine, the shell\'s own');
  t.match(r.stdout, /api\.github\.com  Authorization ← \$GITHUB_TOKEN/);
  t.match(r.stdout, /api\.anthropic\.com  x-api-key ← \$ANTHROPIC_API_KEY \(default\)/);
  t.match(r.stdout, /^warning: host env not set: ANTHROPIC_API_KEY /m);
  t.notMatch(r.stdout, /ghp_do_not_print/);
  t.same(readdirSync(w.state), [], 'state dir untouched');
  t.same(readdirSync(w.cwd), [], 'cwd untouched');
  t.equal(json.exitCode, 0);
  t.match(JSON.parse(json.stdout), { agent: 'reviewer', backend: 'smolvm', image: 'bottle-agent:latest', skills: [join(projectRoot(), 'examples', 'skills', 'review')] });
  t.same(JSON.parse(json.stdout).engine, { name: 'local', host: 'unix:///var/run/docker.sock' });
});

t.test('start: user errors are one line, never a stack', async (t) => {
  const w = world(t);
  const opts = { cwd: w.cwd, env: w.env };
  // Independent processes: run them side by side to keep the suite quick.
  const [unknown, backend, launch, bad, ws] = await Promise.all([
    bottleProcess(['start', 'nobody', '--dry-run'], opts),
    bottleProcess(['start', 'implementer', '--dry-run', '--backend', 'podman'], opts),
    bottleProcess(['start', 'implementer'], opts),
    bottleProcess(['start', 'implementer', '--dry-run', '--manifest', join(fixtures, 'many-errors.yaml')], opts),
    bottleProcess(['start', 'reviewer', '--dry-run', '--workspace', 'missing-dir'], opts),
  ]);
  t.equal(unknown.exitCode, 1);
  t.equal(unknown.stderr, `${USING_EXAMPLE}\nbottle: unknown agent nobody; examples/bottle.yaml has: implementer, reviewer`);
  t.notOk(crashed(unknown), 'no stack trace');

  t.same([backend.exitCode, backend.stderr], [1, 'bottle: unknown backend podman; use docker or smolvm']);

  t.equal(launch.exitCode, 1);
  t.match(launch.stderr, /^bottle: no Claude credential on this host: export ANTHROPIC_API_KEY .*claude setup-token.*credentials\.yaml$/m, 'the Claude credential is checked before anything is created');
  t.equal(launch.stderr.split('\n').length, 2, 'one line (after the manifest notice)');
  t.notOk(crashed(launch), 'no stack trace');
  t.same(readdirSync(w.state), []);

  t.equal(bad.exitCode, 1);
  t.match(bad.stderr, /^bottle: .*many-errors\.yaml:4:16: agents\.implementer\.supervise: expected true, false or a mapping \(auto_approve: \[hosts\]\), got a string \(and 2 more; run bottle manifest check --manifest .*many-errors\.yaml\)$/);
  t.notOk(crashed(bad), 'no stack trace');

  t.same([ws.exitCode, ws.stderr.split('\n')[1]], [1, `bottle: --workspace: workspace not found: ${join(w.cwd, 'missing-dir')}`]);
});

t.test('start --help explains every option', async (t) => {
  const r = await bottleProcess(['start', '--help'], { env: { PATH: process.env.PATH } });
  t.equal(r.exitCode, 0);
  for (const opt of ['<agent>', '--dry-run', '--manifest <file>', '--backend <name>', '--engine <name>', '--workspace <dir>', '--json']) t.match(r.stdout, opt);
  t.match(r.stdout, /docker .*or smolvm/s);
});
