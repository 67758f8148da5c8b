// The Docker backend on a real engine with the real images: launch a bottle, check topology,
// provisioning and the secret/CA invariants from inside the agent, drive the bundle control,
// tear down; and an abort midway through launch leaves nothing behind.
import t from 'tap';
import type Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LaunchAbortedError } from '../../lib/backends/bundle/launch.js';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { execIn, fromDockerode } from '../../lib/docker/api.js';
import { ASK_PROMPT } from '../../lib/plan/index.js';
import type { Metadata } from '../../lib/state/index.js';
import { imagesGate } from '../helpers/e2e.js';
import { pemBodyLines } from '../helpers/sandbox.js';
import { API_KEY, makeBottleDir, POLICY_YAML, SECRET, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';

const gate = await imagesGate();
t.setTimeout(10 * 60_000);

const skip = gate.skip;

const metaOf = (slug: string): Metadata => ({ schema: 1, slug, agent: 'tester', backend: 'docker', created: new Date().toISOString(), resources: {} });

async function labelled(docker: Docker, slug: string): Promise<string[]> {
  const filters = { label: [`dev.bottle.slug=${slug}`] };
  const [cs, ns] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters })]);
  return [...cs.map((c) => c.Names[0]!), ...ns.map((n) => n.Name)];
}

const git = (cwd: string, ...args: string[]): string => execFileSync('git', ['-c', 'safe.directory=*', ...args], { cwd, stdio: 'pipe' }).toString();

await t.test('docker backend: launch, invariants, control, teardown', { skip }, async (t) => {
  const docker = gate.docker!;
  const engine = fromDockerode(docker);
  const slug = `e2e-${randomBytes(3).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), 'bottle-e2e-docker-'));
  const paths = makeBottleDir(join(root, 'state'), slug);
  const ws = join(root, 'ws');
  mkdirSync(ws);
  git(ws, 'init', '-q', '-b', 'main');
  writeFileSync(join(ws, 'README.md'), 'hello from the host\n');
  git(ws, 'add', '.');
  git(ws, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init');
  const upstream = join(root, 'upstream.git');
  git(root, 'clone', '-q', '--bare', ws, upstream);
  git(ws, 'remote', 'add', 'origin', upstream);
  const skill = join(root, 'skills', 'review');
  mkdirSync(skill, { recursive: true });
  writeFileSync(join(skill, 'SKILL.md'), '---\nname: review\ndescription: test skill\n---\nReview.\n');
  // As root, play an operator whose uid is not 0: the state belongs to 10001 and so does the bundle.
  let bundleUser: string | undefined;
  if (process.getuid?.() === 0) {
    execFileSync('chown', ['-R', '10001:10001', root]);
    bundleUser = '10001:10001';
  }
  const backend = new DockerBackend(engine, { bundleUser, env: {}, testUpstream: { resolveOnly: ['test'] } });
  let meta = metaOf(slug);
  const server: Server = createServer((s) => s.end('host\n'));
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  t.teardown(async () => {
    server.close();
    await backend.teardown(meta, () => undefined).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  const ctx = sampleContext(paths, slug);
  const started = Date.now();
  const result = await backend.launch(samplePlan({ workspace: ws, skills: [skill], git: [{ name: 'origin', upstream }] }), ctx);
  t.comment(`launch took ${((Date.now() - started) / 1000).toFixed(1)}s:\n${ctx.lines.join('\n')}`);
  t.same(result.resources.containers, [`bottle-${slug}-sidecars`, `bottle-${slug}-agent`]);
  meta = { ...meta, resources: result.resources, ...(result.backendData ? { backendData: result.backendData } : {}) };
  for (const d of ['gateway', 'git-gate', 'supervise']) t.ok(ctx.lines.some((l) => l.startsWith(`${d} ready (`)), `${d} ready`);
  t.notMatch(ctx.lines.join('\n'), SECRET, 'no secret in progress lines');

  const agentName = `bottle-${slug}-agent`;
  const bundleName = `bottle-${slug}-sidecars`;
  const agent = engine.getContainer(agentName);
  const asNode = (cmd: string) => backend.exec(meta, ['sh', '-c', cmd]);
  const asRoot = (cmd: string) => execIn(agent, ['sh', '-c', cmd], { user: 'root' });

  await t.test('both containers run, labelled; agent on int only, bundle on both', async (t) => {
    t.equal((await backend.inspect([meta])).get(slug), 'running');
    const a = await docker.getContainer(agentName).inspect();
    const b = await docker.getContainer(bundleName).inspect();
    t.match(a.Config.Labels, { 'com.docker.compose.project': `bottle-${slug}`, 'com.docker.compose.service': 'agent', 'dev.bottle.slug': slug, 'dev.bottle.agent': 'tester' });
    t.match(b.Config.Labels, { 'com.docker.compose.service': 'sidecars', 'dev.bottle.slug': slug });
    t.same(Object.keys(a.NetworkSettings.Networks), [`bottle-${slug}-int`]);
    t.same(Object.keys(b.NetworkSettings.Networks).sort(), [`bottle-${slug}-ext`, `bottle-${slug}-int`]);
    t.equal((await docker.getNetwork(`bottle-${slug}-int`).inspect()).Internal, true);
    t.same(a.HostConfig.PortBindings ?? {}, {}, 'no host ports');
    t.same(b.HostConfig.PortBindings ?? {}, {}, 'no host ports');
    t.equal(a.Config.User, 'node');
  });

  await t.test('no container mounts a host path but the local upstream git-gate pushes to', async (t) => {
    const binds = async (name: string) => (await docker.getContainer(name).inspect()).Mounts.filter((m) => m.Type === 'bind').map((m) => m.Source);
    t.same(await binds(agentName), [], 'the agent: none');
    t.same(await binds(bundleName), [upstream], 'the bundle: only the upstream this plan names by local path');
    const bundle = await docker.getContainer(bundleName).inspect();
    t.same(bundle.HostConfig.Binds ?? [], []);
  });

  await t.test('claude runs as node, supervise is registered, files are provisioned', async (t) => {
    const v = await asNode('claude --version');
    t.equal(v.exitCode, 0);
    t.match(v.stdout, /Claude Code/);
    const mcp = await asNode('cd ~ && claude mcp list');
    t.match(mcp.stdout, /supervise: http:\/\/supervise:9100\/mcp \(HTTP\) - ✔ Connected/);
    const files = await asNode('id -un; pwd; cat README.md; git log --oneline | wc -l; cat ~/.claude/skills/review/SKILL.md | head -2; cat ~/.bottle/prompt.md');
    t.match(files.stdout, /^node\n\/workspace\nhello from the host\n1\n---\nname: review\nYou are a test agent\.\n\n/);
    t.ok(files.stdout.endsWith(`\n${ASK_PROMPT}\n`), 'the prompt file ends with bottle\'s note on asking (supervise is on)');
  });

  await t.test('the bundle CA is trusted: TLS through the intercepting gateway verifies', async (t) => {
    const pem = readFileSync(join(paths.dir, 'ca', 'ca.crt'), 'utf8');
    const bodyLine = pem.split('\n')[5]!;
    t.equal((await asNode(`grep -qF '${bodyLine}' /etc/ssl/certs/ca-certificates.crt`)).exitCode, 0, 'in the system store');
    const tls = await asNode("curl -sS -o /dev/null -w '%{http_code}' https://example.test/");
    t.equal(tls.exitCode, 0, `curl verified the gateway's leaf (${tls.stderr.trim()})`);
    t.not(tls.stdout, '000');
    const blocked = await asNode('curl -s http://blocked.test/');
    t.match(blocked.stdout, /^blocked: blocked\.test is not on the allowlist/);
  });

  await t.test('no route secret, real key or CA key anywhere in the agent', async (t) => {
    const keyLines = pemBodyLines(readFileSync(join(paths.dir, 'ca', 'ca.key'), 'utf8'));
    const needles = [SECRET, API_KEY, ...keyLines];
    t.notMatch(JSON.stringify(await docker.getContainer(agentName).inspect()), SECRET, 'not in docker inspect');
    t.notMatch(JSON.stringify(await docker.getContainer(agentName).inspect()), API_KEY, 'not in docker inspect');
    const args = needles.map((n) => `-e '${n}'`).join(' ');
    for (const run of [asRoot, asNode]) {
      const env = await run(`cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -F ${args}; echo rc=$?`);
      t.match(env.stdout, /rc=1\n$/, 'not in any process environment');
      const fs = await run(`grep -rlsF ${args} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; echo rc=$?`);
      // Exit 2 = some file was unreadable to this user (the other run covers it); no path listed = no match.
      t.match(fs.stdout, /^rc=[12]\n$/, `not in any file: ${fs.stdout.trim()}`);
    }
    t.equal((await asRoot('test -e /bottle/ca')).exitCode, 1, 'no CA dir in the agent');
  });

  await t.test('network: no default route, the host is unreachable', async (t) => {
    t.notMatch((await asNode('ip route')).stdout, /default/);
    const port = (server.address() as { port: number }).port;
    const ext = await docker.getNetwork(`bottle-${slug}-ext`).inspect();
    const int = await docker.getNetwork(`bottle-${slug}-int`).inspect();
    const ips = [ext.IPAM?.Config?.[0]?.Gateway, int.IPAM?.Config?.[0]?.Gateway, '172.17.0.1'].filter(Boolean);
    for (const ip of ips) t.not((await asNode(`nc -z -w 2 ${ip} ${port}`)).exitCode, 0, `host port ${port} not reachable at ${ip}`);
    t.not((await asNode('curl -s -m 3 --noproxy "*" http://1.1.1.1/')).exitCode, 0, 'no direct internet');
  });

  await t.test('git through git-gate reaches the local upstream', async (t) => {
    const push = await asNode('git checkout -qb e2e-branch && echo x > x.txt && git add x.txt && git commit -qm x && git push -q origin e2e-branch 2>&1');
    t.equal(push.exitCode, 0, push.stdout);
    t.match(git(upstream, 'branch', '--list', 'e2e-branch'), /e2e-branch/);
  });

  await t.test('hooks reach supervise and land in the host events file', async (t) => {
    const post = await asNode(`curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' --data '{"hook_event_name":"Stop","session_id":"s-e2e"}' http://supervise:9100/hooks/claude`);
    t.match(post.stdout, /^2\d\d$/);
    await backend.pull(meta, paths);
    const events = readFileSync(String(result.backendData?.eventsFile), 'utf8');
    t.match(events, /"type":"agent-idle".*"sessionId":"s-e2e"/);
  });

  await t.test('control: reload (SIGHUP through init) applies a new policy', async (t) => {
    const file = join(paths.policy, 'policy.yaml');
    writeFileSync(`${file}.tmp`, POLICY_YAML.replace('allow: [example.test]', 'allow: [example.test, blocked.test]'));
    if (bundleUser) chownSync(`${file}.tmp`, 10001, 10001);
    renameSync(`${file}.tmp`, file);
    await backend.control(meta, paths).reload(slug);
    let body = '';
    for (let i = 0; i < 50 && !body.includes('upstream'); i++) {
      body = (await asNode('curl -s http://blocked.test/')).stdout;
      if (!body.includes('upstream')) await new Promise((r) => setTimeout(r, 100));
    }
    t.notMatch(body, /not on the allowlist/, `reloaded (${body.trim()})`);
    await backend.pull(meta, paths);
    t.match(readFileSync(String(result.backendData?.eventsFile), 'utf8'), /"signal":"SIGHUP","action":"forward"/);
  });

  await t.test('control: provideSecrets hands a late route secret to the running gateway', async (t) => {
    const value = `late-${randomBytes(8).toString('hex')}`;
    await backend.control(meta, paths).provideSecrets(slug, ['LATE_ROUTE_TOKEN'], { LATE_ROUTE_TOKEN: value });
    const logs = await docker.getContainer(`bottle-${slug}-sidecars`).logs({ stdout: true, stderr: true, tail: 200 });
    const text = logs.toString('utf8');
    t.match(text, /control: secrets updated for LATE_ROUTE_TOKEN/, 'the gateway applied it');
    t.notOk(text.includes(value), 'the value is not logged');
    const inspected = JSON.stringify(await docker.getContainer(`bottle-${slug}-agent`).inspect());
    t.notOk(inspected.includes(value), 'the agent never sees it');
    await t.rejects(backend.control(meta, paths).provideSecrets(slug, ['UNSET_VAR'], {}), /UNSET_VAR not set/);
  });

  await t.test('copyOut copies ~/.claude/projects out; copyIn puts a host dir back as the agent', async (t) => {
    await asNode('mkdir -p ~/.claude/projects/-workspace && echo "{}" > ~/.claude/projects/-workspace/s.jsonl');
    const dir = join(root, 'transcript');
    t.same(await backend.copyOut(meta, '/home/node/.claude/projects', dir), { files: 1 });
    t.equal(readFileSync(join(dir, 'projects', '-workspace', 's.jsonl'), 'utf8'), '{}\n');
    await t.rejects(backend.copyOut(meta, '/nonexistent', dir), /copying \/nonexistent out of/);
    await backend.copyIn(meta, join(dir, 'projects'), '/tmp/back');
    t.equal((await asNode('stat -c %U /tmp/back/-workspace/s.jsonl && cat /tmp/back/-workspace/s.jsonl')).stdout.trim(), 'node\n{}');
  });

  await t.test('teardown removes every labelled container and network; twice is fine', async (t) => {
    const lines: string[] = [];
    const t0 = Date.now();
    await backend.teardown(meta, (l) => lines.push(l));
    t.comment(`teardown took ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    t.same(await labelled(docker, slug), []);
    t.equal((await backend.inspect([meta])).get(slug), 'missing');
    await backend.teardown(meta, () => undefined);
    t.ok(statSync(paths.dir).isDirectory(), 'the state dir is the lifecycle\'s business');
    t.same(readdirSync(join(root, 'transcript')), ['projects']);
  });
});

await t.test('an abort midway through launch leaves nothing behind', { skip }, async (t) => {
  const docker = gate.docker!;
  const root = mkdtempSync(join(tmpdir(), 'bottle-e2e-docker-abort-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const mark of ['starting sidecars', 'provision: claude settings, hooks and the supervise MCP server']) {
    const slug = `e2e-${randomBytes(3).toString('hex')}`;
    const backend = new DockerBackend(fromDockerode(docker), { env: {}, testUpstream: { resolveOnly: ['test'] } });
    t.teardown(() => backend.teardown(metaOf(slug), () => undefined).catch(() => undefined));
    const paths = makeBottleDir(join(root, 'state'), slug);
    const ac = new AbortController();
    const lines: string[] = [];
    const ctx = sampleContext(paths, slug, { signal: ac.signal, log: (l: string) => { lines.push(l); if (l === mark) ac.abort(); } });
    const err = await backend.launch(samplePlan(), ctx).catch((e: unknown) => e);
    t.ok(err instanceof LaunchAbortedError, `aborted at "${mark}": ${(err as Error).message}`);
    t.same(await labelled(docker, slug), [], `nothing labelled ${slug} is left`);
    t.ok(lines.includes('interrupted: removing what was created'));
  }
});
