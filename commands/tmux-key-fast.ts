// Fast path for `bottle tmux key <action>`, which the key table runs on every key press:
// loads only the tmux client and the key handler instead of every verb (~0.5 s saved).
// Anything unusual (help, unknown flags) falls back to the full CLI.
import { TmuxClient } from '../tmux/client.js';
import { isDashboardAction, runKeyAction } from '../tmux/keys.js';
import { DEFAULT_SESSION } from '../tmux/session.js';

// Returns the exit code, or undefined when the full CLI should handle these arguments.
export async function fastTmuxKey(args: string[]): Promise<number | undefined> {
  const [action, ...rest] = args;
  if (!action || !isDashboardAction(action)) return undefined;
  let session = DEFAULT_SESSION;
  let socket: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = inline ?? rest[++i];
    if (value === undefined) return undefined;
    if (flag === '--session') session = value;
    else if (flag === '--socket') socket = value;
    else return undefined;
  }
  const client = new TmuxClient({ env: process.env, timeoutMs: 3000, ...(socket ? { socket: { name: socket } } : {}) });
  const r = await runKeyAction(client, session, action);
  if (r.ok) return 0;
  if (r.shownTo === 0 || process.stderr.isTTY) process.stderr.write(`${r.message ?? 'bottle: failed'}\n`);
  return 1;
}
