// buildImages against a fake engine (only the calls it makes) and a fake checkout: build args,
// labels, the CA in the context, skipping unchanged inputs, --no-cache, failures as UserError.
import t from 'tap';
import type Docker from 'dockerode';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { UserError } from '../../lib/errors.js';
import { BOOTSTRAP_BASE, buildImages, OFFICIAL_BASE, type BuildDeps } from '../../lib/images/index.js';
import type { Runner } from '../../lib/run/index.js';
import { bottleInProcess } from '../helpers/cli.js';

interface Built { tag: string; opts: Record<string, unknown>; src: string[]; ca: string }

function fakeEngine(stream: (tag: string) => string) {
  const images = new Map<string, { Id: string; Size: number; Config: { Labels: Record<string, string> } }>([
    [BOOTSTRAP_BASE, { Id: 'sha256:base', Size: 1, Config: { Labels: {} } }],
  ]);
  const builds: Built[] = [];
  const removed: string[] = [];
  let n = 0;
  const docker = {
    getImage: (name: string) => ({
      inspect: async () => {
        const found = images.get(name);
        if (!found) throw Object.assign(new Error(`no such image: ${name}`), { statusCode: 404 });
        return found;
      },
      remove: async () => { removed.push(name); },
    }),
    pull: async () => Readable.from(['{"status":"Pulling"}\n{"error":"lookup images.registry.test: no such host"}\n']),
    buildImage: async (ctx: { context: string; src: string[] }, opts: Record<string, unknown>) => {
      const tag = opts.t as string;
      builds.push({ tag, opts, src: ctx.src, ca: readFileSync(join(ctx.context, 'build-ca.crt'), 'utf8') });
      const text = stream(tag);
      if (!text.includes('errorDetail')) {
        images.set(tag, { Id: `sha256:${String(++n).padStart(12, '0')}`, Size: 312e6, Config: { Labels: opts.labels as Record<string, string> } });
      }
      return Readable.from([text]);
    },
  } as unknown as Docker;
  return { docker, builds, removed };
}

const OK = '{"stream":"Step 1/2 : FROM base\\n"}\n{"stream":"Step 2/2 : RUN true\\n"}\n{"stream":"Successfully built x\\n"}\n';
const FAIL = '{"stream":"Step 1/2 : FROM base\\n"}\n{"stream":"Step 2/2 : RUN npm ci\\n"}\n{"stream":"npm ERR! network\\n"}\n' +
  '{"errorDetail":{"message":"The command \'/bin/sh -c npm ci\' returned a non-zero code: 1"},"error":"x"}\n';

function fakeCheckout(t: { teardown(fn: () => unknown): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'bottle-checkout-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'package.json': '{"name":"bottle"}', 'package-lock.json': '{}', 'tsconfig.build.json': '{"include":["commands","lib"]}',
    'bin/bottle.js': '', 'commands/main.ts': '', 'lib/a.ts': '', 'lib/rules.toml': 'x=1', 'images/Dockerfile.agent': 'FROM a',
    'images/Dockerfile.sidecars': 'FROM s', 'images/build-helper.sh': '#!/bin/sh', 'ca.pem': 'PEM', 'dist/commands/main.js': '',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

const npmRunner: Runner = async (argv) => ({
  argv: [...argv], exitCode: 0, stdout: argv[3] === 'registry' ? 'https://npm.example.test/' : 'null',
  stderr: '', durationMs: 1, failed: false, timedOut: false,
});

function deps(root: string, docker: Docker, log: string[], run: Runner = npmRunner): BuildDeps {
  return { docker, run, env: { HTTPS_PROXY: 'http://proxy.test:3128' }, cwd: root, root, tty: false, log: (l) => log.push(l) };
}

t.test('first run builds both with labels and build args; the second skips both', async (t) => {
  const root = fakeCheckout(t);
  const engine = fakeEngine(() => OK);
  const log: string[] = [];
  const report = await buildImages({ caFile: 'ca.pem' }, deps(root, engine.docker, log));
  t.same(engine.builds.map((b) => b.tag), ['bottle-agent:latest', 'bottle-sidecars:latest']);
  const [agent, sidecars] = engine.builds;
  t.match(agent!.opts, {
    dockerfile: 'Dockerfile', nocache: false, pull: false,
    buildargs: { BASE: BOOTSTRAP_BASE, NPM_CONFIG_REGISTRY: 'https://npm.example.test/', HTTPS_PROXY: 'http://proxy.test:3128' },
    labels: { 'dev.bottle.image': 'agent', 'dev.bottle.base': BOOTSTRAP_BASE },
  });
  t.match((agent!.opts.labels as Record<string, string>)['dev.bottle.source'], /^[0-9a-f]{64}$/);
  t.same(agent!.src, ['Dockerfile', 'build-ca.crt', 'build-helper.sh']);
  t.same(sidecars!.src, ['Dockerfile', 'app', 'build-ca.crt', 'build-helper.sh']);
  t.equal(agent!.ca, 'PEM', 'the --ca-file content is the context build-ca.crt');
  t.match(report, { base: { image: BOOTSTRAP_BASE, source: 'bootstrap-local' }, ca: { source: '--ca-file' } });
  t.same(report.images.map((i) => i.skipped), [false, false]);
  t.ok(log.includes('[agent] Step 2/2 : RUN true'), 'step lines are logged');
  t.match(log.join('\n'), /pull failed \(lookup images\.registry\.test: no such host\)/);

  const again: string[] = [];
  const second = await buildImages({ caFile: 'ca.pem' }, deps(root, engine.docker, again));
  t.equal(engine.builds.length, 2, 'no new builds');
  t.same(second.images.map((i) => i.skipped), [true, true]);
  t.match(again.join('\n'), /\[agent\] bottle-agent:latest is up to date \(source [0-9a-f]{12}\), skipping the build/);

  writeFileSync(join(root, 'ca.pem'), 'OTHER PEM');
  await buildImages({ caFile: 'ca.pem', only: 'agent' }, deps(root, engine.docker, []));
  t.equal(engine.builds.length, 3, 'a changed CA rebuilds (only the requested image)');
  t.same(engine.removed, ['sha256:000000000001'], 'the replaced image is removed');

  await buildImages({ caFile: 'ca.pem', only: 'agent', noCache: true }, deps(root, engine.docker, []));
  t.match(engine.builds[3]!.opts, { nocache: true }, '--no-cache forces a build without the layer cache');
});

t.test('an unchanged rebuild asks no registry; a failed pull is one short line (issue 20: a Docker Hub pull and a 200-character daemon error on every run)', async (t) => {
  const root = fakeCheckout(t);
  const engine = fakeEngine(() => OK);
  let pulls = 0;
  const daemon = 'Get \\"https://registry-1.docker.io/v2/\\": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host';
  (engine.docker as unknown as { pull: unknown }).pull = async () => {
    pulls++;
    return Readable.from([`{"status":"Pulling"}\n{"error":"${daemon}"}\n`]);
  };
  const first: string[] = [];
  await buildImages({}, deps(root, engine.docker, first));
  t.equal(pulls, 1, 'the first build tries Docker Hub once');
  const failed = first.filter((l) => /pull failed/.test(l));
  t.same(failed, [`${OFFICIAL_BASE} is not local and the pull failed (registry-1.docker.io: no such host); falling back to ${BOOTSTRAP_BASE}`]);

  const again: string[] = [];
  const second = await buildImages({}, deps(root, engine.docker, again));
  t.same(second.images.map((i) => i.skipped), [true, true]);
  t.equal(pulls, 1, 'no pull when the images are unchanged');
  t.notMatch(again.join('\n'), /pull failed|registry-1/, 'and no daemon error');
  t.match(again.join('\n'), /base: bottle-base:node22-bookworm \(present locally; the current images use it/);

  await buildImages({ noCache: true, only: 'agent' }, deps(root, engine.docker, []));
  t.equal(pulls, 2, '--no-cache chooses the base anew');
});

t.test('a failed step becomes a UserError naming the image, step and output', async (t) => {
  const root = fakeCheckout(t);
  const engine = fakeEngine((tag) => (tag.startsWith('bottle-sidecars') ? FAIL : OK));
  const err = await buildImages({}, deps(root, engine.docker, [])).catch((e: unknown) => e);
  t.type(err, UserError);
  t.match((err as Error).message, /^building the sidecars image \(bottle-sidecars:latest\) failed at Step 2\/2 : RUN npm ci: The command/);
  t.match((err as Error).message, /\| npm ERR! network/);
});

t.test('an engine that refuses the build (HTTP error) is a UserError too', async (t) => {
  const root = fakeCheckout(t);
  const engine = fakeEngine(() => OK);
  (engine.docker as unknown as { buildImage: unknown }).buildImage = async () => {
    throw new Error('(HTTP code 500) server error - dockerfile parse error line 3: unknown instruction: RUNN');
  };
  await t.rejects(buildImages({ only: 'agent' }, deps(root, engine.docker, [])),
    { name: 'UserError', message: /agent image \(bottle-agent:latest\): the engine refused the build: .*unknown instruction: RUNN/ });
});

t.test('a stale dist/ runs npm run build through the runner first; its failure is a UserError', async (t) => {
  const root = fakeCheckout(t);
  rmSync(join(root, 'dist'), { recursive: true });
  const calls: string[][] = [];
  const run: Runner = async (argv, opts) => {
    calls.push([...argv]);
    if (argv[1] === 'run') return { argv: [...argv], exitCode: 2, stdout: 'lib/a.ts(1,1): error TS1', stderr: '', durationMs: 1, failed: true, timedOut: false };
    return npmRunner(argv, opts);
  };
  const log: string[] = [];
  await t.rejects(buildImages({ only: 'sidecars' }, deps(root, fakeEngine(() => OK).docker, log, run)), /npm run build failed \(exit 2\)/);
  t.ok(calls.some((c) => c.join(' ') === 'npm run build'));
  t.ok(log.includes('[npm run build] lib/a.ts(1,1): error TS1'), 'its output is shown');
  mkdirSync(join(root, 'dist/commands'), { recursive: true });
  writeFileSync(join(root, 'dist/commands/main.js'), '// left over from an earlier build');
  await t.rejects(buildImages({ only: 'sidecars' }, deps(root, fakeEngine(() => OK).docker, [], run)), /npm run build failed/,
    'regression: a dist/ that exists after a failed build is not trusted on the rerun');
});

t.test('the verb rejects an unknown --only before touching the engine', async (t) => {
  const r = await bottleInProcess(['images', 'build', '--only', 'gateway']);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /--only gateway: expected agent or sidecars/);
});
