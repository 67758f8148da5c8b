// Turns the engine's build/pull JSON stream into what the operator sees: on a TTY every
// output line as it comes, elsewhere one line per Dockerfile step so CI logs stay readable;
// a failed step becomes an error naming the image, the step and the last lines of output.

// One message of the engine's JSON stream (legacy builder and image pulls).
export interface EngineMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: { ID?: string };
}

// Parses a newline-delimited JSON stream, calling onMessage per object; resolves at the end.
export function readJsonLines(stream: NodeJS.ReadableStream, onMessage: (m: EngineMessage) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const flush = (final: boolean): void => {
      const parts = buffer.split('\n');
      buffer = final ? '' : parts.pop()!;
      for (const part of parts) {
        const text = part.trim();
        if (!text) continue;
        try {
          onMessage(JSON.parse(text) as EngineMessage);
        } catch {
          onMessage({ stream: `${text}\n` }); // not JSON: show it rather than lose it
        }
      }
    };
    stream.on('data', (chunk: Buffer | string) => { buffer += chunk.toString(); flush(false); });
    stream.on('end', () => { flush(true); resolve(); });
    stream.on('error', reject);
  });
}

const ANSI = /\x1b\[[0-9;]*m/g;
const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
// Builder chatter that says nothing in a CI log.
const NOISE = /^( ---> |Removing intermediate container |Successfully built |Successfully tagged )/;

// "RUN sh /tmp/… apt git tini" → one line, at most `width` characters.
export function shortenStep(line: string, width = 100): string {
  const flat = line.replace(/\s*\\\s*\n\s*/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}

// A build's running state: the current step, the output tail, the failure (if any), the id.
export class BuildProgress {
  step?: string;
  imageId?: string;
  failure?: string;
  private tail: string[] = [];
  private partial = '';

  constructor(
    readonly image: string,
    private readonly emit: (line: string) => void,
    private readonly tty: boolean,
    private readonly tailSize = 12,
  ) {}

  // Feeds one engine message; emits zero or more display lines.
  push(m: EngineMessage): void {
    if (m.aux?.ID) this.imageId = m.aux.ID;
    if (m.error || m.errorDetail) {
      this.failure ??= (m.errorDetail?.message ?? m.error ?? 'unknown error').trim();
      return;
    }
    if (m.stream !== undefined) {
      this.partial += m.stream;
      const lines = this.partial.split(/\r?\n/);
      this.partial = lines.pop()!;
      for (const line of lines) this.line(line);
      return;
    }
    // FROM pulling a base: only the TTY shows the per-layer chatter.
    if (m.status && this.tty) this.emit(`[${this.image}] ${m.id ? `${m.id}: ` : ''}${m.status}${m.progress ? ` ${m.progress}` : ''}`);
  }

  // Flushes a trailing line without newline (the stream ended mid-line).
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  // The last lines of output (what a failure message shows).
  lastLines(): string[] {
    return [...this.tail];
  }

  private line(raw: string): void {
    // The builder wraps a step's stderr in red (ESC[91m … ESC[0m) across lines: drop colours.
    const line = raw.replace(ANSI, '').replace(/\s+$/, '');
    const step = STEP.exec(line);
    if (step) this.step = `Step ${step[1]}/${step[2]} : ${shortenStep(step[3]!, 200)}`;
    if (!step && line && !NOISE.test(line)) {
      this.tail.push(line);
      if (this.tail.length > this.tailSize) this.tail.shift();
    }
    if (this.tty) {
      if (line) this.emit(`[${this.image}] ${line}`);
    } else if (step) {
      this.emit(`[${this.image}] Step ${step[1]}/${step[2]} : ${shortenStep(step[3]!)}`);
    }
  }
}

// The one-line-plus-context error text for a failed build.
export function buildFailureMessage(image: string, tag: string, progress: Pick<BuildProgress, 'step' | 'failure' | 'lastLines'>): string {
  const where = progress.step ? ` at ${progress.step}` : '';
  const tail = progress.lastLines();
  const shown = tail.length ? `\n  last output:\n${tail.map((l) => `    | ${l}`).join('\n')}` : '';
  return `building the ${image} image (${tag}) failed${where}: ${progress.failure ?? 'the engine stream ended without an image id'}${shown}` +
    `\n  fix: read the output above; rerun with a TTY to see every line, or pass --ca-file if a TLS-intercepting proxy is in the way`;
}
