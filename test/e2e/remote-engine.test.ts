// Issue 17: a bottle on a remote engine. A second Docker engine runs in a container of this
// one (test/helpers/second-engine.ts), so its filesystem is not this machine's: nothing of the
// host's state dir can reach a container there except through the engine's API. The images are
// copied into it, DOCKER_HOST=tcp://… points the real CLI at it, and the sandbox's security
// subset runs there: egress off the allowlist blocked, route injection invisible to the agent,
// proposal → approve → retry, and stop leaving nothing on that engine.
import t from 'tap';
import { headerValues } from './fixtures/upstream/upstream.js';
import { bottleProcess } from '../helpers/cli.js';
import { IMAGES, labelled, mcpCall, type McpReply, pendingProposal, sandboxGate, startSandbox } from '../helpers/sandbox.js';
import { startSecondEngine } from '../helpers/second-engine.js';

const gate = await sandboxGate();
t.setTimeout(15 * 60_000);

const CURL = "curl -sS -m 15 -w '\\n%{http_code}'";
const parse = (out: string): { body: string; code: string } => {
  const lines = out.split('\n');
  return { code: lines.pop() ?? '', body: lines.join('\n') };
};

await t.test('a bottle on a remote engine', { skip: gate.skip }, async (t) => {
  const e2 = await startSecondEngine(gate.docker!, { log: (l) => t.comment(`engine2: ${l}`) });
  t.teardown(() => e2.close());

  await t.test('bottle images push copies the images there, once', async (t) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const t0 = Date.now();
    const push = await bottleProcess(['images', 'push', '--to', e2.host, '--json'], { env });
    t.equal(push.exitCode, 0, push.stderr);
    t.comment(`pushed in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${push.stderr.trim().split('\n').pop()}`);
    const ids = await Promise.all(IMAGES.map(async (i) => (await gate.docker!.getImage(i).inspect()).Id));
    t.match(JSON.parse(push.stdout), { images: IMAGES.map((name, i) => ({ name, id: ids[i], pushed: true })) });
    for (const [i, name] of IMAGES.entries()) t.equal((await e2.docker.getImage(name).inspect()).Id, ids[i], `${name} is there, same id`);
    const again = await bottleProcess(['images', 'push', '--to', e2.host, '--json'], { env });
    t.match(JSON.parse(again.stdout), { images: IMAGES.map((name) => ({ name, pushed: false })), bytes: 0 }, 'a second push sends nothing');
    const self = await bottleProcess(['images', 'push', '--to', e2.host], { env: { ...env, DOCKER_HOST: e2.host } });
    t.equal(self.exitCode, 1);
    t.match(self.stderr, /is the engine this shell already uses/);
  });

  const sb = await startSandbox(e2.docker, { agent: 'e2e-remote', env: { DOCKER_HOST: e2.host } });
  t.teardown(() => sb.close());
  const curl = async (args: string) => parse((await sb.agent(`${CURL} ${args} 2>/dev/null`)).stdout);

  await t.test('it runs on the remote engine, with no mount of this machine', async (t) => {
    t.same(await labelled(gate.docker!, sb.slug), [], 'nothing of it on this machine\'s engine');
    t.same(await labelled(e2.docker, sb.slug), [sb.names.agent, sb.names.externalNetwork, sb.names.internalNetwork, sb.names.bundle].sort());
    for (const name of [sb.names.bundle, sb.names.agent]) {
      const c = await e2.docker.getContainer(name).inspect();
      t.same(c.Mounts.filter((m) => m.Type === 'bind'), [], `${name}: no bind mount`);
    }
    t.ok(sb.bringup.some((l) => /gateway ready/.test(l)), 'readiness came back through the engine API');
  });

  await t.test('egress off the allowlist is blocked; nothing reaches the upstream', async (t) => {
    const r = await curl('https://exfil.test/e2e/remote-blocked');
    t.equal(r.code, '403');
    t.match(r.body, /exfil\.test is not on the allowlist/);
    t.same((await sb.upstream.records()).filter((x) => (x.url ?? '').startsWith('/e2e/remote-blocked')), []);
  });

  await t.test('the route credential is injected upstream and invisible to the agent', async (t) => {
    const r = await curl(`-H 'Authorization: Bearer agent-forged' https://api.allowed.test/e2e/remote-route`); // gitleaks:allow (test dummy)
    t.equal(r.code, '200');
    const [seen] = (await sb.upstream.records()).filter((x) => (x.url ?? '').startsWith('/e2e/remote-route'));
    t.same(headerValues(seen!, 'authorization'), [`Bearer ${sb.routeToken}`], 'the upstream got the real one');
    const env = await sb.agent('env; cat /proc/self/environ');
    t.notOk(`${r.body}${env.stdout}`.includes(sb.routeToken), 'the agent never sees it');
  });

  await t.test('proposal → approve → retry, the queue and the decision crossing the engine API', async (t) => {
    const before = await curl('https://newhost.test/e2e/remote-before');
    t.equal(before.code, '403', 'newhost.test is blocked at first');
    const call = sb.probe<McpReply[]>('mcp', ['http://supervise:9100/mcp', mcpCall('propose_allowlist_change', { host: 'newhost.test', reason: 'remote e2e' })]);
    const id = await pendingProposal(sb, 'newhost.test');
    const approve = await sb.cli(['proposals', 'approve', id, '--json']);
    t.equal(approve.exitCode, 0, approve.stderr);
    t.match(JSON.parse(approve.stdout), { id, decision: 'approved', live: true });
    t.match((await call)[1]?.result?.structuredContent, { id, status: 'approved' }, 'the waiting tool call returns the decision');
    t.equal((await curl('https://newhost.test/e2e/remote-after')).code, '200', 'the retry goes through');
  });

  // A shell without DOCKER_HOST: the bottle is found on the engine it was launched on.
  const { DOCKER_HOST: _host, ...plainEnv } = sb.env;
  const plain = (args: string[]) => bottleProcess(args, { env: plainEnv });

  await t.test('from a shell without DOCKER_HOST, ls finds it running there', async (t) => {
    const ls = await plain(['ls', '--json']);
    t.equal(ls.exitCode, 0, ls.stderr);
    t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'running', engine: 'running', dockerHost: e2.host }]);
    t.match((await plain(['ls'])).stdout, new RegExp(`${sb.slug} .*running +running +${e2.host.replace(/[.]/g, '\\.')}`), 'the table says where');
  });

  await t.test('stop (from that shell) leaves nothing on the remote engine and keeps what the bundle recorded', async (t) => {
    await sb.upstream.remove(); // the test's own container on the bottle's egress network
    const stop = await plain(['stop', sb.slug, '--no-save']);
    t.equal(stop.exitCode, 0, stop.stderr);
    t.same(await labelled(e2.docker, sb.slug), [], 'no container or network with the slug label');
    const ls = await sb.cli(['proposals', 'ls', '--all', '--json']);
    t.match(JSON.parse(ls.stdout), [{ host: 'newhost.test', status: 'approved' }], 'the proposal and its decision are in the state dir');
  });
});
