// The acceptance tier: the product exactly as a user installs it. `npm pack` of this checkout is
// installed into a temporary prefix and only that prefix's `bottle` runs — never the sources.
// Regressions pinned here: the smolvm backend was missing from the bundle (a computed dynamic
// import esbuild could not follow), the tarball had no dist/ at all (no "files"), the base-image
// bootstrap imported a dev dependency (zx), and an unreachable engine printed "internal error".
import t from 'tap';
import { createServer, request } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fakeSmolvm, VM_SCRIPT } from '../helpers/fake-smolvm.js';
import { engineGate } from '../helpers/e2e.js';
import { installed, installedEnv, runInstalled, type Installed } from '../helpers/installed.js';
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
