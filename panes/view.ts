// What the dashboard shows and hears, without naming a TUI library: the app builds a ViewModel
// from pure renderers (rows.ts, model.ts); screen.ts (the only blessed module) draws it and turns
// terminal input into KeyPress values. Swapping blessed means rewriting screen.ts alone.

// The few colours rows use; the adapter maps them to the terminal's palette.
export type Color = 'green' | 'yellow' | 'red' | 'cyan' | 'gray';

// One line of plain text plus how to style it (text is never pre-escaped for any library).
export interface StyledLine {
  text: string;
  bold?: boolean;
  fg?: Color;
  inverse?: boolean;
}

// One list pane (agents or proposals): border label, column header and rows.
export interface PaneModel {
  label: string;
  header: string;
  lines: StyledLine[];
  /** Row under the cursor, -1 when empty. */
  cursor: number;
  focused: boolean;
  /** Shown instead of rows when there are none. */
  empty: string;
}

// A box over the panes: picker, preflight, confirmations, forms, help, log view.
export interface ModalModel {
  title: string;
  lines: StyledLine[];
  /** Key hints at the bottom of the box. */
  footer: string;
  /** Show the end of `lines` when they do not fit (log views). */
  tail?: boolean;
  /** First body line shown when the lines do not fit (the plan dialog scrolls). */
  scroll?: number;
}

export interface ViewModel {
  agents: PaneModel;
  proposals: PaneModel;
  status?: StyledLine;
  footer: string;
  modal?: ModalModel;
}

// A key as the app sees it: `name` is normalised (enter, escape, tab, S-tab, up, down, backspace,
// C-c, or the character itself), `ch` is the printable character typed, if any.
export interface KeyPress {
  name: string;
  ch?: string;
}

// Inner sizes the renderers truncate and scroll to.
export interface Dims {
  /** Text columns inside a list pane's border. */
  width: number;
  /** Rows available to each list (after the header). */
  agentsRows: number;
  proposalsRows: number;
  /** Text columns inside a modal. */
  modalWidth: number;
  /** Body rows a modal can show at most. */
  modalRows: number;
}

// The widget side of the dashboard.
export interface View {
  dims(): Dims;
  render(vm: ViewModel): void;
  onKey(handler: (key: KeyPress) => void): void;
  onResize(handler: () => void): void;
  /** Writes BEL to the terminal (tmux flags the window when the user is elsewhere). */
  bell(): void;
  /**
   * Hands the terminal to argv (stdio inherited), cleared, with `starting` and the time elapsed
   * on the first row until argv takes the terminal; redraws when it exits; resolves its exit code.
   */
  runForeground(argv: readonly string[], env: NodeJS.ProcessEnv, starting: string): Promise<number>;
  destroy(): void;
}
