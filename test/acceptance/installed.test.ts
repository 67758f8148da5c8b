// The acceptance tier: the product exactly as a user installs it. `npm pack` of this checkout is
// installed into a temporary prefix and only that prefix's `bottle` runs — never the sources.
// Regressions pinned here: the smolvm backend was missing from the bundle (a computed dynamic
// import esbuild could not follow), the tarball had no dist/ at all (no "files"), the base-image
// bootstrap imported a dev dependency (zx), and an unreachable engine printed "internal error".
import t from 'tap';
import { createServer, request } from 'node:http';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fakeSmolvm, VM_SCRIPT } from '../helpers/fake-smolvm.js';
import { engineGate } from '../helpers/e2e.js';
import { installed, installedEnv, runInstalled, type Installed } from '../helpers/installed.js';
import { PUSH_OLD, writePushProposal } from '../helpers/push-proposal.js';
import { createBottle } from '../../lib/state/index.js';
import { assembleContext, hashContext, IMAGE_KINDS, projectContextEntries, type ImageKind } from '../../lib/images/context.js';
import { projectRoot } from '../../lib/paths.js';
import { pollUntil, startTmuxServer, tmuxSkipReason } from '../helpers/tmux.js';

const inst: Installed = await installed();

function home(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-acc-home-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Credentials are dummies: nothing here reaches a model or a public host.
const CREDS = { ANTHROPIC_API_KEY: 'sk-acceptance-dummy', GITHUB_TOKEN: 'ghp-acceptance-dummy' };

t.test('the package holds the bundle and no sources; bin/bottle is the installed one', async (t) => {
  t.ok(existsSync(join(inst.pkg, 'dist', 'commands', 'main.js')), 'dist/ is in the package');
  t.notOk(existsSync(join(inst.pkg, 'commands', 'main.ts')), 'no TypeScript sources');
  t.notOk(existsSync(join(inst.pkg, 'test')), 'no tests');
  t.ok(existsSync(join(inst.pkg, 'lib', 'secrets', 'gitleaks.toml')), 'the scanner rules ship');
  for (const doc of ['claude-auth.md', 'kubernetes.md']) t.ok(existsSync(join(inst.pkg, 'docs', doc)), `docs/${doc}, which README and messages name, ships`);
  const r = await runInstalled(['--version'], installedEnv(inst, home(t)));
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), (JSON.parse(readFileSync(join(inst.pkg, 'package.json'), 'utf8')) as { version: string }).version);
});

t.test('every entry point the CLI can reach at run time exists in the installed dist/', async (t) => {
  const dist = join(inst.pkg, 'dist');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      if (n.isDirectory()) walk(join(d, n.name));
      else if (n.name.endsWith('.js')) files.push(join(d, n.name));
    }
  };
  walk(dist);
  t.ok(files.some((f) => f.endsWith(join('sidecars', 'git-gate', 'hook-main.js'))), 'the git hook entry');
  const missing: string[] = [];
  const computed: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\bimport\(\s*(["'])(\.[^"']+)\1\s*\)/g)) {
      if (!existsSync(join(f, '..', m[2]!))) missing.push(`${f}: ${m[2]}`);
    }
    // A dynamic import of anything but a literal (or a node: builtin) is code the bundler left out.
    for (const m of text.matchAll(/\bimport\(\s*([^"'\s)][^)]*)\)/g)) computed.push(`${f}: import(${m[1]!.slice(0, 60)})`);
  }
  t.same(missing, [], 'every lazily loaded chunk is there');
  t.same(computed, [], 'no computed dynamic import');
});

t.test('--help of every verb, from the installed package', async (t) => {
  const env = installedEnv(inst, home(t));
  const verbsOf = (help: string): string[] => {
    const section = help.split(/^Commands:$/m)[1] ?? '';
    return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((v) => v !== 'help');
  };
  const queue: string[][] = [[]];
  let checked = 0;
  while (queue.length) {
    const path = queue.shift()!;
    const r = await runInstalled([...path, '--help'], env);
    t.equal(r.exitCode, 0, `bottle ${path.join(' ')} --help: ${r.stderr}`);
    t.match(r.stdout, new RegExp(`^Usage: bottle${path.length ? ` ${path.join(' ')}` : ''}`), path.join(' ') || '(top)');
    checked++;
    for (const v of verbsOf(r.stdout)) queue.push([...path, v]);
  }
  t.ok(checked >= 25, `${checked} help screens`);
});

t.test('doctor --json and start --dry-run --json for both backends', async (t) => {
  const env = installedEnv(inst, home(t), CREDS);
  const doctor = await runInstalled(['doctor', '--json'], env);
  const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: Array<{ name: string; status: string }> };
  t.same(report.checks.map((c) => c.name).slice(0, 5), ['node', 'tmux', 'docker', 'docker-engine', 'git']);
  for (const backend of ['docker', 'smolvm']) {
    const r = await runInstalled(['start', 'reviewer', '--dry-run', '--json', '--backend', backend], env);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(JSON.parse(r.stdout), { agent: 'reviewer', backend }, backend);
    t.match(r.stderr, /built-in example/, 'the embedded example manifest, and it says so');
    t.ok(existsSync(join(inst.pkg, 'examples', 'skills', 'review')), 'its skill ships with it');
  }
});

t.test('start --backend smolvm brings a bottle up through smolvm (the fake on PATH); stop keeps it listed, resume brings it back, rm leaves no engine object behind', async (t) => {
  const h = home(t);
  const smolvm = await fakeSmolvm(t, installedEnv(inst, h, CREDS));
  await smolvm.script(VM_SCRIPT);
  const env = { ...smolvm.env, BOTTLE_STATE_DIR: join(h, 'state') };
  const r = await runInstalled(['start', 'reviewer', '--backend', 'smolvm', '--yes', '--no-attach'], env, { timeoutMs: 180_000 });
  t.notMatch(r.stdout + r.stderr, /not in this build|internal error/, r.stderr);
  const calls = await smolvm.calls();
  t.ok(calls.some((c) => c[0] === 'pack' && c[1] === 'create'), 'the agent image was packed with smolvm');
  t.ok(calls.some((c) => c[0] === 'machine' && c[1] === 'create'), 'and its VM created');
  t.equal(r.exitCode, 0, r.stderr);
  const slug = /bottle (reviewer-[a-z0-9]+)/.exec(r.stdout + r.stderr)?.[1];
  t.ok(slug, 'a slug was reported');
  // The fake VM runs no save script (test/unit/smolvm-backend.test.ts plays one): stop without saving.
  const stop = await runInstalled(['stop', slug!, '--no-save'], env, { timeoutMs: 120_000 });
  t.equal(stop.exitCode, 0, stop.stderr);
  // The durable life cycle from the installed package: listed as stopped, resumed, removed.
  const ls = await runInstalled(['ls', '--json'], env);
  t.match(JSON.parse(ls.stdout), [{ slug, state: 'stopped' }], 'a stopped bottle stays listed');
  const resume = await runInstalled(['resume', slug!, '--no-attach'], env, { timeoutMs: 180_000 });
  t.equal(resume.exitCode, 0, resume.stderr);
  t.match(resume.stderr, new RegExp(`bottle ${slug} is back`));
  t.match(JSON.parse((await runInstalled(['ls', '--json'], env)).stdout), [{ slug, state: 'running' }]);
  const rm = await runInstalled(['rm', slug!, '--yes'], env, { timeoutMs: 120_000 });
  t.equal(rm.exitCode, 0, rm.stderr);
  t.same(JSON.parse((await runInstalled(['ls', '--json'], env)).stdout), [], 'rm removes it for good');
  const left = await runInstalled(['cleanup', '--dry-run'], env);
  t.match(left.stdout + left.stderr, /nothing to clean up/, 'no orphan container, network, VM or state');
});

t.test('an unreachable engine is one line with the fix, and nothing is left behind', async (t) => {
  const h = home(t);
  const env = installedEnv(inst, h, { ...CREDS, DOCKER_HOST: `unix://${join(h, 'no-such-docker.sock')}`, BOTTLE_STATE_DIR: join(h, 'state') });
  const r = await runInstalled(['start', 'reviewer', '--yes', '--no-attach'], env);
  t.equal(r.exitCode, 1);
  t.notMatch(r.stderr, /internal error|BOTTLE_DEBUG|\n\s+at /);
  t.match(r.stderr, /^bottle: no Docker engine at unix:\/\/\S+no-such-docker\.sock: no socket at .*; start dockerd, or point DOCKER_HOST at a running engine/m);
  const ls = await runInstalled(['ls', '--json'], env);
  t.same(JSON.parse(ls.stdout), [], 'no state left');
});

t.test('sidecar gateway runs from the installed package and refuses a blocked host with 403', async (t) => {
  const h = home(t);
  const policyDir = join(h, 'policy');
  mkdirSync(policyDir);
  writeFileSync(join(policyDir, 'policy.yaml'), 'version: 1\nallow: [allowed.test]\n');
  // The "internet": a loopback upstream the gateway may never reach for a blocked host.
  let hits = 0;
  const upstream = createServer((_req, res) => { hits++; res.end('upstream'); });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => upstream.close(resolve)));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn('bottle', ['sidecar', 'gateway', '--listen', `127.0.0.1:${port}`, '--policy-dir', policyDir, '--ca-dir', join(h, 'ca'), '--resolve-only', 'test', '--no-watch'], {
    env: installedEnv(inst, h), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.teardown(async () => { child.kill('SIGTERM'); await exited; });
  const ask = (): Promise<{ status: number; body: string } | false> => new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: `http://blocked.test:${(upstream.address() as AddressInfo).port}/`, headers: { host: 'blocked.test' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
  const answer = await pollUntil('the installed gateway to answer', ask, { timeoutMs: 20_000, intervalMs: 200, describe: () => out });
  t.equal(answer.status, 403);
  t.match(answer.body, /blocked: /);
  t.equal(hits, 0, 'the upstream received nothing');
});

t.test('the dashboard opens in a private tmux server; n lists the example agents', { skip: await tmuxSkipReason() }, async (t) => {
  const h = home(t);
  const env = installedEnv(inst, h, CREDS);
  const srv = await startTmuxServer(t, {
    width: 140, height: 40,
    env: { PATH: env.PATH!, BOTTLE_STATE_DIR: join(h, 'state'), XDG_CONFIG_HOME: env.XDG_CONFIG_HOME!, ...CREDS },
    command: ['bottle', 'dashboard'],
  });
  await srv.waitForText(/agents/i, { timeoutMs: 20_000 });
  await srv.sendKeys(['n']);
  const screen = await srv.waitForText(/implementer[\s\S]*reviewer|reviewer[\s\S]*implementer/, { timeoutMs: 10_000 });
  t.match(screen, /implementer/);
  await srv.sendKeys(['Escape', 'q']);
});

// A bottle's state as the installed CLI finds it under BOTTLE_STATE_DIR, planted with the
// checkout's lib/state (the on-disk format both sides share).
async function plantBottle(stateDir: string, agent: string) {
  const b = await createBottle(stateDir, agent, { backend: 'docker' });
  mkdirSync(dirname(b.paths.eventsFile), { recursive: true });
  return b;
}

// A usage event as the gateway appends it to the events file.
const usageEvent = (time: string, model: string, tokens: { input: number; output: number; cacheRead: number; cacheWrite: number }): string =>
  `${JSON.stringify({ type: 'usage', time, origin: 'gateway', model, ...tokens, requestId: null, path: '/v1/messages', status: 200 })}\n`;

t.test('usage --json and usage (human) add up the usage events planted in two bottles\' events files', async (t) => {
  const h = home(t);
  const state = join(h, 'state');
  const env = installedEnv(inst, h, { BOTTLE_STATE_DIR: state });
  // Prices the manifest set (launch.json), USD per million tokens: every cost below is exact.
  const prices = { 'acceptance-model': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } };
  const a = await plantBottle(state, 'implementer');
  const b = await plantBottle(state, 'reviewer');
  for (const x of [a, b]) writeFileSync(x.paths.launchSpec, JSON.stringify({ plan: { agent: x.metadata.agent, prices }, agent: {} }));
  appendFileSync(a.paths.eventsFile, [
    usageEvent('2026-03-01T10:00:00.000Z', 'acceptance-model', { input: 200_000, output: 100_000, cacheRead: 1_000_000, cacheWrite: 40_000 }), // $2.55
    '{"type":"agent-idle","time":"2026-03-01T10:05:00.000Z"}\n',
    usageEvent('2026-03-02T10:00:00.000Z', 'acceptance-model', { input: 100_000, output: 20_000, cacheRead: 0, cacheWrite: 0 }), // $0.60
  ].join(''));
  appendFileSync(b.paths.eventsFile, usageEvent('2026-03-02T11:00:00.000Z', 'acceptance-model', { input: 50_000, output: 10_000, cacheRead: 0, cacheWrite: 40_000 })); // $0.45

  const json = await runInstalled(['usage', '--json'], env);
  t.equal(json.exitCode, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { bottles: Array<Record<string, unknown>>; total: Record<string, unknown> };
  const bySlug = new Map(report.bottles.map((x) => [x.slug, x]));
  t.match(bySlug.get(a.slug), {
    agent: 'implementer', requests: 2, input: 300_000, output: 120_000, cacheRead: 1_000_000, cacheWrite: 40_000, usd: 3.15, unpricedRequests: 0,
    byModel: [{ model: 'acceptance-model', requests: 2 }], byDay: [{ day: '2026-03-01', requests: 1 }, { day: '2026-03-02', requests: 1 }],
  }, 'the first bottle: two usage events, the other event not counted');
  t.match(bySlug.get(b.slug), { agent: 'reviewer', requests: 1, input: 50_000, output: 10_000, cacheRead: 0, cacheWrite: 40_000, usd: 0.45 });
  t.match(report.total, { requests: 3, input: 350_000, output: 130_000, cacheRead: 1_000_000, cacheWrite: 80_000, usd: 3.6, unpricedRequests: 0 }, 'the sum');

  const human = await runInstalled(['usage'], env);
  t.equal(human.exitCode, 0, human.stderr);
  const lines = human.stdout.split('\n');
  t.match(lines[0], /^SLUG\s+REQUESTS\s+INPUT\s+OUTPUT\s+CACHE R\/W\s+COST\s+LAST 5 MIN$/);
  t.ok(lines.some((l) => new RegExp(`^${a.slug}\\s+2\\s+300k\\s+120k\\s+1M/40k\\s+\\$3\\.15\\s+-$`).test(l)), `${a.slug}'s row\n${human.stdout}`);
  t.ok(lines.some((l) => new RegExp(`^${b.slug}\\s+1\\s+50k\\s+10k\\s+0/40k\\s+\\$0\\.45\\s+-$`).test(l)), `${b.slug}'s row\n${human.stdout}`);
  t.ok(lines.some((l) => /^TOTAL\s+3\s+350k\s+130k\s+1M\/80k\s+\$3\.60\s+-$/.test(l)), `the total row\n${human.stdout}`);
});

t.test('budget: a planted bottle past its cap reads paused; --usd raises it (budget.json rewritten); bad input is one line', async (t) => {
  const h = home(t);
  const state = join(h, 'state');
  const env = installedEnv(inst, h, { BOTTLE_STATE_DIR: state });
  const prices = { 'acceptance-model': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } };
  const a = await plantBottle(state, 'implementer');
  mkdirSync(a.paths.policy, { recursive: true });
  writeFileSync(join(a.paths.policy, 'budget.json'), JSON.stringify({ usd: 0.5, warnAt: 0.8, prices }));
  appendFileSync(a.paths.eventsFile, usageEvent('2026-03-01T10:00:00.000Z', 'acceptance-model', { input: 200_000, output: 0, cacheRead: 0, cacheWrite: 0 })); // $0.60
  const paused = await runInstalled(['budget', a.slug, '--json'], env);
  t.equal(paused.exitCode, 0, paused.stderr);
  t.match(JSON.parse(paused.stdout), { slug: a.slug, level: 'paused', budget: { usd: 0.5 }, used: { usd: 0.6, tokens: 200_000, requests: 1 } });
  const raised = await runInstalled(['budget', a.slug, '--usd', '2'], env);
  t.equal(raised.exitCode, 0, raised.stderr);
  t.match(raised.stdout, new RegExp(`^${a.slug}: budget \\$2\\.00 \\(warns at 80%\\); used \\$0\\.60 .* \\(30%\\); ok$`));
  t.match(JSON.parse(readFileSync(join(a.paths.policy, 'budget.json'), 'utf8')), { usd: 2, warnAt: 0.8, prices }, 'the cap changed, the prices kept');
  const bad = await runInstalled(['budget', a.slug, '--usd', 'lots'], env);
  t.not(bad.exitCode, 0);
  t.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  t.match(bad.stderr, /--usd "lots": expected USD/);
});

t.test('proposals show ID --json and --no-pager print a planted held push: its commits and its diff', async (t) => {
  const h = home(t);
  const state = join(h, 'state');
  const env = installedEnv(inst, h, { BOTTLE_STATE_DIR: state });
  const b = await plantBottle(state, 'implementer');
  const [newer, older] = ['c'.repeat(40), 'd'.repeat(40)];
  const diff = [
    `commit ${newer}`, 'Author: agent <agent@bottle>', '', '    acceptance: second change', '',
    'diff --git a/src/acc.ts b/src/acc.ts', '-export const acc = 1;', '+export const acc = 2;', '',
    `commit ${older}`, 'Author: agent <agent@bottle>', '', '    acceptance: first change', '',
    'diff --git a/README.md b/README.md', '+installed-package acceptance line', '',
  ].join('\n');
  const push = await writePushProposal(b.paths.superviseQueue, {
    push: {
      refs: [{ ref: 'refs/heads/main', old: PUSH_OLD, new: newer }],
      commits: [{ sha: newer, author: 'agent <agent@bottle>', subject: 'acceptance: second change' }, { sha: older, author: 'agent <agent@bottle>', subject: 'acceptance: first change' }],
      commitCount: 2, stat: { files: 2, insertions: 2, deletions: 1 }, scan: { findings: 0, commits: 2, objects: 6 }, diffBytes: Buffer.byteLength(diff),
    },
    diff,
  });

  const json = await runInstalled(['proposals', 'show', push.id, '--json'], env);
  t.equal(json.exitCode, 0, json.stderr);
  const shown = JSON.parse(json.stdout) as Record<string, unknown>;
  t.match(shown, { id: push.id, slug: b.slug, kind: 'push', host: 'origin', status: 'pending', diff });
  t.same(shown.push, push.payload.push, 'the push as planted, commits included');

  const text = await runInstalled(['proposals', 'show', push.id, '--no-pager'], env);
  t.equal(text.exitCode, 0, text.stderr);
  t.match(text.stdout, new RegExp(`^${push.id}  ${b.slug}  push origin  pending\n`));
  t.match(text.stdout, /^ {2}commits {3}2 new$/m);
  t.match(text.stdout, /^ {4}ccccccc acceptance: second change \(agent <agent@bottle>\)$/m, 'the newest commit first');
  t.match(text.stdout, /^ {4}ddddddd acceptance: first change \(agent <agent@bottle>\)$/m);
  t.match(text.stdout, /^ {2}changes {3}2 files, \+2 -1$/m);
  // runInstalled (execa) drops the output's final newline.
  t.equal(text.stdout.slice(text.stdout.indexOf(`\n\ncommit ${newer}\n`) + 2), diff.replace(/\n$/, ''), 'the diff last, whole, after a blank line');
});

// The sidecars image's build context as `bottle images build` assembles it from `root`.
function contextHash(root: string, kind: ImageKind): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-acc-context-'));
  try {
    assembleContext(root, projectContextEntries(kind, root), '', dir);
    return hashContext(dir, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('the installed package assembles the same image build contexts as the checkout', async (t) => {
  for (const kind of IMAGE_KINDS) t.equal(contextHash(inst.pkg, kind), contextHash(projectRoot(), kind), kind);
});

const gate = await engineGate();
t.test('images build runs from the installed package (no script or dev dependency missing)', { skip: gate.skip }, async (t) => {
  const r = await runInstalled(['images', 'build', '--json'], installedEnv(inst, home(t)), { timeoutMs: 280_000 });
  t.equal(r.exitCode, 0, r.stderr);
  t.notMatch(r.stderr, /not found|ENOENT|Cannot find/);
  const report = JSON.parse(r.stdout) as { images: Array<{ name: string; skipped: boolean }> };
  t.same(report.images.map((i) => i.name), ['bottle-agent:latest', 'bottle-sidecars:latest']);
});
