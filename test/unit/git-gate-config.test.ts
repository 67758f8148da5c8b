// The git gate's upstreams file, repo settings and argv builders (pure; arrays compared exactly).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { UserError } from '../../lib/errors.js';
import { MAX_REVIEW_HOLD_MS, parseUpstreams, upstreamKind } from '../../sidecars/git-gate/config.js';
import { startGitGate } from '../../sidecars/git-gate/daemon.js';
import { authFor, daemonArgv, fetchArgs, logArgs, parseSymref, pushArgs } from '../../sidecars/git-gate/git.js';
import { hookScript } from '../../sidecars/git-gate/mirror.js';
import { DEFAULTS, parseSettings, settingsConfigArgs, type RepoSettings } from '../../sidecars/git-gate/settings.js';
import { DEFAULT_REVIEW_HOLD_MS } from '../../lib/proposals/types.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

t.test('upstream kinds follow git URL rules', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['git@github.example:org/repo.git', 'ssh'], ['ssh://git@host:22/r.git', 'ssh'], ['https://host/r.git', 'https'],
    ['http://host/r.git', 'http'], ['git://127.0.0.1:9418/r.git', 'git'], ['file:///srv/r.git', 'file'],
    ['/srv/r.git', 'file'], ['relative/r.git', undefined], ['ftp://host/r', undefined], ['C:/x', 'ssh'],
  ];
  for (const [url, kind] of cases) t.equal(upstreamKind(url), kind, url);
});

t.test('YAML and JSON upstream lists parse; identityFile resolves against the file', async (t) => {
  const yaml = 'upstreams:\n  - name: app\n    upstream: git@host:org/app.git\n    identityFile: keys/id_ed25519\n  - name: web\n    upstream: https://host/web.git\n    tokenEnv: WEB_TOKEN\n';
  t.same(parseUpstreams(yaml, 'u.yaml', '/bundle/etc'), [
    { name: 'app', upstream: 'git@host:org/app.git', kind: 'ssh', identityFile: '/bundle/etc/keys/id_ed25519' },
    { name: 'web', upstream: 'https://host/web.git', kind: 'https', tokenEnv: 'WEB_TOKEN' },
  ]);
  t.same(parseUpstreams('[{"name":"lib","upstream":"/srv/lib.git"}]', 'u.json', '/'), [{ name: 'lib', upstream: '/srv/lib.git', kind: 'file' }]);
});

t.test('invalid upstream files fail with messages that say what to fix', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['{"name": 1}', /expected a list/],
    ['[{"upstream":"/x"}]', /entry 1: missing "name"/],
    ['[{"name":"a/b","upstream":"/x"}]', /letters, digits/],
    ['[{"name":"a.git","upstream":"/x"}]', /no \.git suffix/],
    ['[{"name":"a","upstream":"/x"},{"name":"a","upstream":"/y"}]', /entry 2: duplicate name "a"/],
    ['[{"name":"a"}]', /missing "upstream"/],
    ['[{"name":"a","upstream":"rel/x"}]', /expected ssh:\/\/.*absolute path/],
    ['[{"name":"a","upstream":"https://u:hunter2@h/r"}]', /password in the URL; .*tokenEnv/],
    ['[{"name":"a","upstream":"/x","identityFile":"/k"}]', /identityFile is for ssh/],
    ['[{"name":"a","upstream":"http://h/r","tokenEnv":"T"}]', /tokenEnv is for https/],
    ['[{"name":"a","upstream":"https://h/r","tokenEnv":"$T"}]', /not an env var name/],
    ['[{"name":"a","upstream":"/x","token":"abc"}]', /unknown key "token"/],
    ['[{"name":', /not valid JSON\/YAML/],
  ];
  for (const [text, re] of bad) t.throws(() => parseUpstreams(text, 'up.json', '/'), { name: 'UserError', message: re }, text);
  t.ok(new UserError('x') instanceof Error);
});

t.test('settings round-trip through git config output', async (t) => {
  const s: RepoSettings = { name: 'app', upstream: 'git@h:o/app.git', kind: 'ssh', identityFile: '/k/id', ...DEFAULTS, decisionLog: '/s/d.jsonl' };
  const args = settingsConfigArgs(s);
  t.same(args[0], ['config', 'gitgate.name', 'app']);
  t.notOk(args.some((a) => a[1] === 'gitgate.tokenEnv'), 'absent keys are not written');
  const raw = args.map(([, k, v]) => `${k!.toLowerCase()}\n${v}\0`).join('');
  t.same(parseSettings(raw), s);
  t.equal(parseSettings('gitgate.name\napp\0'), undefined, 'incomplete settings are not a gate repo');
});

t.test('reviewHoldMs: a whole number of ms from 1000 to 24h, kept on the upstream', async (t) => {
  t.same(parseUpstreams('[{"name":"a","upstream":"/x","reviewHoldMs":600000}]', 'up.json', '/'), [{ name: 'a', upstream: '/x', kind: 'file', reviewHoldMs: 600_000 }]);
  t.same(parseUpstreams(`[{"name":"a","upstream":"/x","reviewHoldMs":1000},{"name":"b","upstream":"/y","reviewHoldMs":${MAX_REVIEW_HOLD_MS}}]`, 'up.json', '/')
    .map((u) => u.reviewHoldMs), [1000, 24 * 3600_000], 'the bounds are inclusive');
  for (const bad of ['999', '86400001', '1500.5', '"600000"', 'null', '-1', 'true']) {
    t.throws(() => parseUpstreams(`[{"name":"a","upstream":"/x","reviewHoldMs":${bad}}]`, 'up.json', '/'),
      { name: 'UserError', message: 'up.json: entry 1: reviewHoldMs must be a whole number of milliseconds from 1000 to 86400000' }, bad);
  }
  t.throws(() => parseUpstreams('{"name": 1}', 'up.json', '/'), { message: /reviewHoldMs\?\}/ }, 'the shape names it');
});

t.test('settings round-trip with push review; a malformed hold still means review (the default bound)', async (t) => {
  const s: RepoSettings = {
    name: 'app', upstream: '/srv/app.git', kind: 'file', ...DEFAULTS,
    reviewHoldMs: 90_000, reviewQueueDir: '/bottle/supervise/queue', reviewDecisionsDir: '/bottle/supervise/decisions',
  };
  const args = settingsConfigArgs(s);
  t.same(args.filter((a) => a[1]!.startsWith('gitgate.review')), [
    ['config', 'gitgate.reviewHoldMs', '90000'],
    ['config', 'gitgate.reviewQueueDir', '/bottle/supervise/queue'],
    ['config', 'gitgate.reviewDecisionsDir', '/bottle/supervise/decisions'],
  ]);
  const raw = args.map(([, k, v]) => `${k!.toLowerCase()}\n${v}\0`).join('');
  t.same(parseSettings(raw), s);
  const plain = parseSettings('gitgate.name\napp\0gitgate.upstream\n/srv/app.git\0')!;
  t.notOk('reviewHoldMs' in plain || 'reviewQueueDir' in plain || 'reviewDecisionsDir' in plain, 'no review keys: no review');
  for (const bad of ['soon', '0', '-5', '']) {
    t.equal(parseSettings(`gitgate.name\napp\0gitgate.upstream\n/srv/app.git\0gitgate.reviewholdms\n${bad}\0`)!.reviewHoldMs, DEFAULT_REVIEW_HOLD_MS, JSON.stringify(bad));
  }
});

t.test('startGitGate refuses an upstream with reviewHoldMs but no review dirs: one line, before touching anything', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-git-gate-review-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const reposDir = join(dir, 'repos');
  const err = await startGitGate({ reposDir, upstreams: [{ name: 'app', upstream: '/srv/app.git', kind: 'file', reviewHoldMs: 60_000 }], err: () => undefined }).catch((e: Error) => e);
  t.type(err, UserError);
  t.equal((err as Error).message,
    'git-gate: app: push review is on (reviewHoldMs) but no review queue was given; pass --review-queue-dir and --review-decisions-dir');
  t.notOk(existsSync(reposDir), 'no repos dir made, no git daemon started');
});

t.test('credentials: ssh key via GIT_SSH_COMMAND, https token read by name inside the helper', async (t) => {
  t.same(authFor({ kind: 'ssh', identityFile: "/keys/it's key" }).env, {
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: `ssh -i "/keys/it's key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=15`,
  });
  const https = authFor({ kind: 'https', tokenEnv: 'GH_TOKEN' });
  t.same(https.config, ['-c', 'credential.helper=', '-c', 'credential.helper=!f() { echo username=x-access-token; echo "password=$GH_TOKEN"; }; f']);
  t.same(https.env, { GIT_TERMINAL_PROMPT: '0' });
  t.same(authFor({ kind: 'file' }), { config: [], env: { GIT_TERMINAL_PROMPT: '0' } });
});

t.test('argv builders', async (t) => {
  t.same(fetchArgs('/u.git'), ['fetch', '--prune', '--quiet', '--no-write-fetch-head', '/u.git', '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  t.same(logArgs({ old: A, new: B, ref: 'refs/heads/m' }), [
    'log', '-p', '-U0', '--cc', '-M', '--full-index', '--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/',
    '--format=%x00%H', B, `^${A}`, '--not', '--all', '--',
  ], 'update: old..new, minus what the gate already has');
  t.same(logArgs({ old: Z, new: B, ref: 'refs/heads/m' }).slice(-4), [B, '--not', '--all', '--'], 'new branch: new --not --all');
  t.same(pushArgs('/u.git', [{ old: A, new: B, ref: 'refs/heads/m', ff: true }], false), ['push', '/u.git', `${B}:refs/heads/m`]);
  t.same(pushArgs('/u.git', [
    { old: A, new: B, ref: 'refs/heads/m', ff: false },
    { old: A, new: Z, ref: 'refs/heads/gone', ff: true },
    { old: Z, new: B, ref: 'refs/tags/v1', ff: true },
  ], true), [
    'push', '--atomic', `--force-with-lease=refs/heads/m:${A}`, `--force-with-lease=refs/heads/gone:${A}`, '/u.git',
    `${B}:refs/heads/m`, ':refs/heads/gone', `${B}:refs/tags/v1`,
  ], 'non-fast-forwards and deletions are leased on the old value; no + anywhere');
  t.same(daemonArgv({ daemonBin: '/g/git-daemon', host: '0.0.0.0', port: 9418, reposDir: '/r', accessHook: '/s/access hook', repos: ['/r/a.git'] }), [
    '/g/git-daemon', '--reuseaddr', '--base-path=/r', '--export-all', '--enable=receive-pack', '--listen=0.0.0.0', '--port=9418',
    '--informative-errors', '--verbose', "--access-hook='/s/access hook'", '/r/a.git',
  ]);
  t.equal(parseSymref('ref: refs/heads/trunk\tHEAD\nabc\tHEAD\n'), 'refs/heads/trunk');
  t.equal(parseSymref('abc\tHEAD\n'), undefined);
});

t.test('hook scripts exec absolute argv, quoted, passing git arguments through', async (t) => {
  t.equal(hookScript(['/usr/bin/node', '/app dir/hook-main.js'], 'access'),
    "#!/bin/sh\n# Written by bottle's git-gate at every start; edits are overwritten.\nexec /usr/bin/node '/app dir/hook-main.js' access \"$@\"\n");
});
