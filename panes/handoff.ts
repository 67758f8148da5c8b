// Outside tmux the dashboard hands its terminal to `bottle attach`, which takes seconds (node,
// docker exec, claude's own start) to draw anything. Meanwhile the first row says what is
// starting and for how long. The child takes the terminal before it draws (docker exec -it and
// claude switch it to raw mode), so a change of the terminal's settings is the signal: the row
// is cleared then and never written again. No blessed here; screen.ts supplies the writer.
import { spawnChild } from '../lib/run/spawn.js';

export interface ProgressDeps {
  /** Writes to the terminal, past the muted TUI. */
  write(text: string): void;
  columns(): number;
  /** The terminal's settings as text (`stty -g`); undefined when they cannot be read. */
  ttyMode(): Promise<string | undefined>;
  now(): number;
  /** How often the settings are read and the time updated; 0: only when tick() is called. */
  everyMs: number;
}

// The progress line after `elapsedMs` (whole seconds; none in the first).
export function progressText(what: string, elapsedMs: number): string {
  const s = Math.floor(elapsedMs / 1000);
  return s < 1 ? what : `${what} ${s}s`;
}

// At most `columns - 1` characters: a row that wrapped would spill into the child's.
function fit(text: string, columns: number): string {
  return [...text].slice(0, Math.max(0, columns - 1)).join('');
}

// Rewrites the first row ('' clears it) and puts the cursor back where the child left it
// (DECSC/DECRC, which every VT100 descendant has).
export function firstRow(text: string, columns: number): string {
  return `\x1b7\x1b[1;1H\x1b[2K${fit(text, columns)}\x1b8`;
}

// The line's life: begin() on a cleared screen before the child starts, end() when it exits.
export class HandoffProgress {
  readonly #what: string;
  readonly #deps: ProgressDeps;
  #baseline: string | undefined;
  #started = 0;
  #shown = '';
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #done = false;

  constructor(what: string, deps: ProgressDeps) {
    this.#what = what;
    this.#deps = deps;
  }

  // Reads the settings the child will change, then prints the line; the cursor ends below it.
  async begin(): Promise<void> {
    this.#baseline = await this.#deps.ttyMode();
    this.#started = this.#deps.now();
    this.#shown = progressText(this.#what, 0);
    this.#deps.write(`${fit(this.#shown, this.#deps.columns())}\r\n`);
    // Settings that cannot be read give no signal to stop at: the line stays as it is.
    if (this.#baseline === undefined || this.#deps.everyMs <= 0) return;
    this.#timer = setInterval(() => void this.tick(), this.#deps.everyMs);
  }

  // Clears the line once the child has taken the terminal, else updates the time.
  async tick(): Promise<void> {
    if (this.#done || this.#busy || this.#baseline === undefined) return;
    this.#busy = true;
    let mode: string | undefined;
    try {
      mode = await this.#deps.ttyMode();
    } catch {
      mode = undefined;
    } finally {
      this.#busy = false;
    }
    if (this.#done) return;
    if (mode !== undefined && mode !== this.#baseline) {
      this.end();
      this.#deps.write(firstRow('', this.#deps.columns()));
      return;
    }
    const text = progressText(this.#what, this.#deps.now() - this.#started);
    if (text === this.#shown) return;
    this.#shown = text;
    this.#deps.write(firstRow(text, this.#deps.columns()));
  }

  // Stops without writing (the child exited: the dashboard repaints the whole screen).
  end(): void {
    this.#done = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

// `stty -g` on this process's stdin (the terminal the child shares); undefined without stty.
export async function sttyMode(): Promise<string | undefined> {
  try {
    const child = spawnChild(['stty', '-g'], { stdio: ['inherit', 'pipe', 'ignore'] });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const { exitCode } = await child.closed;
    return exitCode === 0 && out.trim() !== '' ? out.trim() : undefined;
  } catch {
    return undefined;
  }
}
