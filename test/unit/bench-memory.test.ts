// bench/lib/memory.ts: how the rss bench reads `docker stats` memory and per-process VmRSS.
import t from 'tap';
import { containerMemory, labelProcs, parseProcs, processRole } from '../../bench/lib/memory.js';

const MIB = 1024 * 1024;

t.test('docker stats memory is usage minus inactive file pages (cgroup v1 and v2)', async (t) => {
  t.match(containerMemory({ memory_stats: { usage: 100 * MIB, stats: { total_inactive_file: 10 * MIB, total_rss: 80 * MIB } } }),
    { shown: 90 * MIB, usage: 100 * MIB, inactiveFile: 10 * MIB, anon: 80 * MIB, cgroup: 'v1' });
  t.match(containerMemory({ memory_stats: { usage: 50 * MIB, stats: { inactive_file: 5 * MIB, anon: 40 * MIB } } }),
    { shown: 45 * MIB, cgroup: 'v2', anon: 40 * MIB });
  t.equal(containerMemory({ memory_stats: { usage: 5, stats: { inactive_file: 9 } } }).shown, 5, 'more inactive than usage: usage, as the CLI does');
  t.equal(containerMemory({}).shown, 0, 'no stats (a stopped container): zero');
});

t.test('per-process memory from /proc/<pid>/status; a process gone mid-read is left out', async (t) => {
  const out = [
    '@@ 7', 'node /opt/bottle/dist/commands/main.js sidecar gateway --listen 0.0.0.0:8888 ', 'Name:\tnode', 'VmRSS:\t  78000 kB', 'RssAnon:\t  28000 kB', 'RssFile:\t  50000 kB',
    '@@ 1', 'tini -- node /opt/bottle/dist/commands/main.js sidecar init ', 'VmRSS:\t 1300 kB', 'RssAnon:\t 100 kB', 'RssFile:\t 1200 kB',
    '@@ 9', '', '',
    '@@ 8', 'node /opt/bottle/dist/commands/main.js sidecar gateway ', 'VmRSS:\t 2048 kB',
  ].join('\n');
  const procs = parseProcs(out);
  t.same(procs.map((p) => p.pid), [1, 7, 8]);
  t.match(procs[1], { rss: 78000 * 1024, anon: 28000 * 1024, file: 50000 * 1024 });
  t.same(labelProcs(procs).map((p) => p.role), ['tini', 'gateway', 'gateway#2'], 'tini is not init; replicas numbered in pid order');
});

t.test('roles of the bundle processes', async (t) => {
  t.equal(processRole('node --max-semi-space-size=1 /opt/bottle/dist/commands/main.js sidecar supervise --listen 0.0.0.0:9100'), 'supervise');
  t.equal(processRole('/usr/lib/git-core/git-daemon --reuseaddr --listen=0.0.0.0'), 'git daemon');
  t.equal(processRole('git daemon --export-all'), 'git daemon');
  t.equal(processRole('/usr/bin/tini -- node x sidecar init'), 'tini');
  t.equal(processRole('/bin/sleep 5'), 'sleep');
});
