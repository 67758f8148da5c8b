// The smolvm backend after launch: attach/exec argv and exit codes, transcript snapshot,
// teardown (VM, bundle, bridge; by name and label; idempotent), the engine view, cleanup's
// resource list, and the bundle control — against the fake engine and the fake smolvm.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { listDockerResources } from '../../lib/backends/bundle/manage.js';
import { extractTar, tarBuffer } from '../../lib/backends/bundle/tar.js';
import { restoreWork, saveWork } from '../../lib/lifecycle/index.js';
import { loadBackend } from '../../lib/backends/index.js';
import { SmolvmClient } from '../../lib/backends/smolvm/cli.js';
import { SmolvmBackend } from '../../lib/backends/smolvm/index.js';
import { makeBottleDir, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { leftovers, metaOf, rig, SmolFakeEngine, VM_SCRIPT } from './smolvm-launch-fixture.js';

const slug = 'tester-abcdef';
const VM = `bottle-${slug}`;
const root = mkdtempSync(join(tmpdir(), 'bottle-smolvm-backend-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const paths = makeBottleDir(root, slug);
const plan = samplePlan({ backend: 'smolvm', git: [{ name: 'origin', upstream: 'https://example.test/app.git' }] });

t.test('attachArgv: machine exec -i -t in /workspace, claude as node via runuser', async (t) => {
  const r = await rig(t, { backend: { env: { TERM: 'tmux-256color', COLORTERM: 'truecolor' } } });
  const meta = metaOf(slug, { resources: { machine: 'bottle-recorded' } });
  t.same(r.backend.attachArgv(meta, { args: ['--session-id', 'u-1', '--append-system-prompt-file', '/home/node/.bottle/prompt.md'] }), [
    'smolvm', 'machine', 'exec', '--name', 'bottle-recorded', '-w', '/workspace', '-e', 'TERM=tmux-256color', '-e', 'COLORTERM=truecolor', '-i', '-t', '--',
    'runuser', '-u', 'node', '--', 'claude', '--session-id', 'u-1', '--append-system-prompt-file', '/home/node/.bottle/prompt.md',
  ]);
  t.equal(r.backend.attachArgv(metaOf(slug), { args: [] })[4], VM, 'derived from the slug when metadata has no name');
});

t.test('exec: as node in /workspace; the in-VM exit code and output come back', async (t) => {
  const r = await rig(t, { script: { exec: [
    ...VM_SCRIPT.exec!.filter((e) => e.args[0] !== 'runuser'),
    { args: ['runuser', '-u', 'node', '--', 'sh', '-c', 'exit 7'], exitCode: 7, stderr: 'seven\n' },
    { args: ['runuser', '-u', 'node', '--', 'id', '-un'], stdout: 'node\n' },
    { args: ['runuser'] },
  ] } });
  await r.backend.launch(plan, sampleContext(paths, slug));
  const meta = metaOf(slug);
  t.same(await r.backend.exec(meta, ['sh', '-c', 'exit 7']), { exitCode: 7, stdout: '', stderr: 'seven' });
  t.same(await r.backend.exec(meta, ['id', '-un']), { exitCode: 0, stdout: 'node', stderr: '' });
  t.same((await r.fake.calls()).at(-1), ['machine', 'exec', '--name', VM, '-w', '/workspace', '--', 'runuser', '-u', 'node', '--', 'id', '-un']);
  await r.backend.teardown(meta, () => undefined);
  const gone = await r.backend.exec(meta, ['true']);
  t.not(gone.exitCode, 0, 'a VM that is gone: smolvm\'s own non-zero exit');
});

t.test('save and restore through smolvm: the scripts run as node in the VM, the work leaves by machine cp and comes back the same way; wake starts a stopped VM', async (t) => {
  // The save dir as the in-VM save script leaves it: one commit, a patch, a session.
  const saved = tarBuffer([
    { path: 'bottle-save/', type: 'dir' },
    { path: 'bottle-save/git/', type: 'dir' },
    { path: 'bottle-save/git/commits', type: 'file', content: '1\n' },
    { path: 'bottle-save/git/changed', type: 'file', content: '2\n' },
    { path: 'bottle-save/git/HEAD', type: 'file', content: 'refs/heads/main\n' },
    { path: 'bottle-save/git/work.bundle', type: 'file', content: 'bundle' },
    { path: 'bottle-save/claude/projects/-workspace/', type: 'dir' },
    { path: `bottle-save/claude/projects/-workspace/${'a'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}.jsonl`, type: 'file', content: '{}\n' },
  ]);
  const archive = join(root, 'saved.tar');
  writeFileSync(archive, saved);
  let plant: ((vmFile: string) => Promise<void>) | undefined;
  const r = await rig(t, {
    beforeSmolvm: async (argv) => {
      const f = argv.indexOf('-f');
      if (argv.includes('-c') && f > 0 && argv.includes('bottle-save')) await plant?.(argv[f + 1]!);
    },
  });
  plant = (vmFile) => new SmolvmClient({ env: r.fake.env }).cp(archive, `${VM}:${vmFile}`);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const meta = metaOf(slug);
  const summary = await saveWork(r.backend, root, meta, new Date('2026-12-07T00:00:00Z'));
  t.match(summary, { commits: 1, changedFiles: 2, sessions: 1 });
  const calls = await r.fake.calls();
  t.ok(calls.some((c) => c.join(' ').startsWith(`machine exec --name ${VM} -w /workspace -- runuser -u node -- sh -c set -u`)), 'the save script ran as node');
  t.equal(readFileSync(join(paths.saved, 'git', 'work.bundle'), 'utf8'), 'bundle');

  await restoreWork(r.backend, root, meta);
  const after = (await r.fake.calls()).slice(calls.length).map((c) => c.join(' '));
  t.ok(after.some((c) => /^machine cp \S+ bottle-tester-abcdef:\/tmp\//.test(c)), 'the saved files went in by machine cp');
  // What went in: every archive copied into the VM, unpacked (as the VM's tar would) under /home/node.
  const home = mkdtempSync(join(root, 'vm-home-'));
  for (const b64 of Object.values((await r.fake.machines())[VM]!.files)) await extractTar(Readable.from([Buffer.from(b64, 'base64')]), home);
  t.ok(existsSync(join(home, '.claude/projects/-workspace', `${'a'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}.jsonl`)), 'the sessions went where claude looks');
  t.equal(readFileSync(join(home, '.bottle/restore/git/work.bundle'), 'utf8'), 'bundle', 'the bundle went to the restore dir');
  t.ok(after.some((c) => c.includes('-- runuser -u node -- sh -c set -eu') && c.endsWith('bottle-restore /workspace /home/node/.bottle/restore')), 'the restore script ran as node');

  await r.smolvm.stop(VM);
  await r.backend.wake(meta);
  t.equal((await r.fake.machines())[VM]?.state, 'running', 'wake started the stopped VM');
  await r.backend.teardown(meta, () => undefined);
  await t.rejects(r.backend.wake(meta), /VM bottle-tester-abcdef is gone/);
});

t.test('copyOut: tar as node in the VM, machine cp out, strict extract; a missing VM throws', async (t) => {
  const transcript = join(root, 'transcript.tar');
  writeFileSync(transcript, tarBuffer([{ path: 'projects/', type: 'dir' }, { path: 'projects/-workspace/s1.jsonl', type: 'file', content: '{"a":1}\n' }]));
  let plant: ((vmFile: string) => Promise<void>) | undefined;
  const r = await rig(t, {
    // Plays the in-VM tar: the archive appears at the path the backend asked tar to write.
    beforeSmolvm: async (argv) => {
      const f = argv.indexOf('-f');
      if (argv.includes('-c') && f > 0) await plant?.(argv[f + 1]!);
    },
  });
  plant = (vmFile) => new SmolvmClient({ env: r.fake.env }).cp(transcript, `${VM}:${vmFile}`);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const meta = metaOf(slug);
  const dir = mkdtempSync(join(root, 'snap-'));
  t.same(await r.backend.copyOut(meta, '/home/node/.claude/projects', dir), { files: 1 });
  t.equal(readFileSync(join(dir, 'projects', '-workspace', 's1.jsonl'), 'utf8'), '{"a":1}\n');
  const tarCall = r.ops.find((o) => o.includes(' tar -c '));
  t.equal(tarCall, `smolvm machine exec --name ${VM} -- runuser -u node -- tar -c -f /tmp/bottle-copyout-X.tar -C /home/node/.claude projects`);

  await r.backend.teardown(meta, () => undefined);
  await t.rejects(r.backend.copyOut(meta, '/home/node/.claude/projects', dir), 'a missing VM is an error the caller reports');
});

t.test('teardown: VM stop + delete, bundle, bridge; by name and label; idempotent', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  // A labelled object metadata never recorded (a launch that died half-recorded).
  await r.engine.createContainer({ name: `${VM}-stray`, Labels: { 'dev.bottle.slug': slug } });
  const meta = metaOf(slug);
  t.equal((await r.backend.inspect([meta])).get(slug), 'running');
  const before = r.ops.length;
  const lines: string[] = [];
  await r.backend.teardown(meta, (l) => lines.push(l));
  t.same(r.ops.slice(before).filter((o) => /^(smolvm machine (stop|delete)|removeContainer|removeNetwork)/.test(o)), [
    `smolvm machine stop --name ${VM}`, `smolvm machine delete ${VM} -f`,
    `removeContainer ${VM}-stray`, `removeContainer ${VM}-sidecars`, `removeNetwork ${VM}-vm`,
  ]);
  t.same(lines.slice(0, 2), [`stopped VM ${VM}`, `removed VM ${VM}`]);
  t.same(await leftovers(r), []);
  t.equal((await r.backend.inspect([meta])).get(slug), 'missing');
  const again = r.ops.length;
  await r.backend.teardown(meta, () => undefined);
  t.notOk(r.ops.slice(again).some((o) => /machine (stop|delete)/.test(o)), 'a second teardown finds nothing to stop');
  t.same(await r.backend.listResources(), []);
});

t.test('teardown without smolvm installed: no VM can exist, the Docker half still goes', async (t) => {
  const engine = new SmolFakeEngine();
  await engine.createNetwork({ Name: `${VM}-vm`, Labels: { 'dev.bottle.slug': slug } });
  const backend = new SmolvmBackend(engine, new SmolvmClient({ binary: 'bottle-no-such-smolvm-binary' }), { env: {} });
  await backend.teardown(metaOf(slug), () => undefined);
  t.same([...engine.networks.keys()], []);
  t.same(await backend.listResources(), []);
});

t.test('inspect: running → partial (VM stopped) → exited (bundle stopped too) → missing', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const meta = metaOf(slug);
  const other = metaOf('nobody-000000');
  t.same([...(await r.backend.inspect([meta, other]))], [[slug, 'running'], ['nobody-000000', 'missing']]);
  await r.smolvm.stop(VM);
  t.equal((await r.backend.inspect([meta])).get(slug), 'partial');
  await r.engine.getContainer(`${VM}-sidecars`).stop();
  t.equal((await r.backend.inspect([meta])).get(slug), 'exited');
  await r.backend.teardown(meta, () => undefined);
  t.equal((await r.backend.inspect([meta])).get(slug), 'missing');
});

t.test('listResources / removeResource: bottle-* VMs and the Docker objects labelled smolvm', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  await r.smolvm.create({ name: 'not-ours', source: { image: 'alpine' } });
  await r.engine.createContainer({ name: 'bottle-dock-000000-agent', Labels: { 'dev.bottle.slug': 'dock-000000' } });
  const list = await r.backend.listResources();
  t.same(list.map((x) => `${x.kind} ${x.name} ${x.slug}`).sort(), [
    `container ${VM}-sidecars ${slug}`, `machine ${VM} ${slug}`, `network ${VM}-vm ${slug}`,
  ]);
  t.same((await listDockerResources(r.engine)).map((x) => x.name), ['bottle-dock-000000-agent'], 'the docker backend lists only its own');
  for (const res of list) await r.backend.removeResource(res);
  t.same(await leftovers(r), ['container bottle-dock-000000-agent', 'machine not-ours']);
  for (const res of list) await r.backend.removeResource(res);
});

t.test('control: the bundle is a container — SIGHUP, secrets through exec Env only', async (t) => {
  const r = await rig(t);
  await r.backend.launch(plan, sampleContext(paths, slug));
  const control = r.backend.control(metaOf(slug), paths);
  t.equal(control.name, 'smolvm');
  t.equal(control.live, true);
  await control.reload(slug);
  t.match(r.engine.calls.at(-1), { op: 'kill', target: `${VM}-sidecars`, body: { signal: 'HUP' } });
  await control.provideSecrets(slug, ['GH_TOKEN'], { GH_TOKEN: 'ghp_value' });
  const body = r.engine.calls.at(-1)!.body as { Cmd: string[]; Env: string[] };
  t.same(body.Env, ['GH_TOKEN=ghp_value']); // gitleaks:allow (test dummy)
  t.notMatch(JSON.stringify(body.Cmd), 'ghp_value');
  t.notMatch(JSON.stringify(await r.fake.calls()), 'ghp_value', 'never near the VM');
});

t.test('loadBackend("smolvm") builds it', async (t) => {
  const backend = await loadBackend('smolvm', { PATH: process.env.PATH });
  t.equal(backend.name, 'smolvm');
});
