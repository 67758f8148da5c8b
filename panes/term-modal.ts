// One dashboard modal (the agent picker and the plan dialog) run on a bare terminal, for the
// popups the `bottle` keys open outside the cockpit: the same key reducer (keys.ts) and the same
// modal text (model.ts) as the dashboard, drawn with plain ANSI instead of blessed.
import { handleKey } from './keys.js';
import type { Effect } from './modal.js';
import { modalModel, scrolled, wrapModal } from './model.js';
import type { AppState } from './state.js';
import type { Color, KeyPress, ModalModel, StyledLine } from './view.js';

// Escape sequences terminals send for the keys the modals use (xterm, both cursor modes).
const SEQUENCES: Record<string, string> = {
  '\x1b[A': 'up', '\x1bOA': 'up', '\x1b[B': 'down', '\x1bOB': 'down',
  '\x1b[C': 'right', '\x1bOC': 'right', '\x1b[D': 'left', '\x1bOD': 'left',
  '\x1b[H': 'home', '\x1bOH': 'home', '\x1b[1~': 'home', '\x1b[F': 'end', '\x1bOF': 'end', '\x1b[4~': 'end',
  '\x1b[Z': 'S-tab', '\x1b[5~': 'pageup', '\x1b[6~': 'pagedown', '\x1b[3~': 'delete',
};

// Raw terminal input (one read) → key presses, named as the dashboard's view names them.
export function parseKeys(chunk: string): KeyPress[] {
  const out: KeyPress[] = [];
  let i = 0;
  while (i < chunk.length) {
    if (chunk[i] === '\x1b') {
      const seq = Object.keys(SEQUENCES).find((s) => chunk.startsWith(s, i));
      if (seq) {
        out.push({ name: SEQUENCES[seq]! });
        i += seq.length;
        continue;
      }
      // Unknown CSI/SS3 sequences are skipped whole; a lone ESC is the Escape key.
      const csi = /^\x1b[[O][0-9;]*[@-~]/.exec(chunk.slice(i));
      if (csi) {
        i += csi[0].length;
        continue;
      }
      out.push({ name: 'escape' });
      i += 1;
      continue;
    }
    const ch = String.fromCodePoint(chunk.codePointAt(i)!);
    i += ch.length;
    if (ch === '\r' || ch === '\n') out.push({ name: 'enter' });
    else if (ch === '\t') out.push({ name: 'tab' });
    else if (ch === '\x7f' || ch === '\b') out.push({ name: 'backspace' });
    else if (ch < ' ') out.push({ name: `C-${String.fromCharCode(ch.charCodeAt(0) + 96)}` });
    else out.push({ name: ch === ' ' ? 'space' : ch, ch });
  }
  return out;
}

const FG: Record<Color, number> = { green: 32, yellow: 33, red: 31, cyan: 36, gray: 90 };

function styled(line: StyledLine): string {
  const codes = [...(line.bold ? [1] : []), ...(line.inverse ? [7] : []), ...(line.fg ? [FG[line.fg]] : [])];
  return codes.length > 0 ? `\x1b[${codes.join(';')}m${line.text}\x1b[0m` : line.text;
}

// A modal as a whole screen `cols` × `rows`: title, body (wrapped, scrolled to fit), key hints.
// Raw mode: lines end in \r\n. Text is already sanitised by modalModel.
export function renderModal(m: ModalModel, cols: number, rows: number): string {
  const width = Math.max(10, cols);
  const body = scrolled(wrapModal(m, width), Math.max(2, rows - 4));
  const clip = (s: string): string => (s.length > width ? s.slice(0, width) : s);
  const lines = [
    styled({ text: clip(m.title), bold: true }),
    '',
    ...body.lines.map((l) => styled({ ...l, text: clip(l.text) })),
    '',
    styled({ text: clip(m.footer), fg: 'gray' }),
  ];
  return `\x1b[H\x1b[2J${lines.join('\r\n')}`;
}

// The terminal the modal runs on (commands/decide.ts's KeyTerminal fits).
export interface ModalTerminal {
  next(): Promise<string | null>;
  write(text: string): void;
  size(): { columns: number; rows: number };
}

export interface TermModalOptions {
  /** Replaces the modal's title (the picker's says "New agent"). */
  title?: string;
  /**
   * Performs an effect the keys asked for: the next state (a modal to show), or undefined to
   * finish. `quit` (Ctrl-C) finishes without asking.
   */
  effect(e: Effect, state: AppState): Promise<AppState | undefined>;
}

// Runs the state's modal until it closes, an effect finishes it, or input ends.
export async function runTermModal(term: ModalTerminal, initial: AppState, o: TermModalOptions): Promise<void> {
  let state = initial;
  for (;;) {
    if (!state.modal) return;
    const { columns, rows } = term.size();
    const dims = { width: columns, agentsRows: rows, proposalsRows: rows, modalWidth: Math.max(10, columns), modalRows: Math.max(2, rows - 4) };
    const m = modalModel(state, state.modal, dims, { now: Date.now(), inTmux: true });
    term.write(renderModal(o.title && state.modal.kind === 'picker' ? { ...m, title: o.title } : m, columns, rows));
    const chunk = await term.next();
    if (chunk === null) return;
    for (const key of parseKeys(chunk)) {
      const r = handleKey(state, key);
      state = r.state;
      for (const e of r.effects) {
        if (e.type === 'quit') return;
        const next = await o.effect(e, state);
        if (!next) return;
        state = next;
      }
      if (!state.modal) return;
    }
  }
}
