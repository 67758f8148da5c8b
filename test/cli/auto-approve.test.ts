// Pre-approval as the operator meets it (issue 15): `manifest check` refuses a rule that spans a
// public suffix; a bottle started with `supervise.auto_approve` has its matching allowlist
// proposal approved by `bottle proposals` (said on stderr, the gateway reloaded) and listed as
// auto-approved with its rule, in the table and in --json; a route proposal stays pending.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadPolicy } from '../../lib/policy/index.js';
import { writeProposal } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';

const MANIFEST = `version: 1
defaults:
  supervise: { auto_approve: [registry.npmjs.org] }
agents:
  a:
    supervise:
      auto_approve: ["*.pypi.org"]
`;

function world(t: { teardown(fn: () => unknown): void }, manifest: string) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-auto-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bottle.yaml'), manifest);
  const env = { ...process.env, BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), ANTHROPIC_API_KEY: 'placeholder-value', BOTTLE_FAKE_STEP_MS: '1' };
  const bottle = (...args: string[]) => bottleProcess(args, { env, cwd: dir, fake: true });
  return { root: join(dir, 'state'), bottle };
}

t.test('manifest check refuses an auto_approve wildcard over a public suffix, at its entry', async (t) => {
  const w = world(t, `${MANIFEST}  b:\n    supervise: { auto_approve: ["*.co.uk", "*.example.co.uk"] }\n`);
  const r = await w.bottle('manifest', 'check');
  t.equal(r.exitCode, 1);
  t.match(r.stderr, '\nbottle.yaml:9:33: agents.b.supervise.auto_approve[0]: "*.co.uk" spans the public suffix co.uk, whose names belong to many different owners; list the hosts or the *.domain of one owner you trust (e.g. *.example.com)\n');
  t.notMatch(r.stderr, /auto_approve\[1\]/, 'one owner\'s wildcard is fine');
});

t.test('bottle proposals approves what auto_approve covers, says so, and lists it with its rule', async (t) => {
  const w = world(t, MANIFEST);
  const start = await w.bottle('start', 'a', '--yes', '--no-attach');
  t.equal(start.exitCode, 0, start.stderr);
  const slug = start.stdout.trim();
  const paths = bottlePaths(w.root, slug);
  const policyFile = join(paths.policy, 'policy.yaml');
  // As supervise queues them in the bundle.
  const allow = await writeProposal(paths.superviseQueue, { kind: 'allowlist', host: 'files.pypi.org', reason: 'pip install' }, { policyFile });
  const route = await writeProposal(paths.superviseQueue, { kind: 'route', host: 'registry.npmjs.org', reason: 'private packages' }, { policyFile });
  const other = await writeProposal(paths.superviseQueue, { kind: 'allowlist', host: 'example.com', reason: 'docs' }, { policyFile });

  const r = await w.bottle('proposals', 'ls', '--json');
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stderr, `bottle: auto-approved allowlist files.pypi.org for ${slug} (auto_approve rule *.pypi.org): + allow files.pypi.org; reloaded`);
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.match(rows, [
    { id: allow.id, slug, host: 'files.pypi.org', status: 'approved', auto: { rule: '*.pypi.org' }, decided: /^\d{4}-/ },
    { id: route.id, host: 'registry.npmjs.org', kind: 'route', status: 'pending', auto: null },
    { id: other.id, host: 'example.com', status: 'pending', auto: null },
  ]);
  t.equal(rows.length, 3);
  t.ok(loadPolicy(readFileSync(policyFile, 'utf8')).allow.includes('files.pypi.org'), 'the policy changed');
  const engine = JSON.parse(readFileSync(join(paths.dir, 'fake-engine.json'), 'utf8')) as { controlCalls: string[] };
  t.same(engine.controlCalls, ['reload'], 'the gateway was reloaded, as for a human approval');
  t.match(readFileSync(paths.eventsFile, 'utf8'), `"type":"proposal-auto-approved","time":`, 'logged in the events file');

  const table = await w.bottle('proposals');
  t.equal(table.stderr, '', 'nothing left to auto-approve');
  t.match(table.stdout, new RegExp(`\\n${allow.id}\\s+${slug}\\s+allowlist\\s+files\\.pypi\\.org\\s+\\d+s\\s+approved \\(auto: \\*\\.pypi\\.org\\)\\s+pip install\\n`));
});
