// Sandbox e2e of subscription auth, metering and budgets (issue 16) with the real Claude Code
// binary in the agent: the bottle's manifest says `auth: oauth-token` and a budget of a few
// cents; the fake upstream stands in for api.anthropic.com and streams SSE answers with a fixed
// usage. Asserted on what the upstream received and what the agent holds: the host's token went
// upstream and the placeholder never did, the token is nowhere in the agent; `bottle usage`
// counts exactly what the upstream reported; at the cap claude prints the budget message and
// the upstream gets nothing more; `bottle budget --usd` lets the next prompt through.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PLACEHOLDER_API_KEY, PLACEHOLDER_OAUTH_TOKEN } from '../../lib/plan/auth.js';
import { costUsd, DEFAULT_PRICES, priceFor } from '../../lib/usage/index.js';
import { headerValues, recordsText, type UpstreamRecord } from './fixtures/upstream/upstream.js';
import { MODEL_HOST, sandboxGate, startSandbox, writableLayerHits } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(6 * 60_000);

// What the fake model reports per answer (test/e2e/fixtures/upstream/server.mjs MODEL_USAGE).
const PER_ANSWER = { input: 1200, output: 340, cacheRead: 5000, cacheWrite: 800 };
const MODEL = 'claude-sonnet-4-5-20250929';
const COST = costUsd(PER_ANSWER, priceFor(MODEL, {}, DEFAULT_PRICES)!);
// Two answers fit under the cap, the third request finds it reached.
const CAP = Math.round(COST * 1.5 * 1e4) / 1e4;
const TOKEN = `sk-ant-oat01-${randomBytes(60).toString('base64url')}AA`; // gitleaks:allow (a per-run fake)

const modelCalls = (records: readonly UpstreamRecord[]) => records.filter((r) => r.host === MODEL_HOST && r.method === 'POST' && (r.url ?? '').split('?')[0] === '/v1/messages');

await t.test('sandbox model API: oauth-token auth, metering, budget', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, {
    agent: 'e2e-model',
    model: { agent: ['auth: oauth-token', `budget: { usd: ${CAP}, warn_at: 0.5 }`] },
    env: { CLAUDE_CODE_OAUTH_TOKEN: TOKEN },
  });
  t.teardown(() => sb.close());
  const prompt = (text: string) => sb.agent(`timeout 90 claude -p ${JSON.stringify(text)} 2>&1; echo "exit=$?"`);
  // The gateway's decision lines (JSON on the bundle's stdout, among init's own lines).
  const decisionLines = async (): Promise<Array<{ method: string; host: string; path: string; verdict: string; stage: string; reason: string; status: number }>> =>
    (await logs()).split('\n').flatMap((l) => {
      const at = l.indexOf('{"time"');
      if (at < 0) return [];
      try { return [JSON.parse(l.slice(at))]; } catch { return []; }
    });
  const logs = async () => ((await sb.docker.getContainer(sb.names.bundle).logs({ stdout: true, stderr: true })) as unknown as Buffer).toString('utf8');

  await t.test('claude answers through the model route with the host token', async (t) => {
    const r = await prompt('say pong');
    t.match(r.stdout, /pong from the e2e model/, r.stdout);
    t.match(r.stdout, /exit=0/);
    const records = await sb.upstream.records();
    const calls = modelCalls(records);
    t.ok(calls.length >= 1, `the upstream got ${calls.length} model request(s)`);
    const ours = records.filter((r) => r.host === MODEL_HOST);
    for (const r of ours) {
      t.same(headerValues(r, 'authorization'), [`Bearer ${TOKEN}`], `${r.method} ${r.url}: exactly the host token`);
      t.same(headerValues(r, 'x-api-key'), [], `${r.method} ${r.url}: no API key header`);
    }
    const text = recordsText(records);
    t.notOk(text.includes(PLACEHOLDER_OAUTH_TOKEN), 'the placeholder token never reached the upstream');
    t.notOk(text.includes(PLACEHOLDER_API_KEY), 'nor the API key placeholder');
    t.notOk(text.includes(sb.apiKey), 'nor the host API key (auth: oauth-token does not use it)');
    // What Claude Code asked of its API host with a token, and what the gateway said (the
    // findings docs/claude-auth.md records).
    const seen = [...new Set(ours.map((r) => `${r.method} ${(r.url ?? '').split('?')[0]}`))].sort();
    const decisions = await decisionLines();
    t.ok(decisions.some((d) => d.host === MODEL_HOST && d.verdict === 'allow'), 'the decision log has the model requests');
    const blocked = decisions.filter((d) => d.verdict === 'block').map((d) => `${d.method} ${d.host}${d.path} (${d.stage})`);
    t.comment(`model host requests: ${seen.join(', ')}`);
    t.comment(`blocked: ${blocked.join(', ') || 'none'}`);
    t.same(blocked.filter((b) => b.includes(MODEL_HOST)), [], 'nothing claude sent to its API host was blocked');
  });

  await t.test('claude\'s Stop hook reaches supervise (the dashboard\'s idle/waiting marker)', async (t) => {
    // The turn above ended; its Stop hook posts through curl (claude refuses http hooks to the
    // bundle's private address).
    await sb.pull();
    const events = readFileSync(sb.paths.eventsFile, 'utf8').split('\n').filter((l) => l.includes('"origin":"agent"'));
    t.ok(events.some((l) => JSON.parse(l).type === 'agent-idle' && JSON.parse(l).hook === 'Stop'), `an agent-idle event from the Stop hook: ${events.join(' | ')}`);
  });

  await t.test('the token is nowhere in the agent', async (t) => {
    t.match((await sb.agent('printenv CLAUDE_CODE_OAUTH_TOKEN')).stdout, PLACEHOLDER_OAUTH_TOKEN, 'claude holds the placeholder');
    t.equal((await sb.agent('printenv ANTHROPIC_API_KEY; echo rc=$?')).stdout.trim(), 'rc=1', 'and no API key at all (it would take precedence)');
    // Searched here, not with grep in the agent: grep's own argv would hold the needle.
    const procs = await sb.agent(`cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'`, 'root');
    t.ok(procs.stdout.includes(PLACEHOLDER_OAUTH_TOKEN), 'the process search sees claude\'s environment');
    t.notOk(procs.stdout.includes(TOKEN), 'the token is in no process environment or argv');
    t.same(await writableLayerHits(sb.docker, sb.names.agent, [TOKEN]), [], 'in no file the agent wrote');
  });

  await t.test('bottle usage counts what the upstream reported', async (t) => {
    const n = modelCalls(await sb.upstream.records()).length;
    const r = await sb.cli(['usage', sb.slug, '--json']);
    t.equal(r.exitCode, 0, r.stderr);
    const b = JSON.parse(r.stdout).bottles[0];
    t.match(b, {
      slug: sb.slug, requests: n,
      input: n * PER_ANSWER.input, output: n * PER_ANSWER.output, cacheRead: n * PER_ANSWER.cacheRead, cacheWrite: n * PER_ANSWER.cacheWrite,
    });
    t.ok(Math.abs(b.usd - n * COST) < 1e-6, `usd ${b.usd} = ${n} × ${COST}`);
  });

  await t.test('at the cap claude shows the budget message and nothing goes upstream', async (t) => {
    // Prompt until the budget stops one (at most a few: each answer costs COST, the cap is 1.5×).
    let stopped: string | undefined;
    for (let i = 0; i < 4 && stopped === undefined; i++) {
      const before = modelCalls(await sb.upstream.records()).length;
      const r = await prompt(`say pong ${i}`);
      if (/402/.test(r.stdout)) {
        stopped = r.stdout;
        t.equal(modelCalls(await sb.upstream.records()).length, before, 'the refused prompt sent the upstream nothing');
      }
    }
    t.ok(stopped, 'a prompt was refused');
    t.match(stopped, /API Error: 402 .*budget is used up/, 'claude prints the budget message');
    t.match(stopped, /bottle budget/, 'which says how to raise it');
    const b = await sb.cli(['budget', sb.slug, '--json']);
    t.equal(b.exitCode, 0, b.stderr);
    t.match(JSON.parse(b.stdout), { slug: sb.slug, level: 'paused', budget: { usd: CAP } });
    const refused = (await decisionLines()).filter((d) => d.status === 402);
    t.ok(refused.length >= 1 && refused.every((d) => d.host === MODEL_HOST && d.stage === 'model-api' && /^budget reached/.test(d.reason)), 'the gateway logged the refusal');
  });

  await t.test('raising the budget lets the next prompt through, nothing restarts', async (t) => {
    const started = (await sb.docker.getContainer(sb.names.bundle).inspect()).State.StartedAt;
    const r = await sb.cli(['budget', sb.slug, '--usd', '1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /budget \$1\.00/);
    const again = await prompt('say pong again');
    t.match(again.stdout, /pong from the e2e model/, again.stdout);
    t.equal((await sb.docker.getContainer(sb.names.bundle).inspect()).State.StartedAt, started, 'the bundle was not restarted');
  });
});
