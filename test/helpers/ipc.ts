// A stand-in for the dashboard's control socket: a real unix socket in a temp dir that records
// each request line and answers with `reply(line)` as is (undefined: close without answering).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finalizable } from './tmux.js';

export interface RecordingSocket {
  path: string;
  /** The temp dir holding it (free for other files). */
  dir: string;
  requests: string[];
}

export async function recordingSocket(t: Finalizable, reply: (line: string) => string | undefined): Promise<RecordingSocket> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-ipc-'));
  const path = join(dir, 'dash.sock');
  const requests: string[] = [];
  const server: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      const line = buf.slice(0, buf.indexOf('\n'));
      requests.push(line);
      const r = reply(line);
      if (r === undefined) sock.end(); else sock.write(r);
    });
  });
  await new Promise<void>((res) => server.listen(path, res));
  t.teardown(async () => {
    await new Promise((res) => server.close(res));
    await rm(dir, { recursive: true, force: true });
  });
  return { path, dir, requests };
}
