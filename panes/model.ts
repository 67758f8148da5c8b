// AppState → ViewModel: which rows, labels, modal text and key hints the view shows. Pure.
import { sanitize } from '../lib/format.js';
import { GRANT_CHOICES } from '../lib/policy/index.js';
import { engineItems, pickerItems, type Modal } from './modal.js';
import {
  agentHeader, agentRow, agentsLabel, fit, hasEngines, hasGrants, hasPaused, hasUsage, proposalHeader, proposalRow, proposalsLabel, usageTotalText,
} from './rows.js';
import { cursorIndex, pendingBySlug, type AppState } from './state.js';
import type { Dims, ModalModel, StyledLine, ViewModel } from './view.js';

// The key hints, most important last-dropped: a line wider than the terminal is cut by the view
// (at 80 columns the full bar ended in a stray `q q`), so hints drop out instead, `? help` and
// `q quit` last.
const HINTS: readonly { text: string; priority: number }[] = [
  { text: 'j/k move', priority: 3 },
  { text: 'Tab pane', priority: 4 },
  { text: 'n new', priority: 6 },
  { text: 'Enter attach/resume', priority: 5 },
  { text: 'x stop', priority: 2 },
  { text: 'D remove', priority: 0 },
  { text: 'a/r approve/reject', priority: 1 },
  { text: '? help', priority: 8 },
  { text: 'q quit', priority: 7 },
];

export const FOOTER = HINTS.map((h) => h.text).join('  ');

// The key hint bar for a terminal `width` columns wide.
export function footerText(width: number): string {
  let shown = [...HINTS];
  const text = () => shown.map((h) => h.text).join('  ');
  while (text().length > width && shown.length > 1) {
    const lowest = shown.reduce((lo, h) => (h.priority < lo.priority ? h : lo));
    shown = shown.filter((h) => h !== lowest);
  }
  return text();
}

// A status message cut to `width` at a word boundary with an ellipsis (never mid-word).
export function clipWords(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  const cut = text.lastIndexOf(' ', width - 1);
  const head = cut > width / 3 ? text.slice(0, cut) : text.slice(0, width - 1);
  return `${head.replace(/[\s,;:]+$/, '')}…`;
}

export const EXAMPLE_NOTICE = 'using the built-in example manifest; create ./bottle.yaml for your own';

// The help modal's text: every key, what it does.
export function helpLines(inTmux: boolean): string[] {
  return [
    'j / k, arrows   move the cursor',
    'Tab             switch between the agents and proposals panes',
    'n               new agent: pick one from the manifest (then its engine, when the manifest',
    '                names several), see its plan, y to start',
    `Enter           ${inTmux ? "show the agent's claude session in the right pane" : "attach to the agent's claude session"};`,
    '                on a stopped or down (dimmed) agent: resume it with its saved work (asks first);',
    `                on a proposal: show it ${inTmux ? 'in the right pane' : 'here'} (a held push: its commits and full diff; q closes)`,
    'x               stop the agent under the cursor (asks first); its work is saved (claude',
    '                sessions, unpushed commits, uncommitted changes) and it stays listed, stopped',
    'D               remove the agent under the cursor for good, saved work included (asks',
    '                first, naming what is lost)',
    'a               approve the proposal under the cursor (shows the policy change first;',
    '                an allowlist one for good with y, or for 10m / 1h / until stop with 1 / 2 / 3)',
    '                a push held for review (kind push): y forwards it upstream',
    'r               reject the proposal under the cursor (type an optional note, Enter)',
    '$               change the budget of the agent under the cursor (USD, or off to lift it)',
    '?               this help',
    'q               quit the dashboard; every bottle keeps running',
    '',
    'New proposals and agents waiting for input ring the bell and move the cursor to them.',
    'A proposal your manifest pre-approves (supervise.auto_approve) arrives approved, marked auto.',
    'GRANT counts down an agent\'s soonest time-boxed grant (`stop`: until it stops); a grant',
    'the agent still uses after it lapsed rings the bell once.',
    'USAGE is an agent\'s model tokens and cost over its life ($? without a known price), RATE its',
    'cost per hour over the last 5 minutes; the Agents border shows the total cost of those listed.',
  ];
}

export interface ModelOptions {
  now: number;
  inTmux: boolean;
  /** The manifest in use is the built-in example (no --manifest, ./ or XDG bottle.yaml). */
  exampleManifest?: boolean;
}

// The whole screen for one state.
export function viewModel(state: AppState, dims: Dims, o: ModelOptions): ViewModel {
  const pending = pendingBySlug(state);
  const grants = hasGrants(state.bottles);
  const usage = hasUsage(state.bottles);
  const paused = hasPaused(state.bottles);
  const engines = hasEngines(state.bottles);
  const agents = state.bottles.map((b) => agentRow(b, { now: o.now, width: dims.width, occupant: state.occupant, pending: pending.get(b.slug) ?? 0, grants, usage, paused, engines }));
  const proposals = state.proposals.map((p) => proposalRow(p, { now: o.now, width: dims.width, fresh: (state.fresh.get(p.id) ?? 0) > o.now }));
  const isNew = state.unseen > 0 || state.fresh.size > 0;
  return {
    agents: {
      label: `${agentsLabel(state.bottles.length, usageTotalText(state.bottles))}${o.exampleManifest ? ' · example manifest' : ''}`,
      header: agentHeader(dims.width, grants, usage, paused, engines), lines: agents,
      cursor: cursorIndex(state, 'agents'), focused: state.focus === 'agents',
      empty: 'no bottles: press n to start one',
    },
    proposals: {
      label: proposalsLabel(state.proposals.length, isNew), header: proposalHeader(dims.width), lines: proposals,
      cursor: cursorIndex(state, 'proposals'), focused: state.focus === 'proposals',
      empty: 'no pending proposals',
    },
    ...(state.status ? { status: { text: clipWords(sanitize(state.status.text), dims.width + 2), fg: state.status.level === 'error' ? 'red' : 'cyan' } } : {}),
    footer: footerText(dims.width + 2),
    ...(state.modal ? { modal: scrolled(wrapModal(modalModel(state, state.modal, dims, o), dims.modalWidth), dims.modalRows) } : {}),
  };
}

// Splits one line into pieces of at most `width` columns, at spaces where it can.
export function wrapText(text: string, width: number): string[] {
  if (width <= 0 || text.length <= width) return [text];
  const out: string[] = [];
  let rest = text;
  const indent = /^\s*/.exec(text)![0].slice(0, Math.floor(width / 2));
  while (rest.length > width) {
    let cut = rest.lastIndexOf(' ', width);
    if (cut <= indent.length) cut = width;
    out.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut).trimStart();
  }
  out.push(rest);
  return out;
}

// Long modal lines (reasons, diffs, plan paths) wrap instead of being cut at the box edge.
export function wrapModal(m: ModalModel, width: number): ModalModel {
  return { ...m, lines: m.lines.flatMap((l) => wrapText(l.text, width).map((text) => ({ ...l, text }))) };
}

// A modal taller than the screen: the window of `rows` body lines from its `scroll` offset
// (clamped), with a last line saying what is hidden and how to scroll. Log views show their end.
export function scrolled(m: ModalModel, rows: number): ModalModel {
  if (m.tail || m.lines.length <= rows || rows < 2) return m;
  const body = rows - 1;
  const top = Math.min(Math.max(0, m.scroll ?? 0), m.lines.length - body);
  const below = m.lines.length - body - top;
  const where = [top > 0 ? `${top} above` : '', below > 0 ? `${below} more below` : ''].filter(Boolean).join(', ');
  return { ...m, scroll: top, lines: [...m.lines.slice(top, top + body), { text: `-- ${where} (j/k or ↑/↓ scroll) --`, fg: 'gray' }] };
}

function plain(lines: readonly string[]): StyledLine[] {
  return lines.map((text) => ({ text: sanitize(text) }));
}

// The text of one modal.
export function modalModel(state: AppState, modal: Modal, dims: Dims, o: ModelOptions): ModalModel {
  switch (modal.kind) {
    case 'help':
      return { title: 'Keys', lines: plain(helpLines(o.inTmux)), footer: 'any key closes' };
    case 'picker': {
      const items = pickerItems(modal.agents, modal.filter, state.bottles);
      const lines: StyledLine[] = [{ text: `filter: ${modal.filter}_`, fg: 'cyan' }, { text: '' }];
      if (modal.error) lines.push({ text: sanitize(modal.error), fg: 'red' });
      else if (items.length === 0) lines.push({ text: modal.agents.length === 0 ? 'the manifest has no agents' : 'no agent matches', fg: 'gray' });
      items.forEach((it, i) => {
        const text = fit(`${it.name}${it.running > 0 ? ` (${it.running} running)` : ''}`, dims.modalWidth);
        lines.push(i === modal.cursor ? { text, inverse: true } : { text });
      });
      return { title: 'New agent', lines, footer: 'type to filter  ↑/↓ (j/k) move  Enter pick  Esc clear/close' };
    }
    case 'engine': {
      const lines: StyledLine[] = [{ text: 'Which engine does the new bottle run on?', fg: 'cyan' }, { text: '' }];
      engineItems(modal.engines, state.bottles).forEach((item, i) => {
        const text = fit(sanitize(item), dims.modalWidth);
        lines.push(i === modal.cursor ? { text, inverse: true } : { text });
      });
      return { title: `Start ${modal.agent} on`, lines, footer: '↑/↓ (j/k) move  Enter pick  Esc close' };
    }
    case 'preflight': {
      const lines = plain(modal.lines);
      if (modal.blocked) lines.push({ text: '' }, { text: sanitize(modal.blocked), fg: 'red' });
      return { title: `Start ${modal.agent}?`, lines, footer: modal.blocked ? 'Esc close' : 'y start  N/Esc cancel', scroll: modal.scroll ?? 0 };
    }
    case 'confirm': {
      const lines = plain(modal.lines);
      if (modal.grants) return { title: modal.title, lines, footer: `y approve  ${GRANT_CHOICES.map((c) => `${c.key} for ${c.label}`).join('  ')}  N/Esc no` };
      if (modal.note === undefined) return { title: modal.title, lines, footer: 'y yes  N/Esc no' };
      if (modal.effect.type === 'budget') {
        lines.push({ text: '' }, { text: `USD: ${sanitize(modal.note)}_`, fg: 'cyan' });
        return { title: modal.title, lines, footer: 'type the cap (e.g. 20, or off)  Enter set  Esc cancel' };
      }
      lines.push({ text: '' }, { text: `note: ${sanitize(modal.note)}_`, fg: 'cyan' });
      return { title: modal.title, lines, footer: 'type a note (optional, the agent sees it)  Enter reject  Esc cancel' };
    }
    case 'header-form': {
      const field = (label: string, value: string, active: boolean): StyledLine =>
        ({ text: `${label.padEnd(8)}${value}${active ? '_' : ''}`, ...(active ? { fg: 'cyan' as const } : {}) });
      const lines: StyledLine[] = [
        { text: sanitize(`route ${modal.host} for ${modal.slug}: the gateway injects this header`) },
        { text: 'into the agent\'s requests; the value names host env vars, e.g. Bearer ${GITHUB_TOKEN}.' },
        { text: '' },
        field('header', modal.name, modal.field === 0),
        field('value', modal.value, modal.field === 1),
      ];
      if (modal.error) lines.push({ text: '' }, { text: sanitize(modal.error), fg: 'red' });
      return { title: 'Approve route', lines, footer: 'Tab field  Enter next  Esc cancel' };
    }
    case 'log': {
      const lines = plain(modal.lines);
      if (modal.done) lines.push({ text: '' }, { text: sanitize(modal.done), fg: /fail/i.test(modal.done) ? 'red' : 'green' });
      return { title: modal.title, lines, footer: 'Esc/q close (the work continues in the background)', tail: true };
    }
  }
}
