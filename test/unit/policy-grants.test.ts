// Time-boxed allow entries (lib/policy/grants.ts): the file format, and evaluate() judging them
// against the injected clock: honoured before `until`, not at or after it, never wider than a
// permanent entry (block, the exfil-service rule and passthrough checks still apply).
import t from 'tap';
import {
  addAllow, dropUntilStop, evaluate, evaluateConnect, formatRemaining, grantsOf, loadPolicy, parseGrantFor,
  policyHash, PolicyError, serializePolicy,
} from '../../lib/policy/index.js';
import { rewritePolicy } from '../../lib/policy-edit/index.js';

const UNTIL = '2026-12-07T14:00:00.000Z';
const T = Date.parse(UNTIL);
const get = (url: string) => ({ method: 'GET', url, headers: {} });

const POLICY = `version: 1
allow:
  - registry.npmjs.org
  - { host: api.example.com, until: "2026-12-07T15:00:00+01:00" }
  - host: "*.cdn.example.org"
    until: ${UNTIL}
  - { host: session.example.net, until: stop }
block: [bad.cdn.example.org]
`;

t.test('the format: `{ host, until }` items; until is canonical ISO or stop; old policies unchanged', async (t) => {
  const p = loadPolicy(POLICY, 'p.yaml');
  t.same(p.allow, ['registry.npmjs.org', 'api.example.com', '*.cdn.example.org', 'session.example.net']);
  t.same(p.allowUntil, { 'api.example.com': UNTIL, '*.cdn.example.org': UNTIL, 'session.example.net': 'stop' });
  t.equal(loadPolicy('version: 1\nallow: [a.example.com]\n').allowUntil, undefined, 'no grants: no key');
  const back = loadPolicy(serializePolicy(p));
  t.same(back, p, 'serializePolicy round-trips');
  t.not(policyHash(p), policyHash(loadPolicy(POLICY.replace('15:00:00+01:00', '16:00:00+01:00'))), 'the expiry is part of the meaning');
  // A pattern listed both permanently and time-boxed is permanent: a duplicate never narrows.
  t.same(loadPolicy('version: 1\nallow: [{ host: a.example.com, until: stop }, a.example.com]\n').allowUntil, undefined);
});

t.test('invalid until values are file:line:col errors (fail closed, nothing loads)', async (t) => {
  for (const [until, why] of <Array<[string, string]>>[['tomorrow', 'not a time'], ['2026-12-07T14:00:00', 'no zone'], ['2026-12-07', 'a date'], ['2026-13-40T00:00:00Z', 'impossible']]) {
    t.throws(() => loadPolicy(`version: 1\nallow:\n  - { host: a.example.com, until: "${until}" }\n`, 'p.yaml'),
      { message: /^p\.yaml:3:\d+: allow\[0\]\.until: must be an ISO 8601 time with a zone/ }, why);
  }
  t.throws(() => loadPolicy('version: 1\nallow:\n  - { host: a.example.com }\n', 'p.yaml'), { message: /allow\[0\]: missing "until"/ });
  t.throws(() => loadPolicy('version: 1\nallow:\n  - { host: a.example.com, until: stop, port: 1 }\n', 'p.yaml'), PolicyError);
  t.throws(() => loadPolicy('version: 1\nallow:\n  - { host: "a b", until: stop }\n', 'p.yaml'), { message: /allow\[0\]\.host/ });
});

t.test('evaluate: a grant is honoured before until and not at or after it (the clock is injected)', async (t) => {
  const p = loadPolicy(POLICY);
  const at = (now: number, url: string) => evaluate(p, get(url), undefined, { now });
  t.match(at(T - 1, 'https://api.example.com/x'), { verdict: 'allow', rule: 'api.example.com' });
  t.match(at(T, 'https://api.example.com/x'), { verdict: 'block', stage: 'allowlist', rule: 'not-allowed' }, 'at until: lapsed');
  t.match(at(T + 3600_000, 'https://api.example.com/x'), { verdict: 'block', stage: 'allowlist' });
  // A wildcard grant: subdomains and apex, for the same time.
  t.match(at(T - 1, 'https://img.cdn.example.org/a.png'), { verdict: 'allow', rule: '*.cdn.example.org' });
  t.match(at(T - 1, 'https://cdn.example.org/'), { verdict: 'allow' });
  t.match(at(T, 'https://img.cdn.example.org/a.png'), { verdict: 'block', stage: 'allowlist' });
  // Until stop: honoured whatever the clock says (the stop drops it).
  t.match(at(T + 1e12, 'https://session.example.net/'), { verdict: 'allow' });
  // Permanent entries ignore the clock.
  t.match(at(T + 1e12, 'https://registry.npmjs.org/'), { verdict: 'allow' });
  // CONNECT is judged the same way.
  t.match(evaluateConnect(p, 'api.example.com', 443, undefined, { now: T - 1 }), { verdict: 'allow' });
  t.match(evaluateConnect(p, 'api.example.com', 443, undefined, { now: T }), { verdict: 'block', stage: 'allowlist' });
});

t.test('a grant is never wider than a permanent entry; its lapse widens nothing', async (t) => {
  const p = loadPolicy(POLICY);
  // block wins over a live grant.
  t.match(evaluate(p, get('https://bad.cdn.example.org/'), undefined, { now: T - 1 }), { verdict: 'block', stage: 'blocklist' });
  // A time-boxed "*" keeps the exfil-service rule.
  const any = loadPolicy('version: 1\nallow: [{ host: "*", until: stop }]\n');
  t.match(evaluate(any, get('https://pastebin.com/'), undefined, { now: 0 }), { verdict: 'block', rule: 'exfil-service' });
  // A lapsed wildcard grant does not fall back to anything: other hosts stay as they were.
  for (const url of ['https://img.cdn.example.org/', 'https://example.org/', 'https://bad.cdn.example.org/']) {
    t.match(evaluate(p, get(url), undefined, { now: T }), { verdict: 'block' }, url);
  }
  // A passthrough host allowed only by a grant: its tunnel is refused once the grant lapses.
  const pt = loadPolicy(`version: 1\nallow: [{ host: pt.example.com, until: "${UNTIL}" }]\npassthrough: [pt.example.com]\n`);
  t.match(evaluateConnect(pt, 'pt.example.com', 443, undefined, { now: T - 1 }), { verdict: 'allow', reason: /passthrough/ });
  t.match(evaluateConnect(pt, 'pt.example.com', 443, undefined, { now: T }), { verdict: 'block', stage: 'allowlist' });
  // A hand-built policy with an unparsable instant counts as lapsed (fail closed).
  const broken = { ...loadPolicy('version: 1\nallow: [x.example.com]\n'), allowUntil: { 'x.example.com': 'soon' } };
  t.match(evaluate(broken, get('https://x.example.com/'), undefined, { now: 0 }), { verdict: 'block', stage: 'allowlist' });
});

t.test('addAllow with until: adds, extends, makes permanent; never narrows a permanent entry', async (t) => {
  const base = loadPolicy('version: 1\nallow: [registry.npmjs.org]\n');
  const timed = addAllow(base, 'api.example.com', UNTIL);
  t.same(timed.allowUntil, { 'api.example.com': UNTIL });
  t.equal(addAllow(base, 'registry.npmjs.org', UNTIL), base, 'already allowed for good: unchanged');
  t.same(addAllow(timed, 'api.example.com', 'stop').allowUntil, { 'api.example.com': 'stop' });
  const perm = addAllow(timed, 'api.example.com');
  t.equal(perm.allowUntil, undefined);
  t.same(perm.allow, ['registry.npmjs.org', 'api.example.com']);
});

t.test('rewritePolicy keeps comments and writes grants as { host, until }', async (t) => {
  const text = '# mine\nversion: 1\nallow:\n  - registry.npmjs.org # npm\n';
  const next = addAllow(loadPolicy(text), 'api.example.com', UNTIL);
  const out = rewritePolicy(text, next);
  t.match(out, /# npm/);
  t.match(out, /host: api\.example\.com\n\s+until: 2026-12-07T14:00:00\.000Z/);
  t.same(loadPolicy(out), next);
  const perm = addAllow(next, 'api.example.com');
  const out2 = rewritePolicy(out, perm);
  t.same(loadPolicy(out2), perm);
  t.notMatch(out2, /until/);
});

t.test('dropUntilStop removes only the until-stop grants', async (t) => {
  const p = dropUntilStop(loadPolicy(POLICY));
  t.same(p.allow, ['registry.npmjs.org', 'api.example.com', '*.cdn.example.org']);
  t.same(p.allowUntil, { 'api.example.com': UNTIL, '*.cdn.example.org': UNTIL });
  const none = loadPolicy('version: 1\nallow: [a.example.com]\n');
  t.equal(dropUntilStop(none), none);
});

t.test('parseGrantFor and the countdown text', async (t) => {
  const now = new Date(T);
  t.same(parseGrantFor('10m', now), { until: new Date(T + 600_000).toISOString() });
  t.same(parseGrantFor('1h', now), { until: new Date(T + 3600_000).toISOString() });
  t.same(parseGrantFor('until-stop', now), { until: 'stop' });
  for (const bad of ['', '10', 'ten minutes', '1h30m', '-5m', '1w']) t.match(parseGrantFor(bad, now), { error: /is not a duration; give e\.g\. 10m, 1h, 2d or until-stop/ }, bad);
  t.match(parseGrantFor('0m', now), { error: /more than zero/ });
  t.match(parseGrantFor('31d', now), { error: /longer than 30d; approve without --for/ });
  t.same(grantsOf(loadPolicy(POLICY), T - 42 * 60_000).map((g) => [g.pattern, formatRemaining(g.remainingMs)]), [
    ['api.example.com', '42m'], ['*.cdn.example.org', '42m'], ['session.example.net', 'until stop'],
  ]);
  t.same([30_000, 90 * 60_000, 72 * 3600_000, 0].map(formatRemaining), ['30s', '1h30m', '3d', 'lapsed']);
});
