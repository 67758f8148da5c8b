// Sandbox e2e of a time-boxed grant (issue 15) on the real engine: the agent proposes a blocked
// host, the operator approves it with the real CLI `--for 20s`, the agent's retry reaches the
// upstream; once `until` passes the same request is refused again (nothing reaches the
// upstream), with no reload, and the gateway logs the lapse and appends one event per replica
// for the dashboard's bell. One bottle for the file.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRANT_LAPSED_EVENT, loadPolicy, type GrantLapsedEvent } from '../../lib/policy/index.js';
import { bottleProcess } from '../helpers/cli.js';
import { mcpCall, type McpReply, pendingProposal, type Sandbox, sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(4 * 60_000);

const CURL = "curl -sS -m 15 -o /dev/null -w '%{http_code} %{http_connect}'";
const HOST = 'newhost.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Polls `check` every 250 ms until it returns something, or throws after `ms`.
async function poll<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function bundleLogs(sb: Sandbox): Promise<string> {
  return ((await sb.docker.getContainer(sb.names.bundle).logs({ stdout: true, stderr: true })) as unknown as Buffer).toString('utf8');
}

async function lapseEvents(sb: Sandbox): Promise<GrantLapsedEvent[]> {
  await sb.pull();
  if (!existsSync(sb.paths.eventsFile)) return [];
  return readFileSync(sb.paths.eventsFile, 'utf8').split('\n').filter((l) => l.includes(GRANT_LAPSED_EVENT))
    .map((l) => JSON.parse(l) as GrantLapsedEvent);
}

// `bottle policy explain` against the bottle's own policy file: the verdict at this instant.
async function explain(sb: Sandbox, url: string): Promise<{ verdict: string; stage: string; rule: string | null }> {
  const r = await bottleProcess(['policy', 'explain', '-', '--policy', join(sb.paths.policy, 'policy.yaml')], { env: sb.env, input: JSON.stringify({ url }) });
  if (r.exitCode !== 0) throw new Error(`policy explain exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { verdict: string; stage: string; rule: string | null };
}

await t.test('sandbox time-boxed grants', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, { agent: 'e2e-grants' });
  t.teardown(() => sb.close());

  await t.test('approve --for 20s: allowed until then, blocked again after, the lapse logged and announced', async (t) => {
    t.equal((await sb.agent(`${CURL} https://${HOST}/e2e/before`)).stdout, '403 200', `${HOST} is blocked at first`);
    const call = sb.probe<McpReply[]>('mcp', ['http://supervise:9100/mcp', mcpCall('propose_allowlist_change', { host: HOST, reason: 'the grants e2e needs it for a while' })]);
    const id = await pendingProposal(sb, HOST);
    const approvedAt = Date.now();
    const approve = await sb.cli(['proposals', 'approve', id, '--for', '20s', '--json']);
    t.equal(approve.exitCode, 0, approve.stderr);
    t.match(JSON.parse(approve.stdout), { id, decision: 'approved', host: HOST, live: true });
    t.match((await call)[1]?.result?.structuredContent, { id, status: 'approved' }, 'the waiting tool call returns the decision');
    const until = loadPolicy(readFileSync(join(sb.paths.policy, 'policy.yaml'), 'utf8')).allowUntil?.[HOST];
    const untilMs = Date.parse(until ?? '');
    t.ok(untilMs >= approvedAt + 20_000 && untilMs <= Date.now() + 20_000, `the policy holds { host: ${HOST}, until: ${until} }, 20 s from the approval`);

    const retry = await sb.agent(`${CURL} https://${HOST}/e2e/granted`);
    t.equal(retry.stdout, '200 200', 'the retry goes through');
    t.ok((await sb.upstream.records()).some((r) => r.host === HOST && r.url === '/e2e/granted'), 'and reaches the upstream');
    t.match(await explain(sb, `https://${HOST}/`), { verdict: 'allow', rule: HOST }, 'policy explain: allowed by the grant');
    t.same(await lapseEvents(sb), [], 'no lapse event while the grant runs');

    // The agent keeps asking, once a second, until refused. A 200 must have been sent before
    // until (the gateway judged it no earlier), a 403 answered at or after it (same clock: the
    // containers share the host's kernel).
    const probes: Array<{ path: string; sent: number; got: number; status: string }> = [];
    await poll('the grant to lapse', async () => {
      const path = `/e2e/probe-${probes.length}`;
      const sent = Date.now();
      const { stdout } = await sb.agent(`${CURL} https://${HOST}${path}`);
      probes.push({ path, sent, got: Date.now(), status: stdout });
      if (stdout === '403 200') return true;
      await sleep(1000);
      return undefined;
    }, untilMs - Date.now() + 30_000);
    t.comment(`refused ${probes.at(-1)!.got - untilMs} ms after until, after ${probes.length - 1} granted probe(s)`);
    t.same(probes.filter((p) => (p.status === '200 200' ? p.sent >= untilMs : p.status === '403 200' ? p.got < untilMs : true)), [], 'a 200 only before until, a 403 only from until on, nothing else');
    const after = await sb.agent(`curl -sS -m 15 https://${HOST}/e2e/after-lapse`);
    t.match(after.stdout, new RegExp(`^blocked: ${HOST.replace('.', '\\.')} is not on the allowlist\\n.*propose_allowlist_change`), 'the ordinary 403: the agent can ask again');
    t.equal((await sb.agent(`${CURL} http://${HOST}/e2e/after-lapse-http`)).stdout, '403 000', 'plain http too');
    const seen = new Set((await sb.upstream.records()).filter((r) => r.host === HOST).map((r) => r.url));
    t.same(probes.filter((p) => seen.has(p.path) !== (p.status === '200 200')), [], 'the upstream got exactly the granted probes');
    t.notOk(seen.has('/e2e/after-lapse') || seen.has('/e2e/after-lapse-http'), 'nothing after the lapse reached it');
    t.match(await explain(sb, `https://${HOST}/`), { verdict: 'block', stage: 'allowlist' }, 'policy explain: the lapsed grant admits nothing');
    t.equal(loadPolicy(readFileSync(join(sb.paths.policy, 'policy.yaml'), 'utf8')).allowUntil?.[HOST], until, 'the lapsed entry stays in policy.yaml (nothing rewrites it)');

    const logs = await poll('the gateway lapse lines', async () => {
      const text = await bundleLogs(sb);
      return text.includes(`grant lapsed: ${HOST} (allowed until ${until})`) && text.includes(`grant lapsed but still in use: ${HOST} was allowed until ${until}`) ? text : undefined;
    }, 15_000);
    t.pass('the gateway logged the lapse, and the lapsed grant still in use');
    const inUse = logs.split('\n').filter((l) => l.includes('grant lapsed but still in use')).length;
    t.ok(inUse >= 1 && inUse <= 2, `one in-use line per gateway replica at most, however many requests (${inUse})`);

    const events = await poll('the lapse event', async () => { const l = await lapseEvents(sb); return l.length > 0 ? l : undefined; }, 15_000);
    t.ok(events.length >= 1 && events.length <= 2, `one event per gateway replica at most (${events.length})`);
    for (const e of events) {
      t.match(e, { type: GRANT_LAPSED_EVENT, origin: 'gateway', host: HOST, pattern: HOST, until });
      t.ok(Date.parse(e.time) >= untilMs, 'timed after until');
    }
  });
});
