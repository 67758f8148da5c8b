// A small closed-loop load generator: N workers, each sending the next request as soon as the
// previous response has been read, for a fixed time. Keep-alive agents make connection reuse
// part of what is measured, as with a real agent's HTTP client.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  warmupMs: number; // run but not recorded (connections, JIT, leaf minting)
  window?: (edge: 'start' | 'end') => void; // called as the recorded window opens and closes
}

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  latencies: number[]; // ms, one per recorded request
  firstError?: string;
}

// One request: resolves when the whole response has been read; rejects on a non-200.
export type Send = () => Promise<void>;

// A GET sender over `agent` (http or https module picked by `tls`).
export function getter(tls: boolean, agent: http.Agent, options: https.RequestOptions): Send {
  const mod = tls ? https : http;
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = mod.request({ ...options, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}

// Runs `send` from `concurrency` workers for warmup + duration; stops by itself.
export async function runLoad(send: Send, o: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const end = measureFrom + o.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    for (let now = performance.now(); now < end; now = performance.now()) {
      try {
        await send();
        const done = performance.now();
        if (now >= measureFrom) latencies.push(done - now);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        await new Promise((r) => setTimeout(r, 10)); // a failing peer must not spin the loop
      }
    }
  };
  const opened = setTimeout(() => o.window?.('start'), o.warmupMs);
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  clearTimeout(opened);
  o.window?.('end');
  const seconds = (performance.now() - measureFrom) / 1000;
  return { requests: latencies.length, errors, rps: latencies.length / seconds, latencies, firstError };
}
