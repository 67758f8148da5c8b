// Ctrl-C during `bottle stop` (issue 20: it used to leave `stopping` with no word). The first
// Ctrl-C says the stop goes on (it is saving the work) and it does finish; a second one leaves
// the bottle half-stopped with the command that finishes it, and that command does.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readMetadata } from '../../lib/state/index.js';
import { bottleProcess, fakeBottleArgv } from '../helpers/cli.js';

function world(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-stop-int-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, BOTTLE_STATE_DIR: join(dir, 'state'), HOME: dir, ANTHROPIC_API_KEY: 'placeholder-value', BOTTLE_FAKE_STEP_MS: '1' };
  return { dir, env, root: join(dir, 'state') };
}

// `bottle stop` on the fake backend (slow teardown steps); SIGINT `times` times once the
// teardown has begun, the second one after the first was answered.
async function interruptedStop(env: NodeJS.ProcessEnv, slug: string, times: number): Promise<{ code: number | null; stderr: string }> {
  const argv = fakeBottleArgv('stop', slug);
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...env, BOTTLE_FAKE_STEP_MS: '700' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sent = 0;
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    if (sent === 0 && stderr.includes('[fake] stopping agent')) { sent = 1; child.kill('SIGINT'); }
    if (sent === 1 && times > 1 && stderr.includes('Ctrl-C again')) { sent = 2; child.kill('SIGINT'); }
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stderr };
}

async function started(t: Test, env: NodeJS.ProcessEnv, dir: string): Promise<string> {
  const r = await bottleProcess(['start', 'reviewer', '--yes', '--no-attach'], { env, cwd: dir, fake: true });
  t.equal(r.exitCode, 0, r.stderr);
  return r.stdout.trim();
}

t.test('one Ctrl-C during stop: it says it goes on, and the bottle ends stopped', async (t) => {
  const { dir, env, root } = world(t);
  const slug = await started(t, env, dir);
  const r = await interruptedStop(env, slug, 1);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, new RegExp(`bottle: still stopping ${slug} \\(its work is saved before anything is removed\\); Ctrl-C again to leave it half-stopped`));
  t.match(r.stderr, new RegExp(`${slug} stopped; bring it back with: bottle resume ${slug}`));
  t.equal((await readMetadata(root, slug)).state, 'stopped');
});

t.test('two Ctrl-C during stop: half-stopped, named with the command that finishes it, which does', async (t) => {
  const { dir, env, root } = world(t);
  const slug = await started(t, env, dir);
  const r = await interruptedStop(env, slug, 2);
  t.equal(r.code, 130, r.stderr);
  t.match(r.stderr, new RegExp(`bottle: ${slug} left half-stopped; \`bottle stop ${slug}\` finishes it`));
  t.equal((await readMetadata(root, slug)).state, 'stopping');
  const ls = await bottleProcess(['ls', '--json'], { env, cwd: dir, fake: true });
  t.match(JSON.parse(ls.stdout), [{ slug, state: 'stopping' }], 'ls shows it as stopping meanwhile');
  const resume = await bottleProcess(['resume', slug], { env, cwd: dir, fake: true });
  t.equal(resume.exitCode, 1);
  t.match(resume.stderr, new RegExp(`^bottle: ${slug} is half-stopped \\(a stop was interrupted\\); \`bottle stop ${slug}\` finishes it`, 'm'));
  const again = await bottleProcess(['stop', slug], { env, cwd: dir, fake: true });
  t.equal(again.exitCode, 0, again.stderr);
  t.equal((await readMetadata(root, slug)).state, 'stopped');
});
