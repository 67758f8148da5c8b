// Reads a command's stdout (or a `cat-file --batch` stream of objects) up to a byte cap, killing
// it past the cap. lib/run buffers whole outputs; a push's patch and objects can be arbitrarily
// large, so the hook streams them here instead.
import { spawnChild } from '../../lib/run/spawn.js';

export interface CappedResult {
  stdout: string;
  bytes: number;
  /** The output went past maxBytes; stdout holds only the first part and must not be trusted as complete. */
  truncated: boolean;
  exitCode: number | undefined;
  stderr: string;
}

export type CappedReader = (argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; maxBytes: number }) => Promise<CappedResult>;

// Runs argv (no shell) and collects at most maxBytes of stdout; stderr is kept to its last 8 KB.
// A command that cannot start rejects with the runner's BinaryNotFoundError or CommandError.
export const readCapped: CappedReader = async (argv, opts) => {
  const child = spawnChild(argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    if (truncated) return;
    bytes += c.length;
    if (bytes > opts.maxBytes) {
      truncated = true;
      child.kill('SIGKILL');
      return;
    }
    chunks.push(c);
  });
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString('utf8')).slice(-8192); });
  const { exitCode } = await child.closed;
  return { stdout: Buffer.concat(chunks).toString('utf8'), bytes, truncated, exitCode: exitCode ?? undefined, stderr };
};

// One object as `git cat-file --batch` prints it: raw bytes, never transcoded.
export interface GitObject {
  id: string;
  type: string;
  data: Buffer;
}

export interface ObjectsResult {
  objects: GitObject[];
  /** Sum of the sizes of the objects read (or announced, when the cap was hit). */
  bytes: number;
  /** The objects went past maxBytes; `objects` is incomplete and must not be trusted as the whole push. */
  truncated: boolean;
  /** Ids git did not have (or could not read). */
  missing: string[];
  exitCode: number | undefined;
  stderr: string;
}

export type ObjectReader = (argv: readonly string[], ids: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; maxBytes: number }) => Promise<ObjectsResult>;

// Runs a `cat-file --batch` argv, feeds it `ids` and parses its output as it streams in,
// killing it as soon as the announced sizes pass maxBytes: one process for every object of a push.
export const readObjects: ObjectReader = async (argv, ids, opts) => {
  const child = spawnChild(argv, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const objects: GitObject[] = [];
  const missing: string[] = [];
  let bytes = 0;
  let truncated = false;
  let stderr = '';
  let head = Buffer.alloc(0); // the current header line, while it is incomplete
  let body: { id: string; type: string; data: Buffer; at: number } | undefined;
  let skipNewline = false; // the LF git writes after each object's bytes
  const stop = (): void => {
    truncated = true;
    child.kill('SIGKILL');
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length && !truncated) {
      if (skipNewline) {
        skipNewline = false;
        at++;
        continue;
      }
      if (body) {
        const n = Math.min(body.data.length - body.at, chunk.length - at);
        chunk.copy(body.data, body.at, at, at + n);
        body.at += n;
        at += n;
        if (body.at === body.data.length) {
          objects.push({ id: body.id, type: body.type, data: body.data });
          body = undefined;
          skipNewline = true;
        }
        continue;
      }
      const nl = chunk.indexOf(10, at);
      if (nl < 0) {
        head = Buffer.concat([head, chunk.subarray(at)]);
        break;
      }
      const [id = '', type = '', size] = Buffer.concat([head, chunk.subarray(at, nl)]).toString('latin1').split(' ');
      head = Buffer.alloc(0);
      at = nl + 1;
      if (size === undefined) {
        missing.push(id);
        continue;
      }
      bytes += Number(size);
      if (!(bytes <= opts.maxBytes)) {
        stop();
        break;
      }
      body = { id, type, data: Buffer.alloc(Number(size)), at: 0 };
      if (body.data.length === 0) {
        objects.push({ id, type, data: body.data });
        body = undefined;
        skipNewline = true;
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString('utf8')).slice(-8192); });
  // Writing to a killed child fails with EPIPE; the result already says truncated.
  child.stdio[0]!.on('error', () => undefined);
  (child.stdio[0] as NodeJS.WritableStream).end(ids.map((id) => `${id}\n`).join(''));
  const { exitCode } = await child.closed;
  if (!truncated && body) missing.push(body.id); // git stopped mid-object
  return { objects, bytes, truncated, missing, exitCode: exitCode ?? undefined, stderr };
};
