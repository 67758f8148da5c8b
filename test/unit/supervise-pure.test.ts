// The pure parts of supervise: hook → event mapping, the sentences the agent reads, event lines.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { UNSAFE_TEXT } from '../../lib/format.js';
import { AGENT_NOTE_MAX, noteForAgent } from '../../lib/proposals/index.js';
import { appendEvent, parseEventLine, queuedAppender, readRecentEvents } from '../../sidecars/supervise/events.js';
import { hookToEvent } from '../../sidecars/supervise/hooks.js';
import { describe } from '../../sidecars/supervise/tools.js';
import { parseListen } from '../../sidecars/supervise/cli.js';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const ID = '20260501T120000000Z-0123456789ab';

t.test('hook payloads map to agent-waiting / agent-idle', async (t) => {
  const base = { session_id: 's1', transcript_path: '/t', cwd: '/w' };
  t.same(hookToEvent({ ...base, hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'needs permission' }, NOW),
    { type: 'agent-waiting', origin: 'agent', time: NOW.toISOString(), hook: 'Notification', sessionId: 's1', detail: 'needs permission' });
  t.same(hookToEvent({ ...base, hook_event_name: 'Notification', notification_type: 'idle_prompt', message: 'waiting for your input' }, NOW),
    { type: 'agent-idle', origin: 'agent', time: NOW.toISOString(), hook: 'Notification', sessionId: 's1', detail: 'waiting for your input' });
  t.same(hookToEvent({ ...base, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'rm -rf /' } }, NOW),
    { type: 'agent-waiting', origin: 'agent', time: NOW.toISOString(), hook: 'PermissionRequest', sessionId: 's1', detail: 'permission for Bash' });
  t.same(hookToEvent({ hook_event_name: 'Stop' }, NOW), { type: 'agent-idle', origin: 'agent', time: NOW.toISOString(), hook: 'Stop', detail: 'turn finished' });
  t.equal(hookToEvent({ ...base, hook_event_name: 'Notification', notification_type: 'auth_success' }, NOW), null);
  t.equal(hookToEvent({ ...base, hook_event_name: 'PreToolUse' }, NOW), null);
  const esc = hookToEvent({ hook_event_name: 'Notification', notification_type: 'idle_prompt', message: 'a\u001b[31mb\u202e' }, NOW);
  t.equal(esc?.type === 'agent-idle' && esc.detail, 'a?[31mb?', 'control and bidi characters are neutralised');
  for (const junk of [null, 'Stop', 42, []]) t.equal(hookToEvent(junk, NOW), null);
  const long = hookToEvent({ hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'm'.repeat(1000), session_id: 'x'.repeat(500) }, NOW);
  t.ok(long?.type === 'agent-waiting' && long.detail!.length === 200 && long.sessionId!.length === 100, 'long fields are clipped');
});

t.test('the agent is told what to do next', async (t) => {
  const decided = new Date().toISOString();
  t.match(describe(ID, 'allowlist', 'a.example.com', null), { status: 'pending', message: /call check_proposal with id "20260501T120000000Z-0123456789ab" later; do not propose a\.example\.com again/ });
  t.match(describe(ID, 'allowlist', 'a.example.com', { id: ID, decision: 'approved', decided }), { status: 'approved', message: 'Approved: a.example.com is now allowed through the gateway. Retry the request.' });
  t.match(describe(ID, 'route', 'api.example.com', { id: ID, decision: 'approved', decided, stale: true }), { stale: true, message: /adds the credentials for api\.example\.com\. Retry the request without adding credentials yourself/ });
  t.match(describe(ID, 'allowlist', 'a.example.com', { id: ID, decision: 'rejected', decided }), { status: 'rejected', message: 'Rejected by the operator. Do not retry; continue without a.example.com.' });
  t.notOk('note' in describe(ID, 'allowlist', 'a.example.com', null), 'no empty optional fields');
  t.notOk('autoRule' in describe(ID, 'allowlist', 'a.example.com', { id: ID, decision: 'approved', decided }), 'a person approved it: no rule');
});

t.test("a rejection leads with the operator's note: the guidance the agent acts on", async (t) => {
  const decided = new Date().toISOString();
  const rej = describe(ID, 'allowlist', 'registry.npmjs.org', { id: ID, decision: 'rejected', decided, note: 'use the internal mirror at npm.internal.example' });
  t.same(rej, {
    id: ID, kind: 'allowlist', host: 'registry.npmjs.org', status: 'rejected', note: 'use the internal mirror at npm.internal.example',
    message: 'Rejected by the operator: "use the internal mirror at npm.internal.example". Do not propose registry.npmjs.org again; follow the note, or continue without it.',
  });
  const ok = describe(ID, 'allowlist', 'a.example.com', { id: ID, decision: 'approved', decided, note: 'read-only, please' });
  t.equal(ok.message, "Approved: a.example.com is now allowed through the gateway. Retry the request. Operator's note: read-only, please");
});

t.test("the operator's note reaches the agent as one bounded line of plain text", async (t) => {
  const decided = new Date().toISOString();
  const at = (note: string) => describe(ID, 'allowlist', 'a.example.com', { id: ID, decision: 'rejected', decided, note });
  const escapes = at('use\tthe\r\nmirror\u001b[2J\u0007 at\u202e m.example\u0000');
  t.equal(escapes.note, 'use the mirror[2J at m.example', 'line breaks and tabs become spaces; escapes, bells, bidi and NUL are dropped');
  t.notOk(UNSAFE_TEXT.test(escapes.message), 'the message carries no control or bidi character');
  const long = at(`${'x'.repeat(3 * AGENT_NOTE_MAX)}`);
  t.equal(long.note!.length, AGENT_NOTE_MAX, `capped at ${AGENT_NOTE_MAX} characters`);
  t.ok(long.note!.endsWith('…'), 'a cut note says so');
  t.ok(long.message.length < AGENT_NOTE_MAX + 200, 'and so is the message');
  const blank = at(' \n\u0007\t ');
  t.notOk('note' in blank, 'a note of nothing but whitespace and controls is no note');
  t.equal(blank.message, 'Rejected by the operator. Do not retry; continue without a.example.com.');
  t.equal(noteForAgent(undefined), undefined);
});

t.test('an auto-approval names the rule that approved it', async (t) => {
  const a = describe(ID, 'allowlist', 'registry.npmjs.org', { id: ID, decision: 'approved', decided: new Date().toISOString(), auto: { rule: '*.npmjs.org' } });
  t.match(a, { status: 'approved', autoRule: '*.npmjs.org', message: "Approved (pre-approved by the operator's rule *.npmjs.org): registry.npmjs.org is now allowed through the gateway. Retry the request." });
});

t.test('event lines: append, parse, read the recent tail', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'events.jsonl');
  t.same(await readRecentEvents(f), [], 'missing file: no events');
  for (let i = 0; i < 5; i++) t.equal(appendEvent(f, { type: 'init-exited', time: NOW.toISOString(), exitCode: i }), undefined);
  appendFileSync(f, 'garbage\n{"type":"x"}\n{"trunc');
  const evs = await readRecentEvents(f, 3);
  t.same(evs.map((e) => e.type === 'init-exited' && e.exitCode), [2, 3, 4], 'last N valid events; junk and torn tail skipped');
  t.ok(appendEvent(join(dir, 'no', 'such', 'dir.jsonl'), { type: 'init-exited', time: '', exitCode: 0 }) instanceof Error, 'a failed append is returned, not thrown');
  t.equal(parseEventLine('{"type":"agent-idle"}'), null, 'no time: not an event');
  writeFileSync(f, `${'x'.repeat(100)}\n${JSON.stringify({ type: 'init-exited', time: 't', exitCode: 9 })}\n`);
  t.same((await readRecentEvents(f, 10, 60)).length, 1, 'reads only the tail, dropping the cut first line');
});

t.test('--listen parsing', async (t) => {
  t.same(parseListen('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
  t.same(parseListen('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['9100', 'host:', 'host:99999', ':80', 'a:b']) t.throws(() => parseListen(bad), bad);
});

t.test('queuedAppender: events land in order, off the caller\'s path; a failure is reported, not thrown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-queued-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'events.jsonl');
  const errors: Error[] = [];
  const append = queuedAppender(file, (e) => errors.push(e));
  for (let i = 0; i < 200; i++) append({ type: 'agent-idle', origin: 'agent', time: `2026-03-01T12:00:00.${String(i).padStart(3, '0')}Z`, hook: 'Stop' });
  t.notOk(existsSync(file) && readFileSync(file, 'utf8').split('\n').filter(Boolean).length === 200, 'the caller did not wait for the writes');
  await new Promise<void>((resolve) => { const poll = () => (existsSync(file) && readFileSync(file, 'utf8').split('\n').filter(Boolean).length === 200 ? resolve() : setTimeout(poll, 10)); poll(); });
  const times = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => parseEventLine(l)!.time);
  t.same(times, [...times].sort(), 'in the order appended');
  const broken = queuedAppender(join(dir, 'missing', 'events.jsonl'), (e) => errors.push(e));
  broken({ type: 'agent-idle', origin: 'agent', time: '2026-03-01T12:00:00.000Z', hook: 'Stop' });
  broken({ type: 'agent-idle', origin: 'agent', time: '2026-03-01T12:00:01.000Z', hook: 'Stop' });
  await new Promise((r) => setTimeout(r, 100));
  t.equal(errors.length, 2, 'each failed write reported');
  t.match(errors[0]!.message, /ENOENT/);
});
