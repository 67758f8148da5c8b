// `bottle budget`, in-process over a temp state dir on the fake backend: shows a bottle's cap
// against the usage in its events file, changes budget.json live (and asks the running bundle
// to reload), and refuses bad input in one line without writing anything.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { createBottle } from '../../lib/state/index.js';
import { BUDGET_FILE, budgetFileText } from '../../lib/usage/index.js';
import { bottleInProcess } from '../helpers/cli.js';
import { fakeBackends } from '../helpers/fake-backend.js';

const usage = (input: number): string => `${JSON.stringify({
  type: 'usage', time: new Date().toISOString(), origin: 'gateway', model: 'claude-sonnet-4-5-20250929',
  input, output: 0, cacheRead: 0, cacheWrite: 0, requestId: 'req_1', path: '/v1/messages', status: 200,
})}\n`;

// A state dir with one bottle; `running` plants the fake engine's record so reloads are recorded.
async function bottle(t: { teardown(fn: () => unknown): void }, running = false) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-cli-budget-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, BOTTLE_STATE_DIR: root };
  const b = await createBottle(root, 'implementer', { backend: 'docker' });
  mkdirSync(dirname(b.paths.eventsFile), { recursive: true });
  const engine = join(b.paths.dir, 'fake-engine.json');
  if (running) writeFileSync(engine, JSON.stringify({ running: true, controlCalls: [] }));
  return {
    slug: b.slug,
    env,
    budgetFile: join(b.paths.policy, BUDGET_FILE),
    policyFiles: () => readdirSync(b.paths.policy).sort(),
    plant: (...lines: string[]) => appendFileSync(b.paths.eventsFile, lines.join('')),
    controlCalls: () => (JSON.parse(readFileSync(engine, 'utf8')) as { controlCalls: string[] }).controlCalls,
  };
}

const run = (args: string[], env: NodeJS.ProcessEnv) => bottleInProcess(args, { env, backends: fakeBackends });

t.test('no flags, no budget: says so with the usage and how to set one', async (t) => {
  const b = await bottle(t);
  b.plant(usage(1000));
  const r = await run(['budget', b.slug], b.env);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^${b.slug}: no budget \\(used \\$\\d+\\.\\d\\d and 1k tokens over 1 request\\(s\\)\\); set one with: bottle budget ${b.slug} --usd N\\n$`));
  t.equal(existsSync(b.budgetFile), false, 'showing writes nothing');
  const j = await run(['budget', 'impl', '--json'], b.env);
  t.match(JSON.parse(j.stdout), { slug: b.slug, budget: null, used: { tokens: 1000, requests: 1 }, level: 'ok', fraction: 0 }, 'a slug prefix works');
});

t.test('--usd writes budget.json, prints the new cap and asks the running bundle to reload; --off lifts it', async (t) => {
  const b = await bottle(t, true);
  const r = await run(['budget', b.slug, '--usd', '2'], b.env);
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stderr, '', 'a running bundle: no warning');
  t.match(r.stdout, new RegExp(`^${b.slug}: budget \\$2\\.00 \\(warns at 80%\\); used \\$0\\.00 and 0 tokens over 0 request\\(s\\) \\(0%\\); ok\\n$`));
  t.same(JSON.parse(readFileSync(b.budgetFile, 'utf8')), { warnAt: 0.8, usd: 2 });
  t.same(b.controlCalls(), ['reload'], 'the gateway is told at once');

  const j = await run(['budget', b.slug, '--tokens', '5000', '--warn-at', '0.5', '--json'], b.env);
  t.equal(j.exitCode, 0, j.stderr);
  const view = JSON.parse(j.stdout) as Record<string, unknown>;
  t.same(Object.keys(view), ['slug', 'budget', 'used', 'level', 'fraction']);
  t.same(view, { slug: b.slug, budget: { warnAt: 0.5, usd: 2, tokens: 5000 }, used: { usd: 0, tokens: 0, requests: 0 }, level: 'ok', fraction: 0 });

  const off = await run(['budget', b.slug, '--off'], b.env);
  t.equal(off.exitCode, 0, off.stderr);
  t.match(off.stdout, /: no budget \(used /);
  t.same(JSON.parse(readFileSync(b.budgetFile, 'utf8')), { warnAt: 0.5 }, 'every cap lifted');
  t.same(b.controlCalls(), ['reload', 'reload', 'reload']);
  t.same(b.policyFiles(), [BUDGET_FILE], 'no temp file left behind');
});

t.test('a stopped bottle: the file is changed, a warning says when it applies', async (t) => {
  const b = await bottle(t);
  const r = await run(['budget', b.slug, '--usd', '3'], b.env);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stderr, new RegExp(`^bottle: ${b.slug}'s bundle is not running: the budget is updated, the change applies when ${b.slug} next starts\\n$`));
  t.same(JSON.parse(readFileSync(b.budgetFile, 'utf8')), { warnAt: 0.8, usd: 3 });
});

t.test('levels: warn past warn_at, paused at the cap', async (t) => {
  const b = await bottle(t);
  b.plant(usage(900));
  writeFileSync(b.budgetFile, budgetFileText({ tokens: 1000, warnAt: 0.8 }, undefined));
  let r = await run(['budget', b.slug], b.env);
  t.match(r.stdout, /\(90%\); warning: past 80%\n$/);
  b.plant(usage(600));
  r = await run(['budget', b.slug], b.env);
  t.match(r.stdout, new RegExp(`^${b.slug}: budget 1k tokens \\(warns at 80%\\); used \\$\\S+ and 1\\.5k tokens over 2 request\\(s\\) \\(150%\\); PAUSED: model requests are refused until the cap is raised\\n$`));
  r = await run(['budget', b.slug, '--json'], b.env);
  t.match(JSON.parse(r.stdout), { level: 'paused', fraction: 1.5, used: { tokens: 1500, requests: 2 } });
  r = await run(['budget', b.slug, '--tokens', '3000', '--json'], b.env);
  t.match(JSON.parse(r.stdout), { level: 'ok', fraction: 0.5 }, 'raised: ok again');
  r = await run(['budget', b.slug, '--off'], b.env);
  r = await run(['budget', b.slug, '--usd', '0', '--json'], b.env);
  t.match(JSON.parse(r.stdout), { budget: { usd: 0 }, level: 'paused', fraction: 1 }, 'regression: a $0 cap printed fraction null (Infinity)');
  r = await run(['budget', b.slug], b.env);
  t.match(r.stdout, /used \$0\.00 and 1\.5k tokens over 2 request\(s\) \(100%\); PAUSED/, 'not "Infinity%"');
});

t.test('bad input: one clear line, non-zero exit, nothing written', async (t) => {
  const b = await bottle(t, true);
  const cases: Array<[string[], string]> = [
    [['--usd', 'abc'], 'bottle: --usd "abc": expected USD (e.g. 20 or 2.50) from 0 to 1000000\n'],
    [['--usd', '-1'], 'bottle: --usd "-1": expected USD (e.g. 20 or 2.50) from 0 to 1000000\n'],
    [['--usd', '2000000'], 'bottle: --usd "2000000": expected USD (e.g. 20 or 2.50) from 0 to 1000000\n'],
    [['--tokens', '1.5'], 'bottle: --tokens 1.5: expected a whole number of tokens\n'],
    [['--warn-at', '0'], 'bottle: --warn-at 0: expected a fraction above 0 (0.8 warns at 80%)\n'],
    [['--warn-at', '1.5'], 'bottle: --warn-at "1.5": expected a fraction (0.8 warns at 80%) from 0 to 1\n'],
    [['--off', '--usd', '5'], 'bottle: --off lifts every cap; give it alone, or --usd/--tokens to set one\n'],
  ];
  for (const [flags, line] of cases) {
    const r = await run(['budget', b.slug, ...flags], b.env);
    t.equal(r.exitCode, 1, flags.join(' '));
    t.equal(r.stderr, line, flags.join(' '));
    t.equal(r.stdout, '', flags.join(' '));
  }
  t.equal(existsSync(b.budgetFile), false, 'nothing written');
  t.same(b.controlCalls(), [], 'no reload sent');
  const none = await run(['budget', 'nosuch'], b.env);
  t.equal(none.exitCode, 1);
  t.match(none.stderr, /^bottle: no bottle named nosuch; bottles: implementer-\S+\n$/);
  writeFileSync(b.budgetFile, '{"usd": "lots"}');
  const broken = await run(['budget', b.slug], b.env);
  t.equal(broken.exitCode, 1);
  t.equal(broken.stderr, `bottle: ${b.budgetFile}: usd: expected a number from 0 to 1000000; fix it or set the budget again with bottle budget\n`);
});
