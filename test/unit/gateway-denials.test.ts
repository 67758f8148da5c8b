// Issue 15, readable denials over TLS: a CONNECT to a host the policy does not allow is opened,
// TLS is terminated with a leaf from the bottle CA, and every request inside gets the 403
// `blocked:` answer (JSON when asked for) naming the exact tool call, while nothing is resolved
// or dialled. Attacked through the real daemon with curl, git, npm and Node's fetch; what must
// stay a refusal of the CONNECT itself (private addresses, names carrying secrets) stays one.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { block } from '../../lib/policy/index.js';
import { accessHint, answeredInside, blockAnswer, wantsJson } from '../../sidecars/gateway/index.js';
import { MODEL_ROUTE_HINT, PRIVATE_HINT } from '../../sidecars/gateway/respond.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, fetchViaProxy, getWith, httpsViaProxy, requestOn, tlsOver, TunnelAgent, viaProxy } from '../fixtures/gateway/client.js';
import { BASE_POLICY, startWorld, until, type World } from '../fixtures/gateway/world.js';

const notAllowed = (host: string) => block('allowlist', `${host} is not on the allowlist`, 'not-allowed');
const HINT_OTHER = accessHint('other.test');

t.test('wantsJson: the most preferred named type decides; wildcards never ask for JSON', async (t) => {
  const yes = ['application/json', 'application/json; charset=utf-8', 'Application/JSON',
    'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
    'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01',
    'text/plain;q=0.5, application/json'];
  const no = [undefined, '', '*/*', 'text/*, */*', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'application/json;q=0, text/plain', 'text/plain, application/json;q=0.9', 'application/jsonx', 'application/json;q=nope'];
  for (const a of yes) t.ok(wantsJson(a), String(a));
  for (const a of no) t.notOk(wantsJson(a), String(a));
});

t.test('blockAnswer: the reason, the exact call for the host, as text or JSON, and in the reason phrase', async (t) => {
  const text = blockAnswer({ outcome: notAllowed('other.test'), host: 'other.test' });
  t.same(text, {
    status: 403,
    message: 'Forbidden (blocked: other.test is not on the allowlist; ask with propose_allowlist_change)',
    body: `blocked: other.test is not on the allowlist\n${HINT_OTHER}\n`,
  });
  t.match(HINT_OTHER, 'call the supervise MCP tool propose_allowlist_change (in Claude Code: mcp__supervise__propose_allowlist_change) with {"host":"other.test","reason":"<why you need it>"}');
  const json = blockAnswer({ outcome: notAllowed('other.test'), host: 'other.test' }, true);
  t.equal(json.type, 'application/json; charset=utf-8');
  t.same(JSON.parse(json.body), { error: 'blocked', host: 'other.test', reason: 'other.test is not on the allowlist', ask: 'propose_allowlist_change', hint: HINT_OTHER });

  const model = JSON.parse(blockAnswer({ outcome: block('model-api', 'path not allowed'), host: 'api.anthropic.com' }, true).body);
  t.same([model.ask, model.hint], [undefined, MODEL_ROUTE_HINT], 'no ask where no proposal can lift the block');
  const literal = blockAnswer({ outcome: notAllowed('169.254.169.254'), host: '169.254.169.254', prefix: 'CONNECT blocked' });
  t.equal(literal.body, `CONNECT blocked: 169.254.169.254 is not on the allowlist\n${PRIVATE_HINT}\n`, 'a metadata address: no proposal lifts it');
  t.notMatch(literal.message, /ask with/);

  // A name that carries a secret is not quoted back: not in the hint, not in the JSON.
  const secretName = `${Buffer.from(FAKE.github).toString('hex')}.other.test`;
  const withheld = block('allowlist', 'a host name that appears to carry a secret is not on the allowlist', 'not-allowed');
  const w = JSON.parse(blockAnswer({ outcome: withheld, host: secretName }, true).body);
  t.same([w.host, w.ask], [null, undefined]);
  t.notMatch(JSON.stringify(w), secretName);
  t.match(w.hint, '{"host":"<the host>"');
  // A secret in a body: the general hint, and no allowlist ask (allowing the host lifts nothing).
  const dlp = blockAnswer({ outcome: block('body-dlp', 'secret in the body (github-pat)'), host: 'allowed.test' }, true);
  const dlpJson = JSON.parse(dlp.body);
  t.match(dlpJson, { host: 'allowed.test', hint: /propose_route_change/ });
  t.notOk('ask' in dlpJson);
  t.equal(dlp.message, 'Forbidden (blocked: secret in the body (github-pat))');

  const long = blockAnswer({ outcome: block('body-dlp', `secret in ${'x'.repeat(300)} (rule) é`), host: 'allowed.test' });
  t.ok(long.message!.length <= 200 && /^[\x20-\x7e]+$/.test(long.message!), 'the reason phrase is printable ASCII, capped');
});

t.test('answeredInside: only allowlist and blocklist blocks of a quotable name open the tunnel', async (t) => {
  const name = (host: string) => ({ host });
  t.ok(answeredInside(notAllowed('other.test'), name('other.test')));
  t.ok(answeredInside(block('blocklist', 'x.test is blocked by "x.test"', 'x.test'), name('x.test')));
  t.ok(answeredInside(notAllowed('93.184.216.34'), { host: '93.184.216.34', ip: { version: 4, canonical: '93.184.216.34' } }), 'a public address literal');
  const metadata = { host: '169.254.169.254', ip: { version: 4 as const, canonical: '169.254.169.254', forbidden: 'link-local' } };
  t.notOk(answeredInside(notAllowed('169.254.169.254'), metadata), 'a forbidden address, even when the allowlist is what refused it');
  t.notOk(answeredInside(block('ssrf', '10.0.0.1 is in a forbidden range (private)'), { host: '10.0.0.1', ip: { version: 4, canonical: '10.0.0.1', forbidden: 'private' } }));
  t.notOk(answeredInside(block('url-dlp', 'secret in the host name (github-pat)'), name('x.test')), 'a name carrying a secret');
  t.notOk(answeredInside(block('entropy', 'high-entropy subdomain label'), name('x.test')));
  t.notOk(answeredInside(block('allowlist', 'a host name that appears to carry a secret is not on the allowlist'), name('x.test')), 'a withheld name');
  t.notOk(answeredInside(block('scheme', 'invalid port 0'), name('x.test')));
  t.notOk(answeredInside(block('error', 'the CONNECT could not be evaluated'), name('x.test')));
});

// What every attack below must leave behind: no request at the upstream, no name resolved.
function nothingLeft(t: Test, w: World, host: string): void {
  t.same(w.upstream.requests, [], 'the upstream received nothing');
  t.notOk(w.lookups.includes(host), `${host} was never resolved`);
}

// other.test resolves to the recording upstream but is not on the allowlist: anything that
// leaked would be on the upstream's record.
t.test('Node https through the proxy: the tunnel opens, the request inside gets the readable 403, the log says so', async (t) => {
  const w = await startWorld(t);
  const r = await httpsViaProxy(w.proxy, w.caPem, w.https('other.test', '/pkg?token=abc'), { method: 'POST', body: 'data' });
  t.equal(r.status, 403);
  t.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(r.body.toString(), `blocked: other.test is not on the allowlist\n${HINT_OTHER}\n`);
  const plain = await viaProxy(w.proxy, w.http('other.test', '/pkg'));
  t.same([plain.status, plain.body.toString()], [403, r.body.toString()], 'the same answer plain HTTP gets');
  t.match(w.decisions(), [
    { method: 'CONNECT', host: 'other.test', verdict: 'block', stage: 'allowlist', reason: 'other.test is not on the allowlist (answered inside the tunnel)', status: 200 },
    { method: 'POST', host: 'other.test', path: '/pkg?token=…', verdict: 'block', stage: 'allowlist', status: 403 },
    { method: 'GET', host: 'other.test', verdict: 'block', status: 403 },
  ]);
  nothingLeft(t, w, 'other.test');
});

const curl = ['/usr/bin/curl', '/bin/curl'].find((p) => existsSync(p));
const run = (file: string, args: string[], env: NodeJS.ProcessEnv) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile(file, args, { env, timeout: 30_000 }, (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: unknown }).code ?? 1) : 0, stdout, stderr }));
});
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...extra });

t.test('curl: the reason and the call to make, as text or JSON; a private address still fails at the tunnel', { skip: curl ? false : 'curl is not installed' }, async (t) => {
  const w = await startWorld(t);
  const base = ['-sS', '--noproxy', '', '--proxy', `http://${w.proxy.host}:${w.proxy.port}`, '--cacert', w.caFile, '--max-time', '10', '-w', '\n%{http_connect} %{http_code}'];
  const text = await run(curl!, [...base, w.https('other.test', '/x')], cleanEnv());
  t.equal(text.code, 0);
  t.equal(text.stdout, `blocked: other.test is not on the allowlist\n${HINT_OTHER}\n\n200 403`);
  const json = await run(curl!, [...base, '-H', 'Accept: application/json', w.https('other.test', '/x.json')], cleanEnv());
  const [body, codes] = json.stdout.split('\n\n');
  t.equal(codes, '200 403');
  t.same(JSON.parse(body!), { error: 'blocked', host: 'other.test', reason: 'other.test is not on the allowlist', ask: 'propose_allowlist_change', hint: HINT_OTHER });
  const head = await run(curl!, [...base, '-I', w.https('other.test', '/x')], cleanEnv());
  t.match(head.stdout, /^HTTP\/1\.1 403 Forbidden \(blocked: other\.test is not on the allowlist; ask with propose_allowlist_change\)\r\n/m, 'the reason phrase carries it too');

  // 127.0.0.2 is not on the allowlist, but a private address never gets a 200: refused at the tunnel.
  const priv = await run(curl!, [...base, `https://127.0.0.2:${w.upstream.httpsPort}/x`], cleanEnv());
  t.equal(priv.code, 56, 'curl: CONNECT tunnel failed');
  t.match(priv.stdout, /\n403 000$/);
  nothingLeft(t, w, 'other.test');
});

t.test('Node fetch: status, statusText and body carry the reason; JSON when asked for', async (t) => {
  const w = await startWorld(t);
  const text = await fetchViaProxy(w.proxy, w.caPem, w.https('other.test', '/f'));
  t.same(text, {
    status: 403,
    statusText: 'Forbidden (blocked: other.test is not on the allowlist; ask with propose_allowlist_change)',
    type: 'text/plain; charset=utf-8',
    text: `blocked: other.test is not on the allowlist\n${HINT_OTHER}\n`,
  });
  const json = await fetchViaProxy(w.proxy, w.caPem, w.https('other.test', '/f'), { accept: 'application/json' });
  t.equal(json.type, 'application/json; charset=utf-8');
  t.match(JSON.parse(json.text), { error: 'blocked', host: 'other.test', ask: 'propose_allowlist_change' });
  t.equal((await fetchViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/'))).text, 'ok', 'control: the same client reaches an allowed host');
  t.equal(w.upstream.requests.length, 1, 'only the control request arrived');
  t.notOk(w.lookups.includes('other.test'));
});

const git = ['/usr/bin/git', '/bin/git'].find((p) => existsSync(p));
t.test('git over https: the blocked: lines come out as remote: messages', { skip: git ? false : 'git is not installed' }, async (t) => {
  const w = await startWorld(t);
  const home = mkdtempSync(join(tmpdir(), 'bottle-denials-git-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const env = cleanEnv({ HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' });
  const r = await run(git!, ['-c', `http.proxy=http://${w.proxy.host}:${w.proxy.port}`, '-c', `http.sslCAInfo=${w.caFile}`, 'ls-remote', w.https('other.test', '/repo.git')], env);
  t.not(r.code, 0);
  t.match(r.stderr, /^remote: blocked: other\.test is not on the allowlist$/m);
  t.match(r.stderr, /^remote: To ask the operator for access, call the supervise MCP tool propose_allowlist_change .*"host":"other\.test"/m);
  nothingLeft(t, w, 'other.test');
});

const npm = ['/usr/bin/npm', '/usr/local/bin/npm'].find((p) => existsSync(p));
t.test('npm: its 403 error line carries the reason (npm shows the status phrase, and JSON error)', { skip: npm ? false : 'npm is not installed' }, async (t) => {
  const w = await startWorld(t);
  const home = mkdtempSync(join(tmpdir(), 'bottle-denials-npm-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const env = cleanEnv({ HOME: home, npm_config_cache: join(home, 'cache'), npm_config_userconfig: join(home, 'npmrc'), npm_config_update_notifier: 'false', npm_config_fetch_retries: '0' });
  const registry = w.https('other.test', '/');
  const r = await run(npm!, ['view', 'left-pad', 'version', '--registry', registry, '--https-proxy', `http://${w.proxy.host}:${w.proxy.port}`, '--cafile', w.caFile], env);
  t.not(r.code, 0);
  t.match(r.stderr, /403 Forbidden \(blocked: other\.test is not on the allowlist; ask with propose_allowlist_change\) - GET https:\/\/other\.test:\d+\/left-pad - blocked/);
  nothingLeft(t, w, 'other.test');
});

t.test('inside an opened tunnel: other SNI, plain HTTP, garbage and WebSockets get no further', async (t) => {
  const w = await startWorld(t);
  const authority = `other.test:${w.upstream.httpsPort}`;
  const open = async () => {
    const tunnel = await connect(w.proxy, authority);
    if (tunnel.status !== 200) throw new Error(`CONNECT ${authority}: ${tunnel.status} ${tunnel.body.toString()}`);
    return tunnel;
  };
  // SNI for an allowed name: the leaf is still other.test's (never one for the SNI name), and
  // every request is refused.
  const a = await open();
  const s = await tlsOver(a.socket, w.caPem, 'allowed.test', true);
  t.match(s.getPeerCertificate().subjectaltname, /^DNS:other\.test$/);
  const sni = await requestOn(s, w.https('allowed.test', '/sni'));
  t.equal(sni.status, 403);
  t.match(sni.body.toString(), /^blocked: TLS SNI does not match the CONNECT host\n/);
  // Plain HTTP spoken through the tunnel: judged like any request, the same readable 403.
  const b = await open();
  const plain = await requestOn(b.socket, `http://${authority}/plain`);
  t.equal(plain.status, 403);
  t.match(plain.body.toString(), /^blocked: other\.test is not on the allowlist\n/);
  // Not HTTP at all (an ssh banner): a 400, then closed.
  const c = await open();
  const answer = new Promise<string>((resolve) => {
    let got = '';
    c.socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.socket.on('close', () => resolve(got));
  });
  c.socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
  t.match(await answer, /^HTTP\/1\.1 400 /);
  // A WebSocket upgrade inside the TLS session.
  const d = await open();
  const ws = await tlsOver(d.socket, w.caPem, 'other.test');
  const upgraded = new Promise<string>((resolve) => {
    let got = '';
    ws.on('data', (x: Buffer) => (got += x.toString('latin1')));
    ws.on('close', () => resolve(got));
  });
  ws.write(`GET /ws HTTP/1.1\r\nHost: ${authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  t.match(await upgraded, /^HTTP\/1\.1 403 [^]*\r\n\r\nblocked: other\.test is not on the allowlist\n/);
  nothingLeft(t, w, 'other.test');
});

t.test('what stays a refusal of the CONNECT: private addresses and names carrying a secret', async (t) => {
  const w = await startWorld(t);
  for (const host of ['127.0.0.2', '[::1]', '0x7f000002']) {
    const c = await connect(w.proxy, `${host}:${w.upstream.httpsPort}`);
    t.equal(c.status, 403, `CONNECT ${host}`);
    t.match(c.body.toString(), /^CONNECT blocked: .*\n.*(never connects to loopback)/);
  }
  const secretName = `${Buffer.from(FAKE.github).toString('hex').match(/.{1,30}/g)!.join('.')}.other.test`;
  const c = await connect(w.proxy, `${secretName}:443`);
  t.equal(c.status, 403, 'a name carrying a secret');
  t.notMatch(c.body.toString(), secretName.slice(0, 30), 'and it is not quoted back');
  t.same(w.decisions().map((d) => d.status), [403, 403, 403, 403]);
  t.same(w.upstream.requests, []);
  t.same(w.lookups, [], 'nothing was resolved');
});

// The loop this serves: the agent asks, the operator approves, the agent retries. A keep-alive
// client retries on the tunnel it already has, so the tunnel follows the policy per request.
t.test('an opened tunnel follows the policy: after an approval the retry on the same connection goes through', async (t) => {
  const w = await startWorld(t);
  const agent = new TunnelAgent(w.proxy, w.caPem, { maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string) => getWith(agent, w.https('other.test', path));
  t.equal((await get('/before')).status, 403);
  t.same(w.upstream.requests, []);
  w.writePolicy(BASE_POLICY.replace('allow: [', 'allow: [other.test, '));
  await until(() => w.diag.some((d) => d.includes('reloaded')), 'the reload');
  const after = await get('/after');
  t.same(after, { status: 200, body: 'ok' });
  t.equal(w.decisions().filter((d) => d.method === 'CONNECT').length, 1, 'one tunnel served both');
  t.match(w.upstream.requests, [{ url: '/after', servername: 'other.test' }]);
});
