// The slice of the Docker Engine API the backends use (both run the sidecar bundle as a
// container; the docker backend runs the agent as one too), as an interface: dockerode satisfies
// it, and tests pass a fake through a backend's constructor. Plus the two helpers every caller
// needs: exec with demultiplexed output, and engine errors turned into readable messages.
import type Docker from 'dockerode';

// An exec handle (dockerode's Exec, narrowed).
export interface EngineExec {
  start(opts: { hijack: true; stdin: false }): Promise<NodeJS.ReadableStream>;
  inspect(): Promise<{ ExitCode: number | null; Running: boolean }>;
}

// A container handle (dockerode's Container, narrowed).
export interface EngineContainer {
  start(): Promise<unknown>;
  stop(opts?: { t?: number }): Promise<unknown>;
  remove(opts?: { force?: boolean; v?: boolean }): Promise<unknown>;
  kill(opts?: { signal?: string }): Promise<unknown>;
  wait(): Promise<{ StatusCode: number }>;
  inspect(): Promise<{ State: { Running: boolean; Status: string; ExitCode?: number } }>;
  exec(opts: Docker.ExecCreateOptions): Promise<EngineExec>;
  putArchive(data: Buffer | NodeJS.ReadableStream, opts: { path: string }): Promise<unknown>;
  getArchive(opts: { path: string }): Promise<NodeJS.ReadableStream>;
  logs(opts: { stdout: true; stderr: true; tail: number; follow?: false }): Promise<Buffer>;
  logs(opts: { stdout: true; stderr: false; follow: true }): Promise<NodeJS.ReadableStream & { destroy?: () => void }>;
}

// A network handle (dockerode's Network, narrowed).
export interface EngineNetwork {
  remove(): Promise<unknown>;
  connect(opts: { Container: string; EndpointConfig?: Record<string, unknown> }): Promise<unknown>;
}

// Listed objects: only the fields the backends read.
export interface ListedContainer { Id: string; Names: string[]; State: string; Labels: Record<string, string> }
export interface ListedNetwork { Id: string; Name: string; Labels?: Record<string, string> }

// The engine calls the backends make, and nothing else: the seam for the fake in tests.
export interface DockerEngine {
  createNetwork(opts: Docker.NetworkCreateOptions): Promise<unknown>;
  getNetwork(id: string): EngineNetwork;
  createContainer(opts: Docker.ContainerCreateOptions): Promise<unknown>;
  getContainer(id: string): EngineContainer;
  listContainers(opts: { all: true; filters: Record<string, string[]>; abortSignal?: AbortSignal }): Promise<ListedContainer[]>;
  listNetworks(opts: { filters: Record<string, string[]> }): Promise<ListedNetwork[]>;
  getImage(name: string): { inspect(): Promise<unknown> };
  info(): Promise<{ SecurityOptions?: string[] | null }>;
}

// dockerode's class, seen through the interface (its overloads and wider types fit).
export function fromDockerode(docker: Docker): DockerEngine {
  return docker;
}

// The HTTP status of an engine error (dockerode sets statusCode), if any.
export function statusOf(e: unknown): number | undefined {
  const code = (e as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

// 404 and 304 on remove/stop mean "already gone / already stopped": fine for teardown.
export const isGone = (e: unknown): boolean => statusOf(e) === 404;

// The engine's own message ("No such image: x"), without dockerode's "(HTTP code 404) ..." prefix.
export function engineMessage(e: unknown): string {
  const err = e as { json?: { message?: unknown }; reason?: unknown; message?: unknown };
  if (typeof err?.json?.message === 'string') return err.json.message;
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  return msg.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim() || msg;
}

// Splits Docker's multiplexed exec/log stream (8-byte frame headers: stream, 0, 0, 0, size BE)
// into its raw bytes: what callers mirror byte for byte (the bundle's events file) needs them.
export function demuxRaw(data: Buffer): { stdout: Buffer; stderr: Buffer; all: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  let i = 0;
  while (i + 8 <= data.length) {
    const kind = data[i]!;
    const size = data.readUInt32BE(i + 4);
    const payload = data.subarray(i + 8, i + 8 + size);
    (kind === 2 ? err : out).push(payload);
    all.push(payload);
    i += 8 + size;
  }
  // Not multiplexed (a TTY stream, or a foreign engine): all of it is stdout.
  if (i === 0 && data.length > 0 && (data[0]! > 2 || data.length < 8)) return { stdout: data, stderr: Buffer.alloc(0), all: data };
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), all: Buffer.concat(all) };
}

// The same, as text.
export function demux(data: Buffer): { stdout: string; stderr: string; all: string } {
  const r = demuxRaw(data);
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), all: r.all.toString('utf8') };
}

// Who runs an exec, where, with which extra env.
export interface ExecOptions {
  /** '' = the container's configured user. */
  user: string;
  workdir?: string;
  /** `NAME=value` entries: they travel only in the API request body (never argv, never a file). */
  env?: string[];
  signal?: AbortSignal;
}

export interface ExecResult { exitCode: number; stdout: string; stderr: string }
export interface RawExecResult { exitCode: number; stdout: Buffer; stderr: Buffer }

// Runs argv in a running container and collects its output and exit code.
export async function execIn(container: EngineContainer, argv: string[], opts: ExecOptions): Promise<ExecResult> {
  const r = await execRaw(container, argv, opts);
  return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

// The same with the output as bytes.
export async function execRaw(container: EngineContainer, argv: string[], opts: ExecOptions): Promise<RawExecResult> {
  opts.signal?.throwIfAborted();
  const exec = await container.exec({
    Cmd: argv,
    ...(opts.user ? { User: opts.user } : {}),
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    ...(opts.workdir ? { WorkingDir: opts.workdir } : {}),
    ...(opts.env ? { Env: opts.env } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      reject(opts.signal!.reason ?? new Error('aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (err?: Error): void => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    stream.on('data', (c: Buffer | string) => chunks.push(Buffer.from(c)));
    stream.on('end', () => done());
    stream.on('close', () => done());
    stream.on('error', (e: Error) => done(e));
  });
  const { stdout, stderr } = demuxRaw(Buffer.concat(chunks));
  // The exit code can lag the stream's end by a moment.
  let info = await exec.inspect();
  for (let i = 0; info.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode ?? -1, stdout, stderr };
}

// The tail of a container's output, for error messages (best effort: '' if unavailable).
export async function logTail(container: EngineContainer, lines = 30): Promise<string> {
  try {
    const raw = await container.logs({ stdout: true, stderr: true, tail: lines, follow: false });
    return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).all.trim();
  } catch {
    return '';
  }
}
