// Issue 17 over TLS: the second engine (test/helpers/second-engine.ts) listens on
// tcp://IP:2376 with --tlsverify, and this shell reaches it the docker CLI's way:
// DOCKER_HOST, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem). The
// images are pushed there, a bottle starts there and is guarded there; a shell with no DOCKER_*
// settings finds it through the recorded engine (host and TLS dir), attaches with the TLS
// flags, and stops it. A client without its certificate is told so in one line.
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readMetadata } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';
import { checkEgressBlocked, checkListedOn, checkPush, checkRunsOn, checkStopLeavesNothing, oneClearLine, plainShell, withoutEngineEnv } from '../helpers/remote-engine.js';
import { sandboxEnv, sandboxGate, sandboxManifest, startSandbox } from '../helpers/sandbox.js';
import { ENGINE2_PREFIX, startSecondEngine } from '../helpers/second-engine.js';

const gate = await sandboxGate();
t.setTimeout(15 * 60_000);

await t.test('a bottle on a remote engine over TLS', { skip: gate.skip }, async (t) => {
  const e2 = await startSecondEngine(gate.docker!, { tls: true, log: (l) => t.comment(`engine2: ${l}`) });
  t.teardown(() => e2.close());
  const tlsDir = e2.tlsDir!;
  const tls = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tlsDir };

  await t.test('images push --to the TLS engine, with this shell\'s TLS material', (t) =>
    checkPush(t, gate.docker!, e2.docker, e2.host, { PATH: process.env.PATH, HOME: process.env.HOME, ...tls }));

  await t.test('without its client certificate, doctor and start say so in one line and create nothing', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `${ENGINE2_PREFIX}no-client-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const caOnly = join(dir, 'certs');
    mkdirSync(caOnly);
    copyFileSync(join(tlsDir, 'ca.pem'), join(caOnly, 'ca.pem'));
    const env = sandboxEnv(dir, { DOCKER_HOST: e2.host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: caOnly });
    const refused = /the engine refused this client's certificate \(.+\); DOCKER_CERT_PATH needs the cert\.pem and key\.pem/;

    const doctor = await bottleProcess(['doctor'], { env });
    t.equal(doctor.exitCode, 1);
    t.match(doctor.stdout, new RegExp(`docker-engine +${e2.host.replace(/[.]/g, '\\.')}: TLS: ${refused.source}`));

    const manifest = join(dir, 'bottle.yaml');
    writeFileSync(manifest, sandboxManifest('e2e-tls-refused'));
    const start = await bottleProcess(['start', 'e2e-tls-refused', '--yes', '--no-attach', '--manifest', manifest], { env });
    t.equal(start.exitCode, 1);
    oneClearLine(t, start.stderr, new RegExp(`^bottle: cannot talk to the Docker engine at ${e2.host.replace(/[.]/g, '\\.')}: TLS: ${refused.source}`));
    t.same(await e2.docker.listContainers({ all: true }), [], 'nothing was created there');
  });

  const sb = await startSandbox(e2.docker, { agent: 'e2e-remote-tls', env: { DOCKER_HOST: e2.host, ...tls } });
  t.teardown(() => sb.close());

  await t.test('it runs on the TLS engine, with no mount of this machine', (t) => checkRunsOn(t, gate.docker!, e2.docker, sb));

  await t.test('egress off the allowlist is blocked; nothing reaches the upstream', (t) => checkEgressBlocked(t, sb, '/e2e/remote-tls-blocked'));

  await t.test('the bottle records its engine with the TLS material', async (t) => {
    const meta = await readMetadata(sb.env.BOTTLE_STATE_DIR!, sb.slug);
    t.same(meta.backendData?.engine, { host: e2.host, tlsDir, tlsVerify: true });
  });

  // A shell with no DOCKER_HOST, DOCKER_CERT_PATH or DOCKER_TLS_VERIFY.
  await t.test('from a shell without DOCKER_* settings, ls finds it running there', (t) => checkListedOn(t, sb, e2.host));

  await t.test('attach from that shell runs docker with the engine and its TLS flags', async (t) => {
    const r = await plainShell(sb)(['attach', '--print-argv', sb.slug]);
    t.equal(r.exitCode, 0, r.stderr);
    const { argv } = JSON.parse(r.stdout) as { argv: string[] };
    t.same(argv.slice(0, 10), [
      'docker', '-H', e2.host,
      '--tlsverify', '--tlscacert', join(tlsDir, 'ca.pem'), '--tlscert', join(tlsDir, 'cert.pem'), '--tlskey', join(tlsDir, 'key.pem'),
    ]);
    t.same(argv.slice(10, 12), ['exec', '-it']);
    t.equal(argv[argv.indexOf('claude') - 1], sb.names.agent, 'into the agent container');
    // Those flags alone reach the engine: the real docker CLI, from the same kind of shell.
    const inspect = await execa(argv[0]!, [...argv.slice(1, 10), 'inspect', '-f', '{{.State.Running}}', sb.names.agent], {
      env: withoutEngineEnv(process.env), extendEnv: false, reject: false,
    });
    t.equal(inspect.stdout.trim(), 'true', `docker ${argv.slice(1, 10).join(' ')} inspect: ${inspect.stderr}`);
  });

  await t.test('stop (from that shell) leaves nothing on the TLS engine', (t) => checkStopLeavesNothing(t, sb, e2.docker));
});
