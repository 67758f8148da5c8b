// Issue 16 item 2: the usage parser the gateway feeds model answers to as they stream.
import t from 'tap';
import { isMeteredRequest, MAX_JSON_BODY, MAX_SSE_LINE, meterMode, UsageMeter, usageEvent, type Usage } from '../../lib/usage/meter.js';

// An SSE answer as the Messages API streams it.
function sse(o: { crlf?: boolean; named?: boolean } = {}): string {
  const ev = (type: string, data: unknown) => `${o.named === false ? '' : `event: ${type}\n`}data: ${JSON.stringify({ type, ...(data as object) })}\n\n`;
  const text = [
    ev('message_start', { message: { id: 'msg_01abc', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage: { input_tokens: 25, cache_creation_input_tokens: 7, cache_read_input_tokens: 300, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ': a comment\n\n',
    ev('ping', {}),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello — wörld 👋' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 42 } }),
    ev('message_stop', {}),
  ].join('');
  return o.crlf ? text.replace(/\n/g, '\r\n') : text;
}
const EXPECTED: Usage = { model: 'claude-sonnet-4-5', input: 25, output: 42, cacheRead: 300, cacheWrite: 7, messageId: 'msg_01abc' };

function run(mode: 'sse' | 'json', chunks: Array<string | Buffer>): Usage | undefined {
  const m = new UsageMeter(mode);
  for (const c of chunks) m.feed(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return m.end();
}

t.test('SSE: message_start and message_delta usage, whole or split at every byte boundary', async (t) => {
  for (const variant of [{}, { crlf: true }, { named: false }]) {
    const bytes = Buffer.from(sse(variant));
    t.same(run('sse', [bytes]), EXPECTED, `one chunk ${JSON.stringify(variant)}`);
    let bad = 0;
    for (let i = 1; i < bytes.length; i++) {
      const u = run('sse', [bytes.subarray(0, i), bytes.subarray(i)]);
      if (JSON.stringify(u) !== JSON.stringify(EXPECTED)) bad++;
    }
    t.equal(bad, 0, `two chunks cut at each of ${bytes.length - 1} places ${JSON.stringify(variant)}`);
    const bytewise = [...bytes].map((b) => Buffer.from([b]));
    t.same(run('sse', bytewise), EXPECTED, `one byte per chunk ${JSON.stringify(variant)}`);
  }
});

t.test('SSE: lone CR line endings, several events per chunk, latest non-null value wins', async (t) => {
  t.same(run('sse', [sse().replace(/\n/g, '\r')]), EXPECTED, 'CR alone ends lines');
  const text = [
    'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-opus-4-1","usage":{"input_tokens":10,"output_tokens":1}}}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":5,"input_tokens":12,"cache_read_input_tokens":null}}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":9,"cache_creation_input_tokens":3}}\n\n',
  ].join('');
  t.same(run('sse', [text]), { model: 'claude-opus-4-1', input: 12, output: 9, cacheRead: 0, cacheWrite: 3, messageId: undefined });
});

t.test('SSE: missing fields, no usage, malformed and truncated streams', async (t) => {
  t.same(run('sse', ['event: message_start\ndata: {"type":"message_start","message":{"usage":{}}}\n\n']),
    { model: undefined, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, messageId: undefined }, 'an empty usage object still counts as seen');
  t.equal(run('sse', ['event: ping\ndata: {"type":"ping"}\n\n']), undefined, 'no usage: nothing');
  t.equal(run('sse', ['event: message_start\ndata: {"type":"message_start","message":{"usage":\n\n']), undefined, 'malformed JSON: nothing, no throw');
  t.equal(run('sse', ['event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n']), undefined, 'an event never terminated is not dispatched');
  const full = sse();
  const cut = full.slice(0, full.indexOf('event: message_delta'));
  t.same(run('sse', [cut]), { ...EXPECTED, output: 1 }, 'cut before message_delta: what message_start said');
  t.same(run('sse', [full.slice(0, full.indexOf('"usage":{"output_tokens":42') + 20)]), { ...EXPECTED, output: 1 }, 'cut inside message_delta');
  t.same(run('sse', ['data: {"type":"message_start","message":{"usage":{"input_tokens":-3,"output_tokens":"7"}}}\n\n']),
    { model: undefined, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, messageId: undefined }, 'non-numbers and negatives are ignored');
  const m = new UsageMeter('sse');
  m.feed(Buffer.from(full));
  t.same(m.end(), EXPECTED);
  m.feed(Buffer.from('event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":999}}\n\n'));
  t.same(m.end(), EXPECTED, 'nothing after end() counts');
});

t.test('SSE: an over-long line is skipped with bounded memory, the rest still counts', async (t) => {
  const huge = `event: content_block_delta\ndata: ${'x'.repeat(MAX_SSE_LINE + 10)}\n\n`;
  const hugeStart = `event: message_start\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":1,"x":"${'y'.repeat(MAX_SSE_LINE)}"}}}\n\n`;
  const delta = 'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":4}}\n\n';
  const chunks = [huge, hugeStart, delta].join('').match(/[\s\S]{1,65536}/g)!;
  t.same(run('sse', chunks), { model: undefined, input: 0, output: 4, cacheRead: 0, cacheWrite: 0, messageId: undefined });
});

t.test('JSON: a non-streaming answer, split anywhere; oversize and malformed are not metered', async (t) => {
  const body = JSON.stringify({ id: 'msg_02', type: 'message', model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'hé' }], usage: { input_tokens: 3, output_tokens: 8, cache_read_input_tokens: 2 } });
  const want = { model: 'claude-haiku-4-5', input: 3, output: 8, cacheRead: 2, cacheWrite: 0, messageId: 'msg_02' };
  t.same(run('json', [body]), want);
  const bytes = Buffer.from(body);
  let bad = 0;
  for (let i = 1; i < bytes.length; i++) if (JSON.stringify(run('json', [bytes.subarray(0, i), bytes.subarray(i)])) !== JSON.stringify(want)) bad++;
  t.equal(bad, 0, 'split at every byte');
  t.equal(run('json', [body.slice(0, -5)]), undefined, 'truncated: nothing');
  t.equal(run('json', ['{"type":"error","error":{"type":"overloaded_error"}}']), undefined, 'an error answer: nothing');
  const padded = body.replace('"hé"', JSON.stringify('z'.repeat(MAX_JSON_BODY)));
  t.equal(run('json', padded.match(/[\s\S]{1,1048576}/g)!), undefined, 'over the cap: not metered');
});

t.test('what is metered, and the event', async (t) => {
  t.ok(isMeteredRequest('POST', '/v1/messages'));
  t.ok(isMeteredRequest('POST', '/v1/messages?beta=true'));
  t.notOk(isMeteredRequest('POST', '/v1/messages/count_tokens'));
  t.notOk(isMeteredRequest('POST', '/v1/messages/count_tokens?beta=true'));
  t.notOk(isMeteredRequest('GET', '/v1/messages'));
  t.notOk(isMeteredRequest('POST', '/v1/models'));
  t.equal(meterMode('text/event-stream; charset=utf-8'), 'sse');
  t.equal(meterMode('application/json'), 'json');
  t.equal(meterMode('text/html'), undefined);
  t.equal(meterMode(undefined), undefined);
  const time = new Date('2026-01-02T03:04:05.000Z');
  const line = JSON.stringify(usageEvent(EXPECTED, { requestId: 'req_1', path: '/v1/messages?beta=true', status: 200, time }));
  t.equal(line, '{"type":"usage","time":"2026-01-02T03:04:05.000Z","origin":"gateway","model":"claude-sonnet-4-5","input":25,"output":42,"cacheRead":300,"cacheWrite":7,"requestId":"req_1","path":"/v1/messages","status":200}');
  t.equal(usageEvent(EXPECTED, { requestId: undefined, path: '/v1/messages', status: 200 }).requestId, 'msg_01abc', 'no request-id header: the message id');
  t.equal(usageEvent({ ...EXPECTED, model: undefined, messageId: undefined }, { requestId: undefined, path: '/v1/messages', status: 200 }).requestId, null);
});
