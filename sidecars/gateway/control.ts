// The gateway's control socket: how the host hands a running gateway the value of a route
// secret approved after launch. The value travels engine API exec Env → `bottle sidecar
// gateway-secrets` (in the bundle) → this unix socket (0600, bundle-local) → gateway memory;
// never argv, never a file. One JSON line per connection: {"secrets": {"NAME": "value"}}.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_BYTES = 64 * 1024;

export const DEFAULT_CONTROL_SOCKET = '/tmp/bottle-gateway.sock';

// Validates a control message; returns the secrets or why it is refused.
export function parseControlMessage(line: string): { secrets: Record<string, string> } | { error: string } {
  let msg: unknown;
  try { msg = JSON.parse(line); } catch { return { error: 'not JSON' }; }
  const secrets = (msg as { secrets?: unknown })?.secrets;
  if (typeof secrets !== 'object' || secrets === null || Array.isArray(secrets)) return { error: 'expected {"secrets": {NAME: value}}' };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secrets)) {
    if (!NAME.test(k)) return { error: `invalid variable name ${JSON.stringify(k)}` };
    if (typeof v !== 'string' || v === '') return { error: `${k}: expected a non-empty string` };
    out[k] = v;
  }
  return { secrets: out };
}

// Listens on `path`; each accepted message updates `env` in place and calls `changed`; the
// sender hears "ok" once `changed` has finished (or its error).
export function startControlSocket(
  path: string,
  env: Record<string, string | undefined>,
  changed: (names: string[]) => unknown,
  diag: (m: string) => void,
): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // a stale socket from a previous run
  const server = createServer((sock) => {
    let buf = '';
    let handled = false; // one message per connection
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      if (handled) return;
      buf += chunk;
      if (buf.length > MAX_BYTES) { handled = true; sock.end('{"ok":false,"error":"message too large"}\n'); return; }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      handled = true;
      const parsed = parseControlMessage(buf.slice(0, nl));
      if ('error' in parsed) { sock.end(`${JSON.stringify({ ok: false, error: parsed.error })}\n`); return; }
      Object.assign(env, parsed.secrets);
      const names = Object.keys(parsed.secrets);
      diag(`control: secrets updated for ${names.join(', ')}`);
      Promise.resolve().then(() => changed(names)).then(
        () => sock.end('{"ok":true}\n'),
        (e: Error) => sock.end(`${JSON.stringify({ ok: false, error: e.message })}\n`),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

// Sends secrets to a running gateway; resolves when it has applied them.
export function sendSecrets(path: string, secrets: Record<string, string>, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let reply = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer from the gateway on ${path}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ secrets })}\n`));
    sock.on('data', (d: string) => { reply += d; });
    sock.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot reach the gateway on ${path}: ${e.message}`)); });
    sock.on('close', () => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(reply) as { ok?: boolean; error?: string };
        if (r.ok) resolve(); else reject(new Error(`gateway refused the secrets: ${r.error ?? 'no reason'}`));
      } catch {
        reject(new Error('the gateway closed the control socket without an answer'));
      }
    });
  });
}
