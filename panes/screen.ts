// The only module that knows blessed: draws a ViewModel, reports keys and resizes, rings the bell,
// and hands the terminal to a foreground process. Everything it shows comes pre-rendered as
// StyledLines, so replacing blessed means replacing this file.
import blessed from 'blessed';
import type { Readable, Writable } from 'node:stream';
import { spawnChild } from '../lib/run/spawn.js';
import { HandoffProgress, sttyMode } from './handoff.js';
import { scrollTop } from './rows.js';
import type { Dims, KeyPress, ModalModel, PaneModel, StyledLine, View, ViewModel } from './view.js';

export interface ScreenOptions {
  input?: Readable;
  output?: Writable;
  title?: string;
}

// blessed's own pair around its alternate screen (what destroy and a new screen use); untyped.
interface ScreenModes { enter(): void; leave(): void }

const FOOTER_ROWS = 2;
const STATUS_ROWS = 1;

// blessed's tag markup for one styled line (text escaped, so `{` in a reason stays text).
export function tagged(line: StyledLine): string {
  let open = '';
  let close = '';
  if (line.bold) { open += '{bold}'; close = `{/bold}${close}`; }
  if (line.inverse) { open += '{inverse}'; close = `{/inverse}${close}`; }
  if (line.fg) { open += `{${line.fg === 'gray' ? 'grey' : line.fg}-fg}`; close = `{/${line.fg === 'gray' ? 'grey' : line.fg}-fg}${close}`; }
  return `${open}${blessed.escape(line.text)}${close}`;
}

// Maps blessed's (ch, key) to a KeyPress; undefined for the duplicate 'return' blessed sends
// before its 'enter' for every carriage return.
export function normaliseKey(ch: string | undefined, key: { name?: string; full?: string; ctrl?: boolean; meta?: boolean; shift?: boolean } | undefined): KeyPress | undefined {
  const name = key?.name;
  if (name === 'return') return undefined;
  if (ch !== undefined && ch.length === 1 && ch >= ' ' && ch !== '\x7f' && !key?.ctrl && !key?.meta) {
    return { name: ch === ' ' ? 'space' : ch, ch };
  }
  if (!key) return undefined;
  if (name === 'tab' && key.shift) return { name: 'S-tab' };
  if (key.ctrl && name) return { name: `C-${name}` };
  return name ? { name } : undefined;
}

// The blessed View. Creating it takes over the terminal (alternate screen, raw input).
export class BlessedView implements View {
  readonly screen: blessed.Widgets.Screen;
  readonly #agents: blessed.Widgets.BoxElement;
  readonly #proposals: blessed.Widgets.BoxElement;
  readonly #status: blessed.Widgets.BoxElement;
  readonly #footer: blessed.Widgets.BoxElement;
  readonly #modal: blessed.Widgets.BoxElement;
  #keyHandler: (k: KeyPress) => void = () => undefined;
  #resizeHandler: () => void = () => undefined;
  #suspended = false;
  #unmute: () => void = () => undefined;

  constructor(opts: ScreenOptions = {}) {
    // Debian 12's tmux-256color terminfo is unparsable for blessed (it falls back to 8 colours):
    // claim xterm-256color, which tmux understands. Unicode borders instead of the ACS charset.
    process.env.NCURSES_NO_UTF8_ACS = '1';
    this.screen = blessed.screen({
      terminal: 'xterm-256color', fullUnicode: true, smartCSR: true, autoPadding: false,
      title: opts.title ?? 'bottle', dockBorders: false,
      ...(opts.input ? { input: opts.input } : {}), ...(opts.output ? { output: opts.output } : {}),
    } as blessed.Widgets.IScreenOptions);
    const box = (o: blessed.Widgets.BoxOptions) => blessed.box({ parent: this.screen, tags: true, wrap: false, ...o });
    this.#agents = box({ top: 0, left: 0, width: '100%', border: { type: 'line' } });
    this.#proposals = box({ left: 0, width: '100%', border: { type: 'line' } });
    this.#status = box({ left: 0, width: '100%', height: STATUS_ROWS });
    this.#footer = box({ left: 0, width: '100%', height: FOOTER_ROWS, style: { fg: 'grey' } as never });
    this.#modal = box({ top: 'center', left: 'center', border: { type: 'line' }, hidden: true, style: { border: { fg: 'cyan' } } as never });
    this.#layout();
    this.screen.on('keypress', (ch: string | undefined, key: Parameters<typeof normaliseKey>[1]) => {
      if (this.#suspended) return;
      const k = normaliseKey(ch, key);
      if (k) this.#keyHandler(k);
    });
    this.screen.on('resize', () => {
      this.#layout();
      this.#resizeHandler();
    });
  }

  #layout(): void {
    const h = Math.max(10, Number(this.screen.height));
    const avail = h - FOOTER_ROWS - STATUS_ROWS;
    const agentsH = Math.max(5, Math.floor(avail / 2));
    this.#agents.height = agentsH;
    this.#proposals.top = agentsH;
    this.#proposals.height = Math.max(4, avail - agentsH);
    this.#status.top = avail;
    this.#footer.top = avail + STATUS_ROWS;
  }

  dims(): Dims {
    const w = Math.max(20, Number(this.screen.width));
    return {
      width: w - 2,
      agentsRows: Math.max(1, Number(this.#agents.height) - 3),
      proposalsRows: Math.max(1, Number(this.#proposals.height) - 3),
      modalWidth: this.#modalWidth() - 4,
      modalRows: this.#modalMaxHeight() - 4,
    };
  }

  // Border, blank line and footer take 4 rows of a modal.
  #modalMaxHeight(): number {
    return Math.max(5, Number(this.screen.height) - 2);
  }

  #modalWidth(): number {
    return Math.max(20, Math.min(100, Number(this.screen.width) - 2));
  }

  render(vm: ViewModel): void {
    this.#pane(this.#agents, vm.agents);
    this.#pane(this.#proposals, vm.proposals);
    this.#status.setContent(vm.status ? tagged(vm.status) : '');
    this.#footer.setContent(blessed.escape(vm.footer));
    this.#showModal(vm.modal);
    // A closing modal is repainted away right here, not at the next tick (predecessor bug:
    // the preflight box stayed on screen for the whole bring-up).
    if (!this.#suspended) this.screen.render();
  }

  // Sets a list pane's label, header and visible window of rows.
  #pane(el: blessed.Widgets.BoxElement, m: PaneModel): void {
    const rows = Math.max(1, Number(el.height) - 3);
    el.setLabel(` ${m.label} `);
    (el.style as { border?: { fg?: string } }).border = { fg: m.focused ? 'cyan' : 'grey' };
    const lines = [tagged({ text: m.header, fg: 'gray' })];
    if (m.lines.length === 0) lines.push(tagged({ text: m.empty, fg: 'gray' }));
    const top = scrollTop(m.cursor, m.lines.length, rows);
    for (let i = top; i < Math.min(m.lines.length, top + rows); i++) {
      const line = m.lines[i]!;
      lines.push(tagged(i === m.cursor && m.focused ? { ...line, inverse: true } : line));
    }
    el.setContent(lines.join('\n'));
  }

  #showModal(m: ModalModel | undefined): void {
    if (!m) {
      if (!this.#modal.hidden) this.#modal.hide();
      return;
    }
    const maxH = this.#modalMaxHeight();
    const bodyRows = maxH - 4;
    const body = m.tail ? m.lines.slice(-bodyRows) : m.lines.slice(0, bodyRows);
    this.#modal.width = this.#modalWidth();
    this.#modal.height = Math.min(maxH, body.length + 4);
    this.#modal.setLabel(` ${m.title} `);
    this.#modal.setContent([...body.map(tagged), '', tagged({ text: m.footer, fg: 'gray' })].map((l) => ` ${l}`).join('\n'));
    this.#modal.show();
    this.#modal.setFront();
  }

  onKey(handler: (k: KeyPress) => void): void {
    this.#keyHandler = handler;
  }

  onResize(handler: () => void): void {
    this.#resizeHandler = handler;
  }

  bell(): void {
    this.screen.program.output.write('\x07');
  }

  // Outside tmux: claude gets the real terminal, cleared, with a progress line until it takes
  // over; the dashboard ignores Ctrl-C meanwhile (the terminal sends SIGINT to the whole
  // foreground process group) and repaints afterwards.
  async runForeground(argv: readonly string[], env: NodeJS.ProcessEnv, starting: string): Promise<number> {
    if (argv.length === 0) return 127;
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    this.#suspended = true;
    const write = this.#leave();
    const progress = new HandoffProgress(starting, { write, columns: () => Number(this.screen.width), ttyMode: sttyMode, now: Date.now, everyMs: 200 });
    try {
      await progress.begin();
      const child = spawnChild(argv, { stdio: 'inherit', env });
      return await child.exited.then(({ exitCode, signal }) => exitCode ?? (signal ? 128 : 1), () => 127);
    } finally {
      progress.end();
      process.off('SIGINT', ignore);
      this.#suspended = false;
      this.#enter();
    }
  }

  // The terminal as the shell had it: alternate screen left, keypad and scroll region reset,
  // cursor shown, input cooked, screen cleared. blessed is muted until #enter (its resize handler
  // would paint over the child); the returned writer gets past the mute. Not blessed's
  // screen.spawn: it mutes output before its buffered leave-alternate-screen is flushed, so the
  // dashboard stayed on screen under claude's first line (issue 20).
  #leave(): (text: string) => void {
    const program = this.screen.program;
    (this.screen as unknown as ScreenModes).leave();
    program.clear();
    program.flush();
    const out = program.output;
    const original = out.write;
    const write = original.bind(out) as (text: string) => boolean;
    out.write = (() => true) as typeof out.write;
    this.#unmute = () => { out.write = original; };
    program.input.pause();
    (program.input as Partial<NodeJS.ReadStream>).setRawMode?.(false);
    return (text) => { write(text); };
  }

  // Back to the dashboard: output, raw input, alternate screen, hidden cursor, a full repaint.
  #enter(): void {
    const program = this.screen.program;
    this.#unmute();
    this.#unmute = () => undefined;
    (program.input as Partial<NodeJS.ReadStream>).setRawMode?.(true);
    program.input.resume();
    (this.screen as unknown as ScreenModes).enter();
    this.#layout();
    this.screen.render();
  }

  destroy(): void {
    this.screen.destroy();
  }
}
