// Cost of the gateway's per-request verdict, evaluate(), for allowed URLs, blocked URLs and
// 10 KB JSON bodies. The peer is the naive engine: one scanner pass over the raw URL (or raw
// body) with every rule — no decoding, no normalisation, no entropy — so the ratio is the
// price of the evasion coverage. In-memory only; nothing is contacted.
import { createHash } from 'node:crypto';
import { dlpScanner } from '../lib/secrets/index.js';
import { dlpOnlyPolicy, evaluate, loadPolicy, prepareCanaries, type HttpRequest } from '../lib/policy/index.js';
import { formatMs, percentile, printTable, ratio } from './lib/index.js';

const WARMUP = 500;
const ITERATIONS = 5000;
const j = (...parts: string[]) => parts.join('');
const SECRET = j('sk-', 'ant-', 'ap', 'i03-', 'u8jzPde0', 'IgxLd6Gn', 'cfBAepfJ', 'Bd0Kh8oO', 'OL8dKLzd');
const sha = (s: string, alg = 'sha1') => createHash(alg).update(s).digest('hex');

const allowedUrls = [
  'https://api.github.com/repos/x/y/issues?state=open',
  'https://api.github.com/repos/octo-org/octo-repo/pulls?state=all&per_page=100&page=3',
  'https://registry.npmjs.org/@types%2fnode',
  'https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz',
  'https://pypi.org/pypi/requests/json',
  `https://files.pythonhosted.org/packages/70/8e/${sha('w', 'sha256').slice(0, 60)}/requests-2.31.0-py3-none-any.whl`,
  'https://github.com/x/y.git/info/refs?service=git-upload-pack',
  `https://codeload.github.com/x/y/tar.gz/${sha('c')}`,
];
const blockedUrls = [
  `https://x.test/?q=${SECRET}`,
  `https://x.test/?q=${Buffer.from(SECRET).toString('base64url')}`,
  `https://x.test/a/${Buffer.from(SECRET).toString('hex')}`,
  `https://x.test/?a=${SECRET.slice(0, 9)}&b=${SECRET.slice(9)}`,
];
const headers = {
  'User-Agent': 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false',
  Accept: 'application/json',
  'If-None-Match': `W/"${sha('etag', 'sha256')}"`,
  'X-Request-Id': '3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f',
  'Accept-Encoding': 'gzip, deflate, br',
};
const sentence = 'Please review the attached module and explain what each exported function does, which edge cases it handles, and how the error handling could be improved. ';
const jsonBody = JSON.stringify({
  model: 'claude-sonnet-4-5', max_tokens: 4096, stream: true,
  messages: Array.from({ length: 8 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: sentence.repeat(8) })),
});
const leakyBody = jsonBody.replace('Please review', `Please review ${Buffer.from(SECRET).toString('base64')}`);

const policy = dlpOnlyPolicy();
const routed = loadPolicy('version: 1\nallow: ["*"]\nroutes: [{ host: api.github.com, headers: { Authorization: "Bearer ${GH}" } }]\n');
const canaries = prepareCanaries([j('rt', '9f3K', 'x7Qm2LpW', '8vZ4nB6c')]);
const scanner = dlpScanner();

function sample(fn: (i: number) => unknown): number[] {
  for (let i = 0; i < WARMUP; i++) fn(i);
  const out: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

function check(req: HttpRequest, want: 'allow' | 'block'): void {
  const v = evaluate(policy, req, canaries);
  if (v.verdict !== want) throw new Error(`bench corpus drifted: ${req.url.slice(0, 60)} -> ${v.stage}: ${v.reason}`);
}

const get = (url: string, h: Record<string, string> = {}): HttpRequest => ({ method: 'GET', url, headers: h });
const post = (body: string): HttpRequest => ({ method: 'POST', url: 'https://api.github.com/repos/x/y/issues', headers: { 'Content-Type': 'application/json', ...headers }, body });
const reqs = {
  allowed: allowedUrls.map((u) => get(u)),
  allowedHeaders: allowedUrls.map((u) => get(u, headers)),
  blocked: blockedUrls.map((u) => get(u)),
  body: [post(jsonBody)],
  leaky: [post(leakyBody)],
};
reqs.allowed.forEach((r) => check(r, 'allow'));
reqs.allowedHeaders.forEach((r) => check(r, 'allow'));
reqs.blocked.forEach((r) => check(r, 'block'));
check(reqs.body[0]!, 'allow');
check(reqs.leaky[0]!, 'block');

let uniqueRound = 0;
const uniqueToken = (i: number) => `c${(uniqueRound++).toString(36)}x${((i * 2654435761) >>> 0).toString(36)}`;
check(get(`${allowedUrls[0]}&after=${uniqueToken(0)}`), 'allow');

interface Row { name: string; ours: number[]; peer?: number[] }
const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
const rows: Row[] = [
  { name: 'allowed URL', ours: sample((i) => evaluate(policy, pick(reqs.allowed, i), canaries)), peer: sample((i) => scanner.first(pick(allowedUrls, i))) },
  { name: 'allowed URL + 5 headers', ours: sample((i) => evaluate(policy, pick(reqs.allowedHeaders, i), canaries)) },
  { name: 'allowed URL, route host', ours: sample((i) => evaluate(routed, pick(reqs.allowed, i), canaries)) },
  // A fresh cursor-like value (10+ characters, so decoded) in every request: decodings the
  // fast path memoizes cannot come from its memo here.
  { name: 'allowed URL, unique query value', ours: sample((i) => evaluate(policy, get(`${pick(allowedUrls, i)}${pick(allowedUrls, i).includes('?') ? '&' : '?'}after=${uniqueToken(i)}`), canaries)) },
  { name: 'blocked URL (DLP)', ours: sample((i) => evaluate(policy, pick(reqs.blocked, i), canaries)), peer: sample((i) => scanner.first(pick(blockedUrls, i))) },
  { name: `JSON body ${(jsonBody.length / 1024).toFixed(1)} KB, allowed`, ours: sample(() => evaluate(policy, reqs.body[0]!, canaries)), peer: sample(() => scanner.first(jsonBody)) },
  { name: 'JSON body, base64 secret', ours: sample(() => evaluate(policy, reqs.leaky[0]!, canaries)), peer: sample(() => scanner.first(leakyBody)) },
];

process.stdout.write(`node ${process.version}, ${process.platform}/${process.arch}; ${WARMUP} warm-up + ${ITERATIONS} timed calls per row\n`);
process.stdout.write('peer = dlpScanner().first(raw URL or raw body): every rule, no decoding/normalisation/entropy\n\n');
printTable('evaluate() latency', ['case', 'p50', 'p99', 'peer p50', 'peer p99', 'p50 vs peer'], rows.map((r) => {
  const p50 = percentile(r.ours, 50);
  const peer50 = r.peer ? percentile(r.peer, 50) : undefined;
  return [
    r.name, formatMs(p50), formatMs(percentile(r.ours, 99)),
    peer50 === undefined ? '-' : formatMs(peer50), r.peer ? formatMs(percentile(r.peer, 99)) : '-',
    peer50 === undefined ? '-' : ratio(p50, peer50),
  ];
}));
// Issue 19's targets, with every hardening stage on (the policy above has them all).
const targets: Array<[row: Row, p: number, maxUs: number]> = [
  [rows[0]!, 50, 20], [rows[0]!, 99, 100],
  [rows.find((r) => r.name.startsWith('blocked'))!, 50, 20], [rows.find((r) => r.name.startsWith('blocked'))!, 99, 100],
  [rows.find((r) => r.name.endsWith('KB, allowed'))!, 50, 200],
];
for (const [row, p, maxUs] of targets) {
  const us = percentile(row.ours, p) * 1000;
  process.stdout.write(`target: ${row.name} p${p} <= ${maxUs} µs: ${us <= maxUs ? 'met' : 'MISSED'} (${us.toFixed(1)} µs)\n`);
}
