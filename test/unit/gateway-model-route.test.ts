// Issue 13 class 6: passthrough and the model route. A passthrough host the gateway sees in
// the clear (plain http) gets every stage; only a spliced TLS tunnel is judged on its name
// alone. The model route (terminated for the key swap, not pattern-scanned because
// conversations look like secrets) carries only the API calls Claude Code makes, and no
// request that makes the API contact a URL the agent chose, unless the policy opts in. The
// operator's own secrets (the canary) are still refused there. Every refusal is asserted on
// what the upstream received: nothing.
import t from 'tap';
import { hasDuplicateKey } from '../../lib/policy/json.js';
import { modelPathAllowed } from '../../lib/policy/model-api.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { httpsViaProxy, viaProxy, type Reply } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld, type World } from '../fixtures/gateway/world.js';
import { WITHHELD } from '../../sidecars/gateway/log.js';
import { accessHint, MODEL_ROUTE_HINT } from '../../sidecars/gateway/respond.js';

// route.test stands in for api.anthropic.com: the route whose header is the API key.
const modelPolicy = (serverFetch: boolean) => `version: 1
allow: [allowed.test, pass.test]
routes:
  - host: route.test
    headers: { x-api-key: "\${GW_TEST_TOKEN}" }
passthrough: [pass.test]
model: { host: route.test, serverFetch: ${serverFetch} }
limits: { maxBodyBytes: 64KiB }
`;
const env = { GW_TEST_TOKEN: FAKE.routeToken };

const user = (text: string) => ({ role: 'user', content: text });
const messages = (extra: Record<string, unknown> = {}, text = 'Summarise the repository layout.') =>
  JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1024, stream: true, messages: [user(text)], ...extra });

// POST to the model route as Claude Code does (JSON body, placeholder key).
function post(w: World, path: string, body: string): Promise<Reply> {
  return httpsViaProxy(w.proxy, w.caPem, w.https('route.test', path), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
    body,
  });
}

t.test('plain http to a passthrough host is scanned like any other: a secret → 403, never forwarded', async (t) => {
  const w = await startWorld(t, { policy: BASE_POLICY });
  const cases: Array<[string, string, Parameters<typeof viaProxy>[2]]> = [
    ['query', `/p?token=${FAKE.github}`, {}],
    ['header', '/p', { headers: { 'x-note': FAKE.slack } }],
    ['body', '/p', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ k: FAKE.awsKeyId }) }],
  ];
  for (const [what, path, o] of cases) {
    const r = await viaProxy(w.proxy, w.http('pass.test', path), o);
    t.equal(r.status, 403, what);
    t.match(r.body.toString(), /^blocked: secret in /, what);
  }
  t.same(w.upstream.requests, [], 'the upstream got nothing');
  const ok = await viaProxy(w.proxy, w.http('pass.test', '/fine'));
  t.equal(ok.status, 200, 'an ordinary plain-http request still passes');
  t.equal(w.upstream.requests.length, 1);
});

t.test('model route: requests that make the API contact agent-chosen URLs are refused, nothing forwarded', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  const cases: Array<[string, string]> = [
    ['mcp_servers', messages({ mcp_servers: [{ type: 'url', url: 'https://collector.example/mcp', name: 'x' }] })],
    ['web_fetch tool', messages({ tools: [{ type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 5 }] })],
    ['mcp_toolset tool', messages({ tools: [{ type: 'mcp_toolset', mcp_server_name: 'x' }] })],
    ['URL image source', JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://collector.example/p.png?d=x' } }] }] })],
    ['repeated tools key', messages().replace('"messages"', '"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}],"tools":[],"messages"')],
    ['escaped key', messages().replace('"messages"', '"mcp\\u005fservers":[{"type":"url","url":"https://collector.example/"}],"messages"')],
  ];
  for (const [what, body] of cases) {
    const r = await post(w, '/v1/messages', body);
    t.equal(r.status, 403, what);
    t.match(r.body.toString(), /^blocked: .*(contact other hosts|repeats a JSON key)/, `${what}: a clear reason`);
  }
  const counted = await post(w, '/v1/messages/count_tokens', messages({ mcp_servers: [{ type: 'url', url: 'https://collector.example/', name: 'x' }] }));
  t.equal(counted.status, 403, 'token counting is checked too');
  t.same(w.upstream.requests, [], 'the upstream got nothing');
  t.match(w.decisions().filter((d) => d.method !== 'CONNECT').map((d) => d.stage), Array(cases.length + 1).fill('model-api'));
});

t.test('model route: with serverFetch opted in, the same requests are forwarded', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(true), env });
  const bodies = [
    messages({ mcp_servers: [{ type: 'url', url: 'https://mcp.example/', name: 'x' }] }),
    messages({ tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] }),
  ];
  for (const body of bodies) t.equal((await post(w, '/v1/messages', body)).status, 200);
  t.same(w.upstream.requests.map((r) => r.body.toString()), bodies, 'forwarded byte for byte');
});

t.test('model route: web search and ordinary conversations (even ones that look like secrets) are forwarded byte for byte', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  const bodies = [
    messages({ tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }, { name: 'Read', description: 'read a file', input_schema: { type: 'object', properties: { url: { type: 'string' } } } }] }),
    messages({}, `Why does CI reject this config?\n\nGITHUB_TOKEN=${FAKE.github}\naws_access_key_id = ${FAKE.awsKeyId}\n`),
    JSON.stringify({ model: 'm', messages: [user('x')], tools: [{ name: 'WebFetch', input_schema: { type: 'object' } }] }),
  ];
  for (const body of bodies) t.equal((await post(w, '/v1/messages', body)).status, 200);
  t.equal((await post(w, '/v1/messages/count_tokens', bodies[0]!)).status, 200);
  t.equal((await post(w, '/v1/messages?beta=true', bodies[1]!)).status, 200, 'a query string is not part of the path');
  const got = w.upstream.requests;
  t.same(got.map((r) => r.body.toString()), [...bodies, bodies[0], bodies[1]]);
  t.ok(got.every((r) => r.headers['x-api-key'] === FAKE.routeToken), 'the route key was injected');
  t.same(got.map((r) => r.url), ['/v1/messages', '/v1/messages', '/v1/messages', '/v1/messages/count_tokens', '/v1/messages?beta=true']);
});

t.test('model route: a path Claude Code does not call is refused and named', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  for (const [method, path] of [['POST', '/v1/files'], ['POST', '/v1/skills'], ['GET', '/admin'], ['POST', '/v1/messages/batches'], ['POST', '/v1/%6Dessages'], ['GET', '/v1/messages']]) {
    const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', path!), { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    t.equal(r.status, 403, `${method} ${path}`);
    const named = path!.includes('%') ? `${method} to this path` : `${method} ${path}`;
    t.match(r.body.toString(), `blocked: ${named} is not a model API call Claude Code makes`);
  }
  const secretPath = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', `/v1/${FAKE.github}`));
  t.equal(secretPath.status, 403);
  t.notMatch(secretPath.body.toString(), FAKE.github, 'a path that could be a secret is not quoted');
  t.same(w.upstream.requests, []);
});

t.test('model route: the operator\'s own secret (canary) is refused in a conversation, in any form', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(true), env });
  const b64 = Buffer.from(`key=${FAKE.routeToken}`).toString('base64');
  for (const [what, body] of [
    ['raw', messages({}, `the token is ${FAKE.routeToken}`)],
    ['base64', messages({}, `decode ${b64}`)],
    ['JSON-escaped', messages({}, 'x').replace('"x"', `"${[...FAKE.routeToken].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`)],
  ]) {
    const r = await post(w, '/v1/messages', body!);
    t.equal(r.status, 403, what!);
    t.match(r.body.toString(), /^blocked: route secret/, what!);
  }
  const header = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/v1/messages'), {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-trace': FAKE.routeToken }, body: messages(),
  });
  t.equal(header.status, 403, 'in a header');
  t.same(w.upstream.requests, []);
});

t.test('model route: a body the API would read differently is refused', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  const r1 = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/v1/messages'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: messages() });
  t.equal(r1.status, 403, 'not declared JSON');
  const r2 = await post(w, '/v1/messages', '{"model": "m", ');
  t.equal(r2.status, 403, 'not JSON');
  t.same(w.upstream.requests, []);
});

t.test('model-api pieces: repeated keys are per object; the path list matches whole paths', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['{"a":1,"a":2}', true],
    ['{"\\u0061":1,"a":2}', true],
    ['{"a":{"a":1},"b":[{"a":1},{"a":2}]}', false],
    ['{"a":"x\\"}, \\"a\\": 1","b":"\\\\"}', false],
    ['{"a":[{"b":1}],"b":2,"c":{"d":[1,{"e":2}],"e":3}}', false],
    ['[{"a":1},{"a":2}]', false],
  ];
  for (const [json, want] of cases) t.equal(hasDuplicateKey(json), want, json);
  const paths = ['POST /v1/messages', 'GET /v1/models/*', '* /api/x/*'];
  t.ok(modelPathAllowed(paths, 'post', '/v1/messages'));
  t.notOk(modelPathAllowed(paths, 'POST', '/v1/messages/'), 'trailing slash');
  t.notOk(modelPathAllowed(paths, 'POST', '/v1/messages/batches'), 'an exact entry is not a prefix');
  t.ok(modelPathAllowed(paths, 'GET', '/v1/models/claude-x'));
  t.notOk(modelPathAllowed(paths, 'GET', '/v1/models/'), 'a prefix entry needs something below it');
  t.notOk(modelPathAllowed(paths, 'GET', '/v1/modelsX'));
  t.ok(modelPathAllowed(paths, 'DELETE', '/api/x/y'));
  t.notOk(modelPathAllowed(paths, 'GET', '/v1/models'), 'the prefix itself needs its own entry');
});

// A refused model-route path is agent text the route never pattern-scans: it may hold a secret.
t.test('model route: the decision log withholds a refused path', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', `/v1/files/${FAKE.github}`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(r.status, 403);
  t.same(w.upstream.requests, []);
  t.match(w.decisions().at(-1), { stage: 'model-api', host: 'route.test', path: WITHHELD });
  t.notMatch(w.lines.join('\n'), FAKE.github, 'the secret is nowhere in the log');
  t.equal((await post(w, '/v1/messages', messages())).status, 200);
  t.match(w.decisions().at(-1), { stage: 'done', path: '/v1/messages' }, 'an allowed path is still logged');
});

// The agent cannot propose its way past the model route's rules: its refusals say so instead
// of pointing at propose_allowlist_change.
t.test('model route: a refusal carries the model-route hint, not the proposal hint', async (t) => {
  const w = await startWorld(t, { policy: modelPolicy(false), env });
  const refusals = [
    await httpsViaProxy(w.proxy, w.caPem, w.https('route.test', '/v1/files'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    await post(w, '/v1/messages', messages({ mcp_servers: [{ type: 'url', url: 'https://collector.example/mcp', name: 'x' }] })),
  ];
  for (const r of refusals) {
    t.equal(r.status, 403);
    const lines = r.body.toString().split('\n');
    t.match(lines[0], /^blocked: /);
    t.equal(lines[1], MODEL_ROUTE_HINT);
    t.notMatch(r.body.toString(), /propose_/);
  }
  t.match(refusals[1]!.body.toString(), /defaults\.model\.serverFetch: true in the manifest/, 'the server-fetch reason names the operator\'s switch');
  t.same(w.upstream.requests, []);
  const other = await viaProxy(w.proxy, w.http('elsewhere.test', '/'));
  t.equal(other.body.toString().split('\n')[1], accessHint('elsewhere.test'), 'an allowlist block still points at the proposal tool, for its host');
});
