// The dashboard's rough edges at a new user's terminal size (issue 20): 80 columns with long
// agent names, word-bounded status errors, a scrollable plan dialog, the key hint bar, the
// built-in manifest notice, q in the log view and a note on rejection.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readDecision } from '../../lib/proposals/index.js';
import { bottlePaths } from '../../lib/state/index.js';
import { EXAMPLE_MANIFEST, SLOW, startDashboard } from '../helpers/dashboard.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const skip = await tmuxSkipReason();

// The example manifest with two agents whose long names share a prefix.
function longNames(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-finish-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(EXAMPLE_MANIFEST, '..', 'skills'), join(dir, 'skills'), { recursive: true });
  const text = readFileSync(EXAMPLE_MANIFEST, 'utf8')
    .replace(/^  implementer:/m, '  data-pipeline-maintainer-east:')
    .replace(/^  reviewer:/m, '  data-pipeline-maintainer-west:');
  writeFileSync(join(dir, 'bottle.yaml'), text);
  return join(dir, 'bottle.yaml');
}

t.test('at 80 columns: distinct long slugs, whole key hints, a scrollable plan, a rejection note', { skip }, async (t) => {
  const slugs: string[] = [];
  const h = await startDashboard(t, {
    width: 80, height: 24, manifest: longNames(t),
    before: async (x) => {
      slugs.push(await x.startFake('data-pipeline-maintainer-east'), await x.startFake('data-pipeline-maintainer-west'));
    },
  });
  const screen = await h.waitFor(/Agents \(2\)[\s\S]*q quit/);
  for (const slug of slugs) t.match(screen, new RegExp(`…\\S*${slug.slice(-11)} `), `${slug}'s distinct end is on screen`);
  t.notMatch(screen, /q q\s*$/m, 'no stray q q at the end of the hint bar');

  await h.keys('n', 'Enter');
  await h.waitFor(/more below \(j\/k or ↑\/↓ scroll\)/);
  await h.keys(...Array(20).fill('j'));
  const bottom = await h.waitFor(/routes\s+api\.github\.com[\s\S]*above \(j\/k/);
  t.notMatch(bottom, /more below/, 'the last plan line is reachable');
  await h.keys('Escape');

  const p = await h.propose(slugs[0]!, 'pypi.org');
  await h.waitFor(/Proposals \(1\)/);
  await h.keys('r'); // a new proposal takes the cursor (and focus)
  await h.waitFor(/Reject allowlist pypi\.org\?[\s\S]*note: _/);
  await h.srv.sendKeys(['use the mirror'], { literal: true });
  await h.waitFor(/note: use the mirror_/);
  await h.keys('Enter');
  await h.waitFor(/rejected allowlist pypi\.org/);
  const d = await readDecision(bottlePaths(h.stateDir, slugs[0]!).superviseDecisions, p.id);
  t.equal(d?.decision, 'rejected');
  t.equal(d?.note, 'use the mirror', 'the note is recorded as --note records it');
});

t.test('outside tmux: q closes the log view and the dashboard keeps running', { skip }, async (t) => {
  let slug = '';
  const h = await startDashboard(t, { outsideTmux: true, before: async (x) => { slug = await x.startFake('reviewer'); } });
  await h.waitFor(new RegExp(slug));
  await h.keys('x');
  await h.waitFor(new RegExp(`Stop ${slug}\\?`));
  await h.keys('y');
  await h.waitFor(new RegExp(`Stopping ${slug}[\\s\\S]*${slug} stopped`));
  await h.keys('q');
  // The hint bar shows `q quit` under the log view too: wait for the view itself to go (a
  // capture right after the key can still show it; one that never goes fails here).
  let screen = '';
  await pollUntil('the log view to close', async () => !/Stopping /.test(screen = await h.srv.capture()), { ...SLOW, describe: () => screen });
  t.match(screen, /Agents \(1\)/, 'the log view is closed; the dashboard is back');
  // Issue 14: the stopped bottle stays listed, as stopped.
  await h.waitFor(new RegExp(`Agents \\(1\\)[\\s\\S]*${slug}\\s.*stopped`));
  await h.keys('q');
  t.equal(await h.exitCode(), 0, 'a second q quits');
});
