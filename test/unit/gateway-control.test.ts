// The control socket hands a running gateway route secrets approved after launch: values are
// validated, applied in place, and a bad message changes nothing.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseControlMessage, sendSecrets, startControlSocket } from '../../sidecars/gateway/control.js';

t.test('parseControlMessage accepts only {"secrets": {NAME: non-empty string}}', async (t) => {
  t.same(parseControlMessage('{"secrets":{"GITHUB_TOKEN":"v"}}'), { secrets: { GITHUB_TOKEN: 'v' } });
  t.match(parseControlMessage('nope'), { error: 'not JSON' });
  t.match(parseControlMessage('{"secrets":[]}'), { error: /expected/ });
  t.match(parseControlMessage('{"secrets":{"BAD-NAME":"v"}}'), { error: /invalid variable name/ });
  t.match(parseControlMessage('{"secrets":{"X":""}}'), { error: /non-empty/ });
});

t.test('a running control socket updates env in place and reports the change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-gwctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gw.sock');
  const env: Record<string, string | undefined> = { KEEP: 'k' };
  const changes: string[][] = [];
  const server = await startControlSocket(path, env, (names) => changes.push(names), () => undefined);
  t.teardown(() => server.close());
  t.equal(statSync(path).mode & 0o777, 0o600, 'socket is private to the bundle user');
  await sendSecrets(path, { NEW_TOKEN: 'value-1' });
  t.same(env, { KEEP: 'k', NEW_TOKEN: 'value-1' });
  t.same(changes, [['NEW_TOKEN']]);
  await t.rejects(sendSecrets(join(dir, 'absent.sock'), { A: 'b' }), /cannot reach the gateway/);
});

t.test('suffixLookup: test bundles resolve only names under the given suffixes', async (t) => {
  const { suffixLookup } = await import('../../sidecars/gateway/dial.js');
  const seen: string[] = [];
  const lookup = suffixLookup(['test'], async (h) => { seen.push(h); return ['10.0.0.9']; });
  t.same(await lookup('Allowed.TEST'), ['10.0.0.9']);
  t.same(await lookup('test.'), ['10.0.0.9']);
  await t.rejects(lookup('api.anthropic.com'), { code: 'ENOTFOUND' });
  await t.rejects(lookup('nottest'), { code: 'ENOTFOUND' }, 'a suffix is a whole label');
  t.same(seen, ['allowed.test', 'test'], 'outside names never reach the resolver');
});
