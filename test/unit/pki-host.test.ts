// Host strings from SNI / CONNECT → certificate subjects. Pure, so checked exhaustively here.
import t from 'tap';
import { InvalidHostError, ipv6Bytes, parseHost } from '../../lib/pki/host.js';

t.test('DNS names are lower-cased and lose a trailing dot', async (t) => {
  t.same(parseHost('Api.Example.TEST.'), { kind: 'dns', name: 'api.example.test' });
  t.same(parseHost('_acme-challenge.x-1.test'), { kind: 'dns', name: '_acme-challenge.x-1.test' });
  t.same(parseHost(`${'a'.repeat(63)}.test`).kind, 'dns');
});

t.test('IP literals become IP subjects with network-order bytes', async (t) => {
  t.same(parseHost('10.0.0.254'), { kind: 'ip', name: '10.0.0.254', bytes: Buffer.from([10, 0, 0, 254]) });
  const v6 = parseHost('[2001:DB8:0::1]');
  t.equal(v6.name, '2001:db8::1');
  t.equal(v6.kind === 'ip' && v6.bytes.toString('hex'), '20010db8000000000000000000000001');
  t.equal(parseHost('::ffff:1.2.3.4').name, '::ffff:102:304', 'IPv4-mapped tail is canonicalised');
});

t.test('ipv6Bytes expands :: anywhere', async (t) => {
  t.equal(ipv6Bytes('::').toString('hex'), '0'.repeat(32));
  t.equal(ipv6Bytes('::1').toString('hex'), `${'0'.repeat(31)}1`);
  t.equal(ipv6Bytes('1::').toString('hex'), `0001${'0'.repeat(28)}`);
  t.equal(ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  t.equal(ipv6Bytes('fe80::a:b').toString('hex'), `fe80${'0'.repeat(20)}000a000b`);
});

t.test('anything else is refused with the reason', async (t) => {
  t.throws(() => parseHost('a..b'), { name: 'InvalidHostError', message: /bad DNS label ""/ });
  t.throws(() => parseHost(`${'a.'.repeat(127)}ab`), { message: /longer than 253/ });
  t.throws(() => parseHost('-'.repeat(3)), InvalidHostError);
  t.throws(() => parseHost('1.2.3.4:443'), InvalidHostError, 'a port is not part of a host');
});
