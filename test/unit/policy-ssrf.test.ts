// IP literal spellings, the forbidden ranges, the ssrf stage, CONNECT and DNS-answer checks.
// No test here contacts any address: IPs are strings only.
import t from 'tap';
import { checkResolved, dlpOnlyPolicy, evaluate, evaluateConnect, loadPolicy, parseIp, tlsMode } from '../../lib/policy/index.js';
import { normalizeHost } from '../../lib/policy/hosts.js';

const get = (url: string) => ({ method: 'GET', url, headers: {} });
const open = dlpOnlyPolicy();

t.test('parseIp normalises every IPv4 spelling', async (t) => {
  const forms: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'], ['0x7f000001', '127.0.0.1'], ['0X7F.0.0.1', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'],
    ['0177.0.0.01', '127.0.0.1'], ['2130706433', '127.0.0.1'], ['017700000001', '127.0.0.1'], ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'], ['0x7f.1', '127.0.0.1'], ['169.254.169.254', '169.254.169.254'], ['0xa9fea9fe', '169.254.169.254'],
    ['10.1', '10.0.0.1'], ['0', '0.0.0.0'], ['127.0.0.1.', '127.0.0.1'], ['255.255.255.255', '255.255.255.255'],
  ];
  for (const [input, canonical] of forms) t.equal(parseIp(input)?.canonical, canonical, input);
  for (const bad of ['256.0.0.1', '1.2.3.4.5', '08.0.0.1', '0x1g', 'example.com', '', '1..2']) t.equal(parseIp(bad), undefined, bad);
});

t.test('parseIp normalises IPv6, brackets, zones and embedded IPv4', async (t) => {
  const forms: Array<[string, string]> = [
    ['::1', '::1'], ['[::1]', '::1'], ['0:0:0:0:0:0:0:1', '::1'], ['::', '::'], ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::ffff:7f00:1', '::ffff:7f00:1'], ['[::FFFF:7F00:0001]', '::ffff:7f00:1'], ['fe80::1%eth0', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2606:4700::6810:85e5', '2606:4700::6810:85e5'],
  ];
  for (const [input, canonical] of forms) t.equal(parseIp(input)?.canonical, canonical, input);
  for (const bad of ['1:2:3:4:5:6:7:8:9', ':::1', '::g', '1::2::3']) t.equal(parseIp(bad), undefined, bad);
});

t.test('forbidden ranges', async (t) => {
  const forbidden = [
    '0.1.2.3', '127.5.5.5', '10.20.30.40', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '100.127.255.255', '224.0.0.1', '239.255.255.250', '255.255.255.255', '::1', '::', 'fc00::1',
    'fd12:3456::1', 'fe80::1', 'febf::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::127.0.0.1',
    '64:ff9b::7f00:1', '2002:7f00:1::',
    // Local-use NAT64 (RFC 8215): the embedded IPv4 may sit at any RFC 6052 position.
    '64:ff9b:1::7f00:1', '64:ff9b:1:7f00:1::', '64:ff9b:1:5db8:d8:2200::', '64:ff9b:1::5db8:d822',
  ];
  for (const ip of forbidden) t.ok(parseIp(ip)?.forbidden, `${ip} is forbidden`);
  const publicIps = ['93.184.216.34', '8.8.8.8', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '192.169.0.1', '2606:4700::1', '::ffff:93.184.216.34', '2002:5db8:d822::'];
  for (const ip of publicIps) t.equal(parseIp(ip)?.forbidden, undefined, `${ip} is public`);
});

t.test('ssrf stage blocks every encoding of a forbidden literal in a URL', async (t) => {
  const urls = [
    'http://127.0.0.1/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://2130706433/', 'http://127.1/',
    'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://169.254.169.254/latest/meta-data/',
    'http://0xa9.0xfe.0xa9.0xfe/', 'http://[fe80::1]/', 'http://[fd00::1]/', 'http://10.0.0.1/', 'http://192.168.0.1/',
    'http://172.16.5.4/', 'http://100.64.1.1/', 'http://224.0.0.1/', 'http://255.255.255.255/', 'http://0.0.0.0/',
    'https://[::]/', 'http://127.0.0.1.:80/',
  ];
  for (const url of urls) {
    const v = evaluate(open, get(url));
    t.equal(v.stage, 'ssrf', url);
    t.equal(v.verdict, 'block', url);
  }
});

t.test('a public literal IP passes the ssrf stage (string only, never contacted)', async (t) => {
  t.equal(evaluate(open, get('http://93.184.216.34/')).verdict, 'allow');
  t.equal(evaluate(open, get('https://[2606:4700::6810:85e5]/')).verdict, 'allow');
});

t.test('IP allow entries match exactly, whatever the spelling', async (t) => {
  const p = loadPolicy('version: 1\nallow: [93.184.216.34]\n');
  t.equal(evaluate(p, get('http://93.184.216.34/')).verdict, 'allow');
  t.equal(evaluate(p, get('http://0x5db8d822/')).verdict, 'allow');
  t.equal(evaluate(p, get('http://93.184.216.35/')).stage, 'allowlist');
  t.throws(() => loadPolicy('version: 1\nallow: ["*.216.34"]\n'), /wildcard must be followed by a domain/, 'no wildcard IPs');
});

t.test('allowing a private literal does not bypass the ssrf stage', async (t) => {
  const p = loadPolicy('version: 1\nallow: [10.0.0.5]\n');
  t.equal(evaluate(p, get('http://10.0.0.5/')).stage, 'ssrf');
});

t.test('evaluateConnect: hostname-level checks before TLS', async (t) => {
  const p = loadPolicy('version: 1\nallow: ["*.github.com", api.anthropic.com]\nblock: [gist.github.com]\npassthrough: [api.anthropic.com]\n');
  t.match(evaluateConnect(p, 'api.github.com', 443), { verdict: 'allow', reason: /TLS intercepted/ });
  t.match(evaluateConnect(p, 'github.com', 443), { verdict: 'allow' }, 'wildcard matches the apex');
  t.match(evaluateConnect(p, 'API.Anthropic.com.', 443), { verdict: 'allow', reason: /passthrough/ });
  t.match(evaluateConnect(p, 'api.anthropic.com', 22), { verdict: 'allow', reason: /TLS intercepted/ }, 'an uninspected tunnel is for HTTPS only: another port is intercepted and judged in full');
  t.equal(tlsMode(p, 'api.anthropic.com', 22), 'intercept');
  t.equal(tlsMode(p, 'api.anthropic.com', 443), 'passthrough');
  t.match(evaluateConnect(p, 'api.anthropic.com', 8443, undefined, { passthroughPorts: [443, 8443] }), { verdict: 'allow', reason: /passthrough/ }, 'unless the port is granted');
  t.match(evaluateConnect(p, 'gist.github.com', 443), { verdict: 'block', stage: 'blocklist' });
  t.match(evaluateConnect(p, 'example.com', 443), { verdict: 'block', stage: 'allowlist' });
  t.match(evaluateConnect(open, '[::ffff:127.0.0.1]', 443), { verdict: 'block', stage: 'ssrf' });
  t.match(evaluateConnect(open, '2130706433', 443), { verdict: 'block', stage: 'ssrf' });
  t.match(evaluateConnect(open, 'a.test', 0), { verdict: 'block', stage: 'scheme' });
  t.match(evaluateConnect(open, 'bad host', 443), { verdict: 'block', stage: 'scheme' });
  t.match(evaluateConnect(open, '1.2.3.999', 443), { verdict: 'block', stage: 'scheme' }, 'numeric last label that is not an IP');
});

t.test('checkResolved blocks private answers (DNS rebinding) unless the host is exempted by name', async (t) => {
  t.match(checkResolved('x.test', ['93.184.216.34']), { verdict: 'allow' });
  t.match(checkResolved('x.test', ['93.184.216.34', '127.0.0.1']), { verdict: 'block', stage: 'ssrf-resolved', rule: 'private-address' });
  t.match(checkResolved('x.test', ['::ffff:169.254.169.254']), { verdict: 'block', reason: /link-local/ });
  t.match(checkResolved('x.test', ['fd00::5']), { verdict: 'block' });
  t.match(checkResolved('x.test', []), { verdict: 'block', rule: 'no-address' });
  t.match(checkResolved('x.test', ['not-an-ip']), { verdict: 'block', rule: 'bad-address' });
  const exempt = new Set(['upstream.test']);
  t.match(checkResolved('upstream.test', ['172.18.0.3']), { verdict: 'block' }, 'no exemption by default');
  t.match(checkResolved('Upstream.test.', ['172.18.0.3'], exempt), { verdict: 'allow' });
  t.match(checkResolved('other.test', ['172.18.0.3'], exempt), { verdict: 'block' }, 'only the named host');
  t.match(checkResolved('172.18.0.3', ['172.18.0.3'], new Set(['172.18.0.3'])), { verdict: 'block' }, 'IP literals are never exempt');
});

t.test('normalizeHost rejects junk and punycodes IDNs', async (t) => {
  t.equal(normalizeHost('Bücher.Example')?.host, 'xn--bcher-kva.example');
  for (const bad of ['', 'a b', 'a..b', '-', '-a.com', 'a-.com', 'a:b', 'a@b.com', 'x'.repeat(64) + '.com', '[1.2.3.4]', 'a/b']) t.equal(normalizeHost(bad), undefined, JSON.stringify(bad));
});
