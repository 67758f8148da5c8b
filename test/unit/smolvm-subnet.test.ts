// The pinned-IP subnet for a smolvm bottle's bundle bridge: stable per slug, overlap-checked
// against existing networks as CIDR ranges (not strings), wrapping, and exhaustion.
import t from 'tap';
import { chooseSubnet, cidrsOverlap, engineSubnets, hostSubnets, parseCidr } from '../../lib/backends/smolvm/subnet.js';

t.test('deterministic per slug, inside the pool, gateway .1 and bundle .2', async (t) => {
  const a = chooseSubnet('bright-otter', []);
  t.same(chooseSubnet('bright-otter', []), a, 'same slug, same subnet');
  t.match(a.subnet, /^10\.213\.\d{1,3}\.0\/24$/);
  const base = a.subnet.replace(/\.0\/24$/, '');
  t.equal(a.gateway, `${base}.1`);
  t.equal(a.bundleIp, `${base}.2`);
  const many = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((s) => chooseSubnet(s, []).subnet));
  t.ok(many.size > 4, 'different slugs spread over the pool');
});

t.test('a taken subnet moves to the next free one (by overlap, not string equality)', async (t) => {
  const first = chooseSubnet('slug', []);
  const third = Number(first.subnet.split('.')[2]);
  const next = (n: number): string => `10.213.${(third + n) % 256}.0/24`;
  t.equal(chooseSubnet('slug', [first.subnet]).subnet, next(1));
  t.equal(chooseSubnet('slug', [`10.213.${third}.128/25`]).subnet, next(1), 'a /25 inside it overlaps');
  t.equal(chooseSubnet('slug', [`10.213.${third}.77/24`]).subnet, next(1), 'host bits are ignored, as the kernel does');
  t.equal(chooseSubnet('slug', [first.subnet, next(1), next(2)]).subnet, next(3));
  t.equal(chooseSubnet('slug', ['fd00::/64', 'junk', '172.17.0.0/16']).subnet, first.subnet, 'IPv6, junk and unrelated ranges are ignored');
});

t.test('wraps around the end of the pool', async (t) => {
  // A /22 pool has 4 slots; take every slot from the slug's own to the end.
  const pool = '10.99.4.0/22';
  const slot = (slug: string): number => Number(chooseSubnet(slug, [], { pool }).subnet.split('.')[2]) - 4;
  const slug = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((s) => slot(s) > 0)!;
  const taken = [1, 2, 3].filter((i) => i >= slot(slug)).map((i) => `10.99.${4 + i}.0/24`);
  t.equal(chooseSubnet(slug, taken, { pool }).subnet, '10.99.4.0/24', 'first slot after wrapping');
});

t.test('an existing /16 over the whole pool exhausts it', async (t) => {
  t.throws(() => chooseSubnet('slug', ['10.213.0.0/16']), /no free \/24 subnet left in 10\.213\.0\.0\/16 \(all 256 overlap existing networks\); remove unused networks/);
  t.throws(() => chooseSubnet('slug', ['10.0.0.0/8']), /no free/);
  const pool = '10.50.0.0/23';
  t.throws(() => chooseSubnet('s', ['10.50.0.0/24', '10.50.1.0/24'], { pool }), /all 2 overlap/);
});

t.test('other prefixes and bad options', async (t) => {
  const s = chooseSubnet('slug', [], { pool: '192.168.200.0/24', prefix: 28 });
  t.match(s.subnet, /^192\.168\.200\.\d+\/28$/);
  t.equal(Number(s.subnet.split('.')[3]!.split('/')[0]) % 16, 0);
  t.throws(() => chooseSubnet('x', [], { pool: 'nope' }), /not an IPv4 CIDR/);
  t.throws(() => chooseSubnet('x', [], { pool: '10.0.0.0/16', prefix: 31 }), /between/);
  t.throws(() => chooseSubnet('x', [], { pool: '10.0.0.0/16', prefix: 8 }), /between/);
});

t.test('CIDR helpers', async (t) => {
  t.same(parseCidr('10.0.0.0/8'), { start: 10 * 2 ** 24, end: 11 * 2 ** 24 - 1 });
  t.same(parseCidr('10.1.2.3'), { start: 167838211, end: 167838211 }, 'bare IP is /32');
  t.equal(parseCidr('256.0.0.0/8'), undefined);
  t.equal(parseCidr('10.0.0.0/33'), undefined);
  t.equal(parseCidr('::1/128'), undefined);
  t.ok(cidrsOverlap('10.0.0.0/8', '10.213.4.0/24'));
  t.ok(cidrsOverlap('10.213.4.0/24', '10.213.4.255/32'));
  t.notOk(cidrsOverlap('10.213.4.0/24', '10.213.5.0/24'));
  t.notOk(cidrsOverlap('10.213.4.0/24', 'bogus'));
});

t.test('engineSubnets reads IPAM Config from listNetworks; hostSubnets reads interfaces', async (t) => {
  const docker = {
    listNetworks: async () => [
      { IPAM: { Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] } },
      { IPAM: { Config: [] } },
      { IPAM: { Config: null } },
      { IPAM: null },
      {},
      { IPAM: { Config: [{ Subnet: '10.213.7.0/24' }, { Subnet: 'fd00:1::/64' }, {}] } },
    ],
  };
  t.same(await engineSubnets(docker), ['172.17.0.0/16', '10.213.7.0/24', 'fd00:1::/64']);
  t.same(hostSubnets({
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: '10.213.3.5', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '10.213.3.5/24' },
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    ],
  }), ['10.213.3.5/24']);
});
