// tmux format strings bottle asks for and the parsers for their output. Output is machine
// format (`-F` with a rare separator), never tmux's human tables.
import { escapeFormat, type PaneId } from './argv.js';

// ASCII unit separator: never in ids, names or numbers; tmux passes it through unescaped.
export const SEP = '\x1f';

// Pane user option holding the pane's label. A user option rather than the pane title because
// apps (claude included) overwrite the title with OSC 2.
export const LABEL_OPTION = '@bottle_label';

// Border text: the label when set, else the title.
export const PANE_BORDER_FORMAT = ` #{?#{${LABEL_OPTION}},#{${LABEL_OPTION}},#{pane_title}} `;

// One pane as list-panes reports it.
export interface PaneRecord {
  paneId: PaneId;
  session: string;
  windowId: string;
  windowIndex: number;
  paneIndex: number;
  /** The process exited and remain-on-exit kept the pane. */
  dead: boolean;
  deadStatus?: number;
  active: boolean;
  pid?: number;
  /** The `@bottle_label` user option, as stored (border-escaped, see labelValue). */
  label?: string;
}

const PANE_FIELDS = [
  'pane_id', 'session_name', 'window_id', 'window_index', 'pane_index',
  'pane_dead', 'pane_dead_status', 'pane_active', 'pane_pid',
  LABEL_OPTION, // last: free text, may contain anything but a newline
] as const;

// The -F format matching parsePanes().
export const PANE_FORMAT = PANE_FIELDS.map((f) => `#{${f}}`).join(SEP);

function int(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  return Number(s);
}

// Parses `list-panes -F PANE_FORMAT` output; a malformed line is an error, not a skipped pane.
export function parsePanes(stdout: string): PaneRecord[] {
  const records: PaneRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const f = line.split(SEP);
    if (f.length < PANE_FIELDS.length || !/^%\d+$/.test(f[0] ?? '')) {
      throw new Error(`tmux list-panes: unexpected line ${JSON.stringify(line)} (wanted ${PANE_FIELDS.length} fields)`);
    }
    const [paneId, session, windowId, windowIndex, paneIndex, dead, deadStatus, active, pid] = f as string[] as [
      string, string, string, string, string, string, string, string, string,
    ];
    const label = f.slice(PANE_FIELDS.length - 1).join(SEP);
    records.push({
      paneId,
      session,
      windowId,
      windowIndex: int(windowIndex) ?? -1,
      paneIndex: int(paneIndex) ?? -1,
      dead: dead === '1',
      ...(int(deadStatus) !== undefined ? { deadStatus: int(deadStatus) } : {}),
      active: active === '1',
      ...(int(pid) !== undefined ? { pid: int(pid) } : {}),
      ...(label !== '' ? { label } : {}),
    });
  }
  return records;
}

// Parses `-F '#{pane_id}'` output (one id per line).
export function parsePaneIds(stdout: string): PaneId[] {
  return stdout.split('\n').map((s) => s.trim()).filter(isPaneId);
}

// The value to store in a user option that a format expands where styles apply: @bottle_label
// in pane-border-format, @bottle-status in the user's status-right. There `#[fg=red]` would
// restyle the border or status line and `##` would print '#'. Control characters (a newline
// would also break list-panes lines) become spaces.
export function labelValue(text: string): string {
  return escapeFormat(text.replace(/[\x00-\x1f\x7f]/g, ' '));
}

// Whether a string is a pane id (`%N`), e.g. before adopting one read back from an option.
export function isPaneId(s: string | undefined): s is PaneId {
  return s !== undefined && /^%\d+$/.test(s);
}

// One attached client as list-clients reports it.
export interface ClientRecord {
  name: string;
  /** Last input from the terminal, in whole seconds (tmux keeps no finer time in formats). */
  activity: number;
  session: string;
  width: number;
  height: number;
  /** tmux -C clients (iTerm2 and the like) draw no popups. */
  control: boolean;
}

const CLIENT_FIELDS = ['client_activity', 'client_width', 'client_height', 'client_control_mode', 'client_name', 'client_session'] as const;

// The -F format matching parseClients().
export const CLIENT_FORMAT = CLIENT_FIELDS.map((f) => `#{${f}}`).join(SEP);

// Parses `list-clients -F CLIENT_FORMAT` output; a malformed line is an error, not a skipped client.
export function parseClients(stdout: string): ClientRecord[] {
  const out: ClientRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const f = line.split(SEP);
    const [activity, width, height, control, name, session] = f as [string, string, string, string, string, string];
    if (f.length !== CLIENT_FIELDS.length || int(activity) === undefined || !name) {
      throw new Error(`tmux list-clients: unexpected line ${JSON.stringify(line)} (wanted ${CLIENT_FIELDS.length} fields)`);
    }
    out.push({ name, activity: int(activity)!, session, width: int(width) ?? 0, height: int(height) ?? 0, control: control === '1' });
  }
  return out;
}

// The client the operator used last, in any session: the highest activity. Ties (one second)
// go to a client outside `preferOutside` (the dashboard's session already rings and shows a
// message), then to the first listed. Control-mode clients never.
export function mostRecentClient(clients: readonly ClientRecord[], preferOutside?: string): ClientRecord | undefined {
  let best: ClientRecord | undefined;
  for (const c of clients) {
    if (c.control) continue;
    const better = !best || c.activity > best.activity
      || (c.activity === best.activity && best.session === preferOutside && c.session !== preferOutside);
    if (better) best = c;
  }
  return best;
}
