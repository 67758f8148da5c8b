// Pre-approval in the real dashboard (issue 15): a proposal that the bottle's auto_approve rules
// cover is approved by the dashboard the moment it lands (policy written, decision with the
// rule), announced as auto-approved, and kept in the proposals pane marked auto; one they do not
// cover stays pending for the operator.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { policyFilePath } from '../../lib/policy-edit/index.js';
import { readDecision } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { SLOW, startDashboard } from '../helpers/dashboard.js';
import { tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

t.test('a covered proposal arrives approved, marked auto with its rule; another stays pending', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-dash-auto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const manifest = join(dir, 'bottle.yaml');
  writeFileSync(manifest, 'version: 1\nagents:\n  a:\n    supervise: { auto_approve: ["*.pypi.org"] }\n');
  let slug = '';
  const h = await startDashboard(t, { manifest, before: async (x) => { slug = await x.startFake('a'); } });
  await h.waitFor(/Proposals \(0\)/);
  const viewer = await h.srv.attachViewer({ width: 160, height: 40 });

  const covered = await h.propose(slug, 'files.pypi.org');
  await viewer.server.waitForText(/auto-approved allowlist files\.pypi\.org for a-\w+ \(rule \*\.pypi\.org\)/, SLOW);
  await h.waitFor(/files\.pypi\.org\s+\d+s\s+auto\s+rule \*\.pypi\.org: need files\.pypi\.org/);
  const paths = bottlePaths(h.stateDir, slug);
  t.match(readFileSync(policyFilePath(paths), 'utf8'), /files\.pypi\.org/, 'the policy changed');
  t.match(await readDecision(paths.superviseDecisions, covered.id), { decision: 'approved', auto: { rule: '*.pypi.org' } });

  const other = await h.propose(slug, 'example.com');
  // Rows are read after the sweep in the same load: shown without `auto`, it was left pending.
  await h.waitFor(/example\.com\s+\d+s\s+need example\.com/);
  t.equal(await readDecision(paths.superviseDecisions, other.id), null, 'not covered: waits for the operator');
});
