// One request (or CONNECT, or WebSocket upgrade) through the gateway, mitmproxy-style: a flow
// object passed through ordered stages (stages.ts), any of which may end it with refuse(). That
// is the one way the gateway says no: it answers the client and records the decision together,
// and a flow is recorded once, whatever happens after.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Verdict } from '../../lib/policy/index.js';
import type { GatewayContext } from './context.js';
import type { Snapshot } from './reload.js';
import { blockAnswer, sendRaw, sendText, wantsJson } from './respond.js';

// What the decision log keeps of a verdict.
export type Outcome = Pick<Verdict, 'verdict' | 'stage' | 'reason'>;

// A "no": the outcome to record, the status, and the text answer (none: the connection is
// dropped without one, e.g. for a client that already went away); or a block, whose answer
// refuse() words for the flow's host and client (blockAnswer).
export type Refusal =
  | { outcome: Outcome; status: number; body?: string; type?: string }
  | { outcome: Outcome; status: 403; block: { prefix?: string } };

// A block, by the policy or a gateway check: 403 with the reason and the hint for its stage.
export function blocked(v: Outcome, prefix?: string): Refusal {
  return { outcome: v, status: 403, block: { prefix } };
}

// A failure after the decision (missing route credential, upstream down, unusable answer):
// 502 with `reason`, logged as the decision made so far with that reason.
export function failure(v: Outcome, reason: string): Refusal {
  return { outcome: { ...v, reason }, status: 502, body: `${reason}\n` };
}

// Where a flow's answers go: node's response, or a raw socket taken over (CONNECT, upgrade).
export type Client = { res: ServerResponse } | { socket: Duplex };

// One flow: who asked for what, under which policy snapshot, answered where. `path` is the raw
// request path: the one judged, sent upstream and (redacted) logged.
export class Flow {
  // This flow's policy, whatever reloads happen meanwhile.
  readonly snap: Snapshot;
  private readonly started = performance.now();
  private recorded = false;
  private bodyRead = false;

  constructor(
    readonly g: GatewayContext,
    private readonly client: Client,
    readonly method: string,
    readonly host: string,
    readonly path: string,
  ) {
    this.snap = g.store.current;
  }

  // The body stage read the request whole: a refusal may keep the connection open from now
  // on (before, unread body bytes would be parsed as the next request, so it is closed).
  bodyConsumed(): void {
    this.bodyRead = true;
  }

  // Records the decision once (the first status known wins); ms since the flow began.
  record(outcome: Outcome, status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    this.g.log.record({ method: this.method, host: this.host, path: this.path, verdict: outcome, status }, performance.now() - this.started);
    this.g.lapses.decided(this.snap.policy, this.host, outcome);
  }

  // Says no: sends the answer (or drops the client) and records it. A block is answered as
  // JSON to a request whose Accept prefers it (raw sockets: CONNECT, upgrades, get text).
  refuse(r: Refusal): void {
    const c = this.client;
    const answer = 'block' in r
      ? blockAnswer({ outcome: r.outcome, host: this.host, prefix: r.block.prefix }, 'res' in c && wantsJson(c.res.req?.headers.accept))
      : r.body === undefined ? undefined : { status: r.status, body: r.body, ...(r.type ? { type: r.type } : {}) };
    if (answer === undefined) ('res' in c ? c.res : c.socket).destroy();
    else if ('res' in c) sendText(c.res, answer, !this.bodyRead);
    else sendRaw(c.socket, answer);
    this.record(r.outcome, r.status);
  }
}
