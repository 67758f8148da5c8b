// Issue 17: a bottle on a remote engine. A second Docker engine runs in a container of this
// one (test/helpers/second-engine.ts), so its filesystem is not this machine's: nothing of the
// host's state dir can reach a container there except through the engine's API. The images are
// copied into it, DOCKER_HOST=tcp://… points the real CLI at it, and the sandbox's security
// subset runs there: egress off the allowlist blocked, route injection invisible to the agent,
// proposal → approve → retry, and stop leaving nothing on that engine.
import t from 'tap';
import { headerValues } from './fixtures/upstream/upstream.js';
import { bottleProcess } from '../helpers/cli.js';
import { agentCurl, checkEgressBlocked, checkPush, checkListedOn, checkRunsOn, checkStopLeavesNothing } from '../helpers/remote-engine.js';
import { mcpCall, type McpReply, pendingProposal, sandboxGate, startSandbox } from '../helpers/sandbox.js';
import { startSecondEngine } from '../helpers/second-engine.js';

const gate = await sandboxGate();
t.setTimeout(15 * 60_000);

await t.test('a bottle on a remote engine', { skip: gate.skip }, async (t) => {
  const e2 = await startSecondEngine(gate.docker!, { log: (l) => t.comment(`engine2: ${l}`) });
  t.teardown(() => e2.close());

  await t.test('bottle images push copies the images there, once', async (t) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    await checkPush(t, gate.docker!, e2.docker, e2.host, env);
    const self = await bottleProcess(['images', 'push', '--to', e2.host], { env: { ...env, DOCKER_HOST: e2.host } });
    t.equal(self.exitCode, 1);
    t.match(self.stderr, /is the engine this shell already uses/);
  });

  const sb = await startSandbox(e2.docker, { agent: 'e2e-remote', env: { DOCKER_HOST: e2.host } });
  t.teardown(() => sb.close());
  const curl = agentCurl(sb);

  await t.test('it runs on the remote engine, with no mount of this machine', (t) => checkRunsOn(t, gate.docker!, e2.docker, sb));

  await t.test('egress off the allowlist is blocked; nothing reaches the upstream', (t) => checkEgressBlocked(t, sb, '/e2e/remote-blocked'));

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
  await t.test('from a shell without DOCKER_HOST, ls finds it running there', (t) => checkListedOn(t, sb, e2.host));

  await t.test('stop (from that shell) leaves nothing on the remote engine and keeps what the bundle recorded', async (t) => {
    await checkStopLeavesNothing(t, sb, e2.docker);
    const ls = await sb.cli(['proposals', 'ls', '--all', '--json']);
    t.match(JSON.parse(ls.stdout), [{ host: 'newhost.test', status: 'approved' }], 'the proposal and its decision are in the state dir');
  });
});
