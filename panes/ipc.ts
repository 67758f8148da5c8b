// The dashboard's control socket: tmux key bindings run `bottle tmux key <action>`, which calls
// sendDashboardRequest() (tmux/keys.ts, the client); the running dashboard acts on it here. Newline-delimited JSON over a
// unix socket at <stateRoot>/ipc/dashboard-<pid>.sock (dir 0700):
//   request  {"action": "focus-dashboard" | "new-agent" | "next-agent" | "prev-agent" | "newest-proposal"
//             | "agents" | "plan" | "start-agent" | "show-waiting" | "popup-proposal",
//             "agent"?: "..." (plan, start-agent), "engine"?: "..." (plan, start-agent),
//             "client"?: "..." (popup-proposal)}
//   response {"ok": true, ...data} | {"ok": false, "error": "..."}   (one line per request line)
import { chmodSync, existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { DASHBOARD_ACTIONS, type DashboardAction, type DashboardRequest, type IpcReply, isDashboardAction } from '../tmux/keys.js';

export { DASHBOARD_ACTIONS, type DashboardAction, type DashboardRequest, isDashboardAction };

export type IpcResponse = IpcReply;

// `request` carries the action's argument, if it has one.
export type ActionHandler = (action: DashboardAction, request: DashboardRequest) => Promise<IpcResponse> | IpcResponse;

// Requests longer than this are not ours; the connection is dropped.
const MAX_LINE = 4096;

// Where a dashboard with this pid listens.
export function socketPathFor(stateRoot: string, pid: number = process.pid): string {
  return join(stateRoot, 'ipc', `dashboard-${pid}.sock`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Removes sockets left by dashboards that crashed (their pid is gone); live ones are kept.
export function removeStaleSockets(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^dashboard-(\d+)\.sock$/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch { /* raced with another cleaner */ }
  }
  return removed;
}

// Parses one request line into a request, or the error to answer with.
export function parseRequest(line: string): DashboardRequest | { error: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return { error: 'request is not JSON' };
  }
  const m = msg as { action?: unknown; agent?: unknown; engine?: unknown; client?: unknown } | null;
  const action = m?.action;
  if (!isDashboardAction(action)) return { error: `unknown action ${JSON.stringify(action)}; expected one of ${DASHBOARD_ACTIONS.join(', ')}` };
  return {
    action,
    ...(typeof m?.agent === 'string' ? { agent: m.agent } : {}),
    ...(typeof m?.engine === 'string' ? { engine: m.engine } : {}),
    ...(typeof m?.client === 'string' ? { client: m.client } : {}),
  };
}

// A listening control socket; close() stops it and removes the socket file.
export interface IpcServer {
  readonly path: string;
  close(): Promise<void>;
}

// Listens at `path` (replacing a stale file of the same name), answering each request line.
export async function startIpcServer(path: string, handler: ActionHandler): Promise<IpcServer> {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  removeStaleSockets(dir);
  // Our own pid's name: a file left by an earlier process that had this pid.
  if (existsSync(path)) unlinkSync(path);
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    let chain = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        sock.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        chain = chain.then(async () => {
          const req = parseRequest(line);
          let res: IpcResponse;
          if ('error' in req) res = { ok: false, error: req.error };
          else {
            try {
              res = await handler(req.action, req);
            } catch (e) {
              res = { ok: false, error: (e as Error).message };
            }
          }
          if (!sock.destroyed) sock.write(`${JSON.stringify(res)}\n`);
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  chmodSync(path, 0o600);
  let closed = false;
  return {
    path,
    async close() {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try { unlinkSync(path); } catch { /* already gone */ }
    },
  };
}
