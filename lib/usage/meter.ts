// Metering (issue 16 item 2): the token usage of one Messages API answer, read as it streams.
// A pure incremental parser: feed() it the (decoded) response body piece by piece as it passes
// to the client, end() it once, and it returns the usage it saw, or undefined. Two modes:
// SSE (`message_start` carries the model and the input/cache counts, `message_delta` the
// cumulative output and possibly input/cache counts again: the latest value of each wins) and
// JSON (a non-streaming answer: top-level `model` and `usage`). It never throws and holds a
// bounded amount of memory: an SSE line over MAX_SSE_LINE is skipped, a JSON body over
// MAX_JSON_BODY is not metered.

// The usage one answer reported.
export interface Usage {
  model: string | undefined;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  messageId: string | undefined;
}

// The event the gateway appends to the bundle's events file, one per metered request.
export interface UsageEvent {
  type: 'usage';
  time: string;
  origin: 'gateway';
  model: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  requestId: string | null;
  path: string;
  status: number;
}

export const MAX_JSON_BODY = 4 * 1024 * 1024;
export const MAX_SSE_LINE = 1024 * 1024;
// The path that is metered (POST only; count_tokens and everything else is not).
export const METERED_PATH = '/v1/messages';

// Whether a request is one whose answer is metered: POST /v1/messages, any query.
export function isMeteredRequest(method: string, rawPath: string): boolean {
  return method.toUpperCase() === 'POST' && rawPath.split('?')[0] === METERED_PATH;
}

// The mode for a response Content-Type: SSE, JSON, or none (not metered).
export function meterMode(contentType: string | undefined): 'sse' | 'json' | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/event-stream') return 'sse';
  if (type === 'application/json' || /^application\/[^/]+\+json$/.test(type)) return 'json';
  return undefined;
}

type Counts = Omit<Usage, 'model' | 'messageId'>;
const FIELDS: ReadonlyArray<[keyof Counts, string]> = [
  ['input', 'input_tokens'],
  ['output', 'output_tokens'],
  ['cacheRead', 'cache_read_input_tokens'],
  ['cacheWrite', 'cache_creation_input_tokens'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

const LF = 0x0a;
const CR = 0x0d;
const UTF8 = new TextDecoder('utf-8');

export class UsageMeter {
  private model: string | undefined;
  private messageId: string | undefined;
  private readonly counts: Partial<Counts> = {};
  private seen = false;
  private ended = false;
  // SSE: the current line's bytes (bounded), whether it overflowed, whether the last byte was CR.
  private line: Buffer[] = [];
  private lineLen = 0;
  private overflow = false;
  private afterCR = false;
  // SSE: the event being assembled (name, data lines of an interesting event).
  private event = '';
  private data: string[] = [];
  private dataLen = 0;
  // JSON: the body so far, or over the cap.
  private body: Buffer[] = [];
  private bodyLen = 0;
  private oversize = false;

  constructor(readonly mode: 'sse' | 'json') {}

  // One piece of the body, as it passed.
  feed(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    try {
      if (this.mode === 'json') this.feedJson(chunk);
      else this.feedSse(chunk);
    } catch {
      // A parser bug must never reach the stream it watches.
    }
  }

  // The body is over (or cut short): the usage seen, undefined when none was.
  end(): Usage | undefined {
    if (!this.ended) {
      this.ended = true;
      try {
        if (this.mode === 'json' && !this.oversize) this.take(this.parse(Buffer.concat(this.body, this.bodyLen)));
      } catch {
        // as in feed()
      }
      this.body = [];
      this.line = [];
      this.data = [];
    }
    if (!this.seen) return undefined;
    const c = this.counts;
    return { model: this.model, input: c.input ?? 0, output: c.output ?? 0, cacheRead: c.cacheRead ?? 0, cacheWrite: c.cacheWrite ?? 0, messageId: this.messageId };
  }

  private feedJson(chunk: Buffer): void {
    if (this.oversize) return;
    this.bodyLen += chunk.length;
    if (this.bodyLen > MAX_JSON_BODY) {
      this.oversize = true;
      this.body = [];
      return;
    }
    this.body.push(Buffer.from(chunk));
  }

  private parse(bytes: Buffer): unknown {
    try {
      return JSON.parse(UTF8.decode(bytes));
    } catch {
      return undefined;
    }
  }

  // A Message object (JSON mode, or message_start's `message`).
  private take(message: unknown): void {
    if (!isObject(message)) return;
    if (typeof message.model === 'string' && message.model) this.model = message.model;
    if (typeof message.id === 'string' && message.id) this.messageId = message.id;
    this.takeUsage(message.usage);
  }

  private takeUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    this.seen = true;
    for (const [field, key] of FIELDS) {
      const n = count(usage[key]);
      if (n !== undefined) this.counts[field] = n;
    }
  }

  // Splits into lines (LF, CR or CRLF, which may straddle chunks), holding at most one partial line.
  private feedSse(chunk: Buffer): void {
    let at = 0;
    if (this.afterCR) {
      this.afterCR = false;
      if (chunk[0] === LF) at = 1; // the LF of a CRLF cut between chunks
    }
    // The next CR, found once per pass over the chunk (SSE from the API uses LF alone).
    let cr = chunk.indexOf(CR, at);
    while (at < chunk.length) {
      if (cr !== -1 && cr < at) cr = chunk.indexOf(CR, at);
      const lf = chunk.indexOf(LF, at);
      const eol = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (eol === -1) {
        this.append(chunk.subarray(at));
        return;
      }
      this.append(chunk.subarray(at, eol));
      this.lineDone();
      if (chunk[eol] === CR) {
        if (eol + 1 === chunk.length) {
          this.afterCR = true;
          return;
        }
        at = chunk[eol + 1] === LF ? eol + 2 : eol + 1;
      } else at = eol + 1;
    }
  }

  private append(part: Buffer): void {
    if (part.length === 0 || this.overflow) return;
    if (this.lineLen + part.length > MAX_SSE_LINE) {
      this.overflow = true;
      this.line = [];
      this.lineLen = 0;
      return;
    }
    this.line.push(Buffer.from(part));
    this.lineLen += part.length;
  }

  private lineDone(): void {
    const overflow = this.overflow;
    const text = overflow ? undefined : UTF8.decode(this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineLen));
    this.line = [];
    this.lineLen = 0;
    this.overflow = false;
    if (text === '') return this.dispatch();
    if (text === undefined || text.startsWith(':')) return; // too long to matter, or a comment
    const colon = text.indexOf(':');
    const name = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data' && this.interesting(value) && this.dataLen + value.length <= MAX_SSE_LINE) {
      this.data.push(value);
      this.dataLen += value.length + 1;
    }
  }

  // Only message_start and message_delta carry usage: other events' data is not kept.
  private interesting(value: string): boolean {
    if (this.event === 'message_start' || this.event === 'message_delta') return true;
    return this.event === '' && (value.includes('"message_start"') || value.includes('"message_delta"'));
  }

  private dispatch(): void {
    const data = this.data.join('\n');
    this.event = '';
    this.data = [];
    this.dataLen = 0;
    if (!data) return;
    const v = this.parse(Buffer.from(data));
    if (!isObject(v)) return;
    if (v.type === 'message_start') this.take(v.message);
    else if (v.type === 'message_delta') this.takeUsage(v.usage);
  }
}

// The event for one metered answer.
export function usageEvent(u: Usage, o: { requestId: string | undefined; path: string; status: number; time?: Date }): UsageEvent {
  return {
    type: 'usage',
    time: (o.time ?? new Date()).toISOString(),
    origin: 'gateway',
    model: u.model ?? 'unknown',
    input: u.input,
    output: u.output,
    cacheRead: u.cacheRead,
    cacheWrite: u.cacheWrite,
    requestId: o.requestId || u.messageId || null,
    path: o.path.split('?')[0]!,
    status: o.status,
  };
}
