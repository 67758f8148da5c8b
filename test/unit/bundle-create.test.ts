// create() (lib/backends/bundle/launch.ts): the engine's refusals a user can cause are one line
// with the fix; anything else keeps the engine's words and names what was being made.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '../../lib/backends/bundle/launch.js';
import { DockerBackend } from '../../lib/backends/docker/index.js';
import { UserError } from '../../lib/errors.js';
import { makeBottleDir, sampleContext, samplePlan } from '../fixtures/docker/bottle.js';
import { FakeEngine } from '../fixtures/docker/fake-engine.js';

// What dockerode rejects with: the engine's JSON message after its "(HTTP code N)" prefix.
const engineError = (statusCode: number, message: string) =>
  Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message}`), { statusCode, json: { message } });

t.test('an engine out of address ranges (20.10 and 27+ wording) says why and how to free or add ranges', async (t) => {
  for (const message of [
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
    'all predefined address pools have been fully subnetted',
  ]) {
    const err = await create('network bottle-a-int', () => Promise.reject(engineError(404, message))).catch((e: unknown) => e);
    t.type(err, UserError, message);
    t.match((err as Error).message, /^creating network bottle-a-int: the Docker engine has no free address range left/);
    t.match((err as Error).message, /bottle stop NAME.*bottle cleanup.*default-address-pools/);
    t.notOk((err as Error).message.includes('\n'), 'one line');
  }
});

t.test('a name conflict is a user error; other failures name the object and keep the engine message', async (t) => {
  const conflict = await create('container bottle-a-agent', () => Promise.reject(engineError(409, 'Conflict. The container name is already in use'))).catch((e: unknown) => e);
  t.type(conflict, UserError);
  t.match((conflict as Error).message, /bottle-a-agent already exists .*bottle cleanup/);
  const other = await create('network bottle-a-ext', () => Promise.reject(engineError(500, 'something else broke'))).catch((e: unknown) => e);
  t.notOk(other instanceof UserError);
  t.match((other as Error).message, /^creating network bottle-a-ext: .*something else broke/);
  await create('network ok', () => Promise.resolve({}));
});

t.test('a start that finds the engine out of address ranges leaves nothing behind', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bottle-create-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const slug = 'tester-abcdef';
  const paths = makeBottleDir(root, slug);
  const engine = new FakeEngine({
    onCall: (c) => {
      if (c.op === 'createNetwork' && c.target.endsWith('-ext')) throw engineError(404, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    },
  });
  const backend = new DockerBackend(engine, { bundleUser: '1000:1000', env: {} });
  const err = await backend.launch(samplePlan(), sampleContext(paths, slug)).catch((e: unknown) => e);
  t.type(err, UserError);
  t.match((err as Error).message, /^creating network bottle-tester-abcdef-ext: the Docker engine has no free address range left/);
  t.same([...engine.containers.keys(), ...engine.networks.keys()], [], 'the network made beside it is removed again');
});
