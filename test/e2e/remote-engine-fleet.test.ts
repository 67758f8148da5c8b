// Issue 17, one cockpit for the fleet: a bottle on a manifest-named engine (`engines:` +
// the agent's `engine:`, no DOCKER_HOST anywhere) is listed with that name, its allowlist is
// edited and it is stopped and resumed from a shell that knows nothing of the engine; an engine
// that stops answering reads `unreachable` in `bottle ls` without holding it up; `bottle
// cleanup` finds an orphan on the manifest's engine. The engine is a second dockerd in a
// container (test/helpers/second-engine.ts), its filesystem not this machine's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import t from 'tap';
import { LABEL_SLUG, LABEL_STATE, stateKey } from '../../lib/backends/bundle/names.js';
import { bottleProcess } from '../helpers/cli.js';
import { IMAGES, labelled, sandboxGate, startSandbox } from '../helpers/sandbox.js';
import { startSecondEngine } from '../helpers/second-engine.js';

const gate = await sandboxGate();
t.setTimeout(15 * 60_000);

// Allows newhost.test in the file the CLI opens (its last argument).
const EDITOR_SCRIPT = `
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[process.argv.length - 1];
writeFileSync(file, readFileSync(file, 'utf8').replace('\\nallow:\\n', '\\nallow:\\n  - newhost.test\\n'));
`;

await t.test('a fleet: a bottle on a named engine, from shells that know nothing of it', { skip: gate.skip }, async (t) => {
  const e2 = await startSecondEngine(gate.docker!, { log: (l) => t.comment(`engine2: ${l}`) });
  t.teardown(() => e2.close());
  await e2.loadImages([...IMAGES]);

  const sb = await startSandbox(e2.docker, {
    agent: 'e2e-fleet',
    manifest: { top: ['engines:', '  buildbox:', `    host: ${e2.host}`], agent: ['engine: buildbox'] },
  });
  t.teardown(() => sb.close());
  t.notOk(sb.env.DOCKER_HOST, 'the shell names no engine: the manifest does');
  const home = sb.env.HOME!;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => bottleProcess(args, { env: { ...sb.env, ...extra }, cwd: home });

  await t.test('it runs on buildbox, and ls names the engine', async (t) => {
    t.same(await labelled(gate.docker!, sb.slug), [], 'nothing of it on this machine\'s engine');
    t.same(await labelled(e2.docker, sb.slug), [sb.names.agent, sb.names.externalNetwork, sb.names.internalNetwork, sb.names.bundle].sort());
    const ls = await cli(['ls', '--json']);
    t.equal(ls.exitCode, 0, ls.stderr);
    t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'running', engine: 'running', on: 'buildbox', dockerHost: e2.host, unreachable: null }]);
    t.match((await cli(['ls'])).stdout, new RegExp(`${sb.slug} .*running +running +buildbox`));
  });

  await t.test('allowlist edit reaches the bundle there', async (t) => {
    const script = join(home, 'editor.mjs');
    writeFileSync(script, EDITOR_SCRIPT);
    const curl = async (url: string) => (await sb.agent(`curl -sS -m 15 -o /dev/null -w '%{http_code}' ${url} 2>/dev/null`)).stdout.trim();
    t.equal(await curl('https://newhost.test/e2e/fleet-before'), '403', 'blocked at first');
    const edit = await cli(['allowlist', 'edit', sb.slug], { EDITOR: quote([process.execPath, script]) });
    t.equal(edit.exitCode, 0, edit.stderr);
    t.match(edit.stdout, /\+ allow newhost\.test/);
    t.equal(await curl('https://newhost.test/e2e/fleet-after'), '200', 'the gateway there reloaded the edited policy');
  });

  await t.test('an engine that stops answering reads unreachable, within the bound', async (t) => {
    const engine = gate.docker!.getContainer(e2.name);
    await engine.pause();
    try {
      const t0 = Date.now();
      const ls = await cli(['ls', '--json']);
      const took = Date.now() - t0;
      t.equal(ls.exitCode, 0, ls.stderr);
      t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'running', engine: 'unknown', on: 'buildbox', unreachable: /no answer in 5 s/ }]);
      t.ok(took < 30_000, `ls came back (${took} ms): the silent engine is given 5 s, not forever`);
      t.match((await cli(['ls'])).stdout, new RegExp(`${sb.slug} .*running +unreachable +buildbox .*engine unreachable: no answer in 5 s`));
    } finally {
      await engine.unpause();
    }
    t.match(JSON.parse((await cli(['ls', '--json'])).stdout), [{ slug: sb.slug, engine: 'running', unreachable: null }], 'back once it answers');
  });

  await t.test('stop and resume from that shell: it comes back on buildbox', async (t) => {
    await sb.upstream.remove(); // the test's own container on the bottle's egress network
    const stop = await cli(['stop', sb.slug]);
    t.equal(stop.exitCode, 0, stop.stderr);
    t.same(await labelled(e2.docker, sb.slug), [], 'nothing left there');
    const resume = await cli(['resume', sb.slug, '--no-attach']);
    t.equal(resume.exitCode, 0, resume.stderr);
    t.same(await labelled(gate.docker!, sb.slug), [], 'not here');
    t.same(await labelled(e2.docker, sb.slug), [sb.names.agent, sb.names.externalNetwork, sb.names.internalNetwork, sb.names.bundle].sort(), 'there again');
    t.match(JSON.parse((await cli(['ls', '--json'])).stdout), [{ slug: sb.slug, state: 'running', engine: 'running', on: 'buildbox' }]);
  });

  await t.test('cleanup finds an orphan on the manifest\'s engine', async (t) => {
    // What a bottle whose state dir was deleted leaves behind: a labelled network of this state root.
    const ghost = 'e2e-fleet-ghost22';
    await e2.docker.createNetwork({ Name: `bottle-${ghost}-leftover`, Labels: { [LABEL_SLUG]: ghost, [LABEL_STATE]: stateKey(sb.env.BOTTLE_STATE_DIR!) } });
    const dry = await cli(['cleanup', '--dry-run']);
    t.equal(dry.exitCode, 0, dry.stderr);
    t.match(dry.stdout, new RegExp(`would remove resource network bottle-${ghost}-leftover \\(docker on buildbox, ${ghost}\\)`));
    t.notMatch(dry.stdout, new RegExp(sb.slug), 'the running bottle is not an orphan');
    const done = await cli(['cleanup']);
    t.equal(done.exitCode, 0, done.stderr);
    t.match(done.stdout, new RegExp(`removed resource network bottle-${ghost}-leftover \\(docker on buildbox`));
    t.same(await e2.docker.listNetworks({ filters: { label: [`${LABEL_SLUG}=${ghost}`] } }), [], 'gone from buildbox');
  });
});
