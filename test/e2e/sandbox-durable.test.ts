// Durable bottles on the real engine with the real Claude Code binary in the agent (issue 14):
// stop keeps a commit, an uncommitted change and claude's session; resume brings them back and
// attach resumes that session; a "reboot" (the engine kills both containers) leaves the bottle
// down, and resume saves what the stopped agent holds and brings it back; export and rm.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { execIn } from '../../lib/docker/api.js';
import { labelled, sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);

await t.test('durable bottle: stop, resume, crash, export, rm', { skip: gate.skip }, async (t) => {
  const docker = gate.docker!;
  const sb = await startSandbox(docker, { agent: 'e2e-durable', git: true });
  t.teardown(() => sb.close());
  const out = mkdtempSync(join(tmpdir(), 'bottle-e2e-export-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  // Resume makes new networks; the test's upstream container would hold the old one.
  await sb.upstream.remove();
  const inAgent = async (cmd: string): Promise<string> => {
    const r = await execIn(docker.getContainer(sb.names.agent), ['sh', '-c', cmd], { user: 'node', workdir: '/workspace' });
    if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr}`);
    return r.stdout.trim();
  };

  // The agent's work: a commit, a changed file, a new file; a real claude session (claude writes
  // the user turn to its session file before it asks the model API, which has no upstream here).
  await inAgent('echo feature > feature.txt && git add feature.txt && git commit -qm "agent commit"');
  await inAgent('echo changed >> README.md && echo draft > draft.txt');
  const session = randomUUID();
  await execIn(docker.getContainer(sb.names.agent), ['sh', '-c', `timeout 60 claude -p "remember the word pelican" --session-id ${session} --dangerously-skip-permissions >/dev/null 2>&1; true`], { user: 'node', workdir: '/workspace' });
  const sessionFile = `/home/node/.claude/projects/-workspace/${session}.jsonl`;
  t.match(await inAgent(`cat ${sessionFile}`), /pelican/, 'claude wrote its session file');

  await t.test('stop keeps the work and removes every engine object', async (t) => {
    const r = await sb.cli(['stop', sb.slug, '--json']);
    t.equal(r.exitCode, 0, r.stderr);
    // Two commits: the workspace never fetched origin, so its first commit is on no remote-tracking ref either.
    t.match(JSON.parse(r.stdout), { slug: sb.slug, state: 'stopped', saved: { commits: 2, changedFiles: 2, sessions: 1, lastSession: session } });
    t.same(await labelled(docker, sb.slug), [], 'no container or network left');
    const ls = await sb.cli(['ls', '--json']);
    t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'stopped', engine: 'missing', saved: { commits: 2 } }]);
    const attach = await sb.cli(['attach', sb.slug, '--print-argv']);
    t.equal(attach.exitCode, 1);
    t.match(attach.stderr, new RegExp(`${sb.slug} is stopped; bring it back with: bottle resume ${sb.slug}`));
  });

  await t.test('resume restores the commit, the changes and the session; attach resumes it', async (t) => {
    const r = await sb.cli(['resume', sb.slug, '--no-attach']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stderr, /restored 2 unpushed commits, 2 uncommitted files, 1 claude session/);
    t.equal(await inAgent('git log -1 --format=%s'), 'agent commit');
    t.equal(await inAgent('git symbolic-ref HEAD'), 'refs/heads/main');
    t.equal(await inAgent('tail -n 1 README.md'), 'changed');
    t.equal(await inAgent('cat draft.txt'), 'draft');
    t.match(await inAgent(`cat ${sessionFile}`), /pelican/, 'the session file is back where claude looks');
    const attach = await sb.cli(['attach', sb.slug, '--print-argv']);
    t.equal(attach.exitCode, 0, attach.stderr);
    const plan = JSON.parse(attach.stdout) as { resume: boolean; sessionId: string; argv: string[] };
    t.match(plan, { resume: true, sessionId: session });
    t.ok(plan.argv.join(' ').includes(`claude --resume ${session}`), plan.argv.join(' '));
  });

  await t.test('a reboot (both containers killed) leaves it down; resume saves and brings it back', async (t) => {
    await inAgent('echo "after resume" > later.txt');
    await docker.getContainer(sb.names.agent).kill();
    await docker.getContainer(sb.names.bundle).kill();
    const ls = await sb.cli(['ls', '--json']);
    t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'down', engine: 'exited' }]);
    const r = await sb.cli(['resume', sb.slug, '--no-attach']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stderr, /is down \(engine: exited\); saving its work from what is left first/);
    t.equal(await inAgent('cat later.txt'), 'after resume', 'the change made before the kill is back');
    t.equal(await inAgent('git log -1 --format=%s'), 'agent commit');
    t.equal((JSON.parse((await sb.cli(['ls', '--json'])).stdout) as Array<{ state: string }>)[0]!.state, 'running');
  });

  await t.test('export writes the transcript, the bundle and the patch', async (t) => {
    const dir = join(out, 'export');
    const r = await sb.cli(['export', sb.slug, '--out', dir]);
    t.equal(r.exitCode, 0, r.stderr);
    for (const f of ['work.bundle', 'uncommitted.patch', `transcripts/${session}.jsonl`, `transcripts/${session}.txt`, 'README.txt']) t.ok(existsSync(join(dir, f)), f);
    t.match(readFileSync(join(dir, 'transcripts', `${session}.txt`), 'utf8'), /── user .*\nremember the word pelican/);
  });

  await t.test('rm asks (refuses without a terminal), then removes everything with --yes', async (t) => {
    const refused = await sb.cli(['rm', sb.slug]);
    t.equal(refused.exitCode, 1);
    t.match(refused.stderr, /loses the running agent and its workspace \(unsaved\); the saved .*; pass --yes/);
    const r = await sb.cli(['rm', sb.slug, '--yes']);
    t.equal(r.exitCode, 0, r.stderr);
    t.same(await labelled(docker, sb.slug), []);
    t.same(JSON.parse((await sb.cli(['ls', '--json'])).stdout), []);
  });
});
