// Issue 16 item 4, the gateway half: the budget stage refuses model requests once the usage in
// the events file reaches the cap in budget.json (402 billing_error, nothing forwarded), reads
// back the usage it metered itself and another gateway's (restarts, replicas), and follows
// budget.json on a reload. Item 1's gateway half too: on the model route only bottle's
// credential rides; every client copy of a model credential is dropped, in either auth mode.
import t from 'tap';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsViaProxy, type Reply } from '../fixtures/gateway/client.js';
import { startWorld, until, type World } from '../fixtures/gateway/world.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { budgetFileText } from '../../lib/usage/index.js';

// route.test stands in for api.anthropic.com; `header` is what the model route injects.
const modelPolicy = (header = 'x-api-key: "${GW_TEST_TOKEN}"') => `version: 1
allow: [allowed.test]
routes:
  - host: route.test
    headers: { ${header} }
model: { host: route.test, serverFetch: false }
limits: { maxBodyBytes: 64KiB }
`;
const env = { GW_TEST_TOKEN: FAKE.routeToken };
const BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });

// A temp events file, removed at teardown.
function eventsFile(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-gw-budget-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'events.jsonl');
}

// A usage line as the gateway writes it.
const usageLine = (input: number, model = 'claude-sonnet-4-5') => `${JSON.stringify({
  type: 'usage', time: new Date().toISOString(), origin: 'gateway', model, input, output: 0, cacheRead: 0, cacheWrite: 0, requestId: null, path: '/v1/messages', status: 200,
})}\n`;
const usageCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"type":"usage"')).length : 0);

// A model request as claude makes it; `usage` makes the upstream answer with that many input tokens.
function messages(w: World, usage = 0, headers: Record<string, string> = { 'x-api-key': 'placeholder' }): Promise<Reply> {
  return httpsViaProxy(w.proxy, w.caPem, w.https('route.test', `/v1/messages?usage=${usage}`), {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: BODY,
  });
}

t.test('usage over the cap: POST /v1/messages is answered 402 billing_error and nothing is forwarded; other model calls pass', async (t) => {
  const file = eventsFile(t);
  appendFileSync(file, usageLine(1500));
  const w = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file, watch: false });
  w.writeBudget(budgetFileText({ tokens: 1000, warnAt: 0.8 }, undefined));
  w.gw.reload('test');
  const r = await messages(w, 10);
  t.equal(r.status, 402);
  t.match(r.headers['content-type'], /^application\/json\b/);
  const body = JSON.parse(r.body.toString()) as { type: string; error: { type: string; message: string } };
  t.same(Object.keys(body), ['type', 'error']);
  t.same(Object.keys(body.error), ['type', 'message']);
  t.match(body, { type: 'error', error: { type: 'billing_error', message: /^bottle: this bottle's budget is used up \(1\.5k tokens of 1k tokens\)\. .*bottle budget <slug> --usd N/ } });
  t.same(w.upstream.requests, [], 'the upstream received nothing');
  t.match(w.decisions().filter((d) => d.method === 'POST'), [{ verdict: 'block', stage: 'model-api', reason: 'budget reached: 1.5k tokens used of 1k tokens', status: 402 }], 'logged as a budget refusal');

  const models = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/v1/models'));
  t.equal(models.status, 200, 'GET /v1/models is not a spend');
  const counted = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/v1/messages/count_tokens'), {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'placeholder' }, body: BODY,
  });
  t.equal(counted.status, 200, 'count_tokens is not a spend');
  t.same(w.upstream.requests.map((q) => q.url), ['/v1/models', '/v1/messages/count_tokens']);
  t.equal(usageCount(file), 1, 'nothing metered for the refusal');
});

t.test('a USD cap: priced usage at the cap is refused; usage the table cannot price counts as $0', async (t) => {
  const file = eventsFile(t);
  appendFileSync(file, usageLine(1_000_000, 'unknown-llm'));
  const w = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file, watch: false });
  w.writeBudget(budgetFileText({ usd: 1, warnAt: 0.8 }, undefined));
  w.gw.reload('test');
  t.equal((await messages(w, 1)).status, 200, 'unpriced: $0 of $1');
  // A million input tokens of a model the budget file prices at $1/M: $1 of $1.
  w.writeBudget(budgetFileText({ usd: 1, warnAt: 0.8 }, { 'unknown-llm': { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 } }));
  w.gw.reload('test');
  const r = await messages(w, 1);
  t.equal(r.status, 402, 'the file\'s prices re-price the usage from the start');
  t.match(JSON.parse(r.body.toString()).error.message, /\(\$1\.00 of \$1\.00\)/);
  t.equal(w.upstream.requests.length, 1);
});

t.test('under the cap: requests pass and are metered; the gateway reads its own usage back and refuses at the cap', async (t) => {
  const file = eventsFile(t);
  const w = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file, watch: false });
  w.writeBudget(budgetFileText({ tokens: 1000, warnAt: 0.8 }, undefined));
  w.gw.reload('test');
  const first = await messages(w, 600);
  t.equal(first.status, 200);
  t.equal(JSON.parse(first.body.toString()).usage.input_tokens, 600);
  await until(() => usageCount(file) === 1, 'the first usage line');
  t.match(JSON.parse(readFileSync(file, 'utf8').trim()), { type: 'usage', input: 600, model: 'claude-sonnet-4-5' });
  t.equal((await messages(w, 400)).status, 200, '600 of 1000: still under');
  await until(() => usageCount(file) === 2, 'the second usage line');
  const third = await messages(w, 1);
  t.equal(third.status, 402, '1000 of 1000: refused');
  t.equal(w.upstream.requests.length, 2, 'the third never reached the upstream');
});

t.test('raising the cap in budget.json lets the next request through; an invalid file keeps the last budget', async (t) => {
  const file = eventsFile(t);
  appendFileSync(file, usageLine(1500));
  const w = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file });
  w.writeBudget(budgetFileText({ tokens: 1000, warnAt: 0.8 }, undefined));
  await until(() => w.diag.some((m) => m.startsWith('budget: 1k tokens')), 'the directory watch to load the budget');
  t.equal((await messages(w, 1)).status, 402);

  w.writeBudget('{"tokens": "lots"}');
  w.gw.reload('test');
  t.match(w.diag.at(-1), /budget\.json is invalid \(tokens: expected a number .*\); keeping the last budget/);
  t.equal((await messages(w, 1)).status, 402, 'still refused: the last budget holds');

  w.writeBudget(budgetFileText({ tokens: 5000, warnAt: 0.8 }, undefined));
  await until(() => w.diag.some((m) => m.startsWith('budget: 5k tokens')), 'the directory watch to see the raise');
  t.equal((await messages(w, 1)).status, 200, 'raised: the next request passes, nothing restarted');

  w.writeBudget(budgetFileText({ tokens: 10, warnAt: 0.8 }, undefined));
  w.gw.reload('test');
  t.equal((await messages(w, 1)).status, 402, 'lowered again by a reload');
  rmSync(join(w.policyDir, 'budget.json'));
  w.gw.reload('test');
  t.equal((await messages(w, 1)).status, 200, 'no file: no budget');
  t.equal(w.upstream.requests.length, 2);
});

t.test('a second gateway on the same events file sees the same usage (a restart, the other replica)', async (t) => {
  const file = eventsFile(t);
  const budget = budgetFileText({ tokens: 1000, warnAt: 0.8 }, undefined);
  const a = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file, watch: false });
  a.writeBudget(budget);
  a.gw.reload('test');
  t.equal((await messages(a, 999)).status, 200);
  await until(() => usageCount(file) === 1, 'a\'s usage line');
  const b = await startWorld(t, { policy: modelPolicy(), env, eventsFile: file, watch: false });
  b.writeBudget(budget);
  b.gw.reload('test');
  t.equal((await messages(b, 1)).status, 200, '999 of 1000, as a metered it');
  await until(() => usageCount(file) === 2, 'b\'s usage line');
  t.equal((await messages(a, 1)).status, 402, 'a sees b\'s usage');
  t.equal((await messages(b, 1)).status, 402, 'b sees its own');
  t.same([a.upstream.requests.length, b.upstream.requests.length], [1, 1]);
});

t.test('model route: the client\'s copies of a model credential are dropped; only the injected one reaches the upstream', async (t) => {
  const token = `sk-ant-oat01-${'t'.repeat(40)}`;
  const oauth = await startWorld(t, { policy: modelPolicy('Authorization: "Bearer ${CLAUDE_CODE_OAUTH_TOKEN}"'), env: { CLAUDE_CODE_OAUTH_TOKEN: token } });
  const client = { 'x-api-key': 'sk-ant-client', authorization: 'Bearer client' };
  t.equal((await messages(oauth, 1, client)).status, 200);
  const got = oauth.upstream.requests[0]!;
  const named = (name: string) => got.rawHeaders.filter((_, i) => i % 2 === 0 && got.rawHeaders[i]!.toLowerCase() === name);
  t.equal(named('authorization').length, 1, 'exactly one Authorization');
  t.equal(got.headers.authorization, `Bearer ${token}`, 'the env value');
  t.equal(named('x-api-key').length, 0, 'the client\'s x-api-key is dropped');

  const key = await startWorld(t, { policy: modelPolicy(), env });
  t.equal((await messages(key, 1, client)).status, 200);
  const k = key.upstream.requests[0]!;
  t.equal(k.headers['x-api-key'], FAKE.routeToken, 'the injected key');
  t.notOk('authorization' in k.headers, 'api-key mode: the client\'s Authorization is dropped too');
  t.equal(k.rawHeaders.filter((h) => /^x-api-key$/i.test(h)).length, 1);
});
