// Bottle state: root resolution, slug minting, layout, metadata, list, removal.
import t from 'tap';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../../lib/errors.js';
import {
  bottlePaths, createBottle, listBottles, mintSlug, readMetadata, removeBottle,
  type RandomSource, SLUG_ALPHABET, slugPrefix, stateRoot, updateMetadata, validateSlug, writeMetadata,
} from '../../lib/state/index.js';
import { projectRoot } from '../../lib/paths.js';
import { bottleProcess, tsxArgv } from '../helpers/cli.js';

async function tempRoot(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-state-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'state');
}

// Returns the given byte patterns in order (one per mint), then repeats the last one.
function scripted(...fills: number[]): RandomSource & { calls: number } {
  const fn = Object.assign((size: number) => new Uint8Array(size).fill(fills[Math.min(fn.calls++, fills.length - 1)]!), { calls: 0 });
  return fn;
}

t.test('stateRoot: BOTTLE_STATE_DIR, then XDG_STATE_HOME, then ~/.local/state', async (t) => {
  t.equal(stateRoot({ BOTTLE_STATE_DIR: '/srv/b', XDG_STATE_HOME: '/x', HOME: '/h' }), '/srv/b');
  t.equal(stateRoot({ XDG_STATE_HOME: '/x', HOME: '/h' }), '/x/bottle');
  t.equal(stateRoot({ HOME: '/h' }), '/h/.local/state/bottle');
  t.equal(stateRoot({ BOTTLE_STATE_DIR: '', XDG_STATE_HOME: '', HOME: '/h' }), '/h/.local/state/bottle', 'empty = unset');
  t.equal(stateRoot({ XDG_STATE_HOME: 'rel/dir', HOME: '/h' }), '/h/.local/state/bottle', 'relative XDG value ignored');
  t.equal(stateRoot({ BOTTLE_STATE_DIR: 'rel' }), join(process.cwd(), 'rel'), 'BOTTLE_STATE_DIR made absolute');
  t.equal(stateRoot({}, '/home/op'), '/home/op/.local/state/bottle');
});

t.test('mintSlug: <agent>-<6 chars of [a-z2-7]>', async (t) => {
  for (let i = 0; i < 50; i++) t.match(mintSlug('implementer'), /^implementer-[a-z2-7]{6}$/);
  t.equal(mintSlug('rev', () => Uint8Array.from([0, 1, 25, 26, 31, 255])), 'rev-abz277');
  t.equal(SLUG_ALPHABET.length, 32);
  t.equal(slugPrefix('My Agent/../x'), 'my-agent-x');
  t.equal(slugPrefix('___'), 'agent');
  t.ok(slugPrefix('a'.repeat(100)).length <= 40);
  t.throws(() => mintSlug('a', () => new Uint8Array(2)), /too few bytes/);
});

t.test('validateSlug rejects path traversal and odd names', async (t) => {
  for (const bad of ['../x', '..', '.', 'a/b', '/abs', 'UPPER-abcdef', '', 'a b', 'x\0y', '-lead', 'a'.repeat(65)]) {
    t.throws(() => validateSlug(bad), UserError, JSON.stringify(bad));
  }
  t.equal(validateSlug('implementer-k3x7qa'), 'implementer-k3x7qa');
  const root = await tempRoot(t);
  t.throws(() => bottlePaths(root, '../etc'), UserError);
  await t.rejects(readMetadata(root, '../x'), UserError);
  await t.rejects(removeBottle(root, '..'), UserError);
  await t.rejects(updateMetadata(root, 'a/../../b', {}), UserError);
});

t.test('createBottle makes the §5 layout with a private dir and valid metadata', async (t) => {
  const root = await tempRoot(t);
  const now = () => new Date('2026-01-02T03:04:05.000Z');
  const b = await createBottle(root, 'implementer', { backend: 'docker', manifestPath: '/m/bottle.yaml', now });
  t.match(b.slug, /^implementer-[a-z2-7]{6}$/);
  t.equal((await stat(b.paths.dir)).mode & 0o777, 0o700);
  for (const d of [b.paths.policy, b.paths.superviseQueue, b.paths.superviseDecisions, b.paths.events]) {
    t.ok((await stat(d)).isDirectory(), d);
  }
  t.same(await readMetadata(root, b.slug), {
    schema: 1, slug: b.slug, agent: 'implementer', backend: 'docker',
    created: '2026-01-02T03:04:05.000Z', manifestPath: '/m/bottle.yaml', resources: {},
  });
  t.equal((await stat(b.paths.metadata)).mode & 0o777, 0o600);
  t.same(b.metadata, await readMetadata(root, b.slug));
  t.same((await readdir(b.paths.dir)).sort(), ['events', 'metadata.json', 'policy', 'supervise']);
});

t.test('a colliding random source retries until a free slug', async (t) => {
  const root = await tempRoot(t);
  const random = scripted(0, 0, 0, 1);
  const a = await createBottle(root, 'x', { backend: 'docker', random });
  const b = await createBottle(root, 'x', { backend: 'smolvm', random });
  t.equal(a.slug, 'x-aaaaaa');
  t.equal(b.slug, 'x-bbbbbb');
  t.equal(random.calls, 4, 'second mint collided twice');
  await t.rejects(createBottle(root, 'x', { backend: 'docker', random: scripted(0), maxAttempts: 3 }), /after 3 attempts/);
});

t.test('concurrent mints in one process never share a slug', async (t) => {
  const root = await tempRoot(t);
  const random = scripted(0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
  const made = await Promise.all(Array.from({ length: 6 }, () => createBottle(root, 'par', { backend: 'docker', random })));
  const slugs = made.map((b) => b.slug);
  t.equal(new Set(slugs).size, 6);
  const listed = await listBottles(root);
  t.same(listed.map((e) => e.slug), [...slugs].sort());
  t.ok(listed.every((e) => e.ok));
});

t.test('concurrent mints in separate processes never share a slug', async (t) => {
  const root = await tempRoot(t);
  const mod = pathToFileURL(join(projectRoot(), 'lib', 'state', 'index.ts')).href;
  // 2 bits of entropy per character: 64 possible slugs, so processes collide often.
  const code = `
    const { createBottle } = await import(${JSON.stringify(mod)});
    const random = (n) => Uint8Array.from({ length: n }, () => Math.random() < 0.5 ? 0 : 1);
    const out = [];
    for (let i = 0; i < 6; i++) out.push((await createBottle(process.argv[1], 'p', { backend: 'docker', random, maxAttempts: 200 })).slug);
    console.log(out.join(' '));`;
  const runs = await Promise.all([0, 1, 2].map(() =>
    execa(process.execPath, [...tsxArgv(), '--input-type=module', '-e', code, root])));
  const slugs = runs.flatMap((r) => r.stdout.trim().split(' '));
  t.equal(slugs.length, 18);
  t.equal(new Set(slugs).size, 18, 'all distinct');
  t.equal((await listBottles(root)).filter((e) => e.ok).length, 18);
});

t.test('metadata writes are atomic and leave no temp file', async (t) => {
  const root = await tempRoot(t);
  const b = await createBottle(root, 'w', { backend: 'docker' });
  await writeMetadata(root, { ...b.metadata, state: 'running' });
  const m = await updateMetadata(root, b.slug, { claudeSessionId: 'abc' });
  t.equal(m.state, 'running');
  t.equal(m.claudeSessionId, 'abc');
  t.same((await readdir(b.paths.dir)).sort(), ['events', 'metadata.json', 'policy', 'supervise'], 'no temp or lock files');
  t.same(JSON.parse(await readFile(b.paths.metadata, 'utf8')), m);
  await t.rejects(writeMetadata(root, { ...m, backend: 'podman' as 'docker' }), /"backend" must be one of/);
  t.same(await readMetadata(root, b.slug), m, 'an invalid record is never written');
});

t.test('updateMetadata: concurrent read-modify-writes do not lose updates', async (t) => {
  const root = await tempRoot(t);
  const b = await createBottle(root, 'u', { backend: 'docker' });
  await Promise.all(Array.from({ length: 10 }, (_, i) => updateMetadata(root, b.slug, (m) => ({
    ...m, resources: { ...m.resources, containers: [...(m.resources.containers ?? []), `c${i}`] },
  }))));
  const m = await readMetadata(root, b.slug);
  t.equal(m.resources.containers?.length, 10);
  await t.rejects(updateMetadata(root, b.slug, (cur) => ({ ...cur, slug: 'other-aaaaaa' })), /may not change slug/);
  await t.rejects(updateMetadata(root, 'nope-aaaaaa', {}), /no bottle nope-aaaaaa/);
});

t.test('corrupt or invalid metadata is a UserError naming the file', async (t) => {
  const root = await tempRoot(t);
  const b = await createBottle(root, 'c', { backend: 'docker' });
  await writeFile(b.paths.metadata, '{"schema": 1, "slug": ');
  const err = await readMetadata(root, b.slug).catch((e: unknown) => e);
  t.type(err, UserError);
  t.match((err as Error).message, `${b.paths.metadata}: corrupt metadata (not valid JSON`);
  await writeFile(b.paths.metadata, JSON.stringify({ ...b.metadata, schema: 2 }));
  await t.rejects(readMetadata(root, b.slug), /written by a newer bottle/);
  await writeFile(b.paths.metadata, JSON.stringify({ ...b.metadata, resources: { containers: 'x' } }));
  await t.rejects(readMetadata(root, b.slug), /"resources.containers" must be a list of strings/);
  await writeFile(b.paths.metadata, JSON.stringify({ ...b.metadata, slug: 'other-aaaaaa' }));
  await t.rejects(readMetadata(root, b.slug), /"slug" is other-aaaaaa/);
  await writeFile(b.paths.metadata, JSON.stringify({ ...b.metadata, future: { x: 1 } }));
  t.same((await readMetadata(root, b.slug) as unknown as { future: unknown }).future, { x: 1 }, 'unknown keys kept');
});

t.test('listBottles skips strays and reports a corrupt bottle instead of throwing', async (t) => {
  const root = await tempRoot(t);
  t.same(await listBottles(root), [], 'missing root is empty');
  const good = await createBottle(root, 'good', { backend: 'docker' });
  const bad = await createBottle(root, 'bad', { backend: 'smolvm' });
  await writeFile(bad.paths.metadata, 'not json');
  await writeFile(join(root, 'stray-file'), '');
  await mkdir(join(root, 'half-made-aaaaaa'));
  await mkdir(join(root, '.hidden'));
  await mkdir(join(root, 'lost+found'));
  const entries = await listBottles(root);
  t.same(entries.map((e) => [e.slug, e.ok]), [[bad.slug, false], [good.slug, true]]);
  const [b, g] = entries;
  t.match(b, { ok: false, error: /corrupt metadata/ });
  t.match(g, { ok: true, metadata: { agent: 'good' } });
});

t.test('removeBottle removes a bottle\'s state once; a second time says it was not there', async (t) => {
  const root = await tempRoot(t);
  const kept = await createBottle(root, 'kept', { backend: 'docker' });
  t.equal(await removeBottle(root, kept.slug), true);
  t.equal(await removeBottle(root, kept.slug), false);
  t.same(await listBottles(root), []);
});

t.test('regression: a bottle being removed is never listed as broken (its state disappears at once)', async (t) => {
  const root = await tempRoot(t);
  for (let round = 0; round < 15; round++) {
    const b = await createBottle(root, 'gone', { backend: 'docker' });
    // Enough files that a recursive delete in place takes a while.
    await Promise.all(Array.from({ length: 300 }, (_, i) => writeFile(join(b.paths.dir, `f${i}`), 'x')));
    let done = false;
    const removing = removeBottle(root, b.metadata.slug).finally(() => { done = true; });
    const seen: string[] = [];
    for (let looks = 0; !done && looks < 10_000; looks++) {
      for (const e of await listBottles(root)) if (!e.ok) seen.push(`${e.slug}: ${e.error}`);
    }
    await removing;
    t.same(seen, [], `round ${round}: listed only whole or not at all`);
  }
  t.same((await readdir(root)).filter((n) => n !== '.lock' && !n.startsWith('.state')), [], 'nothing left behind, no tombstone');
});

t.test('a state dir that is a file is the user\'s to fix: one line from every verb, no internal error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-state-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'state');
  await writeFile(file, 'not a directory\n');
  const env = { ...process.env, BOTTLE_STATE_DIR: file, ANTHROPIC_API_KEY: 'placeholder-value' };
  for (const argv of [['ls'], ['stop', 'x'], ['proposals'], ['cleanup'], ['usage']]) {
    const r = await bottleProcess(argv, { env, fake: true });
    t.equal(r.exitCode, 1, argv.join(' '));
    t.equal(r.stderr, `bottle: state dir ${file} is not a directory; set BOTTLE_STATE_DIR to a directory of yours, or move it out of the way`, argv.join(' '));
  }
  const start = await bottleProcess(['start', 'reviewer', '--yes', '--no-attach'], { env, fake: true, cwd: dir });
  t.equal(start.exitCode, 1);
  t.match(start.stderr, new RegExp(`bottle: cannot create state dir ${file}: a file is in the way; set BOTTLE_STATE_DIR to a writable directory$`));
  t.equal(await readFile(file, 'utf8'), 'not a directory\n', 'the file is left as it was');
});
