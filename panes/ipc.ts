// The dashboard's control socket: tmux key bindings run `bottle tmux key <action>`, which calls
// sendDashboardAction() here; the running dashboard acts on it. Newline-delimited JSON over a
// unix socket at <stateRoot>/ipc/dashboard-<pid>.sock (dir 0700):
//   request  {"action": "focus-dashboard" | "new-agent" | "next-agent" | "prev-agent" | "newest-proposal"}
//   response {"ok": true} | {"ok": false, "error": "..."}   (one line per request line)
import { chmodSync, existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export const DASHBOARD_ACTIONS = ['focus-dashboard', 'new-agent', 'next-agent', 'prev-agent', 'newest-proposal'] as const;
export type DashboardAction = (typeof DASHBOARD_ACTIONS)[number];

export type IpcResponse = { ok: true } | { ok: false; error: string };

export type ActionHandler = (action: DashboardAction) => Promise<IpcResponse> | IpcResponse;

// Requests longer than this are not ours; the connection is dropped.
const MAX_LINE = 4096;

export function isDashboardAction(v: unknown): v is DashboardAction {
  return typeof v === 'string' && (DASHBOARD_ACTIONS as readonly string[]).includes(v);
}

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

// Parses one request line into an action, or the error to answer with.
export function parseRequest(line: string): { action: DashboardAction } | { error: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return { error: 'request is not JSON' };
  }
  const action = (msg as { action?: unknown } | null)?.action;
  if (!isDashboardAction(action)) return { error: `unknown action ${JSON.stringify(action)}; expected one of ${DASHBOARD_ACTIONS.join(', ')}` };
  return { action };
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
              res = await handler(req.action);
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

// The client side, for `bottle tmux key <action>`: one request, one response. A dashboard that
// is gone (no socket, refused) or silent (timeout) is an { ok: false } with the reason.
export function sendDashboardAction(socketPath: string, action: DashboardAction, opts: { timeoutMs?: number } = {}): Promise<IpcResponse> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    let settled = false;
    let buf = '';
    const done = (r: IpcResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const sock = createConnection(socketPath);
    const timer = setTimeout(() => done({ ok: false, error: `the dashboard did not answer within ${timeoutMs} ms` }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ action })}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const r = JSON.parse(buf.slice(0, nl)) as IpcResponse;
        done(r.ok === true ? { ok: true } : { ok: false, error: String((r as { error?: unknown }).error ?? 'failed') });
      } catch {
        done({ ok: false, error: 'the dashboard sent an unreadable answer' });
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no dashboard is running (start one with `bottle tmux`)' : e.message;
      done({ ok: false, error: why });
    });
    sock.on('close', () => done({ ok: false, error: 'the dashboard closed the connection' }));
  });
}
