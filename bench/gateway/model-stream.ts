// A streamed model answer for the gateway bench's metering case. The upstream side
// (answerMessages) stamps every SSE event with the time it was written, the client side
// (streamMessages) notes when each event arrived, so every event's one-way latency is known.
// Both processes are on one machine and read performance.timeOrigin + performance.now()
// (sub-µs; Date.now() is only ms). A constant offset between the two origins cancels in what
// the bench reports: each path minus direct, metering on minus off.
import type http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { UpstreamHandler } from '../../test/helpers/upstream.js';

export const MESSAGES_PATH = '/v1/messages';
// What the answer reports, checked against the gateway's usage lines.
export const MODEL = 'claude-bench';
export const INPUT_TOKENS = 1234;
// Between two events: a model streams tokens milliseconds apart, not back to back.
export const EVENT_GAP_MS = 2;
const MAX_DELTAS = 1000;

const wallNow = () => performance.timeOrigin + performance.now();

// The request: a streaming Messages API call whose max_tokens is the number of text deltas.
export function messagesBody(deltas: number): string {
  return JSON.stringify({ model: MODEL, max_tokens: deltas, stream: true, messages: [{ role: 'user', content: 'bench' }] });
}

// Events in an answer with `deltas` text deltas (message_start, deltas, message_delta, message_stop).
export const eventsPerAnswer = (deltas: number) => deltas + 3;

// Upstream: POST /v1/messages answered as the API streams it: message_start (input usage),
// max_tokens content_block_delta events, message_delta (output usage), message_stop, one write
// per event, EVENT_GAP_MS apart. Each event's data carries `sent`, the time it was written.
export const answerMessages: UpstreamHandler = (req, res, body) => {
  if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== MESSAGES_PATH) return false;
  let deltas = 0;
  try {
    deltas = Math.min(MAX_DELTAS, Math.max(0, Math.floor(Number((JSON.parse(body.toString()) as { max_tokens?: unknown }).max_tokens)) || 0));
  } catch {
    // not JSON: an answer without deltas
  }
  const events: Array<[string, object]> = [
    ['message_start', { message: { id: 'msg_bench', type: 'message', role: 'assistant', model: MODEL, content: [], usage: { input_tokens: INPUT_TOKENS, output_tokens: 1 } } }],
    ...Array.from({ length: deltas }, (_, i): [string, object] => ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: `token ${i} ` } }]),
    ['message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: deltas } }],
    ['message_stop', {}],
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    const [type, data] = events[i]!;
    const text = `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sent: wallNow() })}\n\n`;
    if (++i === events.length) res.end(text);
    else {
      res.write(text);
      setTimeout(next, EVENT_GAP_MS);
    }
  };
  next();
  return true;
};

// Client: one answer, POSTed with `options` (where and how: direct or through a proxy) over
// `agent`. Resolves, once it has ended with message_stop, with each event's one-way latency in
// ms (arrival − sent), in order; rejects on a non-200 (with the body) or a cut-short stream.
export function streamMessages(agent: http.Agent, options: https.RequestOptions, deltas: number): Promise<number[]> {
  const body = messagesBody(deltas);
  const headers = { ...options.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = https.request({ ...options, agent, method: 'POST', path: MESSAGES_PATH, headers }, (res) => {
      let text = '';
      const latencies: number[] = [];
      let stopped = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = wallNow(); // before any parsing: the parse is the client's cost, not the path's
        text += chunk;
        if (res.statusCode !== 200) return;
        for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n')) {
          const data = /^data: (.*)$/m.exec(text.slice(0, end))?.[1];
          text = text.slice(end + 2);
          const event = data ? (JSON.parse(data) as { type?: string; sent?: number }) : {};
          if (typeof event.sent === 'number') latencies.push(at - event.sent);
          if (event.type === 'message_stop') stopped = true;
        }
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}: ${text.slice(0, 300)}`));
        else if (!stopped || latencies.length !== eventsPerAnswer(deltas)) reject(new Error(`stream cut short: ${latencies.length} of ${eventsPerAnswer(deltas)} events`));
        else resolve(latencies);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
