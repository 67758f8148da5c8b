// The decision log: one JSON line per request or CONNECT. It carries where a request went and
// what was decided, never header values or bodies; query values and URLs that were blocked
// for carrying a secret are withheld, so the log is not itself a leak.
import type { Stage, Verdict } from '../../lib/policy/index.js';

// One line of the log (field order is the output order).
export interface Decision {
  time: string;
  method: string;
  host: string;
  path: string;
  verdict: Verdict['verdict'];
  stage: Stage; // the one vocabulary, lib/policy STAGES
  reason: string;
  ms: number;
  status: number;
}

// What is printed instead of a withheld field.
export const WITHHELD = '[withheld]';

// Stages whose block means the URL itself held something that must not be repeated. The model
// route is not pattern-scanned, so a path it refuses is unvetted agent text, a secret or not.
const URL_SECRET_STAGES: ReadonlySet<Stage> = new Set<Stage>(['url-dlp', 'entropy', 'canary', 'crlf', 'model-api']);

// `/p?token=abc&x` → `/p?token=…&x`: keys stay (they say what was sent), values go.
export function redactPath(path: string): string {
  const hash = path.indexOf('#');
  const noFrag = hash < 0 ? path : path.slice(0, hash);
  const q = noFrag.indexOf('?');
  if (q < 0) return noFrag;
  const query = noFrag
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=…`;
    })
    .join('&');
  return `${noFrag.slice(0, q)}?${query}`;
}

// Host and path as logged for a verdict: a secret found in the URL (or host name) is not
// copied into the log by quoting the URL it was found in.
export function loggedTarget(host: string, path: string, v: Pick<Verdict, 'verdict' | 'stage' | 'reason'>): { host: string; path: string } {
  if (v.verdict === 'block') {
    const inHost = /host ?name|subdomain|appears to carry a secret/.test(v.reason);
    if (inHost) return { host: WITHHELD, path: path === '' ? '' : WITHHELD };
    if (URL_SECRET_STAGES.has(v.stage)) return { host, path: path === '' ? '' : WITHHELD };
  }
  return { host, path: redactPath(path) };
}

// A line sink that hands `write` all lines recorded in one event-loop turn at once: under
// load this turns one write syscall per request into one per batch.
export function batchedWriter(write: (text: string) => void): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const text = `${pending.join('\n')}\n`;
    pending = [];
    write(text);
  };
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

// The decision as one JSON line (no trailing newline).
export function decisionLine(d: Decision): string {
  return JSON.stringify(d);
}

// Writes decision lines to every sink (stdout, a --log file); a failing sink is dropped
// rather than allowed to break request handling.
export class DecisionLog {
  private readonly sinks: Array<(line: string) => void>;

  constructor(sinks: ReadonlyArray<(line: string) => void>, private readonly now: () => Date = () => new Date()) {
    this.sinks = [...sinks];
  }

  // Records one decision that took `ms` from the start of handling to the status.
  record(
    entry: { method: string; host: string; path: string; verdict: Pick<Verdict, 'verdict' | 'stage' | 'reason'>; status: number },
    ms: number,
  ): void {
    if (this.sinks.length === 0) return;
    const where = loggedTarget(entry.host, entry.path, entry.verdict);
    const line = decisionLine({
      time: this.now().toISOString(),
      method: entry.method,
      host: where.host,
      path: where.path,
      verdict: entry.verdict.verdict,
      stage: entry.verdict.stage,
      reason: entry.verdict.reason,
      ms: Math.round(ms * 100) / 100,
      status: entry.status,
    });
    for (const sink of [...this.sinks]) {
      try {
        sink(line);
      } catch {
        this.sinks.splice(this.sinks.indexOf(sink), 1);
      }
    }
  }
}
