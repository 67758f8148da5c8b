// The route secrets a bundle is created with: every variable the routes name, from the host env,
// refused when missing or too short to mask (defence in depth behind `bottle start`'s check).
import t from 'tap';
import { routeSecretEnv } from '../../lib/backends/bundle/launch.js';

const egress = (template: string) => ({ egress: { allow: [], block: [], passthrough: [], routes: [{ host: 'api.x.test', headers: [{ name: 'Authorization', template, vars: ['TOK'] }] }] } });

t.test('NAME=value for each route variable; missing or short values are refused without echoing them', async (t) => {
  t.same(routeSecretEnv(egress('Bearer ${TOK}') as never, { TOK: 'long-enough-token' }), ['TOK=long-enough-token']);
  t.throws(() => routeSecretEnv(egress('Bearer ${TOK}') as never, {}), /needs host environment variable TOK/);
  const err = (() => { try { routeSecretEnv(egress('Bearer ${TOK}') as never, { TOK: 'abc1234' }); } catch (e) { return e as Error; } })();
  t.match(err?.message, /route secret TOK is shorter than 8 characters/);
  t.notMatch(err?.message, /abc1234/);
});
