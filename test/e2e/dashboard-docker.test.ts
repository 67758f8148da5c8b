// The dashboard drives a real Docker bottle (SPEC §1 steps 3, 4, 7, 8 on the docker backend):
// `n` → picker → preflight → `y` tails the bring-up in the right pane, then the pane becomes
// `docker exec … claude` in the agent container; `x` → `y` tails the teardown, removes every
// labelled resource and closes the pane; `q` exits 0. The test-only knobs of the sandbox suite
// apply (the bundle resolves only *.test names): nothing here reaches a public host.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { quote } from 'shell-quote';
import { dockerNames } from '../../lib/backends/docker/index.js';
import { lifecycleDeps, stopBottle } from '../../lib/lifecycle/index.js';
import { listBottles } from '../../lib/state/index.js';
import { startDashboard, type DashboardHarness } from '../helpers/dashboard.js';
import { labelled, sandboxEnv, sandboxGate, sandboxManifest, sweep } from '../helpers/sandbox.js';
import { pollUntil, tmuxSkipReason } from '../helpers/tmux.js';

const gate = await sandboxGate();
const skip = gate.skip || (await tmuxSkipReason());
t.setTimeout(8 * 60_000);
const AGENT = 'e2e-dash';
// Bring-up and teardown on a loaded 2-core machine (image start, provisioning, readiness).
const ENGINE = { timeoutMs: 180_000, intervalMs: 250 };

async function panes(h: DashboardHarness) {
  return (await h.srv.client.listPanes()).filter((p) => p.session === h.srv.session);
}

// argv (space-joined) of every process below `pid`, from `ps` in its machine-readable form.
async function descendants(pid: number): Promise<string[]> {
  const out = (await execa('ps', ['-A', '-o', 'pid=,ppid=,args='])).stdout;
  const procs = out.split('\n').flatMap((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }] : [];
  });
  const found: string[] = [];
  const walk = (parent: number): void => {
    for (const p of procs.filter((x) => x.ppid === parent)) {
      found.push(p.args);
      walk(p.pid);
    }
  };
  walk(pid);
  return found;
}

await t.test('the dashboard starts, shows, and stops a real Docker bottle', { skip }, async (t) => {
  const docker = gate.docker!;
  const root = await mkdtemp(join(tmpdir(), 'bottle-e2e-dash-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const manifest = join(root, 'bottle.yaml');
  await writeFile(manifest, sandboxManifest(AGENT));
  // The sandbox suite's credentials and test knobs; PATH, HOME and state come from the harness.
  const { PATH: _path, HOME: _home, BOTTLE_STATE_DIR: _state, DOCKER_HOST: _host, ...knobs } = sandboxEnv(root);
  const h = await startDashboard(t, { engine: true, manifest, env: knobs as Record<string, string>, width: 200, height: 50 });

  // Registered after the harness, so it runs first (tap runs teardowns last-in first-out):
  // every bottle of this state root is stopped and swept while the tmux server still exists.
  const slugs = new Set<string>();
  t.teardown(async () => {
    const env = { ...process.env, ...h.env };
    for (const e of await listBottles(h.stateDir).catch(() => [])) slugs.add(e.slug);
    for (const slug of slugs) {
      // A detached `bottle start` still bringing it up would create resources after a sweep.
      await pollUntil(`${slug}'s bring-up to settle`, async () => {
        const e = (await listBottles(h.stateDir).catch(() => [])).find((x) => x.slug === slug);
        return !e || !e.ok || !['claimed', 'launching'].includes(e.metadata.state ?? '');
      }, ENGINE).catch(() => undefined);
      await stopBottle(lifecycleDeps(env), slug, () => undefined).catch(() => undefined);
      await sweep(docker, slug).catch((e: Error) => console.error(`sweep ${slug}: ${e.message}`));
    }
  });

  await h.waitFor(/Agents \(0\)/);
  await h.keys('n');
  await h.waitFor(new RegExp(`New agent[\\s\\S]*${AGENT}[\\s\\S]*Enter pick`));
  await h.keys('d', 'a', 's', 'h');
  await h.waitFor(new RegExp(`filter: dash_[\\s\\S]*${AGENT}[\\s\\S]*Enter pick`));
  await h.keys('Enter');
  const plan = await h.waitFor(new RegExp(`Start ${AGENT}\\?[\\s\\S]*y start\\s+N/Esc cancel`));
  t.match(plan, /backend\s+docker/, 'the preflight shows the docker backend');
  t.match(plan, /image\s+bottle-agent:latest/, 'its image');
  t.match(plan, /allow\s+allowed\.test/, 'its egress allowlist');
  t.match(plan, /routes\s+api\.allowed\.test\s+Authorization ← \$E2E_ROUTE_TOKEN/, 'its route, by variable name');
  await h.keys('y');

  const slug = await pollUntil('the claimed bottle in state', async () => (await listBottles(h.stateDir))[0]?.slug, { timeoutMs: 20_000 });
  slugs.add(slug);
  const names = dockerNames(slug);
  const right = await pollUntil('a right pane', () => h.rightPane(), { timeoutMs: 20_000 });
  // Everything the right pane prints from here on, kept across respawns (a screen can be cleared,
  // and the teardown tail closes with the pane).
  const record = join(root, 'right-pane.log');
  t.equal((await h.srv.tmux(['pipe-pane', '-t', right, `cat >> ${quote([record])}`])).exitCode, 0, 'recording the right pane');
  const recorded = (): string => (existsSync(record) ? readFileSync(record, 'utf8') : '');

  // Bring-up: the right pane tails bringup.log while the dashboard keeps the keyboard.
  await h.srv.waitForText(new RegExp(`creating network ${names.project}-`), { ...ENGINE, target: right });
  t.equal((await panes(h)).find((p) => p.active)?.paneId, h.dash, 'focus stays in the dashboard during bring-up');
  await h.srv.waitForText(/provision: /, { ...ENGINE, target: right });

  // Then the same pane runs the claude session: `bottle attach` → `docker exec -it … claude`.
  const started = await pollUntil('the claude session in the right pane', async () =>
    new RegExp(`starting claude session ([0-9a-f-]{36}) in ${slug}`).exec(recorded())?.[1], {
    ...ENGINE, describe: async () => `right pane:\n${await h.srv.capture(right).catch((e: Error) => e.message)}\nrecorded:\n${recorded()}`,
  });
  t.equal(await h.rightPane(), right, 'the same pane went from the bring-up log to the session');
  const pane = (await panes(h)).find((p) => p.paneId === right);
  t.match(pane?.label, new RegExp(`${AGENT} ${slug}`), 'the pane label names the agent');
  const execArgv = await pollUntil('docker exec … claude below the right pane', async () =>
    (await descendants(pane!.pid!)).find((a) => a.startsWith('docker exec ') && a.includes(` ${names.agent} claude `)), ENGINE);
  t.match(execArgv, new RegExp(`^docker exec -it -u node .* ${names.agent} claude --session-id ${started} --dangerously-skip-permissions`), 'the pane runs docker exec of claude in the agent container');
  await pollUntil('focus in the right pane', async () => (await panes(h)).find((p) => p.active)?.paneId === right, { timeoutMs: 20_000 });
  await h.waitFor(new RegExp(`\\* ${slug}\\s+${AGENT}\\s+docker\\s+running`));

  // The engine agrees: the bottle's containers run, claude is an exec in the agent container,
  // and the bundle the dashboard's detached `bottle start` made got the resolve-only knob.
  t.same(await labelled(docker, slug), [names.agent, names.externalNetwork, names.internalNetwork, names.bundle].sort(), 'the bottle\'s containers and networks');
  const agent = await docker.getContainer(names.agent).inspect();
  const bundle = await docker.getContainer(names.bundle).inspect();
  t.ok(agent.State.Running && bundle.State.Running, 'agent and sidecars containers are running');
  t.ok(bundle.Config.Env.includes('BOTTLE_GATEWAY_RESOLVE_ONLY=test'), 'the bundle resolves only *.test names');
  // The docker CLI in the pane exists a moment before the engine has created and started its
  // exec (a CI flake read the engine once, too early): wait for the engine to run it.
  const claude = await pollUntil('a running claude exec in the agent container (engine view)', async () => {
    const ids = (await docker.getContainer(names.agent).inspect()).ExecIDs ?? [];
    const execs = await Promise.all(ids.map((id) => docker.getExec(id).inspect()));
    return execs.find((x) => x.Running && x.ProcessConfig.entrypoint === 'claude');
  }, ENGINE);
  t.match(claude?.ProcessConfig, { user: 'node', tty: true }, 'a running claude exec in the agent container');
  t.ok(claude?.ProcessConfig.arguments.includes(started), 'with the recorded session id');
  // claude draws its UI in the pane: a real terminal session (it first waits for its managed
  // settings, which the resolve-only gateway answers with a 502: no public host is dialled).
  await h.srv.waitForText(/Claude Code/, { ...ENGINE, target: right });

  // x → y: the right pane tails the teardown, then closes (no running agent left); nothing
  // labelled remains.
  await h.keys('x');
  await h.waitFor(new RegExp(`Stop ${slug}\\?`));
  await h.keys('y');
  await pollUntil('the teardown log in the right pane', async () => recorded().includes(`stopping ${slug} (${AGENT} on docker)`), {
    ...ENGINE, describe: () => `recorded:\n${recorded()}`,
  });
  await pollUntil('the right pane to close', async () => (await panes(h)).length === 1 && (await h.rightPane()) === undefined, {
    ...ENGINE, describe: async () => `dashboard:\n${await h.srv.capture().catch((e: Error) => e.message)}\nrecorded:\n${recorded()}`,
  });
  t.same(await labelled(docker, slug), [], 'no container or network with the slug label');
  // Issue 14: the stopped bottle stays listed (its work saved), as stopped.
  const after = await h.waitFor(new RegExp(`│  ${slug}\\s+${AGENT}\\s+docker\\s+stopped[\\s\\S]*${slug} stopped`));
  t.match(after, /Agents \(1\)/, 'the dashboard lists the stopped bottle');

  await h.keys('q');
  t.equal(await h.exitCode(), 0, 'q exits 0');
});
