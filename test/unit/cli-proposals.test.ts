// `bottle proposals [ls|approve|reject]` as the operator runs it: a real subprocess over a temp
// state dir populated with lib/state and lib/proposals, checking output, JSON and exit codes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { renderProposals, parseHeaders } from '../../commands/proposals.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { assessRisk, pushLines, readDecision, riskLines, writeProposal, type ProposalRow } from '../../lib/proposals/index.js';
import { createBottle } from '../../lib/state/index.js';
import { bottleInProcess, bottleProcess } from '../helpers/cli.js';
import { PUSH_DIFF, writePushProposal } from '../helpers/push-proposal.js';

const POLICY = 'version: 1\nallow: [registry.npmjs.org]\n';

async function state(t: { teardown(fn: () => unknown): void }) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-cli-proposals-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, BOTTLE_STATE_DIR: root };
  delete env.GITHUB_TOKEN;
  const add = async (agent: string) => {
    const b = await createBottle(root, agent, { backend: 'docker' });
    const file = join(b.paths.policy, 'policy.yaml');
    writeFileSync(file, POLICY);
    const propose = (kind: 'allowlist' | 'route', host: string, reason = 'needed for the task') =>
      writeProposal(b.paths.superviseQueue, { kind, host, reason }, { policyFile: file });
    const hold = () => writePushProposal(b.paths.superviseQueue);
    return { ...b, file, propose, hold };
  };
  return { root, env, add };
}

const tail = (id: string) => id.split('-')[1]!.slice(0, 8);

t.test('ls: empty state, then pending proposals of every bottle as a table and as JSON', async (t) => {
  const s = await state(t);
  let r = await bottleInProcess(['proposals'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), 'no pending proposals');
  const a = await s.add('implementer');
  const b = await s.add('reviewer');
  const pa = await a.propose('allowlist', 'example.com', 'read the docs');
  const pb = await b.propose('route', 'api.github.com', 'x'.repeat(200));
  writeFileSync(a.file, `${POLICY}block: ["*.example.com"]\n`); // a's proposal (example.com) is now stale
  r = await bottleProcess(['proposals'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^ID\s+BOTTLE\s+KIND\s+HOST\s+AGE\s+STATUS\s+REASON$/);
  t.match(lines[1], new RegExp(`^${pa.id}\\s+${a.slug}\\s+allowlist\\s+example\\.com\\s+\\d+s\\s+pending \\(stale\\)\\s+read the docs$`));
  t.match(lines[2], new RegExp(`^${pb.id}\\s+${b.slug}\\s+route\\s+api\\.github\\.com\\s+\\d+s\\s+pending\\s+x{59}…$`));
  t.match(r.stdout, /\(stale\): what the policy says about that host changed since/);
  r = await bottleInProcess(['proposals', 'ls', '--slug', 'rev', '--json'], { env: s.env }); // a unique prefix of b's slug
  t.equal(r.exitCode, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.same(rows.map((x) => Object.keys(x)), [['id', 'slug', 'kind', 'host', 'reason', 'created', 'status', 'stale', 'decided', 'note', 'auto', 'push']]);
  t.match(rows[0], { id: pb.id, slug: b.slug, kind: 'route', host: 'api.github.com', status: 'pending', stale: false, decided: null, note: null, auto: null, push: null });
});

t.test('approve by id prefix, then reject: output, policy, decisions, exit codes', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const p1 = await a.propose('allowlist', 'example.com');
  const p2 = await a.propose('allowlist', 'other.example.org');
  let r = await bottleProcess(['proposals', 'approve', tail(p1.id), '--note', 'docs only'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout.trim(), `approved ${p1.id} (${a.slug}): + allow example.com`);
  t.match(r.stderr, /warning: .*applies when .* next starts/, 'no live bundle in this build: told so');
  t.same(loadPolicy(readFileSync(a.file, 'utf8')).allow, ['registry.npmjs.org', 'example.com']);
  t.match(await readDecision(a.paths.superviseDecisions, p1.id), { decision: 'approved', note: 'docs only', stale: false });
  r = await bottleProcess(['proposals', 'approve', p1.id], { env: s.env });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: proposal .* was already approved at \S+ \(docs only\); nothing changed$/);
  r = await bottleProcess(['proposals', 'reject', tail(p2.id), '--note', 'no', '--json'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(j), ['id', 'slug', 'kind', 'host', 'decision', 'decided', 'stale', 'note']);
  t.match(j, { id: p2.id, slug: a.slug, decision: 'rejected', stale: false, note: 'no' }, 'allowing example.com did not touch other.example.org');
  r = await bottleInProcess(['proposals', 'reject', 'ffffffffffff'], { env: s.env });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: no proposal matches "ffffffffffff"; run `bottle proposals`/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('approve --for: a bad duration is one clear line and changes nothing; 1h and until-stop land in the policy', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const p1 = await a.propose('allowlist', 'example.com');
  const p2 = await a.propose('allowlist', 'docs.example.org');
  const route = await a.propose('route', 'api.github.com');
  for (const bad of ['10', 'an hour', '1h30m']) {
    const r = await bottleInProcess(['proposals', 'approve', p1.id, '--for', bad], { env: s.env });
    t.equal(r.exitCode, 1, bad);
    t.equal(r.stderr, `bottle: --for ${JSON.stringify(bad)} is not a duration; give e.g. 10m, 1h, 2d or until-stop\n`, 'one line, no stack');
  }
  let r = await bottleInProcess(['proposals', 'approve', p1.id, '--for', '31d'], { env: s.env });
  t.equal(r.stderr, 'bottle: --for 31d is longer than 30d; approve without --for for a permanent grant\n');
  r = await bottleInProcess(['proposals', 'approve', route.id, '--for', '1h', '--header', 'Authorization=Bearer ${GITHUB_TOKEN}'], { env: { ...s.env, GITHUB_TOKEN: 'x' } });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: proposal \S+ asks for a route to api\.github\.com; --for applies to allowlist proposals only/);
  t.equal(readFileSync(a.file, 'utf8'), POLICY, 'nothing was written');
  t.equal(await readDecision(a.paths.superviseDecisions, p1.id), null, 'still pending');
  const before = Date.now();
  r = await bottleProcess(['proposals', 'approve', p1.id, '--for', '1h', '--json'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { summary: string[] };
  t.match(j.summary, [/^\+ allow example\.com \(until \d{4}-\d\d-\d\dT[\d:.]+Z\)$/]);
  const p = loadPolicy(readFileSync(a.file, 'utf8'));
  const until = Date.parse(p.allowUntil!['example.com']!);
  t.ok(until >= before + 3600_000 && until <= Date.now() + 3600_000, 'an hour from the approval');
  r = await bottleInProcess(['proposals', 'approve', p2.id, '--for', 'until-stop'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /\+ allow docs\.example\.org \(until stop\)/);
  t.same(loadPolicy(readFileSync(a.file, 'utf8')).allowUntil, { 'example.com': p.allowUntil!['example.com'], 'docs.example.org': 'stop' });
  t.match(readFileSync(a.file, 'utf8'), /\{ host: docs\.example\.org, until: stop \}/, 'written as { host, until }');
});

t.test('approving one proposal leaves the others fresh unless the change touches their host', async (t) => {
  // Regression (issue 20): any approval marked every other pending proposal stale.
  const s = await state(t);
  const a = await s.add('implementer');
  const p1 = await a.propose('allowlist', 'example.com');
  const other = await a.propose('allowlist', 'other.example.org');
  const wider = await a.propose('allowlist', '*.example.com');
  const route = await a.propose('route', 'example.com');
  const unrelatedRoute = await a.propose('route', 'api.github.com');
  let r = await bottleProcess(['proposals', 'approve', p1.id], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  r = await bottleInProcess(['proposals', '--json'], { env: s.env });
  const stale = Object.fromEntries((JSON.parse(r.stdout) as ProposalRow[]).map((row) => [row.id, row.stale]));
  t.same(stale, { [other.id]: false, [wider.id]: true, [route.id]: true, [unrelatedRoute.id]: false },
    'example.com is now allowed: proposals about it (or a pattern covering it) are stale, the others are not');
  writeFileSync(a.file, `${readFileSync(a.file, 'utf8')}limits: { maxUrlLength: 4096 }\n`);
  r = await bottleProcess(['proposals', 'reject', other.id, '--json'], { env: s.env });
  t.match(JSON.parse(r.stdout), { id: other.id, decision: 'rejected', stale: false }, 'a change to limits touches no host');
});

t.test('route approval: --header required, env var required (named, no value), then --json', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const p = await a.propose('route', 'api.github.com');
  let r = await bottleInProcess(['proposals', 'approve', p.id], { env: s.env });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /needs the header\(s\) .* --header 'Authorization=Bearer \$\{GITHUB_TOKEN\}'/);
  r = await bottleInProcess(['proposals', 'approve', p.id, '--header', 'Authorization=Bearer ${GITHUB_TOKEN}'], { env: s.env });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: host env not set: GITHUB_TOKEN; export it in this shell \(the running gateway is handed it for the approved route\), or name a source in \S+credentials\.yaml/);
  r = await bottleInProcess(['proposals', 'approve', p.id, '--header', 'Authorization=Bearer ghp_expanded_by_the_shell'], { env: s.env });
  t.equal(r.exitCode, 1);
  t.notMatch(r.stderr, /ghp_expanded/, 'a literal (maybe secret) value is never echoed');
  t.equal(readFileSync(a.file, 'utf8'), POLICY, 'nothing written so far');
  r = await bottleProcess(['proposals', 'approve', p.id, '--header', 'Authorization=Bearer ${GITHUB_TOKEN}', '--json'], { env: { ...s.env, GITHUB_TOKEN: 'ghp_value_not_printed' } });
  t.equal(r.exitCode, 0, r.stderr);
  t.notMatch(r.stdout + r.stderr, /ghp_value_not_printed/);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(j), ['id', 'slug', 'kind', 'host', 'decision', 'decided', 'stale', 'changed', 'live', 'summary', 'secrets']);
  t.match(j, { id: p.id, kind: 'route', decision: 'approved', stale: false, changed: true, live: false, secrets: ['GITHUB_TOKEN'] });
  t.same(loadPolicy(readFileSync(a.file, 'utf8')).routes, [{ host: 'api.github.com', headers: { Authorization: 'Bearer ${GITHUB_TOKEN}' } }]);
});

t.test('route approval: a variable this shell lacks comes from credentials.yaml', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const p = await a.propose('route', 'api.github.com');
  const config = join(s.root, 'config');
  mkdirSync(join(config, 'bottle'), { recursive: true });
  writeFileSync(join(config, 'bottle', 'credentials.yaml'), 'GITHUB_TOKEN: { command: "printf ghp_from_the_helper_command" }\n');
  const r = await bottleProcess(['proposals', 'approve', p.id, '--header', 'Authorization=Bearer ${GITHUB_TOKEN}', '--json'], { env: { ...s.env, XDG_CONFIG_HOME: config } });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { decision: 'approved', secrets: ['GITHUB_TOKEN'] });
  t.notMatch(r.stdout + r.stderr + readFileSync(a.file, 'utf8'), /from_the_helper/, 'the value is printed and written nowhere');
});

t.test('two operators approving at once: both updates land', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const ps = await Promise.all(['one', 'two', 'three'].map((h) => a.propose('allowlist', `${h}.example.org`)));
  const rs = await Promise.all(ps.map((p) => bottleProcess(['proposals', 'approve', p.id], { env: s.env })));
  for (const r of rs) t.equal(r.exitCode, 0, r.stderr);
  t.same(loadPolicy(readFileSync(a.file, 'utf8')).allow.sort(), ['one.example.org', 'registry.npmjs.org', 'three.example.org', 'two.example.org']);
});

t.test('--help of every proposals verb has examples', async (t) => {
  for (const verb of [[], ['approve'], ['reject'], ['ls'], ['show']]) {
    const r = await bottleInProcess(['proposals', ...verb, '--help']);
    t.equal(r.exitCode, 0);
    if (verb.length) t.match(r.stdout, /Examples:\n {2}bottle proposals/, verb.join(' '));
    else t.match(r.stdout, /approve .*\n.*reject/s);
  }
});

t.test('pure helpers: header parsing, the table', async (t) => {
  const now = Date.parse('2026-03-02T00:00:00Z');
  t.same(parseHeaders(['Authorization=Bearer ${GITHUB_TOKEN}', 'X-Key: ACME_KEY']), { Authorization: 'Bearer ${GITHUB_TOKEN}', 'X-Key': '${ACME_KEY}' },
    'a bare env name is short for ${NAME}: what is stored is the one template language');
  t.equal(parseHeaders([]), undefined);
  t.throws(() => parseHeaders(['novalue']), /NAME=VALUE/);
  t.throws(() => parseHeaders(['A=X', 'a=Y']), /given twice/);
  const row: ProposalRow = { id: 'i', slug: 's', kind: 'allowlist', host: 'h\u001b[2J', reason: 'evil\u202etxt', created: '2026-03-01T23:59:00Z', status: 'approved', stale: false };
  const out = renderProposals([row], now, true);
  t.notMatch(out, /[\u001b\u202e]/, 'terminal control characters are neutralised');
  t.equal(renderProposals([], now), 'no pending proposals');
});

// The stable part of pushLines (the hold line counts down).
const pushHead = (lines: string[]) => lines.filter((l) => !l.startsWith('  hold'));

t.test('show: an allowlist proposal with its risk lines; a held push with its push lines, then the diff', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const allow = await a.propose('allowlist', 'example.com', 'read the docs');
  let r = await bottleInProcess(['proposals', 'show', tail(allow.id)], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout, `${[
    `${allow.id}  ${a.slug}  allowlist example.com  pending`,
    'reason: read the docs',
    '',
    ...riskLines(assessRisk({ kind: 'allowlist', host: 'example.com', policy: loadPolicy(POLICY) })),
  ].join('\n')}\n`);

  const push = await a.hold();
  r = await bottleInProcess(['proposals', 'show', push.id], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  const [head, body] = [r.stdout.slice(0, r.stdout.indexOf(PUSH_DIFF)), r.stdout.slice(r.stdout.indexOf(PUSH_DIFF))];
  t.equal(body, PUSH_DIFF, 'the diff last, whole');
  const lines = head.split('\n');
  t.same(lines.slice(0, 3), [`${push.id}  ${a.slug}  push origin  pending`, `reason: ${push.reason}`, '']);
  t.same(pushHead(lines.slice(3, -2)), pushHead(pushLines(push.payload.push!)), 'then the push lines');
  t.match(lines.at(-3), /^ {2}hold {6}refused unless approved within (59m|1h)$/);
  t.same(lines.slice(-2), ['', ''], 'a blank line before the diff');
  t.notMatch(r.stdout, /risk:/, 'a push has no policy risk');
});

t.test('show --json: the row plus diff (null unless a push); the decided state; a missing diff is one line', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const allow = await a.propose('allowlist', 'example.com');
  const push = await a.hold();
  let r = await bottleInProcess(['proposals', 'show', push.id, '--json'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  let j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(j), ['id', 'slug', 'kind', 'host', 'reason', 'created', 'status', 'stale', 'decided', 'note', 'auto', 'push', 'diff']);
  t.match(j, { id: push.id, slug: a.slug, kind: 'push', host: 'origin', status: 'pending', stale: false, diff: PUSH_DIFF });
  t.same(j.push, push.payload.push);
  r = await bottleInProcess(['proposals', 'show', allow.id, '--json'], { env: s.env });
  j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.match(j, { id: allow.id, kind: 'allowlist', push: null, diff: null });

  r = await bottleInProcess(['proposals', 'reject', push.id, '--note', 'too big'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  r = await bottleInProcess(['proposals', 'show', push.id], { env: s.env });
  t.match(r.stdout, new RegExp(`^${push.id}  ${a.slug}  push origin  rejected at \\S+\nnote: too big\n`), 'a decided one says so, with the note');

  rmSync(join(a.paths.superviseQueue, `${push.id}.diff`));
  r = await bottleInProcess(['proposals', 'show', push.id], { env: s.env });
  t.equal(r.exitCode, 1);
  t.equal(r.stderr, `bottle: ${push.id}'s diff is gone (${join(a.paths.superviseQueue, `${push.id}.diff`)}); the push is no longer held\n`);
});

t.test('show pages only on a terminal: $PAGER with LESS=FRX, --no-pager, a pager that cannot run', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const push = await a.hold();
  const paged = join(s.root, 'paged');
  const env: NodeJS.ProcessEnv = { ...s.env, PAGER: `printf '%s\\n' "$LESS" > '${paged}'; cat >> '${paged}'` };
  delete env.LESS;
  let r = await bottleInProcess(['proposals', 'show', push.id], { env });
  t.match(r.stdout, PUSH_DIFF, 'not a terminal: straight to stdout');
  t.notOk(existsSync(paged), 'no pager');
  r = await bottleInProcess(['proposals', 'show', push.id], { env, isTTY: true });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout, '', 'a terminal: through the pager');
  const text = readFileSync(paged, 'utf8');
  t.ok(text.startsWith(`FRX\n${push.id}  ${a.slug}  push origin  pending\n`), 'LESS=FRX unless set');
  t.ok(text.endsWith(`${PUSH_DIFF}\n`));
  rmSync(paged);
  r = await bottleInProcess(['proposals', 'show', push.id, '--no-pager'], { env, isTTY: true });
  t.match(r.stdout, PUSH_DIFF);
  t.notOk(existsSync(paged), '--no-pager: stdout even on a terminal');
  r = await bottleInProcess(['proposals', 'show', push.id], { env: { ...s.env, PAGER: 'bottle-no-such-pager 2>/dev/null' }, isTTY: true });
  t.match(r.stdout, PUSH_DIFF, 'a pager that is not there: stdout after all');
});

t.test('a held push from the CLI: ls --json carries it; approve forwards it (text and --json); --for is refused', async (t) => {
  const s = await state(t);
  const a = await s.add('implementer');
  const p1 = await a.hold();
  const p2 = await a.hold();
  let r = await bottleInProcess(['proposals', 'ls', '--json'], { env: s.env });
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.same(rows.map((x) => [x.id, x.kind, x.host]), [[p1.id, 'push', 'origin'], [p2.id, 'push', 'origin']]);
  t.same(rows[0]!.push, p1.payload.push, 'what it would send');
  r = await bottleInProcess(['proposals'], { env: s.env });
  t.match(r.stdout, new RegExp(`^${p1.id}\\s+${a.slug}\\s+push\\s+origin\\s+\\d+s\\s+pending\\s+push main: 1 commit`, 'm'));

  r = await bottleInProcess(['proposals', 'approve', p1.id, '--for', '1h'], { env: s.env });
  t.equal(r.exitCode, 1);
  t.equal(r.stderr, `bottle: proposal ${p1.id} is a push held for review; --for applies to allowlist proposals only\n`);
  r = await bottleInProcess(['proposals', 'approve', p1.id, '--header', 'Authorization=Bearer ${GITHUB_TOKEN}'], { env: { ...s.env, GITHUB_TOKEN: 'x' } });
  t.equal(r.stderr, `bottle: proposal ${p1.id} is a push held for review; --header applies to route proposals only\n`);
  t.equal(await readDecision(a.paths.superviseDecisions, p1.id), null, 'still held');

  r = await bottleInProcess(['proposals', 'approve', tail(p1.id)], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stdout, `approved ${p1.id} (${a.slug}): git-gate forwards the push to origin\n`);
  t.notMatch(r.stderr, /policy file is updated/, 'no word of a policy change that did not happen');
  t.match(await readDecision(a.paths.superviseDecisions, p1.id), { decision: 'approved' });
  t.equal(readFileSync(a.file, 'utf8'), POLICY, 'the policy is untouched');
  r = await bottleInProcess(['proposals', 'approve', p2.id, '--note', 'fine', '--json'], { env: s.env });
  t.equal(r.exitCode, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { id: p2.id, slug: a.slug, kind: 'push', host: 'origin', decision: 'approved', changed: false, summary: ['forward the push to origin'], secrets: [] });
  t.match(await readDecision(a.paths.superviseDecisions, p2.id), { decision: 'approved', note: 'fine' });
});
