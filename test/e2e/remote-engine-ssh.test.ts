// Issue 17 over ssh: the second engine (test/helpers/second-engine.ts) runs sshd beside dockerd,
// and this shell reaches it as a user would: DOCKER_HOST=ssh://root@IP, with HOME/.ssh holding
// the key (no agent) and a known_hosts that has the engine's host key. The images are pushed
// there, a bottle starts there and is guarded there; a shell without DOCKER_HOST (same HOME)
// finds it through the recorded engine, attaches with -H ssh://…, and stops it. A known_hosts
// with another key for the host, or none for it, is refused in one line, before anything is sent.
import { execa } from 'execa';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readMetadata } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';
import { strangerHostKey } from '../helpers/engine-ssh.js';
import { checkEgressBlocked, checkListedOn, checkPush, checkRunsOn, checkStopLeavesNothing, oneClearLine, plainShell, withoutEngineEnv } from '../helpers/remote-engine.js';
import { sandboxEnv, sandboxGate, sandboxManifest, startSandbox } from '../helpers/sandbox.js';
import { ENGINE2_PREFIX, startSecondEngine } from '../helpers/second-engine.js';

const gate = await sandboxGate();
t.setTimeout(15 * 60_000);

await t.test('a bottle on a remote engine over ssh', { skip: gate.skip }, async (t) => {
  const e2 = await startSecondEngine(gate.docker!, { ssh: true, log: (l) => t.comment(`engine2: ${l}`) });
  t.teardown(() => e2.close());
  const home = e2.sshHome!;
  const re = (s: string): string => s.replace(/[.]/g, '\\.');

  await t.test('images push --to the ssh engine, with this HOME\'s key and known_hosts', (t) =>
    checkPush(t, gate.docker!, e2.docker, e2.host, { PATH: process.env.PATH, HOME: home }));

  // A HOME with the client key and `knownHosts` as its known_hosts.
  const refusedHome = (t: Test, knownHosts: string): NodeJS.ProcessEnv => {
    const dir = mkdtempSync(join(tmpdir(), `${ENGINE2_PREFIX}refused-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, '.ssh'), { mode: 0o700 });
    copyFileSync(join(home, '.ssh', 'id_rsa'), join(dir, '.ssh', 'id_rsa'));
    chmodSync(join(dir, '.ssh', 'id_rsa'), 0o600);
    writeFileSync(join(dir, '.ssh', 'known_hosts'), knownHosts);
    return sandboxEnv(dir, { DOCKER_HOST: e2.host });
  };

  // doctor fails the engine row with `line`; start says it once and creates nothing there.
  const refusedEverywhere = async (t: Test, env: NodeJS.ProcessEnv, line: RegExp, agent: string): Promise<void> => {
    const doctor = await bottleProcess(['doctor'], { env });
    t.equal(doctor.exitCode, 1);
    t.match(doctor.stdout, new RegExp(`docker-engine +${re(e2.host)}: ${line.source}`));
    const manifest = join(env.HOME!, 'bottle.yaml');
    writeFileSync(manifest, sandboxManifest(agent));
    const start = await bottleProcess(['start', agent, '--yes', '--no-attach', '--manifest', manifest], { env });
    t.equal(start.exitCode, 1);
    oneClearLine(t, start.stderr, new RegExp(`^bottle: cannot talk to the Docker engine at ${re(e2.host)}: ${line.source}`));
    t.same(await e2.docker.listContainers({ all: true }), [], 'nothing was created there');
  };

  await t.test('another host key in known_hosts for that host: refused in one line, nothing created', async (t) => {
    const env = refusedHome(t, `${e2.ip} ${strangerHostKey()}\n`);
    await refusedEverywhere(t, env, new RegExp(`ssh: the host key of ${re(e2.ip)} \\(ssh-ed25519 SHA256:\\S+\\) does not match what \\S+known_hosts records for it .*ssh-keygen -R ${re(e2.ip)}`), 'e2e-ssh-mismatch');
  });

  await t.test('no known_hosts entry for the host: refused in one line, nothing created', async (t) => {
    const env = refusedHome(t, `192.0.2.1 ${e2.sshHostKey}\n`);
    await refusedEverywhere(t, env, new RegExp(`ssh: ${re(e2.ip)} is not in \\S+known_hosts \\(it presented ssh-ed25519 SHA256:\\S+\\): .*ssh-keyscan ${re(e2.ip)} >> `), 'e2e-ssh-unknown');
  });

  // The sandbox's HOME is the one with .ssh, as a user's is in every shell.
  const sb = await startSandbox(e2.docker, { agent: 'e2e-remote-ssh', env: { DOCKER_HOST: e2.host, HOME: home } });
  t.teardown(() => sb.close());

  await t.test('it runs on the ssh engine, with no mount of this machine', (t) => checkRunsOn(t, gate.docker!, e2.docker, sb));

  await t.test('egress off the allowlist is blocked; nothing reaches the upstream', (t) => checkEgressBlocked(t, sb, '/e2e/remote-ssh-blocked'));

  await t.test('the bottle records its engine as the ssh URL', async (t) => {
    const meta = await readMetadata(sb.env.BOTTLE_STATE_DIR!, sb.slug);
    t.same(meta.backendData?.engine, { host: e2.host });
  });

  await t.test('from a shell without DOCKER_HOST, ls finds it running there', (t) => checkListedOn(t, sb, e2.host));

  await t.test('attach from that shell runs docker -H ssh://…, which reaches the engine', async (t) => {
    const r = await plainShell(sb)(['attach', '--print-argv', sb.slug]);
    t.equal(r.exitCode, 0, r.stderr);
    const { argv } = JSON.parse(r.stdout) as { argv: string[] };
    t.same(argv.slice(0, 5), ['docker', '-H', e2.host, 'exec', '-it']);
    t.equal(argv[argv.indexOf('claude') - 1], sb.names.agent, 'into the agent container');
    // The docker CLI runs the system ssh, which reads ~/.ssh of the passwd entry, not $HOME: a
    // wrapper first on PATH points it at this HOME's files, as a user's own ~/.ssh would be.
    const bin = join(home, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="${home}/.ssh/known_hosts" -i "${home}/.ssh/id_rsa" "$@"\n`, { mode: 0o755 });
    const inspect = await execa(argv[0]!, [...argv.slice(1, 3), 'inspect', '-f', '{{.State.Running}}', sb.names.agent], {
      env: { ...withoutEngineEnv(process.env), HOME: home, PATH: `${bin}:${process.env.PATH}` }, extendEnv: false, reject: false,
    });
    t.equal(inspect.stdout.trim(), 'true', `docker ${argv.slice(1, 3).join(' ')} inspect: ${inspect.stderr}`);
  });

  await t.test('stop (from that shell) leaves nothing on the ssh engine', (t) => checkStopLeavesNothing(t, sb, e2.docker));
});
