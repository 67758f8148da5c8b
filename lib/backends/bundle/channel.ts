// The host↔bundle control plane over the engine API (issue 17): the bundle container shares no
// host path, so the same code serves a local and a remote engine. In: files by archive upload
// (the seed before the bundle starts; policy and decisions while it runs), secrets in the create
// body's Env, signals and execs. Out: what the bundle writes (its events file and supervise's
// queue) is copied back into the bottle's state dir, the durable copy every host reader uses: by
// one exec on demand (`pullBundle`), or followed as it is written (`followBundle`).
//
// The host's events file is a byte-for-byte copy of the bundle's, which only grows: a pull
// writes the bundle's bytes at their own offsets, so two host processes pulling at once write
// the same bytes to the same places. The seed gives a new bundle the host copy, so a resumed
// bottle's file starts where the last one ended.
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type EngineContainer, execRaw } from '../../docker/api.js';
import type { BottlePaths } from '../../state/index.js';
import type { Ids } from './archive.js';
import { BUNDLE_PATHS } from './names.js';
import { extractTar, tarBuffer, type TarEntry } from './tar.js';

export const BUNDLE_EVENTS_FILE = `${BUNDLE_PATHS.eventsDir}/events.jsonl`;

// A queue file the bundle writes (proposal, held push's diff); temp files start with a dot.
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.(json|diff)$/;
// Bytes of the events file one pull copies (the rest comes with the next one).
const PULL_MAX = 8 << 20;
// A queue file bigger than this is not copied (a held push's diff is cut far below it).
const QUEUE_FILE_MAX = 4 << 20;

// Who owns a seeded path: the bundle user (what it writes), or the keeper (what it only reads:
// archive.ts keeperIds), the default.
export type SeedOwner = 'bundle' | 'keeper';

// One file of the seed: taken from a host path, or given as content.
export interface SeedFile {
  target: string; mode: number; from?: string; content?: string; owner?: SeedOwner;
  /** A missing `from` is an empty file. */
  optional?: boolean;
}

// What a new bundle is given before it starts: its directories and files; `copyDirs` are host
// dirs whose regular files all go in (policy, queue, decisions), with `mode`.
export interface BundleSeed {
  dirs: Array<{ path: string; mode: number; owner?: SeedOwner }>;
  files: SeedFile[];
  copyDirs: Array<{ from: string; to: string; mode: number; owner?: SeedOwner }>;
}

// The two owners' ids.
export interface SeedIds { bundle: Ids; keeper: Ids }

const rel = (p: string): string => p.replace(/^\/+/, '');

// Regular files directly in `dir` (none when it does not exist); dot files are locks and temps.
async function regularFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.')) continue;
    const st = await stat(join(dir, n)).catch(() => undefined);
    if (st?.isFile()) out.push(n);
  }
  return out;
}

// The seed as one tar rooted at `/`, each entry owned by its owner's ids. Reads the host files now.
export async function seedArchive(seed: BundleSeed, owners: SeedIds): Promise<Buffer> {
  const idsOf = (o: SeedOwner | undefined): Ids => owners[o ?? 'keeper'];
  const entries: TarEntry[] = seed.dirs.map((d) => ({ path: rel(d.path), type: 'dir', mode: d.mode, ...idsOf(d.owner) }));
  for (const f of seed.files) {
    const content = f.content ?? (await readFile(f.from!).catch((e: NodeJS.ErrnoException) => {
      if (f.optional && e.code === 'ENOENT') return Buffer.alloc(0);
      throw e;
    }));
    entries.push({ path: rel(f.target), type: 'file', content, mode: f.mode, ...idsOf(f.owner) });
  }
  for (const d of seed.copyDirs) {
    for (const name of await regularFiles(d.from)) {
      entries.push({ path: rel(`${d.to}/${name}`), type: 'file', content: await readFile(join(d.from, name)), mode: d.mode, ...idsOf(d.owner) });
    }
  }
  return tarBuffer(entries);
}

// Uploads the seed into a created (not yet started) bundle container.
export async function seedBundle(container: EngineContainer, seed: BundleSeed, owners: SeedIds): Promise<void> {
  await container.putArchive(await seedArchive(seed, owners), { path: '/' });
}

// Writes files into an existing bundle directory (replacing same-named ones), owned by `ids`.
export async function pushFiles(container: EngineContainer, dir: string, files: Array<{ name: string; content: Buffer | string; mode?: number }>, ids: Ids): Promise<void> {
  if (files.length === 0) return;
  const entries: TarEntry[] = files.map((f) => ({ path: f.name, type: 'file', content: f.content, mode: f.mode ?? 0o644, ...ids }));
  await container.putArchive(tarBuffer(entries), { path: dir });
}

// Every regular file of the host's policy dir, pushed into the bundle's (the gateway then
// reloads), owned by the keeper (`ids`): readable by the bundle's group, not changeable by it.
export async function pushPolicyDir(container: EngineContainer, paths: Pick<BottlePaths, 'policy'>, ids: Ids): Promise<void> {
  const names = await regularFiles(paths.policy);
  await pushFiles(container, BUNDLE_PATHS.policyDir, await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(paths.policy, name)), mode: 0o640 }))), ids);
}

// One decision file of the host's decisions dir, pushed into the bundle's (supervise and
// git-gate watch that dir), owned by the keeper (`ids`) like the policy.
export async function pushDecision(container: EngineContainer, paths: Pick<BottlePaths, 'superviseDecisions'>, id: string, ids: Ids): Promise<void> {
  const name = `${id}.json`;
  await pushFiles(container, BUNDLE_PATHS.decisionsDir, [{ name, content: await readFile(join(paths.superviseDecisions, name)), mode: 0o640 }], ids);
}

// Appends one host event line to the bundle's events file (which the host mirrors back).
export async function appendBundleEvent(container: EngineContainer, line: string): Promise<void> {
  const r = await execRaw(container, ['sh', '-c', 'printf "%s\\n" "$1" >> "$2"', 'sh', line.replace(/\n/g, ' '), BUNDLE_EVENTS_FILE], { user: '' });
  if (r.exitCode !== 0) throw new Error(`appending to the bundle's events file failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`);
}

// Writes `bytes` at `offset` of the host copy (no symlink followed).
function writeAt(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
  } finally {
    closeSync(fd);
  }
}

const hostSize = (file: string): Promise<number> => stat(file).then((s) => s.size, () => 0);

// What one pull copied.
export interface PullReport {
  /** Bytes of the events file copied. */
  events: number;
  /** Queue files copied (proposals, held pushes' diffs). */
  queued: string[];
  /** The bundle's events file is shorter than the host copy: nothing of it was copied. */
  diverged?: boolean;
}

// The exec a pull runs: the bundle's events size and queue listing on stderr, the events
// file's bytes from the host copy's end on stdout.
const PULL_SCRIPT = [
  's=$(wc -c 2>/dev/null < "$1") || s=0',
  'printf "%s\\n" "$s" >&2',
  'ls -1A "$2" >&2 2>/dev/null',
  'if [ "$s" -gt "$3" ]; then tail -c +"$(($3 + 1))" "$1" | head -c "$4"; fi',
  'exit 0',
].join('\n');

// Copies what the bundle wrote since the host copy's end: events, and queue files the host lacks.
export async function pullBundle(container: EngineContainer, paths: Pick<BottlePaths, 'eventsFile' | 'superviseQueue'>, signal?: AbortSignal): Promise<PullReport> {
  const offset = await hostSize(paths.eventsFile);
  const r = await execRaw(container, ['sh', '-c', PULL_SCRIPT, 'sh', BUNDLE_EVENTS_FILE, BUNDLE_PATHS.queueDir, String(offset), String(PULL_MAX)], { user: '', signal });
  if (r.exitCode !== 0) throw new Error(`reading the bundle's state failed (exit ${r.exitCode}): ${r.stderr.toString().trim().split('\n').pop()}`);
  const [sizeLine = '0', ...names] = r.stderr.toString('utf8').split('\n');
  const size = Number(sizeLine.trim()) || 0;
  const report: PullReport = { events: 0, queued: [] };
  if (size < offset) report.diverged = true;
  else if (r.stdout.length > 0) {
    await mkdir(dirname(paths.eventsFile), { recursive: true, mode: 0o700 });
    writeAt(paths.eventsFile, offset, r.stdout);
    report.events = r.stdout.length;
  }
  report.queued = await pullQueue(container, paths, names);
  return report;
}

// Copies the named queue files the host does not have yet, each through the strict extractor.
async function pullQueue(container: EngineContainer, paths: Pick<BottlePaths, 'superviseQueue'>, names: string[]): Promise<string[]> {
  const missing = names.map((n) => n.trim()).filter((n) => QUEUE_NAME.test(n) && !existsSync(join(paths.superviseQueue, n)));
  if (missing.length === 0) return [];
  await mkdir(paths.superviseQueue, { recursive: true, mode: 0o755 });
  const tmp = join(dirname(paths.superviseQueue), `.incoming-${randomBytes(4).toString('hex')}`);
  const copied: string[] = [];
  try {
    // Diffs before proposals: a reader that sees a push proposal finds its diff.
    for (const name of missing.sort((a, b) => Number(a.endsWith('.json')) - Number(b.endsWith('.json')))) {
      const stream = await container.getArchive({ path: `${BUNDLE_PATHS.queueDir}/${name}` }).catch(() => undefined);
      if (!stream) continue; // gone meanwhile
      await extractTar(stream as AsyncIterable<Buffer>, tmp, QUEUE_FILE_MAX);
      if (!existsSync(join(tmp, name))) continue;
      await rename(join(tmp, name), join(paths.superviseQueue, name));
      copied.push(name);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return copied;
}

// A `proposal-queued` line's id, kind and, when it carries it, the proposal (an id that is no
// queue file name is no event).
function parseQueued(line: string): { id: string; kind: string; proposal?: Record<string, unknown> } | undefined {
  try {
    const ev = JSON.parse(line) as { type?: unknown; id?: unknown; kind?: unknown; proposal?: unknown };
    if (ev.type !== 'proposal-queued' || typeof ev.id !== 'string' || !QUEUE_NAME.test(`${ev.id}.json`)) return undefined;
    const p = ev.proposal as Record<string, unknown> | undefined;
    const whole = ev.kind !== 'push' && p && typeof p === 'object' && p.id === ev.id ? { proposal: p } : {};
    return { id: ev.id, kind: String(ev.kind), ...whole };
  } catch {
    return undefined;
  }
}

// Writes a proposal that came whole in its announcement as the bundle wrote it (writeJsonAtomic's
// form), unless the host has it; temp file + rename, so a reader never sees half of it.
async function writeQueued(paths: Pick<BottlePaths, 'superviseQueue'>, id: string, proposal: Record<string, unknown>): Promise<boolean> {
  const target = join(paths.superviseQueue, `${id}.json`);
  if (existsSync(target)) return false;
  await mkdir(paths.superviseQueue, { recursive: true, mode: 0o755 });
  const tmp = join(paths.superviseQueue, `.${id}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, `${JSON.stringify(proposal, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, target).catch(async (e: unknown) => {
    await rm(tmp, { force: true });
    throw e;
  });
  return true;
}

// Following a bundle: how often it is told about changes.
export interface FollowOptions {
  signal: AbortSignal;
  /** After each copy: what changed. */
  onChange?: (report: PullReport) => void;
  /** A problem (the follow goes on or ends; the caller decides whether to follow again). */
  onError?: (e: Error) => void;
}

// How often the bundle's `tail` looks at the events file: GNU tail does not trust inotify on
// overlayfs (a container's filesystem) and polls, by default once a second.
const FOLLOW_POLL_S = '0.02';

// Mirrors the bundle as it writes, until `signal` aborts or the bundle stops: `tail -F` of its
// events file streams into the host copy; a `proposal-queued` line has that proposal's files
// read from the bundle's queue. Resolves when the stream ends, or at the first failed write to
// the host copy (after which only a fresh follow, starting with a pull, writes at the right
// offsets).
export async function followBundle(container: EngineContainer, paths: Pick<BottlePaths, 'eventsFile' | 'superviseQueue'>, opts: FollowOptions): Promise<void> {
  if (opts.signal.aborted) return;
  // Catch up first (events and queue), then stream from where that left the host copy.
  const first = await pullBundle(container, paths, opts.signal);
  if (first.events > 0 || first.queued.length > 0) opts.onChange?.(first);
  await mkdir(dirname(paths.eventsFile), { recursive: true, mode: 0o700 });
  let offset = await hostSize(paths.eventsFile);
  const exec = await container.exec({
    Cmd: ['sh', '-c', 'echo $$ >&2; exec tail -s "$3" -c +"$(($2 + 1))" -F "$1" 2>/dev/null', 'sh', BUNDLE_EVENTS_FILE, String(offset), FOLLOW_POLL_S],
    AttachStdout: true, AttachStderr: true, Tty: false,
  });
  const stream = await exec.start({ hijack: true, stdin: false }) as NodeJS.ReadableStream & { destroy?: () => void };
  let pid: string | undefined;
  let stopped = false;
  let pending = Buffer.alloc(0);
  let line = '';
  let queueRun: Promise<void> = Promise.resolve();
  // The tail would otherwise live until its next write fails.
  const killTail = (): void => {
    stream.destroy?.();
    if (pid) execRaw(container, ['kill', pid], { user: '' }).catch(() => undefined);
  };
  // A queued proposal's files: written from the announcement when it came whole, else fetched
  // by name (one archive read each), in order.
  const fetchQueued = (ev: { id: string; kind: string; proposal?: Record<string, unknown> }): void => {
    queueRun = queueRun.then(async () => {
      const queued = ev.proposal
        ? ((await writeQueued(paths, ev.id, ev.proposal)) ? [`${ev.id}.json`] : [])
        : await pullQueue(container, paths, ev.kind === 'push' ? [`${ev.id}.diff`, `${ev.id}.json`] : [`${ev.id}.json`]);
      if (queued.length > 0) opts.onChange?.({ events: 0, queued });
    }).catch((e: Error) => opts.onError?.(e));
  };
  const onFrame = (kind: number, payload: Buffer): void => {
    if (kind === 2) {
      if (pid) return;
      pid = /^\d+/.exec(payload.toString('latin1'))?.[0];
      // Stopped before the pid was known: the tail is killed now that it is.
      if (stopped && pid) killTail();
      return;
    }
    if (stopped) return;
    writeAt(paths.eventsFile, offset, payload);
    offset += payload.length;
    opts.onChange?.({ events: payload.length, queued: [] });
    // Whole lines only, however the frames cut them.
    const lines = (line + payload.toString('utf8')).split('\n');
    line = (lines.pop() ?? '').slice(-4096);
    for (const l of lines) {
      if (!l.includes('"proposal-queued"')) continue;
      const ev = parseQueued(l);
      if (ev) fetchQueued(ev);
    }
  };
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopped = true;
      // Without the pid yet, the stream stays open until its pid frame (see onFrame).
      if (pid) killTail();
      resolve();
    };
    opts.signal.addEventListener('abort', stop, { once: true });
    // An abort while the exec was created and started fired no listener.
    if (opts.signal.aborted) stop();
    stream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4);
        if (pending.length < 8 + size) break;
        try {
          onFrame(pending[0]!, pending.subarray(8, 8 + size));
        } catch (e) {
          opts.onError?.(e as Error);
          stop();
          return;
        }
        pending = pending.subarray(8 + size);
      }
    });
    const end = (): void => {
      opts.signal.removeEventListener('abort', stop);
      resolve();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', (e: Error) => {
      opts.onError?.(e);
      end();
    });
  });
  await queueRun;
}
