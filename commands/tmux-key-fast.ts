// Fast path for `bottle tmux key <action>`, which the key table runs on every key press:
// loads only the tmux client and the key handler instead of every verb (~0.5 s saved).
// Anything unusual (help, unknown flags) falls back to the full CLI.
import { selfArgv } from '../lib/paths.js';
import { TmuxClient } from '../tmux/client.js';
import { parseKeyArgs, runKey } from './tmux-key.js';

// Returns the exit code, or undefined when the full CLI should handle these arguments.
export async function fastTmuxKey(args: string[]): Promise<number | undefined> {
  const k = parseKeyArgs(args);
  if (!k) return undefined;
  const client = new TmuxClient({ env: process.env, timeoutMs: 3000, ...(k.socket ? { socket: { name: k.socket } } : {}) });
  const r = await runKey(client, k, { self: selfArgv(), env: process.env, cwd: process.cwd() });
  if (r.ok) return 0;
  if (r.shownTo === 0 || process.stderr.isTTY) process.stderr.write(`${r.message ?? 'bottle: failed'}\n`);
  return 1;
}
