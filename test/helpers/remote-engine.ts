// What the remote-engine e2e files (plain tcp, TLS and ssh, issue 17) check alike about a sandbox
// bottle on the second engine: where it runs, that egress is still guarded, and that a shell
// which selects no engine finds it there and stops it there.
import type Docker from 'dockerode';
import type { Test } from 'tap';
import type { CliResult } from './cli.js';
import { bottleProcess } from './cli.js';
import { IMAGES, labelled, type Sandbox } from './sandbox.js';

// A failure the user can fix: exactly one `bottle:` line on stderr, no stack, no internal error.
export function oneClearLine(t: Test, stderr: string, pattern: RegExp): void {
  const errors = stderr.split('\n').filter((l) => l.startsWith('bottle: '));
  t.equal(errors.length, 1, `one error line: ${stderr}`);
  t.match(errors[0], pattern);
  t.notMatch(stderr, /internal error|BOTTLE_DEBUG|^\s+at /m, 'no stack trace, no internal error');
}

const CURL = "curl -sS -m 15 -w '\\n%{http_code}'";

// `curl ARGS` in the agent: the body and the status code (the last line).
export function agentCurl(sb: Sandbox): (args: string) => Promise<{ body: string; code: string }> {
  return async (args) => {
    const lines = (await sb.agent(`${CURL} ${args} 2>/dev/null`)).stdout.split('\n');
    return { code: lines.pop() ?? '', body: lines.join('\n') };
  };
}

// `env` with nothing that selects a Docker engine: what a fresh shell on this machine has.
export function withoutEngineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DOCKER_HOST: _h, DOCKER_CERT_PATH: _p, DOCKER_TLS_VERIFY: _v, DOCKER_CONTEXT: _c, ...rest } = env;
  return rest;
}

// The bottle CLI from such a shell, with the sandbox's state dir and credentials.
export const plainShell = (sb: Sandbox) => (args: string[]): Promise<CliResult> => bottleProcess(args, { env: withoutEngineEnv(sb.env) });

// `bottle images push --to host` (from a shell with `env`) copies the images, same ids, and a
// second push sends nothing.
export async function checkPush(t: Test, local: Docker, remote: Docker, host: string, env: NodeJS.ProcessEnv): Promise<void> {
  const t0 = Date.now();
  const push = await bottleProcess(['images', 'push', '--to', host, '--json'], { env });
  t.equal(push.exitCode, 0, push.stderr);
  t.comment(`pushed in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${push.stderr.trim().split('\n').pop()}`);
  const ids = await Promise.all(IMAGES.map(async (i) => (await local.getImage(i).inspect()).Id));
  t.match(JSON.parse(push.stdout), { images: IMAGES.map((name, i) => ({ name, id: ids[i], pushed: true })) });
  for (const [i, name] of IMAGES.entries()) t.equal((await remote.getImage(name).inspect()).Id, ids[i], `${name} is there, same id`);
  const again = await bottleProcess(['images', 'push', '--to', host, '--json'], { env });
  t.match(JSON.parse(again.stdout), { images: IMAGES.map((name) => ({ name, pushed: false })), bytes: 0 }, 'a second push sends nothing');
}

// All of the bottle is on `remote`, none on `local`, no bind mount, and readiness came back.
export async function checkRunsOn(t: Test, local: Docker, remote: Docker, sb: Sandbox): Promise<void> {
  t.same(await labelled(local, sb.slug), [], 'nothing of it on this machine\'s engine');
  t.same(await labelled(remote, sb.slug), [sb.names.agent, sb.names.externalNetwork, sb.names.internalNetwork, sb.names.bundle].sort());
  for (const name of [sb.names.bundle, sb.names.agent]) {
    const c = await remote.getContainer(name).inspect();
    t.same(c.Mounts.filter((m) => m.Type === 'bind'), [], `${name}: no bind mount`);
  }
  t.ok(sb.bringup.some((l) => /gateway ready/.test(l)), 'readiness came back through the engine API');
}

// An off-allowlist host gets the gateway's 403 and nothing reaches the fake upstream.
export async function checkEgressBlocked(t: Test, sb: Sandbox, path: string): Promise<void> {
  const r = await agentCurl(sb)(`https://exfil.test${path}`);
  t.equal(r.code, '403');
  t.match(r.body, /exfil\.test is not on the allowlist/);
  t.same((await sb.upstream.records()).filter((x) => (x.url ?? '').startsWith(path)), []);
}

// From a shell that selects no engine: ls finds the bottle running on `host`.
export async function checkListedOn(t: Test, sb: Sandbox, host: string): Promise<void> {
  const plain = plainShell(sb);
  const ls = await plain(['ls', '--json']);
  t.equal(ls.exitCode, 0, ls.stderr);
  t.match(JSON.parse(ls.stdout), [{ slug: sb.slug, state: 'running', engine: 'running', dockerHost: host }]);
  t.match((await plain(['ls'])).stdout, new RegExp(`${sb.slug} .*running +running +${host.replace(/[.]/g, '\\.')}`), 'the table says where');
}

// From that shell: stop --no-save leaves nothing with the slug's label on `remote`.
export async function checkStopLeavesNothing(t: Test, sb: Sandbox, remote: Docker): Promise<void> {
  await sb.upstream.remove(); // the test's own container on the bottle's egress network
  const stop = await plainShell(sb)(['stop', sb.slug, '--no-save']);
  t.equal(stop.exitCode, 0, stop.stderr);
  t.same(await labelled(remote, sb.slug), [], 'no container or network with the slug label');
}
