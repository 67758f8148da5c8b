// The gateway as a forward proxy on loopback: absolute-form HTTP and CONNECT with TLS
// interception, byte-exact bodies, streaming (5 MB, SSE), WebSockets, passthrough, curl.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { FAKE } from '../fixtures/policy/fake-secrets.js';
import { connect, httpsViaProxy, streamViaProxy, tlsOver, TunnelAgent, viaProxy, wsEchoOnce } from '../fixtures/gateway/client.js';
import { startWorld } from '../fixtures/gateway/world.js';
import { downloadBytes, DOWNLOAD_BYTES } from '../helpers/upstream.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('allowed HTTPS GET and POST pass byte for byte; the upstream sees the same request', async (t) => {
  const w = await startWorld(t);
  const body = downloadBytes(20_000);
  const post = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/echo/bin'), { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  t.equal(post.status, 200);
  t.equal(sha(post.body), sha(body));
  const seen = w.upstream.requests.at(-1)!;
  t.match(seen, { scheme: 'https', method: 'POST', url: '/echo/bin', servername: 'allowed.test' });
  t.equal(sha(seen.body), sha(body));
  const get = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/hello?x=1'));
  t.equal(get.status, 200);
  t.equal(get.body.toString(), 'ok');
  t.match(w.decisions().at(-1), { method: 'GET', host: 'allowed.test', path: '/hello?x=…', verdict: 'allow', status: 200 });
});

t.test('plain HTTP absolute-form GET and POST work', async (t) => {
  const w = await startWorld(t);
  const r = await viaProxy(w.proxy, w.http('allowed.test', '/echo'), { method: 'POST', body: 'plain body' });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'plain body');
  t.match(w.upstream.requests.at(-1), { scheme: 'http', method: 'POST', url: '/echo' });
  t.equal((await viaProxy(w.proxy, w.http('allowed.test', '/'))).body.toString(), 'ok');
});

t.test('a 5 MB download streams through intact (HTTPS and HTTP)', async (t) => {
  const w = await startWorld(t);
  const want = sha(downloadBytes(DOWNLOAD_BYTES));
  const viaTls = await httpsViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/download'));
  t.equal(viaTls.body.length, DOWNLOAD_BYTES);
  t.equal(sha(viaTls.body), want);
  const viaHttp = await viaProxy(w.proxy, w.http('allowed.test', '/download'));
  t.equal(sha(viaHttp.body), want);
});

t.test('SSE events arrive as they are sent, not when the stream ends', async (t) => {
  const w = await startWorld(t);
  const { text, arrivals, headers } = await streamViaProxy(w.proxy, w.caPem, w.https('allowed.test', '/sse?n=5&gap=150'));
  t.equal(headers['content-type'], 'text/event-stream');
  const sent = w.upstream.sseSent[0]!;
  t.equal(sent.length, 5);
  t.equal((text.match(/^data: event \d$/gm) ?? []).length, 5);
  t.ok(arrivals[0]! < sent[4]!, 'the first event arrived before the last one was sent');
  t.ok(arrivals.length >= 3, `events arrived in several chunks (${arrivals.length})`);
});

t.test('a host that is not allowlisted gets 403 blocked: (inside its tunnel and plain) and never reaches the upstream', async (t) => {
  const w = await startWorld(t);
  const viaConnect = await httpsViaProxy(w.proxy, w.caPem, w.https('evil.test', '/x'));
  t.equal(viaConnect.status, 403);
  t.match(viaConnect.body.toString(), /^blocked: evil\.test is not on the allowlist\n.*propose_allowlist_change/s);
  const plain = await viaProxy(w.proxy, w.http('evil.test', '/x'));
  t.equal(plain.status, 403);
  t.equal(plain.headers['content-type'], 'text/plain; charset=utf-8');
  t.match(plain.body.toString(), /^blocked: evil\.test is not on the allowlist\nTo ask the operator for access, call the supervise MCP tool propose_allowlist_change/);
  t.equal(w.upstream.requests.length, 0);
  t.match(w.decisions(), [
    { method: 'CONNECT', verdict: 'block', stage: 'allowlist', status: 200 },
    { method: 'GET', verdict: 'block', status: 403 },
    { method: 'GET', verdict: 'block', status: 403 },
  ]);
});

t.test('an origin-form request to the proxy itself is a 400', async (t) => {
  const w = await startWorld(t);
  const r = await new Promise<number>((resolve, reject) => {
    const req = https.request({ host: w.proxy.host, port: w.proxy.port, path: '/', protocol: 'https:' });
    req.on('error', () => resolve(-1));
    req.end();
    void reject;
  }).catch(() => -1);
  t.equal(r, -1, 'TLS straight to the proxy port fails');
  const plain = await new Promise<number>((resolve) => {
    const s = net.connect(w.proxy.port, w.proxy.host, () => s.write('GET / HTTP/1.1\r\nHost: gateway\r\n\r\n'));
    s.once('data', (d: Buffer) => { resolve(Number(d.toString().split(' ')[1])); s.destroy(); });
  });
  t.equal(plain, 400);
});

t.test('keep-alive: many requests share one tunnel and one TLS termination', async (t) => {
  const w = await startWorld(t);
  const agent = new TunnelAgent(w.proxy, w.caPem, { maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 5; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      https.get(w.https('allowed.test', `/n${i}`), { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
    });
    t.equal(status, 200);
  }
  t.equal(w.decisions().filter((d) => d.method === 'CONNECT').length, 1);
  t.equal(w.upstream.requests.length, 5);
});

t.test('passthrough hosts are spliced: the client sees the upstream certificate, not a minted one', async (t) => {
  const w = await startWorld(t);
  const viaGatewayCa = await httpsViaProxy(w.proxy, w.caPem, w.https('pass.test', '/x')).catch((e: Error) => e);
  t.type(viaGatewayCa, Error, 'the gateway CA does not verify a passthrough host');
  const ok = await httpsViaProxy(w.proxy, w.upstream.caPem, w.https('pass.test', '/echo'), { method: 'POST', body: 'spliced' });
  t.equal(ok.body.toString(), 'spliced');
  t.match(w.decisions().filter((d) => d.method === 'CONNECT'), [{ host: 'pass.test', reason: /passthrough/ }, { host: 'pass.test', status: 200 }]);
  // Another port of the passthrough host is not spliced: TLS is intercepted there and every
  // stage applies; a protocol that is not TLS (ssh, say) ends at the handshake.
  const before = w.upstream.requests.length;
  const ssh = await connect(w.proxy, `pass.test:${w.upstream.httpPort}`);
  t.equal(ssh.status, 200);
  ssh.socket.write('SSH-2.0-OpenSSH_9.6\r\n');
  await new Promise((resolve) => { ssh.socket.once('close', resolve); ssh.socket.resume(); });
  t.pass('the gateway closed the non-TLS tunnel');
  const leak = await httpsViaProxy(w.proxy, w.caPem, `https://pass.test:${w.upstream.httpPort}/leak`, { headers: { 'x-note': FAKE.github } });
  t.equal(leak.status, 403, 'TLS to another port is terminated with the bottle CA and scanned');
  t.equal(w.upstream.requests.length, before, 'nothing reached the upstream');
  t.match(w.decisions().filter((d) => d.host === 'pass.test').at(-1), { stage: 'header-dlp' });
});

t.test('WebSocket echo through an allowed host: wss via CONNECT, ws via absolute form and via a plain tunnel', async (t) => {
  const w = await startWorld(t);
  const wss = new URL(w.https('allowed.test', '/ws'));
  const tunnel = await connect(w.proxy, `${wss.hostname}:${wss.port}`);
  const tls = await tlsOver(tunnel.socket, w.caPem, wss.hostname);
  const first = await wsEchoOnce(tls, wss.href, 'hello over wss');
  t.match(first, { status: 101, echoed: 'hello over wss', acceptOk: true });

  const ws = w.http('allowed.test', '/ws');
  const raw = net.connect(w.proxy.port, w.proxy.host);
  t.match(await wsEchoOnce(raw, ws, 'hello over ws', ws), { status: 101, echoed: 'hello over ws', acceptOk: true });

  const plainTunnel = await connect(w.proxy, `allowed.test:${w.upstream.httpPort}`);
  t.match(await wsEchoOnce(plainTunnel.socket, ws, 'hello in a tunnel'), { status: 101, echoed: 'hello in a tunnel', acceptOk: true });

  const blocked = net.connect(w.proxy.port, w.proxy.host);
  t.match(await wsEchoOnce(blocked, w.http('evil.test', '/ws'), 'x', w.http('evil.test', '/ws')), { status: 403 });
  t.match(w.decisions().filter((d) => d.status === 101), [{ host: 'allowed.test' }, { host: 'allowed.test' }, { host: 'allowed.test' }]);
  const keys = w.upstream.requests.map((r) => r.headers['sec-websocket-key']);
  t.equal(keys.length, 3);
  t.notOk(keys.includes(first.key), 'the upstream got the gateway\'s own key, never the client\'s');
});

const curl = ['/usr/bin/curl', '/bin/curl'].find((p) => existsSync(p));
t.test('curl through the gateway (HTTPS with the gateway CA, plain HTTP, a block)', { skip: curl ? false : 'curl is not installed' }, async (t) => {
  const w = await startWorld(t);
  const run = promisify(execFile);
  const base = ['-sS', '--noproxy', '', '--proxy', `http://${w.proxy.host}:${w.proxy.port}`, '--cacert', w.caFile, '--max-time', '10'];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const post = await run(curl!, [...base, '--data-binary', 'from curl', w.https('allowed.test', '/echo')], { env });
  t.equal(post.stdout, 'from curl');
  const plain = await run(curl!, [...base, w.http('allowed.test', '/')], { env });
  t.equal(plain.stdout, 'ok');
  const blocked = await run(curl!, [...base, '-w', '\n%{http_code}', w.http('evil.test', '/')], { env });
  t.match(blocked.stdout, /^blocked: evil\.test is not on the allowlist\n.*\n403$/s);
  const dl = await run(curl!, [...base, '-o', '/dev/null', '-w', '%{size_download}', w.https('allowed.test', '/download')], { env });
  t.equal(Number(dl.stdout), DOWNLOAD_BYTES);
});
