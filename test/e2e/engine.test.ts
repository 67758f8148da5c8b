// The e2e pipeline's first proof: the engine CI starts is reachable and does real work
// (a labelled internal network is created, found by label, and removed).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { engineGate } from '../helpers/e2e.js';

const gate = await engineGate();

t.test('docker engine creates and removes a labelled internal network', { skip: gate.skip }, async (t) => {
  const docker = gate.docker!;
  const slug = `e2e-${randomBytes(3).toString('hex')}`;
  const name = `bottle-${slug}-int`;
  const net = await docker.createNetwork({
    Name: name,
    Internal: true,
    Labels: { 'dev.bottle.slug': slug, 'com.docker.compose.project': `bottle-${slug}` },
  });
  t.teardown(async () => { await net.remove().catch(() => undefined); });
  const found = await docker.listNetworks({ filters: { label: [`dev.bottle.slug=${slug}`] } });
  t.same(found.map((n) => n.Name), [name]);
  t.equal(found[0]?.Internal, true);
  await net.remove();
  const after = await docker.listNetworks({ filters: { label: [`dev.bottle.slug=${slug}`] } });
  t.same(after, [], 'no network left behind');
});
