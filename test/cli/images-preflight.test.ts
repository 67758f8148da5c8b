// A manifest image missing from the engine is noticed before start: by `start --dry-run` (which
// still succeeds, and says "not checked" without an engine) and by `doctor`, each with the fix.
// Regression for issue 20: "a custom image that is missing gets 'run bottle images build' ...
// and neither dry-run nor doctor notices".
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleInProcess, bottleProcess } from '../helpers/cli.js';
import { fakeDockerEngine } from '../helpers/fakebin.js';

const ROUTE_ENV = { ANTHROPIC_API_KEY: `sk-ant-${'x'.repeat(40)}` };
const MISSING = 'warning: image acme/agent:1 is not in the Docker engine; build or pull it into this engine first (docker pull acme/agent:1), or drop image: from the manifest to use bottle-agent:latest';

// A manifest whose one agent runs a custom image, in a temp dir with its own HOME and state.
function world(t: { teardown(fn: () => void): void }): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-images-pre-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'home'));
  writeFileSync(join(dir, 'bottle.yaml'), ['version: 1', 'agents:', '  dev:', '    image: acme/agent:1', ''].join('\n'));
  return { dir, env: { PATH: process.env.PATH, HOME: join(dir, 'home'), BOTTLE_STATE_DIR: join(dir, 'state'), ...ROUTE_ENV } };
}

t.test('start --dry-run: a warning with the pull fix; exit 0', async (t) => {
  const w = world(t);
  const engine = await fakeDockerEngine(t);
  const env = { ...w.env, DOCKER_HOST: engine.host };
  const [text, json] = await Promise.all([
    bottleProcess(['start', 'dev', '--dry-run'], { cwd: w.dir, env, fake: true }),
    bottleProcess(['start', 'dev', '--dry-run', '--json'], { cwd: w.dir, env, fake: true }),
  ]);
  t.equal(text.exitCode, 0, text.stderr);
  t.match(text.stdout, new RegExp(`^${MISSING.replace(/[().]/g, '\\$&')}$`, 'm'));
  t.notMatch(text.stdout, /bottle-sidecars:latest is not/, 'the sidecars image is there');
  const doc = JSON.parse(json.stdout) as { images: unknown; warnings: string[] };
  t.same(doc.images, { checked: true, missing: ['acme/agent:1'] });
  t.same(doc.warnings, [MISSING]);
});

t.test('start --dry-run without an engine: "not checked", still exit 0', async (t) => {
  const w = world(t);
  const host = `unix://${join(w.dir, 'no-engine.sock')}`;
  const r = await bottleProcess(['start', 'dev', '--dry-run', '--json'], { cwd: w.dir, env: { ...w.env, DOCKER_HOST: host }, fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { images: { checked: boolean; why: string }; warnings: string[] };
  t.same(doc.images, { checked: false, why: `${host}: no socket at ${join(w.dir, 'no-engine.sock')} (is dockerd running?)` });
  t.same(doc.warnings, [`note: images not checked (${doc.images.why})`]);
});

t.test('doctor: the manifest image is missing, with the pull fix', async (t) => {
  const w = world(t);
  const engine = await fakeDockerEngine(t);
  const r = await bottleInProcess(['doctor', '--json'], { cwd: w.dir, env: { ...w.env, DOCKER_HOST: engine.host } });
  const images = (JSON.parse(r.stdout) as { checks: Array<{ name: string }> }).checks.find((c) => c.name === 'images');
  t.same(images, {
    name: 'images', status: 'warn', required: false, detail: 'not in the engine: acme/agent:1',
    fix: 'build or pull it into this engine first (docker pull acme/agent:1), or drop image: from the manifest to use bottle-agent:latest',
  });
});
