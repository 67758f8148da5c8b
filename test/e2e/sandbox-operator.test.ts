// Sandbox escape, the operator's gates (SPEC §12 invariants 4 and 5, §7 init): a secret-bearing
// git push never reaches the upstream; the agent's only lever on policy is a proposal the
// operator decides with the real CLI, applied live; and a killed gateway (one replica, then
// all of them) costs clients at most a short wait, without disturbing supervise. One bottle for the file.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALNUM, B64, pemKey, P, randomSource, UPPER32 } from '../fixtures/secrets/tokens.js';
import { gitIn, mcpCall, type McpReply, pendingProposal, type Sandbox, sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);

const CURL = "curl -sS -m 15 -o /dev/null -w '%{http_code} %{http_connect}'";

// Pids of the bundle's daemons, from /proc (the image has no ps). The pattern is split so the
// scanning shell's own command line does not match it.
async function daemonPids(sb: Sandbox, daemon: 'gateway' | 'supervise'): Promise<string[]> {
  const r = await sb.bundle(`pat="sidecar ""${daemon} "; for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in *"$pat"*) echo \${p#/proc/};; esac; done`);
  const pids = r.stdout.trim().split('\n').filter(Boolean).sort();
  if (pids.length === 0) throw new Error(`no ${daemon} process: ${r.stdout}${r.stderr}`);
  return pids;
}

async function daemonPid(sb: Sandbox, daemon: 'supervise'): Promise<string> {
  const pids = await daemonPids(sb, daemon);
  if (pids.length !== 1) throw new Error(`expected one ${daemon} process, found ${pids.length}: ${pids.join(' ')}`);
  return pids[0]!;
}

type Sample = { start: number; end: number; status?: number; error?: string };

// The outage as clients see it: for each request sent after the kill, how long until it, or
// the first later request that succeeded, was answered; the worst of these. A request that
// waited in the socket's queue counts its wait; a failed one counts until the next success.
function recoveryMs(samples: readonly Sample[], killAt: number): number {
  const after = samples.filter((s) => s.start >= killAt);
  let worst = 0;
  after.forEach((s, i) => {
    const ok = after.slice(i).find((x) => x.status === 200);
    worst = Math.max(worst, ok ? ok.end - s.start : Infinity);
  });
  return worst;
}

// The gateway pids once none of `gone` is among them and both replicas are back.
async function pollPids(sb: Sandbox, gone: readonly string[]): Promise<string[]> {
  for (let i = 0; ; i++) {
    const pids = await daemonPids(sb, 'gateway').catch(() => []);
    if (pids.length === 2 && !pids.some((p) => gone.includes(p))) return pids;
    if (i > 100) return pids;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startedAt(sb: Sandbox): Promise<string[]> {
  return Promise.all([sb.names.agent, sb.names.bundle].map(async (n) => (await sb.docker.getContainer(n).inspect()).State.StartedAt));
}

await t.test('sandbox operator gates', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, { agent: 'e2e-operator', git: true });
  t.teardown(() => sb.close());
  const upstreamRefs = () => gitIn(sb.upstreamRepo!, 'for-each-ref', '--format=%(refname) %(objectname)');

  await t.test('6. git-gate rejects pushes carrying secrets; a clean push arrives', async (t) => {
    const r = randomSource(Date.now() >>> 0);
    const planted: Array<[string, string, string]> = [
      ['aws', 'deploy.env', `AWS_ACCESS_KEY_ID=${P.akia}${r(UPPER32, 16)}\nAWS_SECRET_ACCESS_KEY=${r(B64, 40)}\n`],
      ['github', 'ci.yml', `env:\n  GH_TOKEN: ${P.ghp}${r(ALNUM, 36)}\n`],
      ['pem', 'deploy_key', `${pemKey()}\n`],
    ];
    const before = upstreamRefs();
    const commits: string[] = [];
    for (const [name, file, content] of planted) {
      const push = await sb.agent(
        `git checkout -q -B leak-${name} main && printf '%s' "$SECRET" > ${file} && git add ${file} && git commit -qm "add ${file}" && git rev-parse HEAD && git push origin leak-${name} 2>&1`,
        'node', [`SECRET=${content}`],
      );
      commits.push(push.stdout.split('\n')[0]!);
      t.not(push.exitCode, 0, `push with the ${name} secret is refused`);
      const finding = new RegExp(`git-gate: rejected refs/heads/leak-${name}: [0-9a-f]{7} ${file}:\\d+: \\S+`).exec(push.stdout);
      if (!t.ok(finding, `the finding names commit, file, line and rule: ${finding?.[0]}`)) t.comment(push.stdout);
    }
    // All three stacked in one push: every commit is scanned, not just the tip.
    const commitEach = planted.map((_, i) => `printf '%s' "$S${i + 1}" > s${i + 1}.txt && git add s${i + 1}.txt && git commit -qm s${i + 1}`);
    const stacked = await sb.agent(
      `git checkout -q -B leak-all main && ${commitEach.join(' && ')} && git push origin leak-all 2>&1`,
      'node', planted.map(([, , content], i) => `S${i + 1}=${content}`),
    );
    if (!t.not(stacked.exitCode, 0, 'one push of three secret commits is refused')) t.comment(stacked.stdout, stacked.stderr);
    const files = new Set([...stacked.stdout.matchAll(/git-gate: rejected refs\/heads\/leak-all: [0-9a-f]{7} (s[123]\.txt):/g)].map((m) => m[1]));
    t.same([...files].sort(), ['s1.txt', 's2.txt', 's3.txt'], 'with a finding in each of the three commits');
    // Added and removed again: the tip is clean, the pushed history is not.
    const sneaky = await sb.agent(
      `git checkout -q -B leak-history main && printf '%s' "$SECRET" > old.env && git add old.env && git commit -qm add && git rm -q old.env && git commit -qm remove && git push origin leak-history 2>&1`,
      'node', [`SECRET=${planted[1]![2]}`],
    );
    t.not(sneaky.exitCode, 0, 'a secret added then deleted in the same push is refused');
    t.match(sneaky.stdout, /git-gate: rejected refs\/heads\/leak-history: [0-9a-f]{7} old\.env:/);
    if (!t.equal(upstreamRefs(), before, 'the upstream refs are unchanged')) t.comment(gitIn(sb.upstreamRepo!, 'log', '--all', '--stat', '--format=%h %s'));
    for (const sha of commits) {
      t.throws(() => gitIn(sb.upstreamRepo!, 'cat-file', '-e', sha), `${sha.slice(0, 7)} never reached the upstream`);
    }
    const clean = await sb.agent('git checkout -q -B clean main && echo ok > ok.txt && git add ok.txt && git commit -qm clean && git push -q origin clean 2>&1 && git rev-parse HEAD');
    if (!t.equal(clean.exitCode, 0, 'a clean push is accepted')) t.comment(clean.stdout);
    t.equal(gitIn(sb.upstreamRepo!, 'rev-parse', 'refs/heads/clean').trim(), clean.stdout.trim().split('\n').pop(), 'the clean push arrived');
  });

  await t.test('7. propose → operator approves with the CLI → the blocked host works, nothing restarted', async (t) => {
    t.equal((await sb.agent(`${CURL} https://newhost.test/e2e/before`)).stdout, '403 200', 'newhost.test is blocked at first (answered inside its tunnel)');
    const hint = await sb.agent('curl -sS -m 15 https://newhost.test/e2e/before');
    t.match(hint.stdout, /^blocked: newhost\.test is not on the allowlist\n.*propose_allowlist_change/, 'and the 403 says how to ask');
    const before = { started: await startedAt(sb), gateway: await daemonPids(sb, 'gateway') };

    const call = sb.probe<McpReply[]>('mcp', ['http://supervise:9100/mcp', mcpCall('propose_allowlist_change', { host: 'newhost.test', reason: 'the sandbox e2e needs it' })]);
    const id = await pendingProposal(sb, 'newhost.test');
    const approve = await sb.cli(['proposals', 'approve', id, '--json']);
    t.equal(approve.exitCode, 0, approve.stderr);
    t.match(JSON.parse(approve.stdout), { id, decision: 'approved', host: 'newhost.test', live: true });
    const answer = (await call)[1]?.result?.structuredContent;
    t.match(answer, { id, status: 'approved' }, `the waiting tool call returns the decision: ${answer?.message}`);
    // The agent's first retry, right after the answer: no retry loop, it must work now.
    const retry = await sb.agent(`${CURL} https://newhost.test/e2e/after-approval`);
    t.equal(retry.stdout, '200 200', 'the retry goes through');
    t.ok((await sb.upstream.records()).some((r) => r.host === 'newhost.test' && r.url === '/e2e/after-approval'), 'and reaches the upstream');
    t.match(readFileSync(join(sb.paths.policy, 'policy.yaml'), 'utf8'), /newhost\.test/, 'the operator-side policy holds it');
    t.same(await startedAt(sb), before.started, 'no container restarted');
    t.same(await daemonPids(sb, 'gateway'), before.gateway, 'the gateways reloaded in place');

    const call2 = sb.probe<McpReply[]>('mcp', ['http://supervise:9100/mcp', mcpCall('propose_allowlist_change', { host: 'exfil.test', reason: 'e2e: to be rejected' })]);
    const id2 = await pendingProposal(sb, 'exfil.test');
    t.equal((await sb.cli(['proposals', 'reject', id2, '--note', 'no'])).exitCode, 0);
    t.match((await call2)[1]?.result?.structuredContent, { id: id2, status: 'rejected' }, 'a rejection reaches the agent too');
    t.equal((await sb.agent(`${CURL} https://exfil.test/e2e/after-reject`)).stdout, '403 200', 'and the host stays blocked');
  });

  // Init runs two gateway replicas on one socket it owns (sidecars/init/gateway-front.ts):
  // first one gateway process is killed (the issue's case), then every gateway process at once.
  const killScenario = async (t: Test, label: string, victims: (pids: string[]) => string[], path: string) => {
    const gatewayPids = await daemonPids(sb, 'gateway');
    t.equal(gatewayPids.length, 2, `two gateway replicas run (${gatewayPids.join(', ')})`);
    const supervisePid = await daemonPid(sb, 'supervise');
    const poll = sb.probe<Sample[]>('poll', ['gateway', '8888', `http://allowed.test${path}`, '8000', '20']);
    // Kill once the poller is demonstrably getting answers (its requests reach the upstream).
    for (let i = 0; !(await sb.upstream.records()).some((r) => r.url === path); i++) {
      if (i > 200) throw new Error('the poller never got through');
      await new Promise((r) => setTimeout(r, 50));
    }
    const killed = victims(gatewayPids);
    const killAt = Date.now();
    const kill = await sb.bundle(`kill -9 ${killed.join(' ')}`);
    const killExec = Date.now() - killAt;
    t.equal(kill.exitCode, 0, kill.stderr);
    // An MCP call while the gateway is down or coming back: supervise does not depend on it.
    // (curl, not the node probe: a second node start would slow the gateway's own restart.)
    const during = await sb.agent(`curl -sS -m 5 -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' ` +
      `--data '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' http://supervise:9100/mcp`);
    const duringEnd = Date.now();
    const samples = await poll;
    const back = recoveryMs(samples, killAt);
    const failures = samples.filter((s) => s.start >= killAt && s.status !== 200);
    await sb.pull();
    const events = readFileSync(join(sb.paths.dir, 'events', 'events.jsonl'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { time: string; type: string; daemon?: string }).filter((e) => e.daemon === 'gateway' && Date.parse(e.time) >= killAt - 1000);
    const at = (type: string): string => { const e = events.find((x) => x.type === type); return e ? `${Date.parse(e.time) - killAt} ms` : '?'; };
    t.comment(`${label}: requests answered again ${back} ms after the kill (worst wait of ${samples.filter((s) => s.start >= killAt).length} requests; ` +
      `${failures.length} failed${failures.length ? `: ${[...new Set(failures.map((f) => f.error ?? f.status))].join(', ')}` : ''}; ` +
      `init saw the exit at ${at('daemon-exited')}, restarted at ${at('daemon-started')}; kill exec ${killExec} ms)`);
    // The 1 s target is a performance number, reported above (and in the closing notes), not a
    // timed assertion that a loaded CI machine would make flaky: here, requests must come back.
    t.ok(Number.isFinite(back), `requests work again after the kill (took ${back} ms; target 1 s)`);
    t.match(during.stdout, /propose_allowlist_change/, `supervise answered MCP ${duringEnd - killAt} ms after the kill`);
    const now = await pollPids(sb, killed);
    t.equal(now.length, 2, 'both replicas run again');
    t.same(now.filter((p) => killed.includes(p)), [], 'the killed ones were replaced');
    t.same(gatewayPids.filter((p) => !killed.includes(p)).filter((p) => !now.includes(p)), [], 'the others kept running');
    t.equal(await daemonPid(sb, 'supervise'), supervisePid, 'supervise was not restarted');
    t.ok(events.some((e) => e.type === 'daemon-exited'), 'init logged the death');
    return failures;
  };

  await t.test('9. kill -9 of one gateway process: the other serves, it is replaced, supervise untouched', async (t) => {
    const failed = await killScenario(t, 'kill -9 of one gateway', (pids) => [pids[0]!], '/e2e/poll-one');
    // At most the request in flight on the killed process is reset with it; no connection is
    // refused, because the other replica accepts on the same socket.
    t.ok(failed.length <= 1 && failed.every((f) => f.error === 'ECONNRESET' || f.error === 'aborted'), `nothing refused, at most the in-flight request reset: ${JSON.stringify(failed)}`);
  });

  await t.test('10. kill -9 of every gateway process: clients wait in the queue, policy and routes intact', async (t) => {
    await killScenario(t, 'kill -9 of all gateways', (pids) => pids, '/e2e/poll-all');
    const mcp = await sb.probe<McpReply[]>('mcp', ['http://supervise:9100/mcp', JSON.stringify([{ method: 'tools/list' }])]);
    t.equal(mcp[1]?.result?.tools?.length, 3, 'supervise MCP works after it');
    t.equal((await sb.agent(`${CURL} https://exfil.test/e2e/after-kill`)).stdout, '403 200', 'the new gateways still enforce the policy');
    t.equal((await sb.agent(`${CURL} https://newhost.test/e2e/after-kill`)).stdout, '200 200', 'with the approved change');
    await sb.agent(`${CURL} https://api.allowed.test/e2e/route-after-kill`);
    const routed = (await sb.upstream.records()).find((r) => r.url === '/e2e/route-after-kill');
    t.ok(routed?.rawHeaders?.includes(`Bearer ${sb.routeToken}`), 'and still inject the route credential');
  });
});
