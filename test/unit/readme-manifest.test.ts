// README's manifest example is a manifest: every key it shows (review on a git remote,
// auto_approve, routes, ...) parses without an issue, so the documentation cannot drift into
// keys bottle refuses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseManifest } from '../../lib/manifest/parse.js';
import { projectRoot } from '../../lib/paths.js';

t.test("README's bottle.yaml example parses cleanly", async (t) => {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The manifest'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (!t.ok(yaml, 'the section has a yaml block')) return;
  const r = parseManifest(yaml!, 'README.md');
  t.same(r.issues, [], 'no issues');
  const origin = r.manifest?.agents.implementer?.git.find((g) => g.name === 'origin');
  t.same(origin?.review, { holdMs: 10 * 60_000 }, 'review: true holds pushes up to 10 minutes');
  t.same(r.manifest?.engines, { buildbox: { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: '~/.docker/buildbox' }, laptop: { context: 'laptop' } }, 'engines: as documented');
  t.equal(r.manifest?.agents.implementer?.engine, 'buildbox');
});
