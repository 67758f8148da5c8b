// The tiny tar writer and the strict extractor (archives out of the agent are untrusted).
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { entryHeader, extractTar, tarBuffer, tarDirectory } from '../../lib/backends/bundle/tar.js';

const chunks = (buf: Buffer, size: number): Readable => {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
};

t.test('round trip: files, dirs, long names (pax), split across odd chunk sizes', async (t) => {
  const long = `projects/${'x'.repeat(150)}/session.jsonl`;
  const archive = tarBuffer([
    { path: 'projects', type: 'dir' },
    { path: 'projects/a.jsonl', type: 'file', content: '{"a":1}\n' },
    { path: long, type: 'file', content: Buffer.alloc(1500, 0x41) },
    { path: 'projects/empty', type: 'file', content: '' },
  ]);
  t.equal(archive.length % 512, 0);
  for (const size of [1, 7, 512, 100_000]) {
    const dir = t.testdir();
    const r = await extractTar(chunks(archive, size), dir);
    t.same(r, { files: 3, dirs: 1, skipped: [] }, `chunk size ${size}`);
    t.equal(readFileSync(join(dir, 'projects/a.jsonl'), 'utf8'), '{"a":1}\n');
    t.equal(readFileSync(join(dir, long)).length, 1500);
    t.equal(statSync(join(dir, 'projects/a.jsonl')).mode & 0o777, 0o600, 'files land private');
  }
});

t.test('hostile entries are skipped: absolute, .., symlinks, hard links', async (t) => {
  const dir = t.testdir({ inside: {} });
  const archive = tarBuffer([
    { path: '../escape', type: 'file', content: 'no' },
    { path: '/etc/evil', type: 'file', content: 'no' },
    { path: 'inside/../../escape2', type: 'file', content: 'no' },
    { path: 'link', type: 'symlink', target: '/etc/passwd' },
    { path: 'ok.txt', type: 'file', content: 'yes' },
  ]);
  const r = await extractTar(Readable.from([archive]), join(dir, 'inside'));
  t.same(r.files, 1);
  t.same(r.skipped, ['../escape', '/etc/evil', 'inside/../../escape2', 'link']);
  t.same(readdirSync(join(dir, 'inside')), ['ok.txt']);
  t.same(readdirSync(dir).sort(), ['inside']);
});

t.test('extraction stops at the byte limit', async (t) => {
  const archive = tarBuffer([{ path: 'big', type: 'file', content: Buffer.alloc(4096) }]);
  await t.rejects(extractTar(Readable.from([archive]), t.testdir(), 1000), /exceeds 1000 bytes/);
});

t.test('tarDirectory: streams a host dir under a prefix with the given owner', async (t) => {
  const src = t.testdir({ '.git': { HEAD: 'ref: refs/heads/main\n', objects: { pack: { 'p.pack': 'PACK' } } } });
  symlinkSync('/etc/passwd', join(src, '.git', 'evil'));
  mkdirSync(join(src, '.git', 'refs'));
  writeFileSync(join(src, '.git', 'refs', 'x'), 'y');
  const data: Buffer[] = [];
  for await (const c of tarDirectory(join(src, '.git'), '.git', { uid: 1000, gid: 1001 })) data.push(c as Buffer);
  const archive = Buffer.concat(data);
  // Every header carries the owner; the symlink is not packed.
  const names: string[] = [];
  for (let off = 0; off + 512 <= archive.length;) {
    const h = archive.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    names.push(h.subarray(0, 100).toString().replace(/\0.*$/s, ''));
    t.equal(parseInt(h.subarray(108, 116).toString(), 8), 1000);
    t.equal(parseInt(h.subarray(116, 124).toString(), 8), 1001);
    const size = parseInt(h.subarray(124, 136).toString(), 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  t.same(names.sort(), ['.git/', '.git/HEAD', '.git/objects/', '.git/objects/pack/', '.git/objects/pack/p.pack', '.git/refs/', '.git/refs/x']);
  const out = t.testdir();
  await extractTar(Readable.from([archive]), out);
  t.equal(readFileSync(join(out, '.git/objects/pack/p.pack'), 'utf8'), 'PACK');
});

t.test('header checksum is what tar expects', async (t) => {
  const h = entryHeader({ path: 'a', type: 'file' }, 3);
  const stored = parseInt(h.subarray(148, 154).toString(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  t.equal(stored, sum);
});
