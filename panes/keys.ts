// The key reducer: (state, key) → (state, effects). Main keys and every modal's keys live here,
// pure, so the whole keyboard contract is unit-tested; actions.ts performs the effects.
import { GRANT_CHOICES } from '../lib/policy/index.js';
import { clampCursor, filterAgents, parseHeaderForm, suggestEnvVar, type Effect, type Modal } from './modal.js';
import {
  acknowledge, isResting, moveCursor, selectedAgent, selectedProposal, switchFocus, type AppState,
} from './state.js';
import type { KeyPress } from './view.js';

export interface KeyResult {
  state: AppState;
  effects: Effect[];
}

// States a bottle passes through while a child process works on it: D waits for them.
const BUSY = new Set(['claimed', 'launching', 'stopping', 'resuming']);

const none = (state: AppState): KeyResult => ({ state, effects: [] });
const closed = (state: AppState): AppState => ({ ...state, modal: undefined });

function isDown(k: KeyPress): boolean {
  return k.name === 'down' || k.name === 'C-n';
}

function isUp(k: KeyPress): boolean {
  return k.name === 'up' || k.name === 'C-p';
}

// A printable character typed into a filter or form (not a named key like 'enter').
function typed(k: KeyPress): string | undefined {
  return k.ch !== undefined && k.ch.length === 1 && k.ch >= ' ' && k.ch !== '\x7f' ? k.ch : undefined;
}

// Every key press goes through here; a key also acknowledges the notification counter.
export function handleKey(state0: AppState, key: KeyPress): KeyResult {
  const state = acknowledge(state0);
  if (key.name === 'C-c') return { state, effects: [{ type: 'quit' }] };
  if (state.modal) return modalKey(state, state.modal, key);
  return mainKey(state, key);
}

function mainKey(state: AppState, key: KeyPress): KeyResult {
  switch (key.name) {
    case 'j': case 'down': return none(moveCursor(state, 1));
    case 'k': case 'up': return none(moveCursor(state, -1));
    case 'g': case 'home': return none(moveCursor(state, -1e9));
    case 'G': case 'end': return none(moveCursor(state, 1e9));
    case 'tab': case 'S-tab': return none(switchFocus(state));
    case 'n': return { state, effects: [{ type: 'picker' }] };
    case '?': return none({ ...state, modal: { kind: 'help' } });
    case 'q': return { state, effects: [{ type: 'quit' }] };
    case 'escape': return none({ ...state, status: undefined });
    case 'enter': {
      if (state.focus === 'proposals') {
        const p = selectedProposal(state);
        return p ? { state, effects: [{ type: 'show-proposal', id: p.id, slug: p.slug }] } : none(state);
      }
      if (state.focus !== 'agents') return none(state);
      const b = selectedAgent(state);
      if (!b) return none(state);
      return { state, effects: [{ type: isResting(b) ? 'plan-resume' : 'attach', slug: b.slug }] };
    }
    case 'x': {
      const b = state.focus === 'agents' ? selectedAgent(state) : undefined;
      if (!b) return none(hint(state, 'x stops the agent under the cursor in the agents pane'));
      if (isResting(b)) return none(hint(state, `${b.slug} is ${b.state}; Enter resumes it, D removes it for good`));
      if (b.state === 'stopping') return none(hint(state, `${b.slug} is already stopping`));
      return none({
        ...state,
        modal: {
          kind: 'confirm', title: `Stop ${b.slug}?`,
          lines: [
            `agent ${b.agent} on ${b.backend}, ${b.state}`, '',
            'Its work is saved: claude sessions, unpushed commits, uncommitted changes.',
            'Containers and networks are removed; it stays listed as stopped.',
            `Enter on it here (or bottle resume ${b.slug}) brings it back.`,
          ],
          effect: { type: 'stop', slug: b.slug },
        },
      });
    }
    case 'D': {
      const b = state.focus === 'agents' ? selectedAgent(state) : undefined;
      if (!b) return none(hint(state, 'D removes the agent under the cursor in the agents pane'));
      if (BUSY.has(b.state)) return none(hint(state, `${b.slug} is ${b.state}; wait for it (bottle rm ${b.slug} in a shell if it is stuck)`));
      return { state, effects: [{ type: 'plan-remove', slug: b.slug }] };
    }
    case '$': {
      const b = state.focus === 'agents' ? selectedAgent(state) : undefined;
      if (!b) return none(hint(state, '$ changes the budget of the agent under the cursor in the agents pane'));
      const s = b.budget;
      const now = !s ? 'no budget (only metered)'
        : `budget ${s.cap}: ${Math.floor(s.fraction * 100)}% used${s.level === 'paused' ? ', paused: model requests are refused' : ''}`;
      return none({
        ...state,
        modal: {
          kind: 'confirm', title: `Budget for ${b.slug}`,
          lines: [now, '', 'New cap in USD over the bottle\'s life, or off to lift every cap.', 'It applies to the next model request; nothing restarts.'],
          effect: { type: 'budget', slug: b.slug, usd: '' }, note: '',
        },
      });
    }
    case 'a': case 'r': {
      const p = state.focus === 'proposals' ? selectedProposal(state) : undefined;
      if (!p) return none(hint(state, `${key.name} acts on the proposal under the cursor: Tab to the proposals pane`));
      if (p.auto) return none(hint(state, `${p.host} was approved by auto_approve rule ${p.auto.rule}; to take it back, bottle allowlist edit ${p.slug}`));
      if (key.name === 'r') {
        return none({
          ...state,
          modal: {
            kind: 'confirm', title: p.kind === 'push' ? `Reject the push to ${p.host}?` : `Reject ${p.kind} ${p.host}?`,
            lines: [`from ${p.slug}: ${p.reason}`, '', p.kind === 'push' ? 'nothing is forwarded; the agent\'s git push fails with your note'
              : 'policy: unchanged; the agent is told it was rejected'],
            effect: { type: 'reject', id: p.id, slug: p.slug }, note: '',
          },
        });
      }
      if (p.kind === 'route') {
        const modal: Modal = { kind: 'header-form', id: p.id, slug: p.slug, host: p.host, field: 1, name: 'Authorization', value: `Bearer \${${suggestEnvVar(p.host)}}` };
        return none({ ...state, modal });
      }
      return { state, effects: [{ type: 'plan-approve', id: p.id, slug: p.slug }] };
    }
    default: return none(state);
  }
}

function hint(state: AppState, text: string): AppState {
  return { ...state, status: { text, level: 'info' } };
}

function modalKey(state: AppState, modal: Modal, key: KeyPress): KeyResult {
  switch (modal.kind) {
    case 'help': return none(closed(state));
    case 'log':
      return ['escape', 'enter', 'q'].includes(key.name) ? none(closed(state)) : none(state);
    case 'preflight':
      if (key.name === 'y' && !modal.blocked) return { state: closed(state), effects: [{ type: 'launch', agent: modal.agent, ...(modal.engine ? { engine: modal.engine } : {}) }] };
      if (key.name === 'y') return none(state);
      // The view clamps the offset to the plan's length and says what is hidden.
      if (isDown(key) || key.name === 'j') return none({ ...state, modal: { ...modal, scroll: Math.min((modal.scroll ?? 0) + 1, modal.lines.length) } });
      if (isUp(key) || key.name === 'k') return none({ ...state, modal: { ...modal, scroll: Math.max(0, (modal.scroll ?? 0) - 1) } });
      return ['n', 'N', 'escape', 'enter', 'q'].includes(key.name) ? none(closed(state)) : none(state);
    case 'confirm':
      if (modal.note !== undefined) return noteKey(state, modal, key);
      if (key.name === 'y') return { state: closed(state), effects: [modal.effect] };
      if (modal.grants && modal.effect.type === 'approve') {
        const choice = GRANT_CHOICES.find((c) => c.key === key.name);
        if (choice) return { state: closed(state), effects: [{ ...modal.effect, for: choice.for }] };
      }
      return ['n', 'N', 'escape', 'enter', 'q'].includes(key.name) ? none(closed(state)) : none(state);
    case 'picker': return pickerKey(state, modal, key);
    case 'engine': {
      const set = (cursor: number): KeyResult => none({ ...state, modal: { ...modal, cursor: clampCursor(cursor, modal.engines.length) } });
      if (isDown(key) || key.name === 'j') return set(modal.cursor + 1);
      if (isUp(key) || key.name === 'k') return set(modal.cursor - 1);
      if (key.name === 'enter') {
        const engine = modal.engines[clampCursor(modal.cursor, modal.engines.length)];
        return engine ? { state: closed(state), effects: [{ type: 'preflight', agent: modal.agent, engine: engine.name }] } : none(state);
      }
      return ['escape', 'q'].includes(key.name) ? none(closed(state)) : none(state);
    }
    case 'header-form': return formKey(state, modal, key);
  }
}

// A confirmation with a note field (rejections): every printable key is note text, so y/n
// cannot confirm or cancel; Enter does, with the note when one was typed.
function noteKey(state: AppState, m: Extract<Modal, { kind: 'confirm' }>, key: KeyPress): KeyResult {
  const note = m.note ?? '';
  if (key.name === 'escape') return none(closed(state));
  if (key.name === 'enter') {
    const text = note.trim();
    const effect: Effect = m.effect.type === 'budget' ? { ...m.effect, usd: text }
      : m.effect.type === 'reject' && text !== '' ? { ...m.effect, note: text } : m.effect;
    return { state: closed(state), effects: [effect] };
  }
  if (key.name === 'backspace') return none({ ...state, modal: { ...m, note: note.slice(0, -1) } });
  if (key.name === 'C-u') return none({ ...state, modal: { ...m, note: '' } });
  const ch = typed(key);
  return ch !== undefined ? none({ ...state, modal: { ...m, note: note + ch } }) : none(state);
}

function pickerKey(state: AppState, m: Extract<Modal, { kind: 'picker' }>, key: KeyPress): KeyResult {
  const shown = filterAgents(m.agents, m.filter);
  const set = (patch: Partial<typeof m>): KeyResult => {
    const next = { ...m, ...patch };
    return none({ ...state, modal: { ...next, cursor: clampCursor(next.cursor, filterAgents(next.agents, next.filter).length) } });
  };
  if (key.name === 'escape') return m.filter !== '' ? set({ filter: '', cursor: 0 }) : none(closed(state));
  if (key.name === 'enter') {
    const agent = shown[clampCursor(m.cursor, shown.length)];
    return agent ? { state: closed(state), effects: [{ type: 'preflight', agent }] } : none(state);
  }
  // j/k move while nothing is typed; once filtering, letters are text (agent names contain j, k).
  if (isDown(key) || (m.filter === '' && key.name === 'j')) return set({ cursor: m.cursor + 1 });
  if (isUp(key) || (m.filter === '' && key.name === 'k')) return set({ cursor: m.cursor - 1 });
  if (key.name === 'backspace') return set({ filter: m.filter.slice(0, -1), cursor: 0 });
  const ch = typed(key);
  return ch !== undefined ? set({ filter: m.filter + ch, cursor: 0 }) : none(state);
}

function formKey(state: AppState, m: Extract<Modal, { kind: 'header-form' }>, key: KeyPress): KeyResult {
  const set = (patch: Partial<typeof m>): KeyResult => none({ ...state, modal: { ...m, ...patch } });
  const field = m.field === 0 ? 'name' : 'value';
  if (key.name === 'escape') return none(closed(state));
  if (key.name === 'tab' || key.name === 'S-tab' || isUp(key) || isDown(key)) return set({ field: m.field === 0 ? 1 : 0 });
  if (key.name === 'backspace') return set({ [field]: m[field].slice(0, -1), error: undefined });
  if (key.name === 'C-u') return set({ [field]: '', error: undefined });
  if (key.name === 'enter') {
    const parsed = parseHeaderForm(m.name, m.value);
    if (!parsed.ok) return set({ error: parsed.error });
    return { state: closed(state), effects: [{ type: 'plan-approve', id: m.id, slug: m.slug, headers: parsed.headers }] };
  }
  const ch = typed(key);
  return ch !== undefined ? set({ [field]: m[field] + ch, error: undefined }) : none(state);
}
