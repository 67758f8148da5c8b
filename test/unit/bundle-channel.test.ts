// The host↔bundle control plane (lib/backends/bundle/channel.ts) against real shell behaviour:
// a LocalContainer (test/helpers/local-container.ts) runs channel.ts's execs (the sh pull
// script, the `tail -F` follow, the kill of that tail, the `printf >>` append) as local
// processes over a temp dir standing for the bundle's filesystem, and serves its archive
// uploads and downloads from there.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  appendBundleEvent, BUNDLE_EVENTS_FILE, type BundleSeed, followBundle, pullBundle, pushDecision, pushFiles, pushPolicyDir, seedArchive, seedBundle,
} from '../../lib/backends/bundle/channel.js';
import { BUNDLE_PATHS } from '../../lib/backends/bundle/names.js';
import { LocalContainer, readTar } from '../helpers/local-container.js';
import { pollUntil, within } from '../helpers/wait.js';

const ids = { uid: 4242, gid: 4343 };

interface Setup {
  dir: string;
  c: LocalContainer;
  /** The bundle's events file, as the host sees the local container's copy. */
  bundleEvents: string;
  bundleQueue: string;
  paths: { eventsFile: string; superviseQueue: string; policy: string; superviseDecisions: string };
}

function setup(t: { teardown(fn: () => unknown): void }): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-channel-'));
  const c = new LocalContainer(join(dir, 'bundle'));
  t.teardown(() => {
    c.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const d of [BUNDLE_PATHS.eventsDir, BUNDLE_PATHS.queueDir, BUNDLE_PATHS.decisionsDir, BUNDLE_PATHS.policyDir]) mkdirSync(c.hostPath(d), { recursive: true });
  const host = join(dir, 'host');
  const paths = {
    eventsFile: join(host, 'events.jsonl'),
    superviseQueue: join(host, 'supervise', 'queue'),
    policy: join(host, 'policy'),
    superviseDecisions: join(host, 'supervise', 'decisions'),
  };
  return { dir, c, bundleEvents: c.hostPath(BUNDLE_EVENTS_FILE), bundleQueue: c.hostPath(BUNDLE_PATHS.queueDir), paths };
}

const read = (f: string): Buffer => (existsSync(f) ? readFileSync(f) : Buffer.alloc(0));
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('seedArchive: dirs, files and copyDirs as members with their owner\'s ids and modes', async (t) => {
  const s = setup(t);
  const src = join(s.dir, 'src');
  mkdirSync(join(src, 'policy', 'sub'), { recursive: true });
  writeFileSync(join(src, 'events.jsonl'), '{"type":"old"}\n');
  writeFileSync(join(src, 'policy', 'a.yaml'), 'a: 1\n');
  writeFileSync(join(src, 'policy', 'b.toml'), 'b = 2\n');
  writeFileSync(join(src, 'policy', '.lock'), 'x');
  writeFileSync(join(src, 'policy', 'sub', 'c.yaml'), 'nested');
  const seed: BundleSeed = {
    dirs: [{ path: '/bottle/events', mode: 0o700, owner: 'bundle' }, { path: '/bottle/policy', mode: 0o755 }],
    files: [
      { target: BUNDLE_EVENTS_FILE, mode: 0o600, from: join(src, 'events.jsonl'), owner: 'bundle' },
      { target: '/bottle/ca/ca.pem', mode: 0o644, content: 'PEM' },
      { target: '/bottle/secret/opt', mode: 0o640, from: join(src, 'missing'), optional: true },
    ],
    copyDirs: [{ from: join(src, 'policy'), to: '/bottle/policy', mode: 0o640 }, { from: join(src, 'nope'), to: '/bottle/q', mode: 0o644, owner: 'bundle' }],
  };
  const owners = { bundle: ids, keeper: { uid: 0, gid: 4343 } };
  const members = readTar(await seedArchive(seed, owners));
  t.same(members.map((m) => ({ name: m.name, type: m.type, mode: m.mode, uid: m.uid, gid: m.gid, content: m.content.toString() })), [
    { name: 'bottle/events/', type: 'dir', mode: 0o700, uid: 4242, gid: 4343, content: '' },
    { name: 'bottle/policy/', type: 'dir', mode: 0o755, uid: 0, gid: 4343, content: '' },
    { name: 'bottle/events/events.jsonl', type: 'file', mode: 0o600, uid: 4242, gid: 4343, content: '{"type":"old"}\n' },
    { name: 'bottle/ca/ca.pem', type: 'file', mode: 0o644, uid: 0, gid: 4343, content: 'PEM' },
    { name: 'bottle/secret/opt', type: 'file', mode: 0o640, uid: 0, gid: 4343, content: '' },
    { name: 'bottle/policy/a.yaml', type: 'file', mode: 0o640, uid: 0, gid: 4343, content: 'a: 1\n' },
    { name: 'bottle/policy/b.toml', type: 'file', mode: 0o640, uid: 0, gid: 4343, content: 'b = 2\n' },
  ], 'exact members: the bundle owns what it writes, the keeper the rest; no dot file, no subdir, nothing from a missing copyDir');

  await t.rejects(seedArchive({ ...seed, files: [{ target: '/bottle/x', mode: 0o600, from: join(src, 'missing') }] }, owners), { code: 'ENOENT' },
    'a missing non-optional file rejects');

  // seedBundle uploads that archive at `/`.
  await seedBundle(s.c, seed, owners);
  t.equal(s.c.uploads.at(-1)?.path, '/');
  t.equal(readFileSync(s.bundleEvents, 'utf8'), '{"type":"old"}\n');
  t.equal(readFileSync(s.c.hostPath('/bottle/policy/b.toml'), 'utf8'), 'b = 2\n');
  t.equal(statSync(s.c.hostPath('/bottle/secret/opt')).size, 0);
});

t.test('pullBundle: events byte-exact across a split multi-byte character', async (t) => {
  const s = setup(t);
  const all = Buffer.from('{"type":"a","m":"héllo €"}\n{"type":"b","m":"日本語 🍾"}\n');
  const cut = all.indexOf(Buffer.from('本')) + 1; // inside the 3-byte character
  t.not(all.subarray(0, cut).toString('utf8') + all.subarray(cut).toString('utf8'), all.toString('utf8'), 'the cut really splits a character');
  writeFileSync(s.bundleEvents, all.subarray(0, cut));

  const r1 = await pullBundle(s.c, s.paths);
  t.same(r1, { events: cut, queued: [] });
  t.ok(read(s.paths.eventsFile).equals(all.subarray(0, cut)), 'first pull: host = bundle so far, mid-character');

  appendFileSync(s.bundleEvents, all.subarray(cut));
  const r2 = await pullBundle(s.c, s.paths);
  t.same(r2, { events: all.length - cut, queued: [] });
  t.ok(read(s.paths.eventsFile).equals(all), 'second pull: host = bundle byte for byte');

  const r3 = await pullBundle(s.c, s.paths);
  t.same(r3, { events: 0, queued: [] }, 'nothing new, nothing copied');
  t.ok(read(s.paths.eventsFile).equals(all));
});

t.test('pullBundle: copies only queue files the host lacks, valid names only', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, '');
  const files: Record<string, string> = {
    'p1.json': '{"id":"p1"}',
    'p1.diff': 'diff --git a b',
    'p3.json': '{"id":"p3","bundle":true}',
    '.p4.json.tmp': 'temp',
    '.p5.json': 'dot',
    'bad name.json': 'space',
    'notes.txt': 'txt',
    'p6.json.tmp': 'tmp suffix',
    '-dash.json': 'leading dash',
  };
  for (const [n, c] of Object.entries(files)) writeFileSync(join(s.bundleQueue, n), c);
  mkdirSync(s.paths.superviseQueue, { recursive: true });
  writeFileSync(join(s.paths.superviseQueue, 'p3.json'), '{"id":"p3","host":true}');

  const r = await pullBundle(s.c, s.paths);
  t.same(r, { events: 0, queued: ['p1.diff', 'p1.json'] }, 'the diff before its proposal; nothing else');
  t.same(readdirSync(s.paths.superviseQueue).sort(), ['p1.diff', 'p1.json', 'p3.json']);
  t.equal(readFileSync(join(s.paths.superviseQueue, 'p1.json'), 'utf8'), files['p1.json']);
  t.equal(readFileSync(join(s.paths.superviseQueue, 'p1.diff'), 'utf8'), files['p1.diff']);
  t.equal(readFileSync(join(s.paths.superviseQueue, 'p3.json'), 'utf8'), '{"id":"p3","host":true}', 'a file the host has is not replaced');
  t.same(s.c.downloads, [`${BUNDLE_PATHS.queueDir}/p1.diff`, `${BUNDLE_PATHS.queueDir}/p1.json`], 'only the missing valid names are fetched');
  t.same(readdirSync(dirname(s.paths.superviseQueue)).filter((n) => n.startsWith('.')), [], 'no temp dir left behind');

  const again = await pullBundle(s.c, s.paths);
  t.same(again, { events: 0, queued: [] }, 'a second pull copies nothing');
  t.equal(s.c.downloads.length, 2);
});

t.test('pullBundle: a bundle file shorter than the host copy diverges, nothing written', async (t) => {
  const s = setup(t);
  mkdirSync(dirname(s.paths.eventsFile), { recursive: true });
  const host = '{"type":"one"}\n{"type":"two"}\n';
  writeFileSync(s.paths.eventsFile, host);
  writeFileSync(s.bundleEvents, '{"type":"NEW"}\n');
  const r = await pullBundle(s.c, s.paths);
  t.same(r, { events: 0, queued: [], diverged: true });
  t.equal(readFileSync(s.paths.eventsFile, 'utf8'), host, 'host copy untouched');

  rmSync(s.bundleEvents);
  const gone = await pullBundle(s.c, s.paths);
  t.same(gone, { events: 0, queued: [], diverged: true }, 'a missing bundle file counts as empty');
  t.equal(readFileSync(s.paths.eventsFile, 'utf8'), host);
});

t.test('pullBundle: a missing bundle file and no host copy is no change, no error', async (t) => {
  const s = setup(t);
  t.same(await pullBundle(s.c, s.paths), { events: 0, queued: [] });
  t.notOk(existsSync(s.paths.eventsFile));
});

t.test('pullBundle: two concurrent pulls leave the host file identical to the bundle file', async (t) => {
  const s = setup(t);
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`${JSON.stringify({ type: 'tick', i, s: 'ü'.repeat(i % 7) })}\n`);
  const all = Buffer.from(lines.join(''));
  // The host already has a prefix; both pulls start from it.
  mkdirSync(dirname(s.paths.eventsFile), { recursive: true });
  writeFileSync(s.paths.eventsFile, all.subarray(0, 1000));
  writeFileSync(s.bundleEvents, all);
  const [a, b] = await Promise.all([pullBundle(s.c, s.paths), pullBundle(s.c, s.paths)]);
  t.ok(a.events > 0 && b.events > 0, 'both pulls copied');
  t.ok(read(s.paths.eventsFile).equals(all), 'no duplicated bytes');

  appendFileSync(s.bundleEvents, 'tail line\n');
  await Promise.all([pullBundle(s.c, s.paths), pullBundle(s.c, s.paths), pullBundle(s.c, s.paths)]);
  t.ok(read(s.paths.eventsFile).equals(read(s.bundleEvents)), 'still identical after another concurrent round');
});

t.test('pushFiles, pushPolicyDir, pushDecision land files in the bundle', async (t) => {
  const s = setup(t);
  await pushFiles(s.c, BUNDLE_PATHS.policyDir, [{ name: 'a.yaml', content: 'a: 1\n' }, { name: 'bin.dat', content: Buffer.from([0, 1, 2, 255]), mode: 0o600 }], ids);
  t.equal(readFileSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/a.yaml`), 'utf8'), 'a: 1\n');
  t.ok(readFileSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/bin.dat`)).equals(Buffer.from([0, 1, 2, 255])));
  t.equal(s.c.uploads.at(-1)?.path, BUNDLE_PATHS.policyDir);
  t.same(s.c.uploads.at(-1)?.members.map((m) => [m.name, m.mode, m.uid, m.gid]), [['a.yaml', 0o644, 4242, 4343], ['bin.dat', 0o600, 4242, 4343]]);

  const before = s.c.uploads.length;
  await pushFiles(s.c, BUNDLE_PATHS.policyDir, [], ids);
  t.equal(s.c.uploads.length, before, 'nothing to push: no upload');

  mkdirSync(join(s.paths.policy, 'sub'), { recursive: true });
  writeFileSync(join(s.paths.policy, 'a.yaml'), 'a: 2\n');
  writeFileSync(join(s.paths.policy, 'rules.toml'), 'r = 1\n');
  writeFileSync(join(s.paths.policy, '.a.yaml.tmp'), 'temp');
  writeFileSync(join(s.paths.policy, 'sub', 'x'), 'nested');
  await pushPolicyDir(s.c, s.paths, ids);
  t.same(s.c.uploads.at(-1)?.members.map((m) => [m.name, m.mode, m.uid, m.gid]), [['a.yaml', 0o640, 4242, 4343], ['rules.toml', 0o640, 4242, 4343]],
    'regular files only, no dot files; 0640 for the ids given (the keeper)');
  t.equal(readFileSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/a.yaml`), 'utf8'), 'a: 2\n', 'replaced');
  t.equal(readFileSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/rules.toml`), 'utf8'), 'r = 1\n');
  t.notOk(existsSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/.a.yaml.tmp`)));
  t.notOk(existsSync(s.c.hostPath(`${BUNDLE_PATHS.policyDir}/sub`)));

  mkdirSync(s.paths.superviseDecisions, { recursive: true });
  writeFileSync(join(s.paths.superviseDecisions, 'prop-7.json'), '{"decision":"approve"}');
  writeFileSync(join(s.paths.superviseDecisions, 'prop-8.json'), '{"decision":"deny"}');
  await pushDecision(s.c, s.paths, 'prop-7', ids);
  t.equal(readFileSync(s.c.hostPath(`${BUNDLE_PATHS.decisionsDir}/prop-7.json`), 'utf8'), '{"decision":"approve"}');
  t.same(readdirSync(s.c.hostPath(BUNDLE_PATHS.decisionsDir)), ['prop-7.json'], 'only the one decision');
  await t.rejects(pushDecision(s.c, s.paths, 'prop-missing', ids), { code: 'ENOENT' });
});

t.test('appendBundleEvent appends exactly one line, flattened, shell-safe', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, '{"type":"first"}\n');
  await appendBundleEvent(s.c, '{"type":"host","n":1}');
  t.equal(readFileSync(s.bundleEvents, 'utf8'), '{"type":"first"}\n{"type":"host","n":1}\n');
  await appendBundleEvent(s.c, 'line one\nline two\n');
  const tricky = `{"m":"%s %d \\n \\\\ $(echo pwned) \`id\` 'q' \\"dq\\" ünï"}`;
  await appendBundleEvent(s.c, tricky);
  t.equal(readFileSync(s.bundleEvents, 'utf8'), `{"type":"first"}\n{"type":"host","n":1}\nline one line two \n${tricky}\n`,
    'a newline becomes a space; printf formats, backslashes and $() stay literal');

  rmSync(s.c.hostPath(BUNDLE_PATHS.eventsDir), { recursive: true });
  await t.rejects(appendBundleEvent(s.c, 'x'), /appending to the bundle's events file failed \(exit [1-9]/, 'a failed exec rejects');
});

t.test('followBundle mirrors appended events, pulls the queue on proposal-queued, abort kills the tail', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, '{"type":"start"}\n');
  const ac = new AbortController();
  const changes: Array<{ events: number; queued: string[] }> = [];
  const errors: Error[] = [];
  const following = followBundle(s.c, s.paths, { signal: ac.signal, onChange: (r) => changes.push(r), onError: (e) => errors.push(e) });
  const same = (): boolean => read(s.paths.eventsFile).equals(read(s.bundleEvents));
  const describe = (): string => `host:\n${read(s.paths.eventsFile).toString()}\nbundle:\n${read(s.bundleEvents).toString()}`;

  await pollUntil('the catch-up copy', same, { describe });
  const tailExec = await pollUntil('the tail exec to print its pid', () => s.c.execs.find((e) => e.argv.some((a) => a.includes('exec tail')) && e.stderr.length > 0));
  const pid = Number(Buffer.concat(tailExec.stderr).toString().trim());
  t.equal(pid, tailExec.child?.pid, 'the pid printed is the tail process (sh exec-ed into it)');
  t.ok(alive(pid));

  // Lines appended over time, one written in two parts mid-character.
  for (let i = 1; i <= 5; i++) {
    appendFileSync(s.bundleEvents, `{"type":"tick","i":${i}}\n`);
    await sleep(15);
  }
  const split = Buffer.from('{"type":"tick","m":"€uro"}\n');
  appendFileSync(s.bundleEvents, split.subarray(0, 21));
  await sleep(30);
  appendFileSync(s.bundleEvents, split.subarray(21));
  await pollUntil('the appended lines in the host copy', same, { describe });
  t.match(read(s.paths.eventsFile).toString(), /"start".*\n.*"i":1.*\n.*"i":2.*\n.*"i":3.*\n.*"i":4.*\n.*"i":5.*\n.*€uro/, 'in order');
  t.ok(changes.some((c) => c.events > 0), 'onChange told of copied events');

  // A queue file, then the event that announces it.
  writeFileSync(join(s.bundleQueue, 'prop-1.json'), '{"id":"prop-1"}');
  appendFileSync(s.bundleEvents, '{"type":"proposal-queued","id":"prop-1"}\n');
  await pollUntil('the queued proposal on the host', () => existsSync(join(s.paths.superviseQueue, 'prop-1.json')), { describe });
  t.equal(readFileSync(join(s.paths.superviseQueue, 'prop-1.json'), 'utf8'), '{"id":"prop-1"}');
  await pollUntil('the proposal-queued line in the host copy', same, { describe });
  await pollUntil('onChange with the queued file', () => changes.some((c) => c.queued.includes('prop-1.json')));

  // A proposal announced whole is written from the line: no archive read, and its text is the
  // bundle's (writeJsonAtomic's form). A held push's comes by archive (its diff is a second file).
  const downloads = s.c.downloads.length;
  const whole = { id: 'prop-2', kind: 'allowlist', payload: { host: 'x.test' } };
  appendFileSync(s.bundleEvents, `${JSON.stringify({ type: 'proposal-queued', id: 'prop-2', kind: 'allowlist', proposal: whole })}\n`);
  await pollUntil('the announced proposal on the host', () => existsSync(join(s.paths.superviseQueue, 'prop-2.json')), { describe });
  t.equal(readFileSync(join(s.paths.superviseQueue, 'prop-2.json'), 'utf8'), `${JSON.stringify(whole, null, 2)}\n`);
  t.equal(s.c.downloads.length, downloads, 'no archive read for it');
  appendFileSync(s.bundleEvents, `${JSON.stringify({ type: 'proposal-queued', id: 'prop-3', kind: 'allowlist', proposal: { id: 'other' } })}\n`);
  writeFileSync(join(s.bundleQueue, 'prop-4.diff'), 'diff');
  writeFileSync(join(s.bundleQueue, 'prop-4.json'), '{"id":"prop-4","kind":"push"}');
  appendFileSync(s.bundleEvents, `${JSON.stringify({ type: 'proposal-queued', id: 'prop-4', kind: 'push', proposal: { id: 'prop-4', forged: true } })}\n`);
  await pollUntil('the held push on the host', () => existsSync(join(s.paths.superviseQueue, 'prop-4.json')), { describe });
  t.equal(readFileSync(join(s.paths.superviseQueue, 'prop-4.json'), 'utf8'), '{"id":"prop-4","kind":"push"}', 'a push: the bundle\'s file, not the line');
  t.equal(readFileSync(join(s.paths.superviseQueue, 'prop-4.diff'), 'utf8'), 'diff');
  t.notOk(existsSync(join(s.paths.superviseQueue, 'prop-3.json')), 'a line whose proposal has another id writes nothing (and prop-3 is not in the bundle queue)');

  ac.abort();
  await within('followBundle to resolve after abort', following);
  await pollUntil(`the tail (pid ${pid}) to be gone`, () => !alive(pid));
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'tail process gone');
  t.ok(s.c.execs.some((e) => e.argv[0] === 'kill' && e.argv[1] === String(pid)), 'killed by the pid it printed');
  t.same(errors, [], 'no errors reported');
  t.ok(same(), 'host copy equals the bundle file at the end');
});

t.test('followBundle: an already-aborted signal does nothing', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, 'x\n');
  const ac = new AbortController();
  ac.abort();
  await followBundle(s.c, s.paths, { signal: ac.signal });
  t.same(s.c.execs, [], 'no exec');
  t.notOk(existsSync(s.paths.eventsFile));
});


const tailOf = (c: LocalContainer) => c.execs.find((e) => e.argv.some((a) => a.includes('exec tail')));
// Whether `check` comes true within `ms` (false, not a throw, on timeout).
const becomes = (what: string, check: () => unknown, ms: number): Promise<boolean> =>
  pollUntil(what, () => Boolean(check()), { timeoutMs: ms }).then(() => true, () => false);

t.test('followBundle: a proposal-queued line that reaches the host in two frames still pulls the queue', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, '');
  mkdirSync(dirname(s.paths.eventsFile), { recursive: true }); // the state dir exists (see the next test)
  const ac = new AbortController();
  const following = followBundle(s.c, s.paths, { signal: ac.signal });
  await pollUntil('the tail to print its pid', () => tailOf(s.c)?.stderr.length);
  writeFileSync(join(s.bundleQueue, 'prop-2.json'), '{"id":"prop-2"}');
  appendFileSync(s.bundleEvents, '{"type":"propos');
  await pollUntil('the first part in the host copy', () => read(s.paths.eventsFile).length > 0, { describe: () => JSON.stringify({ execs: s.c.execs.map((e) => [e.argv.slice(-2), e.running, Buffer.concat(e.stdout).toString(), Buffer.concat(e.stderr).toString()]), bundle: read(s.bundleEvents).toString() }) });
  appendFileSync(s.bundleEvents, 'al-queued","id":"prop-2"}\n');
  await pollUntil('the whole line in the host copy', () => read(s.paths.eventsFile).equals(read(s.bundleEvents)));
  t.ok(await becomes('the queued proposal on the host', () => existsSync(join(s.paths.superviseQueue, 'prop-2.json')), 1500),
    'the queue file was pulled');
  ac.abort();
  await within('followBundle to resolve', following);
});

t.test('followBundle: an abort while the tail exec is being created ends the follow and the tail', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, 'x\n');
  const ac = new AbortController();
  s.c.onExec = (argv) => {
    if (argv.some((a) => a.includes('exec tail'))) ac.abort();
  };
  let done = false;
  const following = followBundle(s.c, s.paths, { signal: ac.signal }).finally(() => { done = true; });
  t.ok(await becomes('followBundle to resolve', () => done, 1500), 'the follow ended');
  t.ok(await becomes('the tail to be gone', () => tailOf(s.c) && !tailOf(s.c)!.running, 500), 'the tail is gone');
  s.c.close(); // ends a tail left running, and with it the follow
  await within('followBundle to resolve once its tail is gone', following);
});

t.test('followBundle: an abort before the pid frame arrives still kills the tail', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, 'x\n');
  s.c.delayOutputMs = 300;
  const ac = new AbortController();
  s.c.onExec = (argv) => {
    if (argv.some((a) => a.includes('exec tail'))) setTimeout(() => ac.abort(), 100);
  };
  await within('followBundle to resolve', followBundle(s.c, s.paths, { signal: ac.signal }));
  t.ok(await becomes('the tail to be gone', () => tailOf(s.c) && !tailOf(s.c)!.running, 1500), 'the tail is gone');
});

t.test('followBundle: streamed lines land when the host copy\'s dir does not exist yet', async (t) => {
  const s = setup(t);
  writeFileSync(s.bundleEvents, ''); // nothing to catch up: the catch-up pull creates no dir
  const errors: Error[] = [];
  const ac = new AbortController();
  const following = followBundle(s.c, s.paths, { signal: ac.signal, onError: (e) => errors.push(e) });
  await pollUntil('the tail to print its pid', () => tailOf(s.c)?.stderr.length);
  appendFileSync(s.bundleEvents, '{"type":"one"}\n');
  await pollUntil('the tail to send the line', () => tailOf(s.c)?.stdout.length);
  t.ok(await becomes('the line in the host copy', () => read(s.paths.eventsFile).equals(read(s.bundleEvents)), 1000), 'the line landed');
  t.same(errors.map((e) => e.message), [], 'no errors');
  ac.abort();
  await within('followBundle to resolve', following);
});
