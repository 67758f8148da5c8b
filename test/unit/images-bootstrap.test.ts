// The base-image bootstrap (no Docker Hub): the mirror it uses and what it refuses to start without.
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapBlocker, hostMirror } from '../../lib/images/bootstrap.js';

function temp(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-bootstrap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('hostMirror: deb822 sources first, then a one-line bookworm source, else none', async (t) => {
  const etc = temp(t);
  t.equal(hostMirror(etc), undefined);
  mkdirSync(join(etc, 'apt/sources.list.d'), { recursive: true });
  writeFileSync(join(etc, 'apt/sources.list'), 'deb [arch=amd64] http://mirror.test/debian bookworm main\n');
  t.equal(hostMirror(etc), 'http://mirror.test/debian');
  writeFileSync(join(etc, 'apt/sources.list.d/debian.sources'), 'Types: deb\nURIs: http://deb822.test/debian\nSuites: bookworm\n');
  t.equal(hostMirror(etc), 'http://deb822.test/debian');
});

t.test('bootstrapBlocker: a missing tool or a non-root user is one line with the fix', async (t) => {
  const bin = temp(t);
  t.match(await bootstrapBlocker({ PATH: bin }, 0), /needs debootstrap, npm, tar, chroot on PATH \(apt-get install -y debootstrap\); or pass --base IMAGE/);
  for (const tool of ['debootstrap', 'npm', 'tar', 'chroot']) {
    writeFileSync(join(bin, tool), '#!/bin/sh\n');
    chmodSync(join(bin, tool), 0o755);
  }
  t.match(await bootstrapBlocker({ PATH: bin }, 1000), /needs root; run bottle images build as root once, or pass --base IMAGE/);
  t.equal(await bootstrapBlocker({ PATH: bin }, 0), undefined);
});
