// Proposal and decision files: formats, atomic writes, ids, host validation, malformed input.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  ProposalFileError, mintProposalId, readDecision, readProposal, readQueue, writeDecision, writeProposal,
} from '../../lib/proposals/files.js';
import { hostBaseHash, isStale, policyHash } from '../../lib/proposals/stale.js';
import { loadPolicy, patternsOverlap } from '../../lib/policy/index.js';
import { PROPOSAL_ID_RE, ProposalSchema, isProposalId, normalizeHost } from '../../lib/proposals/types.js';
import { samplePush, writePushProposal } from '../helpers/push-proposal.js';

function tmp(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-proposals-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('ids are time-sortable, unique and path-safe', async (t) => {
  const a = mintProposalId(new Date('2026-01-31T23:59:59.123Z'), Buffer.from('a1b2c3d4e5f6', 'hex'));
  t.equal(a, '20260131T235959123Z-a1b2c3d4e5f6');
  t.match(a, PROPOSAL_ID_RE);
  const later = mintProposalId(new Date('2026-02-01T00:00:00.000Z'), Buffer.from('000000000000', 'hex'));
  t.ok(a < later, 'lexical order is time order');
  const many = new Set(Array.from({ length: 1000 }, () => mintProposalId(new Date(0))));
  t.equal(many.size, 1000, 'same millisecond, still unique');
  for (const bad of ['../x', '20260131T235959123Z-a1b2c3d4e5f6/..', '', 'x.json']) t.notOk(isProposalId(bad), bad);
});

t.test('normalizeHost accepts bare hostnames and explains everything else', async (t) => {
  const ok = (h: string, kind: 'allowlist' | 'route' = 'allowlist') => {
    const r = normalizeHost(h, kind);
    return r.ok ? r.host : `ERR ${r.error}`;
  };
  t.equal(ok('Registry.NPMJS.org'), 'registry.npmjs.org');
  t.equal(ok(' api.example.com. '), 'api.example.com');
  // Regression: a port was accepted here and refused by the policy only at approval.
  t.match(ok('api.example.com:8443'), /has a port/);
  t.equal(ok('*.githubusercontent.com'), '*.githubusercontent.com');
  // Shown as what approval applies: `1.1` is the address 1.0.0.1 (regression: shown as "1.1").
  t.equal(ok('1.1'), '1.0.0.1');
  t.equal(ok('0x5d.0xb8.0xd8.0x22'), '93.184.216.34');
  t.match(ok('10.1.2.3'), /is 10\.1\.2\.3, in a range the gateway never reaches \(private 10\.0\.0\.0\/8\)/);
  t.match(ok('127.1'), /is 127\.0\.0\.1, in a range/);
  t.match(ok('https://api.example.com'), /has a scheme/);
  t.match(ok('api.example.com/v1'), /path/);
  t.match(ok('user@api.example.com'), /credentials/);
  t.match(ok('api.example.com:0'), /has a port/);
  t.match(ok('localhost'), /fully qualified/);
  t.match(ok(''), /empty/);
  t.match(ok('exa mple.com'), /whitespace/);
  t.match(ok('-bad.example.com'), /not a valid hostname/);
  t.match(ok('[::1]:443'), /IPv6/);
  t.match(ok('*.example.com', 'route'), /wildcard/);
  t.match(ok('a.*.example.com'), /not a valid hostname/);
});

t.test('writeProposal writes the documented format atomically', async (t) => {
  const dir = tmp(t);
  const queue = join(dir, 'queue');
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, '{"allow":[]}\n');
  const now = new Date('2026-03-01T10:00:00.000Z');
  const p = await writeProposal(queue, { kind: 'route', host: 'API.example.com', reason: '  need the issues API  ' }, { now, policyFile: policy });
  t.match(p.id, /^20260301T100000000Z-[0-9a-f]{12}$/);
  t.same(readdirSync(queue), [`${p.id}.json`], 'one file, no temp left behind');
  const onDisk = JSON.parse(readFileSync(join(queue, `${p.id}.json`), 'utf8'));
  t.same(onDisk, {
    id: p.id, kind: 'route', payload: { host: 'api.example.com' }, reason: 'need the issues API',
    created: '2026-03-01T10:00:00.000Z',
    policyHash: createHash('sha256').update('{"allow":[]}\n').digest('hex'),
  });
  t.same(await readProposal(queue, p.id), onDisk);
  t.equal(await readProposal(queue, mintProposalId()), null, 'unknown id: null');
  const noPolicy = await writeProposal(queue, { kind: 'allowlist', host: 'a.example.com', reason: 'r' }, { policyFile: join(dir, 'missing') });
  t.equal(noPolicy.policyHash, null, 'missing policy file hashes to null');
  await t.rejects(writeProposal(queue, { kind: 'allowlist', host: 'http://x.com', reason: 'r' }), /scheme/);
  await t.rejects(writeProposal(queue, { kind: 'allowlist', host: 'x.example.com', reason: '   ' }), /reason/);
  await t.rejects(writeProposal(queue, { kind: 'allowlist', host: 'x.example.com', reason: 'x'.repeat(501) }), /reason/);
  await t.rejects(writeProposal(queue, { kind: 'allowlist', host: 'x.example.com', reason: 'ok \u001b]0;pwned\u0007' }), /plain text/, 'terminal escapes refused');
  await t.rejects(writeProposal(queue, { kind: 'allowlist', host: 'x.example.com', reason: 'abc\u202edcba' }), /bidi/, 'bidi overrides refused');
  const multi = await writeProposal(queue, { kind: 'allowlist', host: 'x.example.com', reason: 'line one\r\n\tline two\n' });
  t.equal(multi.reason, 'line one line two', 'newlines and tabs fold into one line');
});

t.test('readQueue lists oldest first and reports malformed files without failing', async (t) => {
  const queue = tmp(t);
  const second = await writeProposal(queue, { kind: 'allowlist', host: 'b.example.com', reason: 'b' }, { now: new Date('2026-01-02T00:00:00Z') });
  const first = await writeProposal(queue, { kind: 'allowlist', host: 'a.example.com', reason: 'a' }, { now: new Date('2026-01-01T00:00:00Z') });
  writeFileSync(join(queue, '20260101T000000000Z-ffffffffffff.json'), '{not json');
  writeFileSync(join(queue, '20260101T000000000Z-eeeeeeeeeeee.json'), JSON.stringify({ ...first, id: '20260101T000000000Z-eeeeeeeeeeee', kind: 'nope' }));
  writeFileSync(join(queue, '20260101T000000000Z-dddddddddddd.json'), JSON.stringify(first));
  writeFileSync(join(queue, 'notes.json'), '{}');
  writeFileSync(join(queue, `.${first.id}.json.1234.tmp`), '{');
  writeFileSync(join(queue, 'README'), 'ignored');
  const { proposals, errors } = await readQueue(queue);
  t.same(proposals.map((p) => p.id), [first.id, second.id]);
  t.equal(errors.length, 4);
  t.ok(errors.every((e) => e instanceof ProposalFileError));
  t.match(errors.map((e) => e.reason).join('\n'), /does not match the file name[\s\S]*kind[\s\S]*not JSON[\s\S]*file name is not/);
  t.same(await readQueue(join(queue, 'missing')), { proposals: [], errors: [] }, 'missing dir is an empty queue');
});

t.test('decisions: atomic write, read back, null when absent, typed error when malformed', async (t) => {
  const dir = tmp(t);
  const id = mintProposalId();
  t.equal(await readDecision(dir, id), null);
  const d = await writeDecision(join(dir, 'decisions'), { id, decision: 'approved', decided: new Date().toISOString(), note: 'ok for a week', stale: false });
  t.same(await readDecision(join(dir, 'decisions'), id), d);
  t.same(readdirSync(join(dir, 'decisions')), [`${id}.json`]);
  await t.rejects(writeDecision(dir, { id, decision: 'maybe' as 'approved', decided: new Date().toISOString() }), 'invalid decision not written');
  writeFileSync(join(dir, `${id}.json`), '{"id":"x"');
  await t.rejects(readDecision(dir, id), ProposalFileError);
  await t.rejects(readDecision(dir, '../../etc/passwd'), /not a proposal id/, 'path traversal refused');
});

t.test('policyHash and isStale', async (t) => {
  const dir = tmp(t);
  const f = join(dir, 'p');
  t.equal(await policyHash(undefined), null);
  t.equal(await policyHash(f), null);
  writeFileSync(f, 'v1');
  const h1 = await policyHash(f);
  t.same(h1, { sha256: createHash('sha256').update('v1').digest('hex'), policy: null }, 'a file that is no policy has a hash, no meaning');
  const p = await writeProposal(dir, { kind: 'allowlist', host: 'a.example.com', reason: 'r' }, { policyFile: f });
  t.equal(p.policyHash, h1!.sha256);
  t.equal(p.baseHash, undefined);
  t.notOk(isStale(p, h1));
  writeFileSync(f, 'v2');
  t.ok(isStale(p, await policyHash(f)), 'policy changed since the proposal (no meaning to compare: any change counts)');
});

t.test('isStale: only a change to what the policy says about the proposal\'s host counts', async (t) => {
  const dir = tmp(t);
  const f = join(dir, 'policy.yaml');
  const base = 'version: 1\nallow: [registry.npmjs.org]\n';
  writeFileSync(f, base);
  const exact = await writeProposal(dir, { kind: 'allowlist', host: 'docs.example.com', reason: 'r' }, { policyFile: f });
  const wild = await writeProposal(dir, { kind: 'allowlist', host: '*.example.com', reason: 'r' }, { policyFile: f });
  t.match(exact.baseHash, /^[0-9a-f]{64}$/);
  const staleAfter = async (text: string) => {
    writeFileSync(f, text);
    const now = await policyHash(f);
    return [isStale(exact, now), isStale(wild, now)];
  };
  t.same(await staleAfter(`${base}# a comment\n`), [false, false], 'same meaning');
  t.same(await staleAfter(`${base}limits: { maxUrlLength: 4096 }\n`), [false, false], 'limits are about no host');
  t.same(await staleAfter('version: 1\nallow: [registry.npmjs.org, other.org]\n'), [false, false], 'another host');
  t.same(await staleAfter('version: 1\nallow: [registry.npmjs.org, api.example.com]\n'), [false, true], 'a host inside the wildcard');
  t.same(await staleAfter('version: 1\nallow: [registry.npmjs.org]\nblock: ["*.example.com"]\n'), [true, true], 'a block covering both');
  t.same(await staleAfter('version: 1\nallow: ["*"]\n'), [true, true], '"*" is about every host');
  t.same(await staleAfter('version: 1\nallow: [registry.npmjs.org]\nroutes: [{ host: docs.example.com, headers: { A: K } }]\n'), [true, true], 'a route for the host');
  const p = loadPolicy(base);
  t.equal(hostBaseHash(p, 'docs.example.com'), hostBaseHash({ ...p, allow: [...p.allow, 'b.org'] }, 'docs.example.com'));
  t.same([patternsOverlap('*.x.com', 'x.com'), patternsOverlap('a.x.com', '*.x.com'), patternsOverlap('*.a.x.com', '*.x.com'), patternsOverlap('ax.com', '*.x.com'), patternsOverlap('*', '1.2.3.4')],
    [true, true, true, false, true]);
});

t.test('a push (git-gate\'s held push) carries payload.push, and only a push does; it never goes stale', async (t) => {
  const dir = tmp(t);
  const p = await writePushProposal(dir);
  t.same(await readProposal(dir, p.id), p, 'a held push reads back as written');
  t.ok(ProposalSchema.safeParse(p).success);
  const refusal = (doc: unknown): string => {
    const r = ProposalSchema.safeParse(doc);
    return r.success ? 'accepted' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  t.equal(refusal({ ...p, payload: { host: 'origin' } }), 'payload.push: payload.push is present exactly when kind is push', 'kind push without payload.push');
  t.equal(refusal({ ...p, kind: 'allowlist', payload: { host: 'example.com', push: samplePush() } }), 'payload.push: payload.push is present exactly when kind is push', 'payload.push on an allowlist proposal');
  t.equal(refusal({ ...p, kind: 'route', payload: { host: 'example.com', push: samplePush() } }), 'payload.push: payload.push is present exactly when kind is push');
  t.match(refusal({ ...p, payload: { host: 'origin', push: samplePush({ scan: { findings: 2, commits: 1, objects: 1 } as never }) } }), /^payload\.push\.scan\.findings: /, 'a push with findings is never held');
  t.match(refusal({ ...p, payload: { host: 'origin', push: samplePush({ refs: [] }) } }), /^payload\.push\.refs: /, 'at least one ref');
  t.match(refusal({ ...p, payload: { host: 'origin', push: samplePush({ refs: [{ ref: 'refs/heads/main', old: 'HEAD', new: 'a'.repeat(40) }] }) } }), /^payload\.push\.refs\.0\.old: /, 'shas only');
  writeFileSync(join(dir, `${p.id}.json`), JSON.stringify({ ...p, payload: { host: 'origin' } }));
  const { proposals, errors } = await readQueue(dir);
  t.same(proposals, []);
  t.equal(errors.length, 1, 'the .diff beside it is not a queue file');
  t.match(errors[0]?.reason, /payload\.push: payload\.push is present exactly when kind is push/, 'a malformed push is reported, not listed');

  const f = join(dir, 'policy.yaml');
  writeFileSync(f, 'version: 1\nallow: ["*"]\n');
  t.equal(isStale(p, await policyHash(f)), false, 'a held push does not depend on the policy');
  t.equal(isStale(p, null), false, 'not even on a missing one');
});
