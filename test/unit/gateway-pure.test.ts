// The gateway's pure pieces: request targets, header filtering, log redaction, hosts files.
import t from 'tap';
import {
  batchedWriter, clientResponseHeaders, DecisionLog, hostHeaderMatches, loggedTarget, parseAbsolute,
  parseAuthority, parseHostsFile, parseListenAddress, redactPath, resolveUpstream, staticLookup, tunnelPath,
  upstreamRequestHeaders, WITHHELD, type Target,
} from '../../sidecars/gateway/index.js';

t.test('parseAuthority: names, IPv4/IPv6 literals, default port, garbage', async (t) => {
  t.same(parseAuthority('Allowed.TEST:8443'), { host: { host: 'allowed.test' }, port: 8443 });
  t.equal(parseAuthority('allowed.test')?.port, 443);
  t.equal(parseAuthority('[::1]:443')?.host.host, '::1');
  t.equal(parseAuthority('0x7f000001:80')?.host.host, '127.0.0.1', 'hex IPv4 is canonicalised before dialling');
  for (const bad of ['', 'a:b:c', 'host:99999', 'host:0', 'ho st:1', '[::1:443']) t.equal(parseAuthority(bad), undefined, bad);
});

t.test('parseAbsolute: http only, raw path kept, userinfo and fragment dropped', async (t) => {
  const r = parseAbsolute('http://user:pw@Allowed.test:8080/a%2Fb?q=1#frag');
  t.ok('target' in r);
  if ('target' in r) {
    t.same(r.target, { scheme: 'http', host: { host: 'allowed.test' }, port: 8080 });
    t.equal(r.path, '/a%2Fb?q=1');
  }
  const q = parseAbsolute('http://allowed.test?x=1');
  t.equal('path' in q && q.path, '/?x=1');
  // WHATWG reads `\` as `/`: the dialled host is the one the engine judged.
  const tricky = parseAbsolute('http://allowed.test\\@evil.test/');
  t.equal('target' in tricky && tricky.target.host.host, 'allowed.test');
  t.match(parseAbsolute('/just/a/path'), { error: /absolute-form/ });
  t.match(parseAbsolute('https://allowed.test/'), { error: /CONNECT/ });
  t.match(parseAbsolute('ftp://allowed.test/'), { error: /ftp/ });
});

t.test('tunnelPath and hostHeaderMatches pin requests to the CONNECT origin', async (t) => {
  const tgt: Target = { scheme: 'https', host: { host: 'allowed.test' }, port: 443 };
  t.equal(tunnelPath(tgt, '/x?y'), '/x?y');
  t.equal(tunnelPath(tgt, 'https://allowed.test/x'), '/x');
  t.equal(tunnelPath(tgt, 'https://other.test/x'), undefined);
  t.equal(tunnelPath(tgt, 'http://allowed.test/x'), undefined, 'scheme must match the tunnel');
  t.equal(tunnelPath(tgt, '*'), undefined);
  t.ok(hostHeaderMatches(tgt, 'allowed.test'));
  t.ok(hostHeaderMatches(tgt, 'ALLOWED.test:443'));
  t.ok(hostHeaderMatches(tgt, undefined), 'HTTP/1.0 without Host: the tunnel decides');
  t.notOk(hostHeaderMatches(tgt, 'other.test'));
  t.notOk(hostHeaderMatches(tgt, 'allowed.test:8443'));
});

t.test('upstreamRequestHeaders: hop-by-hop, Proxy-*, Connection-listed and injected headers go', async (t) => {
  const raw = [
    'User-Agent', 'ua', 'authorization', 'Bearer agent-placeholder', 'Proxy-Authorization', 'Basic x',
    'Connection', 'keep-alive, X-Drop', 'X-Drop', '1', 'Keep-Alive', '5', 'TE', 'trailers',
    'Transfer-Encoding', 'chunked', 'Host', 'evil.test', 'Content-Length', '99', 'Expect', '100-continue', 'X-Keep', 'a', 'X-Keep', 'b',
  ];
  const out = upstreamRequestHeaders(raw, { host: 'route.test', inject: { Authorization: 'Bearer real' }, bodyLength: 3 });
  t.same(out, ['Host', 'route.test', 'User-Agent', 'ua', 'X-Keep', 'a', 'X-Keep', 'b', 'Authorization', 'Bearer real', 'Content-Length', '3']);
  const up = upstreamRequestHeaders(['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'k'], { host: 'h', upgrade: true });
  t.same(up, ['Host', 'h', 'Sec-WebSocket-Key', 'k', 'Connection', 'Upgrade', 'Upgrade', 'websocket']);
});

t.test('clientResponseHeaders keeps repeats and Content-Length, drops framing and hop-by-hop', async (t) => {
  const raw = ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Transfer-Encoding', 'chunked', 'Connection', 'close, X-Hop', 'X-Hop', 'v', 'Content-Length', '5', 'Proxy-Authenticate', 'Basic'];
  t.same(clientResponseHeaders(raw), ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Length', '5']);
});

t.test('redactPath keeps query keys only; loggedTarget withholds URLs that carried a secret', async (t) => {
  t.equal(redactPath('/p?token=abc&x&y=2#f'), '/p?token=…&x&y=…');
  t.equal(redactPath('/plain'), '/plain');
  t.same(loggedTarget('a.test', '/s/k?q=1', { verdict: 'block', stage: 'url-dlp', reason: 'secret in path (github-pat)' }), { host: 'a.test', path: WITHHELD });
  t.same(loggedTarget('x.a.test', '/', { verdict: 'block', stage: 'url-dlp', reason: 'secret in hostname (aws)' }), { host: WITHHELD, path: WITHHELD });
  t.same(loggedTarget('x.a.test', '', { verdict: 'block', stage: 'allowlist', reason: 'a host name that appears to carry a secret is not on the allowlist' }), { host: WITHHELD, path: '' });
  t.same(loggedTarget('a.test', '/x?k=v', { verdict: 'block', stage: 'header-dlp', reason: 'secret in header value' }), { host: 'a.test', path: '/x?k=…' });
});

t.test('DecisionLog writes one JSON line per decision with the fixed fields; a throwing sink is dropped', async (t) => {
  const lines: string[] = [];
  let calls = 0;
  const log = new DecisionLog([(l) => lines.push(l), () => { calls++; throw new Error('disk full'); }], () => new Date(0));
  log.record({ method: 'GET', host: 'a.test', path: '/x?k=v', verdict: { verdict: 'allow', stage: 'done', reason: 'ok' }, status: 200 }, 1.23456);
  log.record({ method: 'GET', host: 'a.test', path: '/', verdict: { verdict: 'allow', stage: 'done', reason: 'ok' }, status: 200 }, 1);
  t.equal(calls, 1);
  t.same(Object.keys(JSON.parse(lines[0]!)), ['time', 'method', 'host', 'path', 'verdict', 'stage', 'reason', 'ms', 'status']);
  t.match(JSON.parse(lines[0]!), { time: '1970-01-01T00:00:00.000Z', path: '/x?k=…', ms: 1.23 });
});

t.test('batchedWriter: lines of one event-loop turn go out in one write', async (t) => {
  const writes: string[] = [];
  const sink = batchedWriter((text) => writes.push(text));
  sink('a');
  sink('b');
  t.same(writes, [], 'nothing written synchronously');
  await new Promise((r) => setImmediate(r));
  sink('c');
  await new Promise((r) => setImmediate(r));
  t.same(writes, ['a\nb\n', 'c\n']);
});

t.test('hosts file parsing and the authoritative static lookup', async (t) => {
  const map = parseHostsFile('# comment\n127.0.0.1 a.test B.test. # trailing\n\n::1 a.test\nbogus\n');
  t.same([...map], [['a.test', ['127.0.0.1', '::1']], ['b.test', ['127.0.0.1']]]);
  const lookup = staticLookup(map);
  t.same(await lookup('A.test'), ['127.0.0.1', '::1']);
  await t.rejects(lookup('unknown.test'), { code: 'ENOTFOUND' });
});

t.test('resolveUpstream: checks every answer; the allowance is per name; literals are not exempt', async (t) => {
  const lookup = staticLookup(new Map([['up.test', ['127.0.0.1']], ['mixed.test', ['93.184.216.34', '10.0.0.1']], ['pub.test', ['93.184.216.34']]]));
  t.match(await resolveUpstream({ host: 'up.test' }, lookup, new Set()), { verdict: { verdict: 'block', stage: 'ssrf-resolved' } });
  t.same(await resolveUpstream({ host: 'up.test' }, lookup, new Set(['up.test'])), { ip: '127.0.0.1' });
  t.match(await resolveUpstream({ host: 'mixed.test' }, lookup, new Set()), { verdict: { stage: 'ssrf-resolved' } }, 'one private answer blocks');
  t.same(await resolveUpstream({ host: 'pub.test' }, lookup, new Set()), { ip: '93.184.216.34' });
  t.match(await resolveUpstream({ host: 'nope.test' }, lookup, new Set()), { error: 'name does not resolve' });
  const literal = { host: '127.0.0.1', ip: { version: 4 as const, canonical: '127.0.0.1', forbidden: 'loopback' } };
  t.match(await resolveUpstream(literal, lookup, new Set(['127.0.0.1'])), { verdict: { verdict: 'block' } });
});

t.test('parseListenAddress', async (t) => {
  t.same(parseListenAddress('0.0.0.0:8888'), { host: '0.0.0.0', port: 8888 });
  t.same(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
  t.throws(() => parseListenAddress('8888'), /HOST:PORT/);
});
