// Maps Claude Code hook payloads (POSTed by `type: "http"` hooks) to dashboard events (pure).
import { clip as clipText } from '../../lib/format.js';
import type { BundleEvent } from './events.js';

// Agent-controlled text reaches the operator's terminal: controls and bidi overrides become '?'.
const clip = (s: unknown, n: number): string | undefined => (typeof s === 'string' && s !== '' ? clipText(s, n) : undefined);

// `agent-waiting`: claude needs the operator (a permission prompt). `agent-idle`: its turn ended
// or it has sat idle at the prompt. Anything else is not interesting to the dashboard: null.
// The agent owns its hooks and can post anything here, so the event is marked origin 'agent':
// it may drive a marker or a bell, never an approval, a policy or a command.
export function hookToEvent(payload: unknown, now: Date = new Date()): BundleEvent | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const p = payload as Record<string, unknown>;
  const hook = p.hook_event_name;
  let type: 'agent-waiting' | 'agent-idle';
  let detail: string | undefined;
  if (hook === 'Notification' && p.notification_type === 'permission_prompt') {
    type = 'agent-waiting';
    detail = clip(p.message, 200);
  } else if (hook === 'Notification' && p.notification_type === 'idle_prompt') {
    type = 'agent-idle';
    detail = clip(p.message, 200);
  } else if (hook === 'PermissionRequest') {
    type = 'agent-waiting';
    detail = clip(typeof p.tool_name === 'string' ? `permission for ${p.tool_name}` : undefined, 200);
  } else if (hook === 'Stop') {
    type = 'agent-idle';
    detail = 'turn finished';
  } else {
    return null;
  }
  const sessionId = clip(p.session_id, 100);
  return {
    type, origin: 'agent', time: now.toISOString(), hook: hook as string,
    ...(sessionId ? { sessionId } : {}), ...(detail ? { detail } : {}),
  };
}
