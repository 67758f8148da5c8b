// The supervise server in-process, driven by the MCP SDK's real Client over Streamable HTTP.
import diagnostics from 'node:diagnostics_channel';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import { UNSAFE_TEXT } from '../../lib/format.js';
import { writeLaunchSpec } from '../../lib/lifecycle/resume.js';
import { parseManifest } from '../../lib/manifest/index.js';
import { preparePlan } from '../../lib/plan/index.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { AGENT_NOTE_MAX, autoApproveAll, readDecision, writeProposal, type BundleControl } from '../../lib/proposals/index.js';
import { writeDecision } from '../../lib/proposals/files.js';
import { createBottle } from '../../lib/state/index.js';
import { parseEventLine } from '../../sidecars/supervise/events.js';
import { startSupervise, type SuperviseOptions, type SuperviseServer } from '../../sidecars/supervise/server.js';
import { pollUntil } from '../helpers/wait.js';

interface Teardown { teardown(fn: () => unknown): void }

interface Setup { dir: string; queue: string; decisions: string; eventsFile: string; server: SuperviseServer; client: Client }

async function connect(t: Teardown, url: string, path = 'mcp'): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(path, url)));
  t.teardown(() => client.close());
  return client;
}

async function setup(t: Teardown, opts: Partial<SuperviseOptions> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-supervise-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const queue = join(dir, 'queue');
  const decisions = join(dir, 'decisions');
  mkdirSync(decisions);
  const eventsFile = join(dir, 'events.jsonl');
  const server = await startSupervise({
    host: '127.0.0.1', port: 0, queueDir: queue, decisionsDir: decisions, eventsFile, waitSeconds: 1, ...opts,
  });
  t.teardown(() => server.close());
  return { dir, queue, decisions, eventsFile, server, client: await connect(t, server.url) };
}

type ToolResult = Awaited<ReturnType<Client['callTool']>>;
const text = (r: ToolResult) => (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n');
const answer = (r: ToolResult) => r.structuredContent as Record<string, unknown>;

// Waits until the queue holds `n` proposals; returns their ids.
async function queued(queue: string, n: number): Promise<string[]> {
  const ids = () => (existsSync(queue) ? readdirSync(queue).filter((f) => /^\d.*\.json$/.test(f)).map((f) => f.slice(0, -5)) : []);
  return pollUntil(`${n} proposal(s) in the queue`, () => (ids().length >= n ? ids().sort() : undefined), {
    intervalMs: 20,
    describe: () => `queue ${queue}: ${existsSync(queue) ? JSON.stringify(readdirSync(queue)) : '(missing)'}`,
  });
}

// The client sockets this process opens to `port` from now on (fetch's keep-alive pool included),
// seen through node's net.client.socket diagnostics channel.
function clientSockets(t: Teardown, port: () => number | undefined): Socket[] {
  const seen: Socket[] = [];
  const onSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    socket.once('connect', () => { if (socket.remotePort === port()) seen.push(socket); });
  };
  diagnostics.subscribe('net.client.socket', onSocket);
  t.teardown(() => diagnostics.unsubscribe('net.client.socket', onSocket));
  return seen;
}

t.test('lists the three tools with their schemas', async (t) => {
  const { client } = await setup(t);
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), ['check_proposal', 'propose_allowlist_change', 'propose_route_change']);
  const allow = tools.find((x) => x.name === 'propose_allowlist_change')!;
  t.same(Object.keys(allow.inputSchema.properties ?? {}).sort(), ['host', 'reason']);
  t.same([...(allow.inputSchema.required ?? [])].sort(), ['host', 'reason']);
  t.ok(allow.outputSchema, 'answers are structured');
});

t.test('a proposal with no decision in time comes back pending; check_proposal follows it', async (t) => {
  const { client, queue, decisions, eventsFile } = await setup(t, { waitSeconds: 0.3 });
  const r = await client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'Registry.Example.com', reason: 'npm install needs it' } });
  t.notOk(r.isError);
  const a = answer(r);
  t.match(a, { status: 'pending', kind: 'allowlist', host: 'registry.example.com', id: /^\d{8}T\d{9}Z-[0-9a-f]{12}$/ });
  t.match(text(r), /Pending.*call check_proposal with id/);
  const raw = readFileSync(join(queue, `${a.id as string}.json`), 'utf8');
  const file = JSON.parse(raw);
  t.match(file, { id: a.id, kind: 'allowlist', payload: { host: 'registry.example.com' }, reason: 'npm install needs it', policyHash: null });
  // Announced in the events file, whole: the host writes the same text without reading the queue.
  const queued = readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'proposal-queued');
  t.match(queued, [{ id: a.id, kind: 'allowlist' }]);
  t.equal(`${JSON.stringify(queued[0].proposal, null, 2)}\n`, raw, 'the announced proposal is the file, byte for byte');

  const pending = await client.callTool({ name: 'check_proposal', arguments: { id: a.id } });
  t.match(answer(pending), { status: 'pending', host: 'registry.example.com' });
  await writeDecision(decisions, { id: a.id as string, decision: 'rejected', decided: new Date().toISOString(), note: 'use the mirror' });
  const rejected = await client.callTool({ name: 'check_proposal', arguments: { id: a.id } });
  t.match(answer(rejected), { status: 'rejected', note: 'use the mirror' });
  t.match(text(rejected), /^Rejected by the operator: "use the mirror"\. Do not propose registry\.example\.com again/);
});

t.test('a decision written while a propose call waits unblocks it with the decision', async (t) => {
  const { client, queue, decisions } = await setup(t, { waitSeconds: 30, pollMs: 60_000 });
  const started = performance.now();
  const call = client.callTool({ name: 'propose_route_change', arguments: { host: 'api.example.com', reason: 'issues API needs a token' } });
  const [id] = await queued(queue, 1);
  await writeDecision(decisions, { id: id!, decision: 'approved', decided: new Date().toISOString(), stale: false });
  const r = await call;
  const ms = Math.round(performance.now() - started);
  t.comment(`propose → decision → answer: ${ms} ms (fs.watch path; the fallback poll was set to 60 s)`);
  t.ok(ms < 10_000, `answered promptly (${ms} ms)`);
  t.match(answer(r), { id, status: 'approved', kind: 'route', host: 'api.example.com', stale: false });
  t.match(text(r), /Approved: the gateway now adds the credentials for api\.example\.com\. Retry the request/);
});

t.test('the fallback poll finds a decision when the decisions dir appears only later', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'bottle-dec-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const decisions = join(base, 'later'); // missing: fs.watch cannot start until it exists
  const { client, queue } = await setup(t, { waitSeconds: 30, pollMs: 100, decisionsDir: decisions });
  const call = client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'late.example.com', reason: 'r' } });
  const [id] = await queued(queue, 1);
  await writeDecision(decisions, { id: id!, decision: 'approved', decided: new Date().toISOString() });
  const r = await call;
  t.match(answer(r), { id, status: 'approved', host: 'late.example.com' });
  t.match(text(r), /Approved: late\.example\.com is now allowed through the gateway\. Retry the request\./);
});

t.test('a waiting call sends progress notifications when the client asks for them', async (t) => {
  const { client } = await setup(t, { waitSeconds: 0.5, progressMs: 100 });
  const seen: number[] = [];
  const r = await client.callTool(
    { name: 'propose_allowlist_change', arguments: { host: 'slow.example.com', reason: 'r' } },
    undefined,
    { onprogress: (p) => seen.push(p.progress), resetTimeoutOnProgress: true },
  );
  t.equal(answer(r).status, 'pending');
  t.ok(seen.length >= 2, `progress arrived while waiting (${seen.length} notifications)`);
  t.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]!), 'progress increases');
});

t.test('the same host proposed again while pending reuses the proposal', async (t) => {
  const { client, queue } = await setup(t, { waitSeconds: 0.1 });
  const one = answer(await client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'a.example.com', reason: 'first' } }));
  const two = await client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'A.example.com', reason: 'again' } });
  t.equal(answer(two).id, one.id);
  t.match(text(two), /already pending; no new one was made/);
  t.equal((await queued(queue, 1)).length, 1);
  const [x, y] = await Promise.all(['b.example.com', 'b.example.com'].map((host) =>
    client.callTool({ name: 'propose_allowlist_change', arguments: { host, reason: 'concurrent' } })));
  t.equal(answer(x!).id, answer(y!).id, 'two concurrent calls for one host make one proposal');
  const route = answer(await client.callTool({ name: 'propose_route_change', arguments: { host: 'a.example.com', reason: 'token' } }));
  t.not(route.id, one.id, 'a different kind is a different proposal');
});

t.test('too many undecided proposals are refused', async (t) => {
  const { client } = await setup(t, { waitSeconds: 0.05, maxPending: 2 });
  for (const h of ['a.example.com', 'b.example.com']) {
    t.notOk((await client.callTool({ name: 'propose_allowlist_change', arguments: { host: h, reason: 'r' } })).isError);
  }
  const r = await client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'c.example.com', reason: 'r' } });
  t.ok(r.isError);
  t.match(text(r), /2 proposals are already waiting/);
});

t.test('an IP literal in any spelling is queued as the address approval applies (the operator sees that)', async (t) => {
  const { client, queue } = await setup(t, { waitSeconds: 0.05 });
  const r = answer(await client.callTool({ name: 'propose_allowlist_change', arguments: { host: '1.1', reason: 'r' } }));
  t.equal(r.host, '1.0.0.1');
  const [id] = await queued(queue, 1);
  t.match(JSON.parse(readFileSync(join(queue, `${id}.json`), 'utf8')), { payload: { host: '1.0.0.1' } });
});

t.test('bad arguments are isError results, and the server keeps working', async (t) => {
  const { client, server, queue } = await setup(t, { waitSeconds: 0.05 });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['propose_allowlist_change', { host: 'https://api.example.com', reason: 'r' }, /has a scheme/],
    ['propose_allowlist_change', { host: 'api.example.com/v1', reason: 'r' }, /path/],
    ['propose_allowlist_change', { host: 'api.example.com', reason: '   ' }, /reason must not be empty/],
    ['propose_allowlist_change', { host: 'api.example.com', reason: 'x'.repeat(501) }, /at most 500/],
    ['propose_allowlist_change', { reason: 'no host' }, /host/],
    ['propose_allowlist_change', { host: 'api.example.com', reason: 'hi \u001b[2J' }, /plain text/],
    ['propose_route_change', { host: '*.example.com', reason: 'r' }, /wildcard/],
    // Regression: refused by the policy only at approval, after the operator was asked.
    ['propose_allowlist_change', { host: 'api.example.com:8443', reason: 'r' }, /has a port/],
    ['propose_allowlist_change', { host: '169.254.169.254', reason: 'r' }, /range the gateway never reaches/],
    ['check_proposal', {}, /id/],
    ['check_proposal', { id: '../../etc/passwd' }, /proposal id/],
    ['check_proposal', { id: '20260101T000000000Z-0123456789ab' }, /no proposal with id/],
  ];
  for (const [name, args, why] of bad) {
    const r = await client.callTool({ name, arguments: args });
    t.ok(r.isError, `${name} ${JSON.stringify(args).slice(0, 60)} is an error`);
    t.match(text(r), why);
  }
  t.notOk(existsSync(queue) && readdirSync(queue).length > 0, 'nothing was queued');
  // Garbage at the HTTP level too.
  const raw = async (path: string, init: RequestInit) => fetch(new URL(path, server.url), init);
  t.equal((await raw('/mcp', { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } })).status, 400);
  t.equal((await raw('/mcp', { method: 'POST', body: 'x'.repeat(70_000), headers: { 'content-type': 'application/json' } })).status, 413);
  t.equal((await raw('/mcp', { method: 'GET' })).status, 405, 'stateless: no standalone SSE stream');
  t.equal((await raw('/nowhere', { method: 'GET' })).status, 404);
  const ok = await client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'fine.example.com', reason: 'still works' } });
  t.notOk(ok.isError, 'a good call after all that still works');
  t.equal((await raw('/healthz', { method: 'GET' })).status, 200);
});

t.test('MCP is served at / too, and is stateless: a client survives a supervise restart', async (t) => {
  let port: number | undefined;
  const sockets = clientSockets(t, () => port);
  const first = await setup(t, { waitSeconds: 0.05 });
  port = first.server.port;
  const atRoot = await connect(t, first.server.url, '/');
  t.equal((await atRoot.listTools()).tools.length, 3, 'served at /');
  t.ok(sockets.length > 0, 'the clients hold keep-alive sockets to the server');
  await first.server.close();
  // As in the bundle, where the restart comes >= 200 ms later: the client has seen its
  // keep-alive sockets close by then (reusing a socket the server just closed fails any POST).
  await pollUntil('the client to see its sockets close', () => sockets.every((s) => s.closed), {
    describe: () => `client sockets: ${JSON.stringify(sockets.map((s) => ({ closed: s.closed, destroyed: s.destroyed, readyState: s.readyState })))}`,
  });
  const again = await startSupervise({ host: '127.0.0.1', port, queueDir: first.queue, decisionsDir: first.decisions, waitSeconds: 0.05 });
  t.teardown(() => again.close());
  const r = await first.client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'after.example.com', reason: 'restart' } });
  t.notOk(r.isError, 'the old client keeps working against the new process');
  t.equal(answer(r).status, 'pending');
});

t.test('hook events are recorded in the events file and in memory', async (t) => {
  const { server, eventsFile } = await setup(t);
  const post = (body: unknown) => fetch(new URL('/hooks/claude', server.url), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const common = { session_id: 'abc-123', transcript_path: '/home/node/.claude/x.jsonl', cwd: '/work' };
  const r1 = await post({ ...common, hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' });
  t.equal(r1.status, 204);
  t.equal(await r1.text(), '', 'empty body: claude must not read it as hook output');
  t.equal((await post({ ...common, hook_event_name: 'Stop', stop_hook_active: false })).status, 204);
  t.equal((await post({ ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash' })).status, 204, 'uninteresting hooks are accepted, not recorded');
  t.equal((await post('{broken')).status, 400);
  t.equal((await post('x'.repeat(300_000))).status, 413);
  const lines = readFileSync(eventsFile, 'utf8').trim().split('\n').map(parseEventLine);
  t.match(lines, [
    { type: 'agent-waiting', origin: 'agent', hook: 'Notification', sessionId: 'abc-123', detail: 'Claude needs your permission to use Bash', time: /^\d{4}-/ },
    { type: 'agent-idle', origin: 'agent', hook: 'Stop', sessionId: 'abc-123', detail: 'turn finished' },
  ]);
  t.equal(lines.length, 2);
  t.equal(server.events().length, 2);
  const listed = await (await fetch(new URL('/events', server.url))).json() as { events: unknown[] };
  t.equal(listed.events.length, 2, 'GET /events shows them');
  t.equal((await fetch(new URL('/hooks/claude', server.url))).status, 405);
});

t.test("the waiting call and check_proposal return the operator's note as one bounded line (reject with guidance)", async (t) => {
  const { client, queue, decisions } = await setup(t, { waitSeconds: 30, pollMs: 60_000 });
  const call = client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'registry.npmjs.org', reason: 'npm install' } });
  const [id] = await queued(queue, 1);
  const note = `use the internal mirror at npm.internal.example\n\u001b[31m(see the wiki)\u202e ${'x'.repeat(1800)}`;
  await writeDecision(decisions, { id: id!, decision: 'rejected', decided: new Date().toISOString(), note });
  const r = await call;
  const a = answer(r);
  t.match(a, { id, status: 'rejected', note: /^use the internal mirror at npm\.internal\.example \[31m\(see the wiki\) x+…$/ });
  t.equal((a.note as string).length, AGENT_NOTE_MAX, 'capped');
  t.match(text(r), /^Rejected by the operator: "use the internal mirror at npm\.internal\.example \[31m\(see the wiki\) x+…"\. Do not propose registry\.npmjs\.org again; follow the note, or continue without it\.\n/);
  t.notOk(UNSAFE_TEXT.test(a.message as string) || UNSAFE_TEXT.test(text(r).replace(/\n/g, ' ')), 'no control or bidi character reaches the agent');
  const checked = await client.callTool({ name: 'check_proposal', arguments: { id } });
  t.same(answer(checked), a, 'check_proposal answers the same, note included');
});

t.test('pre-approval: a proposal an auto_approve rule matches is approved on the host through approve(); the waiting call says which rule', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-auto-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const { manifest } = parseManifest('version: 1\nagents:\n  a:\n    supervise: { auto_approve: ["*.pypi.org"] }\n', 'bottle.yaml');
  const b = await createBottle(root, 'a', { backend: 'docker' });
  const plan = preparePlan({ path: join(root, 'bottle.yaml'), manifest: manifest! }, 'a');
  await writeLaunchSpec(root, b.slug, { plan: { ...plan, slug: b.slug }, agent: manifest!.agents.a! });
  const policyFile = join(b.paths.policy, 'policy.yaml');
  writeFileSync(policyFile, 'version: 1\nallow: [registry.npmjs.org]\n');
  const { client, server } = await setup(t, {
    waitSeconds: 30, pollMs: 60_000, queueDir: b.paths.superviseQueue, decisionsDir: b.paths.superviseDecisions, policyFile, eventsFile: b.paths.eventsFile,
  });
  const calls: string[] = [];
  const control: BundleControl = { name: 'test', live: true, reload: async (slug) => void calls.push(`reload ${slug}`), provideSecrets: async () => void calls.push('secrets') };
  // A route proposal for a covered host, as supervise queues it: never pre-approved.
  const route = await writeProposal(b.paths.superviseQueue, { kind: 'route', host: 'files.pypi.org', reason: 'token' }, { policyFile });
  const call = client.callTool({ name: 'propose_allowlist_change', arguments: { host: 'files.pypi.org', reason: 'pip install' } });
  const [, id] = await queued(b.paths.superviseQueue, 2);
  // What the dashboard does on the queue's change (and `bottle proposals` before it lists).
  const swept = await autoApproveAll(root, async () => ({ control }));
  t.same(swept.map((s) => [s.proposal.id, s.rule, s.error]), [[id, '*.pypi.org', undefined]], 'only the allowlist proposal');
  t.same(swept[0]!.result!.summary, ['+ allow files.pypi.org']);
  const r = await call;
  t.match(answer(r), { id, status: 'approved', host: 'files.pypi.org', autoRule: '*.pypi.org' });
  t.match(text(r), /^Approved \(pre-approved by the operator's rule \*\.pypi\.org\): files\.pypi\.org is now allowed through the gateway\. Retry the request\./);
  t.same(loadPolicy(readFileSync(policyFile, 'utf8')).allow, ['registry.npmjs.org', 'files.pypi.org'], 'the policy changed');
  t.same(calls, [`reload ${b.slug}`], 'the gateway was reloaded, as for a human approval');
  t.match(await readDecision(b.paths.superviseDecisions, id!), { decision: 'approved', auto: { rule: '*.pypi.org' } });
  t.equal(await readDecision(b.paths.superviseDecisions, route.id), null, 'the route proposal waits for the operator');
  const events = (await (await fetch(new URL('/events', server.url))).json()) as { events: Array<Record<string, unknown>> };
  t.match(events.events.at(-1), { type: 'proposal-auto-approved', origin: 'host', id, host: 'files.pypi.org', rule: '*.pypi.org' }, 'logged in the events file');
  t.same(await autoApproveAll(root, async () => ({ control })), [], 'a second sweep finds nothing to do');
});
