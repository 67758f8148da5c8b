// What TLS interception costs the gateway per host: CA creation (once per bottle), leaf
// minting for a new host, a cache hit, and two peers: a fresh key per host (naive), and the
// RSA-2048 keys bottle used before P-256 (key generation is what bring-up paid for).
// Local only: temp directories and in-memory certificates, no sockets.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, LeafMinter } from '../lib/pki/index.js';
import { formatMs, printTable, ratio, summarize, timeIt, type Summary } from './lib/index.js';

const COLD_HOSTS = 200;
const NAIVE_HOSTS = 50;
const CACHED_GETS = 20_000;
const CA_RUNS = 10;

const scratch = mkdtempSync(join(tmpdir(), 'bottle-bench-pki-'));
try {
  let n = 0;
  const caCreate = summarize(timeIt(() => createCA(join(scratch, `ca-${n++}`)), { warmup: 1, iterations: CA_RUNS }));
  const rsaKeys = () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    return { privateKeyPem: k.privateKey, publicKeyPem: k.publicKey };
  };
  const caCreateRsa = summarize(timeIt(() => createCA(join(scratch, `ca-${n++}`), { keys: rsaKeys() }), { warmup: 1, iterations: CA_RUNS }));
  const ca = createCA(join(scratch, 'ca'));
  const minterNew = summarize(timeIt(() => new LeafMinter(ca), { warmup: 1, iterations: CA_RUNS }));

  const minter = new LeafMinter(ca, { maxEntries: 10 * COLD_HOSTS });
  let host = 0;
  const cold = summarize(timeIt(() => minter.get(`cold-${host++}.bench.test`), { warmup: 5, iterations: COLD_HOSTS }));
  const coldCtx = summarize(
    timeIt(() => minter.secureContext(`ctx-${host++}.bench.test`), { warmup: 5, iterations: COLD_HOSTS }),
  );
  minter.secureContext('warm.bench.test');
  const cached = summarize(timeIt(() => minter.get('warm.bench.test'), { warmup: 1000, iterations: CACHED_GETS }));
  const cachedCtx = summarize(
    timeIt(() => minter.secureContext('warm.bench.test'), { warmup: 1000, iterations: CACHED_GETS }),
  );
  // The naive peer: every new host pays for its own key pair (what a minter does at start).
  const naive = summarize(
    timeIt(() => new LeafMinter(ca).get(`naive-${host++}.bench.test`), { warmup: 2, iterations: NAIVE_HOSTS }),
  );

  const row = (name: string, s: Summary) => [name, s.n, formatMs(s.p50), formatMs(s.p99), formatMs(s.mean)];
  process.stdout.write(`node ${process.version}, ${process.platform}/${process.arch}\n\n`);
  printTable('PKI: CA and leaf certificates (ECDSA P-256, SHA-256)', ['case', 'n', 'p50', 'p99', 'mean'], [
    row('createCA (keygen + sign + 2 atomic writes)', caCreate),
    row('peer: createCA with an RSA-2048 key', caCreateRsa),
    row('new LeafMinter (one leaf keygen)', minterNew),
    row('get(host), cold: new host, reused key', cold),
    row('secureContext(host), cold', coldCtx),
    row('get(host), cached', cached),
    row('secureContext(host), cached', cachedCtx),
  ]);
  printTable('Peer: fresh key per host (naive) vs one reused key (LeafMinter)', ['approach', 'n', 'p50', 'p99', 'speedup (p50)'], [
    ['fresh key per host (naive)', naive.n, formatMs(naive.p50), formatMs(naive.p99), ratio(naive.p50, naive.p50)],
    ['reused key, new host (ours)', cold.n, formatMs(cold.p50), formatMs(cold.p99), ratio(naive.p50, cold.p50)],
    ['reused key, cache hit (ours)', cached.n, formatMs(cached.p50), formatMs(cached.p99), ratio(naive.p50, cached.p50)],
  ]);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
