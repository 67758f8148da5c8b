import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { ManifestError, loadManifest, locateManifest, manifestNotice } from '../../lib/manifest/index.js';
import { projectRoot } from '../../lib/paths.js';

const GOOD = 'version: 1\nagents:\n  solo: {}\n';

// A scratch tree: home/, cwd/, xdg/; removed after the test.
function scratch(t: { teardown(fn: () => void): void }): { root: string; home: string; cwd: string; xdg: string } {
  const root = mkdtempSync(join(tmpdir(), 'bottle-lookup-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dirs = { root, home: join(root, 'home'), cwd: join(root, 'cwd'), xdg: join(root, 'xdg') };
  for (const d of [dirs.home, dirs.cwd, dirs.xdg]) mkdirSync(d);
  return dirs;
}

function put(path: string, text = GOOD): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

t.test('--manifest wins and is shown as given', async (t) => {
  const d = scratch(t);
  put(join(d.cwd, 'bottle.yaml'));
  put(join(d.cwd, 'conf', 'mine.yaml'));
  const m = locateManifest({ flag: 'conf/mine.yaml', cwd: d.cwd, env: { HOME: d.home } });
  t.same(m, { path: join(d.cwd, 'conf', 'mine.yaml'), display: 'conf/mine.yaml', source: 'flag' });
  t.throws(() => locateManifest({ flag: 'nope.yaml', cwd: d.cwd, env: {} }), new UserError('manifest not found: nope.yaml (given with --manifest)'));
});

t.test('./bottle.yaml comes before the XDG config', async (t) => {
  const d = scratch(t);
  put(join(d.cwd, 'bottle.yaml'));
  put(join(d.xdg, 'bottle', 'bottle.yaml'));
  const m = locateManifest({ cwd: d.cwd, env: { HOME: d.home, XDG_CONFIG_HOME: d.xdg } });
  t.same(m, { path: join(d.cwd, 'bottle.yaml'), display: 'bottle.yaml', source: 'cwd' });
  t.equal(manifestNotice(m), 'bottle: using manifest ./bottle.yaml');
});

t.test('$XDG_CONFIG_HOME/bottle/bottle.yaml, else ~/.config', async (t) => {
  const d = scratch(t);
  const xdgFile = join(d.xdg, 'bottle', 'bottle.yaml');
  put(xdgFile);
  t.same(locateManifest({ cwd: d.cwd, env: { HOME: d.home, XDG_CONFIG_HOME: d.xdg } }), { path: xdgFile, display: xdgFile, source: 'xdg' });
  const homeFile = join(d.home, '.config', 'bottle', 'bottle.yaml');
  put(homeFile);
  t.same(locateManifest({ cwd: d.cwd, env: { HOME: d.home } }).path, homeFile, 'XDG default is ~/.config');
  t.same(locateManifest({ cwd: d.cwd, env: { HOME: d.home, XDG_CONFIG_HOME: 'relative/dir' } }).path, homeFile,
    'a relative XDG_CONFIG_HOME is ignored, as the XDG spec says');
});

t.test('falls back to the built-in example', async (t) => {
  const d = scratch(t);
  const m = locateManifest({ cwd: d.cwd, env: { HOME: d.home } });
  t.same(m, { path: join(projectRoot(), 'examples', 'bottle.yaml'), display: 'examples/bottle.yaml', source: 'embedded' });
  t.equal(manifestNotice(m), 'bottle: using manifest examples/bottle.yaml (built-in example; create ./bottle.yaml to use your own)');
  t.same(Object.keys(loadManifest({ cwd: d.cwd, env: {} }).manifest.agents), ['implementer', 'reviewer'], 'no HOME: skip XDG');
});

t.test('loadManifest throws ManifestError with every issue', async (t) => {
  const d = scratch(t);
  put(join(d.cwd, 'bottle.yaml'), 'version: 1\nagents:\n  a: { prompt: 1, supervise: 2 }\n');
  const err = t.throws(() => loadManifest({ cwd: d.cwd, env: {} })) as ManifestError;
  t.type(err, ManifestError);
  t.equal(err.issues.length, 2);
  t.equal(err.message, 'bottle.yaml:3:16: agents.a.prompt: expected a prompt, got a number (1) (and 1 more; run bottle manifest check)');
  put(join(d.cwd, 'other dir', 'x.yaml'), 'version: 1\nagents:\n  a: { prompt: 1, supervise: 2 }\n');
  const flagged = t.throws(() => loadManifest({ flag: 'other dir/x.yaml', cwd: d.cwd, env: {} })) as ManifestError;
  t.match(flagged.message, /^other dir\/x\.yaml:3:16: .*\(and 1 more; run bottle manifest check --manifest 'other dir\/x\.yaml'\)$/);
});

t.test('a directory or unreadable path is a one-line UserError', async (t) => {
  const d = scratch(t);
  mkdirSync(join(d.cwd, 'bottle.yaml'));
  t.throws(() => loadManifest({ cwd: d.cwd, env: {} }), new UserError('manifest bottle.yaml is a directory, not a file'));
});
