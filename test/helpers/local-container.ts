// A "local container": an EngineContainer whose filesystem root is a temp dir on this host. It
// stands in for the Docker engine's exec and archive endpoints so that what lib/ sends through
// them (lib/backends/bundle/channel.ts's POSIX sh pull script, its `tail -F` follow, the `kill`
// of that tail, `printf >>` appends) runs FOR REAL here instead of against a scripted fake:
//   - exec: every argv element starting with `/bottle/` is rewritten to `<root>/bottle/...`, the
//     argv is spawned locally (no shell added), and `start()` yields Docker's multiplexed frames
//     (8-byte header: byte 0 = 1 stdout / 2 stderr, bytes 4-7 = payload length BE) as output
//     arrives, ending when the process has exited and its pipes closed. Like the engine,
//     destroying that stream does NOT kill the process (only an explicit kill does).
//     `inspect()` gives ExitCode (null while running; 128+signal when killed) and Running.
//     `delayOutputMs` holds frames back (a slow connection); `onExec` sees each argv as created.
//   - putArchive: the tar is unpacked under `<root>` + opts.path (which must exist, else a 404
//     error as the engine gives), applying each member's mode; members are recorded in `uploads`.
//   - getArchive: a tar (tarBuffer) holding just the named file, its basename as member name, or
//     an error with statusCode 404 when the path is missing.
// Every process it starts is remembered (`execs`) and killed, by pid, by `close()`.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { basename, join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { EngineContainer, EngineExec } from '../../lib/docker/api.js';
import { tarBuffer } from '../../lib/backends/bundle/tar.js';

// One member of a parsed tar.
export interface TarMember {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  content: Buffer;
}

const cstr = (b: Buffer, off: number, len: number): string => {
  const raw = b.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
};
const oct = (b: Buffer, off: number, len: number): number => {
  const s = cstr(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
};

// A small independent tar reader (ustar + pax `path`), so tests see exactly what was archived:
// names, types, modes, owners, contents. Checks each header's checksum.
export function readTar(buf: Buffer): TarMember[] {
  const out: TarMember[] = [];
  let i = 0;
  let paxPath: string | undefined;
  while (i + 512 <= buf.length) {
    const h = buf.subarray(i, i + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 0x20 : h[k]!;
    if (sum !== oct(h, 148, 8)) throw new Error(`tar header checksum mismatch at ${i}`);
    const size = oct(h, 124, 12);
    const flag = String.fromCharCode(h[156] || 0x30);
    const body = buf.subarray(i + 512, i + 512 + size);
    i += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = m?.[1];
      continue;
    }
    const prefix = cstr(h, 345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    paxPath = undefined;
    const type = flag === '5' ? 'dir' : flag === '0' || flag === '\0' ? 'file' : flag === '2' ? 'symlink' : 'other';
    out.push({ name, type, mode: oct(h, 100, 8), uid: oct(h, 108, 8), gid: oct(h, 116, 8), content: Buffer.from(body) });
  }
  return out;
}

// One exec the container ran.
export interface ExecRecord {
  argv: string[];
  child?: ChildProcess;
  stdout: Buffer[];
  stderr: Buffer[];
  exitCode: number | null;
  running: boolean;
}

function frame(kind: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = kind;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

const notFound = (what: string): Error => Object.assign(new Error(`(HTTP code 404) no such container - ${what}`), { statusCode: 404 });

type ExecCreate = Parameters<EngineContainer['exec']>[0];

export class LocalContainer implements EngineContainer {
  readonly execs: ExecRecord[] = [];
  readonly uploads: Array<{ path: string; members: TarMember[] }> = [];
  readonly downloads: string[] = [];
  /** Called as each exec is created (before it starts), with the container-side argv. */
  onExec?: (argv: string[]) => void;
  /** Holds each exec's output frames (and its end) back this long: a slow engine connection. */
  delayOutputMs = 0;

  constructor(readonly root: string) {}

  /** The host path of a container path. */
  hostPath(containerPath: string): string {
    return join(this.root, containerPath);
  }

  private mapArg = (a: string): string => (a.startsWith('/bottle/') ? join(this.root, a) : a);

  async start(): Promise<unknown> { return undefined; }
  async stop(): Promise<unknown> { return undefined; }
  async remove(): Promise<unknown> { return undefined; }
  async kill(): Promise<unknown> { return undefined; }
  async wait(): Promise<{ StatusCode: number }> { return { StatusCode: 0 }; }
  async inspect(): Promise<{ State: { Running: boolean; Status: string; ExitCode?: number } }> {
    return { State: { Running: true, Status: 'running' } };
  }
  // No log (channel.ts reads none): an empty buffer, or an empty follow stream.
  logs = (async (o: { follow?: boolean }) => (o.follow ? Readable.from([]) : Buffer.alloc(0))) as EngineContainer['logs'];

  async exec(opts: ExecCreate): Promise<EngineExec> {
    const argv = [...(opts.Cmd ?? [])];
    if (argv.length === 0) throw new Error('exec: empty Cmd');
    this.onExec?.(argv);
    const rec: ExecRecord = { argv, stdout: [], stderr: [], exitCode: null, running: false };
    this.execs.push(rec);
    const local = argv.map(this.mapArg);
    const env = { ...process.env };
    for (const e of opts.Env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    const cwd = opts.WorkingDir ? this.hostPath(opts.WorkingDir) : this.root;
    return {
      start: async () => {
        const out = new Readable({ read() {} });
        const delay = this.delayOutputMs;
        const deliver = (chunk: Buffer | null): void => {
          const go = (): void => {
            if (!out.destroyed) out.push(chunk);
          };
          if (delay > 0) setTimeout(go, delay);
          else go();
        };
        const child = spawn(local[0]!, local.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        rec.child = child;
        rec.running = true;
        const push = (kind: 1 | 2, chunk: Buffer): void => {
          (kind === 1 ? rec.stdout : rec.stderr).push(chunk);
          deliver(frame(kind, chunk));
        };
        child.stdout!.on('data', (c: Buffer) => push(1, c));
        child.stderr!.on('data', (c: Buffer) => push(2, c));
        child.on('error', (e) => {
          rec.running = false;
          rec.exitCode = 126;
          deliver(frame(2, Buffer.from(`exec failed: ${e.message}\n`)));
          deliver(null);
        });
        child.on('close', (code, signal) => {
          rec.running = false;
          rec.exitCode = code ?? 128 + (signal ? (osc.signals[signal] ?? 0) : 0);
          deliver(null);
        });
        return out;
      },
      inspect: async () => ({ ExitCode: rec.exitCode, Running: rec.running }),
    };
  }

  async putArchive(data: Buffer | NodeJS.ReadableStream, opts: { path: string }): Promise<unknown> {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(data)) chunks.push(data);
    else for await (const c of data as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(c));
    const dest = this.hostPath(opts.path);
    if (!existsSync(dest) || !statSync(dest).isDirectory()) throw notFound(`path ${opts.path}`);
    const members = readTar(Buffer.concat(chunks));
    this.uploads.push({ path: opts.path, members });
    for (const m of members) {
      const clean = posix.normalize(m.name);
      if (posix.isAbsolute(clean) || clean.split('/').includes('..')) throw new Error(`putArchive: unsafe member ${m.name}`);
      const abs = resolve(dest, clean);
      if (m.type === 'dir') {
        mkdirSync(abs, { recursive: true });
        chmodSync(abs, m.mode & 0o7777);
      } else if (m.type === 'file') {
        mkdirSync(resolve(abs, '..'), { recursive: true });
        writeFileSync(abs, m.content);
        chmodSync(abs, m.mode & 0o7777);
      }
    }
    return undefined;
  }

  async getArchive(opts: { path: string }): Promise<NodeJS.ReadableStream> {
    this.downloads.push(opts.path);
    const abs = this.hostPath(opts.path);
    let content: Buffer;
    try {
      if (!statSync(abs).isFile()) throw new Error('not a file');
      content = readFileSync(abs);
    } catch {
      throw notFound(`path ${opts.path}`);
    }
    const tar = tarBuffer([{ path: basename(opts.path), type: 'file', content, mode: 0o644 }]);
    // Odd chunk sizes, as a socket would deliver them.
    const parts: Buffer[] = [];
    for (let i = 0; i < tar.length; i += 333) parts.push(tar.subarray(i, i + 333));
    return Readable.from(parts);
  }

  /** Kills (by pid) every process this container started that still runs. */
  close(): void {
    for (const r of this.execs) {
      if (r.running && r.child?.pid) {
        try {
          process.kill(r.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
