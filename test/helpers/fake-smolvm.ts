// Test doubles for the smolvm backend: the stateful fake `smolvm` on PATH (see
// test/fixtures/bin/smolvm for its state/script format) and a stub image engine whose
// `docker save` output is synthesized in memory, in either archive layout.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const FAKE_SMOLVM_SCRIPT = fileURLToPath(new URL('../fixtures/bin/smolvm', import.meta.url));

// The fake's view of one VM (a subset of what it stores).
export interface FakeMachine {
  name: string;
  state: string;
  cpus: number;
  memory_mib: number;
  pid?: number;
  image?: string;
  from?: string;
  env: Record<string, string>;
  allowCidrs: string[];
  volumes: string[];
  workdir?: string;
  files: Record<string, string>;
}

export interface FakeSmolvmScript {
  exec?: Array<{ args: string[]; exitCode?: number; stdout?: string; stderr?: string }>;
  /** Raw stdout for `machine ls` (malformed-output tests). */
  ls?: string;
}

export interface FakeSmolvm {
  /** Env with the fake first on PATH (pass to SmolvmClient's `env` or a child process). */
  env: NodeJS.ProcessEnv;
  /** Argv of every call, in order (without the binary name). */
  calls(): Promise<string[][]>;
  machines(): Promise<Record<string, FakeMachine>>;
  script(s: FakeSmolvmScript): Promise<void>;
}

// In-VM command answers for a bring-up to run to the end: exec is root, the agent user
// exists, and provisioning's mkdir/tar/rm/sh/runuser succeed.
export const VM_SCRIPT: FakeSmolvmScript = {
  exec: [
    { args: ['id', '-u'], stdout: '0\n' },
    { args: ['id', 'node'], stdout: 'uid=1000(node) gid=1000(node) groups=1000(node)\n' },
    { args: ['mkdir', '-m', '700'] },
    { args: ['tar'] },
    { args: ['rm'] },
    { args: ['sh', '-c'] }, // the CA appended to the system bundle
    { args: ['runuser'] },
  ],
};

interface Teardownable { teardown(fn: () => unknown): void }

// Installs `smolvm` in a temp bin dir (a sh wrapper running this node on the fixture).
export async function fakeSmolvm(t: Teardownable, base: NodeJS.ProcessEnv = process.env): Promise<FakeSmolvm> {
  const dir = await mkdtemp(join(tmpdir(), 'bottle-fake-smolvm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  const files = { state: join(dir, 'state.json'), log: join(dir, 'calls.jsonl'), script: join(dir, 'script.json') };
  await mkdir(bin);
  await writeFile(files.log, '');
  await writeFile(files.script, '{}');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(join(bin, 'smolvm'), [
    '#!/bin/sh',
    `FAKE_SMOLVM_STATE=${q(files.state)}; FAKE_SMOLVM_LOG=${q(files.log)}; FAKE_SMOLVM_SCRIPT=${q(files.script)}`,
    'export FAKE_SMOLVM_STATE FAKE_SMOLVM_LOG FAKE_SMOLVM_SCRIPT',
    `exec ${q(process.execPath)} ${q(FAKE_SMOLVM_SCRIPT)} "$@"`,
    '',
  ].join('\n'));
  await chmod(join(bin, 'smolvm'), 0o755);
  return {
    env: { ...base, PATH: [bin, base.PATH ?? ''].filter(Boolean).join(delimiter) },
    calls: async () => (await readFile(files.log, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { argv: string[] }).argv),
    machines: async () => {
      try {
        return (JSON.parse(await readFile(files.state, 'utf8')) as { machines: Record<string, FakeMachine> }).machines;
      } catch {
        return {};
      }
    },
    script: (s) => writeFile(files.script, JSON.stringify(s)),
  };
}

// One tar member for tarBuffer.
export interface TarSpec { path: string; content?: string | Buffer; type?: 'file' | 'dir' | 'symlink' | 'hardlink'; target?: string }

function header(name: string, size: number, type: string, link = ''): Buffer {
  const h = Buffer.alloc(512);
  const put = (off: number, len: number, s: string): void => void h.write(s, off, len, 'utf8');
  const oct = (off: number, len: number, n: number): void => put(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  put(0, 100, name);
  oct(100, 8, 0o644); oct(108, 8, 0); oct(116, 8, 0); oct(124, 12, size); oct(136, 12, 1_700_000_000);
  put(148, 8, '        ');
  put(156, 1, type);
  put(157, 100, link);
  put(257, 6, 'ustar\0'); put(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

// A tar archive in memory; names over 100 bytes get a pax `path` record.
export function tarBuffer(entries: readonly TarSpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = { file: '0', dir: '5', symlink: '2', hardlink: '1' }[e.type ?? 'file'];
    const body = Buffer.from(e.content ?? '');
    let name = e.path;
    if (Buffer.byteLength(name) > 100) {
      const rec = (len: number): string => `${len} path=${e.path}\n`;
      let len = rec(0).length;
      while (rec(len).length !== len) len = rec(len).length;
      const pax = Buffer.from(rec(len));
      parts.push(header('PaxHeaders/x', pax.length, 'x'), pax, pad(pax.length));
      name = e.path.slice(-100);
    }
    parts.push(header(name, e.type === 'file' || !e.type ? body.length : 0, type, e.target ?? ''));
    if (!e.type || e.type === 'file') parts.push(body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

// An image for the stub engine: each layer is a set of files (identical layers are allowed).
export interface FakeImage {
  id: string;
  layers: Array<Record<string, string>>;
  /** `legacy` (engine < 25: <id>/layer.tar, duplicates as symlinks) or `oci` (blobs/sha256). */
  layout?: 'legacy' | 'oci';
}

// `docker save` of one image, as the engine would stream it.
export function dockerSaveTar(name: string, img: FakeImage): { tar: Buffer; diffIds: string[]; configDigest: string } {
  const layerTars = img.layers.map((files) => tarBuffer(Object.entries(files).map(([path, content]) => ({ path, content }))));
  const diffIds = layerTars.map((l) => `sha256:${sha(l)}`);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } });
  const configDigest = `sha256:${sha(config)}`;
  const entries: TarSpec[] = [];
  let layers: string[];
  let configPath: string;
  if (img.layout === 'oci') {
    configPath = `blobs/sha256/${sha(config)}`;
    entries.push({ path: 'blobs/', type: 'dir' }, { path: 'blobs/sha256/', type: 'dir' }, { path: configPath, content: config });
    layers = layerTars.map((l) => `blobs/sha256/${sha(l)}`);
    const seen = new Set<string>();
    layerTars.forEach((l, i) => { if (!seen.has(layers[i]!)) entries.push({ path: layers[i]!, content: l }); seen.add(layers[i]!); });
    entries.push({ path: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }, { path: 'index.json', content: '{"schemaVersion":2,"manifests":[]}' });
  } else {
    configPath = `${sha(config)}.json`;
    const firstDir = new Map<string, string>();
    layers = layerTars.map((l, i) => {
      const dir = sha(`${i}:${sha(l)}`);
      const earlier = firstDir.get(sha(l));
      entries.push({ path: `${dir}/`, type: 'dir' }, { path: `${dir}/VERSION`, content: '1.0' });
      if (earlier) entries.push({ path: `${dir}/layer.tar`, type: 'symlink', target: `../${earlier}/layer.tar` });
      else { entries.push({ path: `${dir}/layer.tar`, content: l }); firstDir.set(sha(l), dir); }
      return `${dir}/layer.tar`;
    });
    entries.push({ path: configPath, content: config }, { path: 'repositories', content: '{}' });
  }
  entries.push({ path: 'manifest.json', content: JSON.stringify([{ Config: configPath, RepoTags: [name], Layers: layers }]) });
  return { tar: tarBuffer(entries), diffIds, configDigest };
}

// A stub of dockerode's getImage(..).inspect()/get(), by name or id; `saves` counts exports.
export class FakeImageEngine {
  readonly images = new Map<string, FakeImage>();
  saves: string[] = [];

  getImage(ref: string): { inspect(): Promise<{ Id: string }>; get(): Promise<NodeJS.ReadableStream> } {
    const find = (): [string, FakeImage] => {
      for (const [name, img] of this.images) if (name === ref || img.id === ref) return [name, img];
      throw Object.assign(new Error(`(HTTP code 404) no such image - ${ref}`), { statusCode: 404 });
    };
    return {
      inspect: async () => ({ Id: find()[1].id }),
      get: async () => {
        const [name, img] = find();
        this.saves.push(ref);
        // Small chunks, so header and body boundaries fall mid-chunk.
        const { tar } = dockerSaveTar(name, img);
        return Readable.from((function* () { for (let i = 0; i < tar.length; i += 700) yield tar.subarray(i, i + 700); })());
      },
    };
  }
}
