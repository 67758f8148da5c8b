// The host↔bundle channel of issue 17 (lib/backends/bundle/channel.ts) on a local engine: how
// long a proposal written in the bundle takes to be a file in the host's queue, where the
// dashboard's watcher sees it (the rest of proposal → bell is `npm run bench -- dashboard`),
// beside its peer in the same run: the design it replaced, a bind mount of the host queue dir,
// where the file is on the host the moment it is written. And what one on-demand pull costs
// (`bottle ls`, `bottle proposals`, ... pay it per running bottle).
//
// Both containers run the sidecars image with `sleep` as their process: a proposal is written
// as supervise writes one (temp file, rename, then a `proposal-queued` event line), stamped with
// the container's clock, which is the host's. BENCH_CHANNEL_SAMPLES (default 30).
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { followBundle, pullBundle, seedBundle } from '../lib/backends/bundle/channel.js';
import { type EngineContainer, execIn, fromDockerode } from '../lib/docker/api.js';
import { sandboxGate } from '../test/helpers/sandbox.js';
import { formatMs, percentile, printTable, ratio } from './lib/index.js';

const SAMPLES = Number(process.env.BENCH_CHANNEL_SAMPLES ?? 30);
const IMAGE = 'bottle-sidecars:latest';
const IDS = { uid: 10001, gid: 10001 };

const gate = await sandboxGate().catch((e: Error) => ({ skip: e.message, docker: undefined }));
if (gate.skip) {
  process.stdout.write(`channel: skipped: ${gate.skip}\n`);
  process.exit(0);
}
const engine = fromDockerode(gate.docker!);
const root = mkdtempSync(join(tmpdir(), 'bottle-bench-channel-'));
const tag = randomBytes(3).toString('hex');
const names = [`bottle-bench-channel-${tag}`, `bottle-bench-bind-${tag}`];
const nowNs = (): number => (performance.timeOrigin + performance.now()) * 1e6;

// The shell that writes one proposal as supervise does (file, then its announcement, which
// carries it whole) or as git-gate does for a held push (announced by id: read by archive).
// Prints the write's time in ns.
const WRITE = (whole: boolean): string => 'id=$1; q=/bottle/supervise/queue; t=$(date +%s%N); '
  + 'printf \'{"id":"%s"}\' "$id" > "$q/.$id.tmp" && mv "$q/.$id.tmp" "$q/$id.json" && '
  + (whole
    ? 'printf \'{"type":"proposal-queued","time":"x","id":"%s","kind":"allowlist","proposal":{"id":"%s"},"t":%s}\\n\' "$id" "$id" "$t"'
    : 'printf \'{"type":"proposal-queued","time":"x","id":"%s","kind":"allowlist","t":%s}\\n\' "$id" "$t"')
  + ' >> /bottle/events/events.jsonl; echo "$t"';

// Writes SAMPLES proposals in `c`, one at a time; each sample: ms from the write to the file in `hostQueue`.
async function measure(c: EngineContainer, hostQueue: string, whole = true): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const id = `p${i}-${randomBytes(3).toString('hex')}`;
    const file = join(hostQueue, `${id}.json`);
    const seen = new Promise<number>((resolve) => {
      const w = watch(hostQueue, () => {
        if (existsSync(file)) { w.close(); resolve(nowNs()); }
      });
    });
    const r = await execIn(c, ['sh', '-c', WRITE(whole), 'sh', id], { user: '' });
    if (r.exitCode !== 0) throw new Error(`writing a proposal failed: ${r.stderr}`);
    // The watcher was armed before the write: it stamps the file's arrival, even one that beat the exec's answer.
    const at = await Promise.race([seen, new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`${id} never reached the host`)), 10_000).unref())]);
    out.push((at - Number(r.stdout.trim())) / 1e6);
  }
  return out;
}

async function container(name: string, binds: string[]): Promise<EngineContainer> {
  await gate.docker!.createContainer({
    name, Image: IMAGE, Entrypoint: ['sleep', 'infinity'], User: `${IDS.uid}:${IDS.gid}`, Labels: { 'dev.bottle.bench': 'channel' },
    HostConfig: { NetworkMode: 'none', ...(binds.length ? { Binds: binds } : {}) },
  });
  return engine.getContainer(name);
}

try {
  // The channel: nothing mounted, the seed makes the dirs, a follow copies.
  const paths = { eventsFile: join(root, 'api', 'events', 'events.jsonl'), superviseQueue: join(root, 'api', 'supervise', 'queue') };
  mkdirSync(paths.superviseQueue, { recursive: true });
  const api = await container(names[0]!, []);
  await seedBundle(api, {
    dirs: ['/bottle', '/bottle/events', '/bottle/supervise', '/bottle/supervise/queue'].map((path) => ({ path, mode: 0o755 })),
    files: [{ target: '/bottle/events/events.jsonl', content: '', mode: 0o600 }], copyDirs: [],
  }, { bundle: IDS, keeper: IDS });
  await api.start();
  const follow = new AbortController();
  const following = followBundle(api, paths, { signal: follow.signal });
  await new Promise((r) => setTimeout(r, 500)); // the follow's catch-up pull and its tail are running

  // The peer: the host queue dir bind-mounted where supervise writes.
  const bindQueue = join(root, 'bind', 'queue');
  mkdirSync(bindQueue, { recursive: true });
  mkdirSync(join(root, 'bind', 'events'), { recursive: true });
  for (const d of [bindQueue, join(root, 'bind', 'events')]) chownSync(d, IDS.uid, IDS.gid);
  const bind = await container(names[1]!, [`${bindQueue}:/bottle/supervise/queue`, `${join(root, 'bind', 'events')}:/bottle/events`]);
  await bind.start();

  // Alternate halves so load swings hit both.
  const viaChannel: number[] = [];
  const viaArchive: number[] = [];
  const viaBind: number[] = [];
  for (let round = 0; round < 2; round++) {
    viaChannel.push(...(await measure(api, paths.superviseQueue)));
    viaArchive.push(...(await measure(api, paths.superviseQueue, false)));
    viaBind.push(...(await measure(bind, bindQueue)));
  }
  const pulls: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await pullBundle(api, paths);
    pulls.push(performance.now() - t0);
  }
  follow.abort();
  await following;

  const row = (what: string, s: number[]): string[] => [what, String(s.length), formatMs(percentile(s, 50)), formatMs(percentile(s, 99)), formatMs(Math.max(...s))];
  printTable('proposal written in the bundle → file in the host queue (local engine)', ['path', 'n', 'p50', 'p99', 'max'], [
    row('channel: follow, proposal in its announcement', viaChannel),
    row('channel: follow + archive read (a held push)', viaArchive),
    row('peer: bind mount of the host dir', viaBind),
  ]);
  process.stdout.write(`channel ÷ bind mount, p50: ${ratio(percentile(viaChannel, 50), percentile(viaBind, 50))}; p99 added by the channel: ${formatMs(percentile(viaChannel, 99) - percentile(viaBind, 99))}\n`);
  printTable('one on-demand pull with nothing new (what each reader pays per running bottle)', ['n', 'p50', 'p99', 'max'], [
    [String(pulls.length), formatMs(percentile(pulls, 50)), formatMs(percentile(pulls, 99)), formatMs(Math.max(...pulls))],
  ]);
  process.stdout.write(`load average: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
} finally {
  for (const n of names) await gate.docker!.getContainer(n).remove({ force: true }).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
