// Sandbox escape, isolation (SPEC §12 invariants 1, 2, 3, 5): from inside a real bottle's agent,
// try every way out that bypasses the gateway, look for the secrets it must never hold, and try
// to touch the policy; plus claude's own wiring. One bottle for the file.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pemBodyLines, sandboxGate, startSandbox, writableLayerHits } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);
const run = promisify(execFile);

// Every distinct argv the host's process list showed while `fn` ran (sampled every 50 ms).
async function hostArgvDuring<T>(fn: () => Promise<T>): Promise<{ value: T; argv: Set<string>; samples: number }> {
  const argv = new Set<string>();
  let samples = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const { stdout } = await run('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 }).catch(() => ({ stdout: '' }));
      for (const l of stdout.split('\n')) argv.add(l);
      samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { value: await fn(), argv, samples };
  } finally {
    stop = true;
    await loop;
  }
}

type Outcomes = Record<string, string>;

await t.test('sandbox isolation', { skip: gate.skip }, async (t) => {
  const docker = gate.docker!;
  const host = createServer((s) => s.on('error', () => undefined).end('host service\n'));
  await new Promise<void>((r) => host.listen(0, '::', r)); // dual-stack, like most host services
  t.teardown(() => host.close());
  const hostPort = (host.address() as { port: number }).port;
  const launch = await hostArgvDuring(() => startSandbox(docker, { agent: 'e2e-isolation', git: true, identity: true }));
  const sb = launch.value;
  t.teardown(() => sb.close());
  const { names } = sb;
  const [ext, int, bundle, agent] = await Promise.all([
    docker.getNetwork(names.externalNetwork).inspect(), docker.getNetwork(names.internalNetwork).inspect(),
    docker.getContainer(names.bundle).inspect(), docker.getContainer(names.agent).inspect(),
  ]);
  const extGateway = ext.IPAM?.Config?.[0]?.Gateway as string;
  const intGateway = int.IPAM?.Config?.[0]?.Gateway as string;
  const bundleExt = bundle.NetworkSettings.Networks[names.externalNetwork]!.IPAddress;
  const bundleInt = bundle.NetworkSettings.Networks[names.internalNetwork]!.IPAddress;
  const up = sb.upstream.ip;
  t.comment(`upstream ${up}, bundle int ${bundleInt} ext ${bundleExt}, network gateways int ${intGateway} ext ${extGateway}, host port ${hostPort}`);

  await t.test('4. no way out but the bundle: routes, direct TCP, other resolvers', async (t) => {
    const routes = await sb.agent('ip route; echo ---; ip -6 route');
    t.notMatch(routes.stdout, /default/, `no default route (v4 or v6):\n${routes.stdout}`);
    // With IPv6 on, the bridge's link-local address would reach host services bound to [::].
    const v6 = await sb.agent('cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr');
    t.equal(v6.stdout.trim(), '1', 'IPv6 is off in the agent: no link-local path to the host');
    for (const ip of [up, extGateway, bundleExt, '169.254.169.254']) {
      const r = await sb.agent(`ip route get ${ip}`);
      t.match(`${r.stdout}${r.stderr}`, /Network is unreachable/, `no route to ${ip}`);
    }
    const direct = [`${up}:80`, `${up}:443`, `${extGateway}:${hostPort}`, `${intGateway}:${hostPort}`,
      `${bundleExt}:8888`, `${bundleExt}:9100`, `${bundleExt}:9418`];
    const fromAgent = await sb.probe<Outcomes>('connect', ['2000', ...direct]);
    for (const target of direct) t.not(fromAgent[target], 'open', `agent → ${target}: ${fromAgent[target]}`);
    const control = await sb.probe<Outcomes>('connect', ['2000', `${up}:80`, `${up}:443`, `${extGateway}:${hostPort}`], 'bundle');
    t.same([control[`${up}:80`], control[`${up}:443`]], ['open', 'open'], 'control: the bundle reaches the upstream directly');
    t.comment(`for reference, the bundle → host port via ${extGateway}: ${control[`${extGateway}:${hostPort}`]}`);
    const via = await sb.probe<Outcomes>('connect', ['2000', 'gateway:8888', 'git-gate:9418', 'supervise:9100']);
    t.same(Object.values(via), ['open', 'open', 'open'], 'control: the agent reaches the three bundle ports');

    const dns = await sb.probe<{ ok: boolean; error?: string }>('dns', [up, 'exfil.test', '2000']);
    t.equal(dns.ok, false, `a resolver other than Docker's (the upstream's UDP 53) is unreachable: ${dns.error}`);
    const dnsControl = await sb.probe<{ ok: boolean }>('dns', [up, 'exfil.test', '2000'], 'bundle');
    t.equal(dnsControl.ok, true, 'control: that resolver answers the bundle');
    // glibc's default 5 s × 2 tries per query would make this 20 s: one short try is as telling.
    const getent = (name: string) => sb.agent(`RES_OPTIONS='timeout:2 attempts:1' getent hosts ${name}`);
    t.equal((await getent('exfil.test')).exitCode, 2, 'getent hosts exfil.test: not resolvable in the agent');
    t.equal((await getent('gateway')).exitCode, 0, 'control: container names resolve');
    // Docker's resolver forwards other names from the agent's own namespace, where there is no
    // route: no answer at all. An answer (even NXDOMAIN) would mean queries leave: a DNS tunnel.
    const embedded = await sb.probe<{ ok: boolean; error?: string }>('dns', ['127.0.0.11', 'allowed.test', '3000']);
    t.same(embedded, { ok: false, error: 'timeout' }, "Docker's embedded resolver forwards nothing for the agent");
    const dnsLog = (await sb.upstream.records()).filter((r) => r.kind === 'dns');
    t.ok(dnsLog.every((r) => r.remote === bundleExt), 'the upstream resolver only ever heard from the bundle');
  });

  await t.test('5. route token, API key, git identity and CA key never enter the agent (nor any host argv)', async (t) => {
    const caKey = pemBodyLines(readFileSync(join(sb.paths.dir, 'ca', 'ca.key'), 'utf8'));
    const identity = sb.identityKey!.split('\n');
    const needles: Array<[string, string]> = [
      ['route token', sb.routeToken], ['API key', sb.apiKey], ...caKey.map((line, i): [string, string] => [`CA key (line ${i + 1})`, line]),
      ['git identity (line 1)', identity[1]!], ['git identity (line 2)', identity[2]!],
    ];
    const inspect = JSON.stringify(agent);
    const args = needles.map(([, n]) => `-e '${n}'`).join(' ');
    const envs = {
      root: await sb.agent(`cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF ${args}`, 'root'),
      node: await sb.agent(`env | grep -cF ${args}`),
    };
    // As both users (capability-less root cannot read node's 0600 files): exit 1 = no match,
    // 2 = some file unreadable to that user; a match would list its path first.
    const grep = `grep -rlsF ${args} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; echo rc=$?`;
    // Control needle: the CA *certificate*, which provisioning did put into the trust store.
    const caCertLine = readFileSync(join(sb.paths.dir, 'ca', 'ca.crt'), 'utf8').split('\n')[5]!;
    const [root, node, layer] = await Promise.all([
      sb.agent(grep, 'root'), sb.agent(grep), writableLayerHits(docker, names.agent, [...needles.map(([, n]) => n), caCertLine]),
    ]);
    const files = { root, node };
    const hostArgv = [...launch.argv].join('\n');
    for (const [what, n] of needles) {
      t.notOk(inspect.includes(n), `${what}: not in docker inspect of the agent`);
      t.notOk(hostArgv.includes(n), `${what}: not in any host argv during launch (${launch.samples} ps samples)`);
      t.notOk(sb.bringup.join('\n').includes(n), `${what}: not in the bring-up output`);
    }
    t.equal(envs.root.stdout.trim(), '0', 'not in any process environment');
    t.equal(envs.node.stdout.trim(), '0', 'not in the agent user env');
    for (const [user, r] of Object.entries(files)) t.match(r.stdout, /^rc=[12]\n$/, `not in any file ${user} can read: ${r.stdout.trim()}`);
    t.same(layer.filter((h) => h.needle !== caCertLine), [], 'not in any file the agent wrote or changed (read through the engine, unrestricted)');
    t.ok(layer.some((h) => h.needle === caCertLine), `control: the layer search finds the CA certificate (${layer.map((h) => h.path).join(', ')})`);
    t.ok(JSON.stringify(bundle.Config.Env).includes(sb.routeToken), 'control: the token is in the bundle, where it belongs');
    t.ok((await sb.bundle('cat /bottle/git-gate/identities/deploy')).stdout.includes(identity[1]!), 'control: so is the identity');
    t.ok(launch.argv.size > 50, 'control: the host process list was really sampled');
  });

  await t.test('8. the agent cannot change policy: no state mounted, not changeable in the bundle, nothing else listening', async (t) => {
    t.same(agent.Mounts, [], 'the agent mounts nothing (no policy, decisions or CA dir)');
    t.notMatch((await sb.agent('cat /proc/mounts')).stdout, /\/bottle\b/);
    const policyFile = join(sb.paths.policy, 'policy.yaml');
    const before = readFileSync(policyFile, 'utf8');
    for (const attempt of [
      'touch /bottle/policy/x', 'echo "allow: [\\"*\\"]" >> /bottle/policy/policy.yaml', 'mv /bottle/policy/policy.yaml /bottle/policy/p2',
      'touch /bottle/supervise/decisions/x', 'touch /bottle/ca/x',
    ]) {
      const r = await sb.bundle(attempt);
      t.not(r.exitCode, 0, `bundle user: ${attempt} fails`);
      t.match(r.stderr, /Permission denied/, 'the keeper owns it, the bundle only reads it');
    }
    const chmod = await sb.bundle('chmod 666 /bottle/policy/policy.yaml /bottle/ca/ca.key');
    t.not(chmod.exitCode, 0, 'nor make it writable (not its owner, no capability)');
    t.match(chmod.stderr, /Operation not permitted/);
    t.match((await sb.bundle('head -c 5 /bottle/policy/policy.yaml; head -c 10 /bottle/ca/ca.key')).stdout, /-----BEGIN/, 'it still reads them (its group)');
    t.equal(readFileSync(policyFile, 'utf8'), before, 'the policy is unchanged');

    const mcp = await sb.probe<Array<{ result?: { tools?: Array<{ name: string }>; isError?: boolean }; error?: unknown }>>('mcp', [
      'http://supervise:9100/mcp', JSON.stringify([{ method: 'tools/list' }, { method: 'tools/call', params: { name: 'approve_proposal', arguments: { id: 'x' } } }]),
    ]);
    t.same(mcp[1]?.result?.tools?.map((x) => x.name).sort(), ['check_proposal', 'propose_allowlist_change', 'propose_route_change'], 'supervise offers proposing, never deciding');
    t.ok(mcp[2]?.error || mcp[2]?.result?.isError, 'an approve tool does not exist');

    const scan = await sb.probe<{ open: number[]; outcomes: Record<string, number>; ms: number }>('scan', [bundleInt, '1', '65535', '256', '1500']);
    t.comment(`full TCP scan of ${bundleInt} from the agent: ${scan.ms} ms, ${JSON.stringify(scan.outcomes)}`);
    t.same(scan.open, [8888, 9100, 9418], 'only the gateway, supervise and git-gate ports answer');
  });

  await t.test('11. claude runs as node and lists supervise', async (t) => {
    const v = await sb.agent('id -un; claude --version');
    t.equal(v.exitCode, 0, v.stderr);
    t.match(v.stdout, /^node\n.*Claude Code/);
    const mcp = await sb.agent('cd ~ && claude mcp list');
    t.match(mcp.stdout, /supervise: http:\/\/supervise:9100\/mcp \(HTTP\)/);
    const config = JSON.parse((await sb.agent('cat ~/.claude.json')).stdout) as { mcpServers?: Record<string, { url?: string }> };
    t.equal(config.mcpServers?.supervise?.url, 'http://supervise:9100/mcp');
  });
});
