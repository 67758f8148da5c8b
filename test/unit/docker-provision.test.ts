// The provisioning step list (pure) and its runner over a recording transport.
import t from 'tap';
import { archiveRoot } from '../../lib/backends/bundle/archive.js';
import { PLACEHOLDER_API_KEY } from '../../lib/backends/bundle/names.js';
import {
  claudeSettings, claudeState, hookCommand, gitconfigText, provisionFiles, type ProvisionTransport, provisionSteps, runProvision, TRUST_CA_ARGV,
} from '../../lib/backends/bundle/provision.js';
import { rootedEntries } from '../../lib/backends/bundle/archive.js';
import { readTarMembers, tarBuffer } from '../../lib/backends/bundle/tar.js';
import { passwdIds } from '../../lib/backends/docker/transport.js';
import { agentPrompt, ASK_PROMPT } from '../../lib/plan/index.js';
import { samplePlan } from '../fixtures/docker/bottle.js';

const full = samplePlan({
  workspace: '/host/ws',
  skills: ['/host/skills/review', '/host/skills/deploy'],
  git: [{ name: 'origin', upstream: 'git@github.com:acme/app.git' }, { name: 'docs', upstream: 'https://github.com/acme/docs.git' }],
});
const input = { plan: full, caCertHostPath: '/state/x/ca/ca.crt', superviseUrl: 'http://supervise:9100' };

t.test('the full step list, in order', async (t) => {
  const steps = provisionSteps(input);
  t.same(steps.map((s) => s.name), ['trust-ca', 'gitconfig', 'claude-config', 'prompt', 'skills', 'workspace']);
  const [ca] = steps;
  t.same(ca!.actions, [
    { kind: 'copy-file', from: '/state/x/ca/ca.crt', path: '/usr/local/share/ca-certificates/bottle-ca.crt', mode: 0o644, owner: 'root' },
    { kind: 'exec', user: 'root', argv: TRUST_CA_ARGV, what: 'appending the CA to /etc/ssl/certs/ca-certificates.crt' },
  ]);
  t.notMatch(JSON.stringify(steps), 'ca.key', 'the CA key is never copied');
  const state = steps.find((s) => s.name === 'claude-config')!.actions.find((a) => a.kind === 'write' && a.path === '/home/node/.claude.json');
  t.match(JSON.parse(state?.kind === 'write' ? state.content : '{}'), { mcpServers: { supervise: { type: 'http', url: 'http://supervise:9100/mcp' } } }, 'supervise registered at user scope');
  t.same(steps.find((s) => s.name === 'skills')!.actions, [
    { kind: 'copy-dir', from: '/host/skills/review', path: '/home/node/.claude/skills/review', owner: 'agent' },
    { kind: 'copy-dir', from: '/host/skills/deploy', path: '/home/node/.claude/skills/deploy', owner: 'agent' },
  ]);
  t.same(steps.find((s) => s.name === 'workspace')!.actions, [
    { kind: 'copy-dir', from: '/host/ws/.git', path: '/workspace/.git', owner: 'agent' },
    { kind: 'exec', user: 'agent', argv: ['git', 'checkout', '-f', '--quiet'], workdir: '/workspace', mayFail: true },
  ]);
  const prompt = steps.find((s) => s.name === 'prompt')!.actions[0]!;
  t.same(prompt, { kind: 'write', path: '/home/node/.bottle/prompt.md', content: `You are a test agent.\n\n${ASK_PROMPT}\n`, mode: 0o644, owner: 'agent' },
    'the manifest prompt, then bottle\'s note on asking');
});

t.test('the prompt file: bottle\'s note alone without a manifest prompt; nothing without supervise either', async (t) => {
  const note = provisionSteps({ plan: samplePlan({ prompt: undefined }), caCertHostPath: '/ca.crt' }).find((s) => s.name === 'prompt');
  t.match(note?.actions[0], { content: `${ASK_PROMPT}\n` });
  t.match(ASK_PROMPT, /^[^.]+\. To ask the operator for access, call the supervise MCP tool propose_allowlist_change .*\{"host": "<the host>", "reason": "<why you need it>"\}.*\.$/, 'two sentences, the second the exact call');
  const own = provisionSteps({ plan: samplePlan({ supervise: false }), caCertHostPath: '/ca.crt' }).find((s) => s.name === 'prompt');
  t.match(own?.actions[0], { content: 'You are a test agent.\n' }, 'no note where there is no supervise to ask');
  t.same(agentPrompt({ prompt: '  \n', supervise: false }), undefined, 'a blank prompt and no supervise: no file');
});

t.test('minimal plan: no supervise, prompt, skills or workspace steps', async (t) => {
  const steps = provisionSteps({ plan: samplePlan({ prompt: undefined, supervise: false }), caCertHostPath: '/ca.crt' });
  t.same(steps.map((s) => s.name), ['trust-ca', 'gitconfig', 'claude-config']);
  t.same(claudeSettings(undefined), { skipDangerousModePermissionPrompt: true }, 'no hooks without supervise');
  t.notOk('mcpServers' in claudeState(), 'and no MCP server');
});

t.test('gitconfig rewrites each upstream to its git-gate mirror', async (t) => {
  const text = gitconfigText(full);
  t.match(text, '[url "git://git-gate/origin.git"]\n\tinsteadOf = git@github.com:acme/app.git\n');
  t.match(text, '[url "git://git-gate/docs.git"]\n\tinsteadOf = https://github.com/acme/docs.git\n');
  t.match(text, '\tname = tester (bottle)\n');
  t.match(text, '\temail = tester@bottle.invalid\n');
});

t.test('claude settings: bypass dialog off, Notification and Stop POST to supervise', async (t) => {
  const s = claudeSettings('http://supervise:9100') as { skipDangerousModePermissionPrompt: boolean; hooks: Record<string, unknown> };
  t.equal(s.skipDangerousModePermissionPrompt, true);
  const hook = [{ hooks: [{ type: 'command', command: hookCommand('http://supervise:9100'), timeout: 10 }] }];
  t.same(s.hooks, { Notification: hook, Stop: hook });
  t.match(hookCommand('http://supervise:9100'), /^curl .*--data-binary @- http:\/\/supervise:9100\/hooks\/claude \|\| true$/, 'curl posts the event from stdin, never failing the turn');
  t.same((claudeState() as { customApiKeyResponses: unknown }).customApiKeyResponses, { approved: [PLACEHOLDER_API_KEY.slice(-20)], rejected: [] });
});

t.test('archive roots: agent files unpack under home/workspace (so parents get the agent owner)', async (t) => {
  t.same(archiveRoot('/home/node/.claude/skills/review'), { root: '/home/node', rel: '.claude/skills/review' });
  t.same(archiveRoot('/workspace/.git'), { root: '/workspace', rel: '.git' });
  t.same(archiveRoot('/usr/local/share/ca-certificates/bottle-ca.crt'), { root: '/usr/local/share/ca-certificates', rel: 'bottle-ca.crt' });
});

function recorder(exitFor: (argv: string[]) => number = () => 0): ProvisionTransport & { ops: string[] } {
  const ops: string[] = [];
  return {
    ops,
    write: async (files) => { ops.push(...files.map((f) => `write ${f.path} ${f.owner} ${f.mode.toString(8)} ${f.content.length}`)); },
    copyDir: async (from, path, owner) => { ops.push(`copyDir ${from} ${path} ${owner}`); },
    exec: async (user, argv) => { ops.push(`exec ${user} ${argv.join(' ')}`); return { exitCode: exitFor(argv), stdout: '', stderr: 'boom\n' }; },
    readHostFile: async (p) => { ops.push(`read ${p}`); return Buffer.from('CERT'); },
  };
}

t.test('runProvision: one progress line per step; files in one batch, then directories, then commands', async (t) => {
  const tr = recorder();
  const lines: string[] = [];
  await runProvision(provisionSteps(input), tr, (l) => lines.push(l));
  t.same(lines.filter((l) => !l.includes(' done (')), [
    'provision: bundle CA into the trust store',
    'provision: git config (upstreams through git-gate)',
    'provision: claude settings, hooks and the supervise MCP server',
    'provision: system prompt file',
    'provision: skills (review, deploy)',
    'provision: workspace from /host/ws',
  ]);
  t.same(tr.ops.map((o) => o.replace(/ \d+$/, '')), [
    'read /state/x/ca/ca.crt',
    'write /usr/local/share/ca-certificates/bottle-ca.crt root 644',
    'write /home/node/.gitconfig agent 644',
    'write /home/node/.claude/settings.json agent 644',
    'write /home/node/.claude.json agent 600',
    'write /home/node/.bottle/prompt.md agent 644',
    'copyDir /host/skills/review /home/node/.claude/skills/review agent',
    'copyDir /host/skills/deploy /home/node/.claude/skills/deploy agent',
    'copyDir /host/ws/.git /workspace/.git agent',
    `exec root ${TRUST_CA_ARGV.join(' ')}`,
    'exec agent git checkout -f --quiet',
  ], 'the checkout runs after the .git copy, the CA command after the CA file');
});

t.test('runProvision: a failing command stops with the step name; mayFail only notes', async (t) => {
  const failing = recorder((argv) => (argv[1] === 'trust-ca' || argv[3] === 'trust-ca' ? 2 : 0));
  await t.rejects(runProvision(provisionSteps(input), failing, () => undefined), /provisioning step trust-ca failed: appending the CA to \/etc\/ssl\/certs\/ca-certificates.crt exited 2: boom/);
  const lines: string[] = [];
  const checkoutFails = recorder((argv) => (argv[0] === 'git' ? 128 : 0));
  await runProvision(provisionSteps(input), checkoutFails, (l) => lines.push(l));
  t.ok(lines.some((l) => l.startsWith('provision: note: git checkout -f --quiet exited 128')));
});

t.test('runProvision honours an aborted signal', async (t) => {
  const ac = new AbortController();
  ac.abort();
  await t.rejects(runProvision(provisionSteps(input), recorder(), () => undefined, ac.signal));
});

const CA = '-----BEGIN CERTIFICATE-----\nBOTTLECA\n-----END CERTIFICATE-----\n';

t.test('provisionFiles makes no command run and hands the commands back in step order', async (t) => {
  const tr = recorder();
  const left = await provisionFiles(provisionSteps(input), tr);
  t.notOk(tr.ops.some((o) => o.startsWith('exec')), 'no command yet');
  t.same(left.map((c) => `${c.step.name} ${c.action.argv[0]}`), ['trust-ca sh', 'workspace git']);
});

t.test('the agent user from /etc/passwd; files as one archive at / with their roots left alone', async (t) => {
  t.same(passwdIds('root:x:0:0::/root:/bin/sh\nnode:x:1000:1001::/home/node:/bin/bash\n', 'node'), { uid: 1000, gid: 1001 });
  t.equal(passwdIds('nodejs:x:1:1::/:/bin/sh\n', 'node'), undefined);
  const entries = rootedEntries([
    { path: '/home/node/.claude/settings.json', content: Buffer.from('{}'), mode: 0o644, owner: 'agent' },
    { path: '/home/node/.claude.json', content: Buffer.from('{}'), mode: 0o600, owner: 'agent' },
    { path: '/usr/local/share/ca-certificates/bottle-ca.crt', content: Buffer.from(CA), mode: 0o644, owner: 'root' },
  ], (o) => (o === 'root' ? { uid: 0, gid: 0 } : { uid: 1000, gid: 1000 }));
  t.same(entries.map((e) => `${e.type} ${e.path} ${e.uid}:${e.gid} ${e.mode!.toString(8)}`), [
    'dir home/node/.claude 1000:1000 755',
    'file home/node/.claude/settings.json 1000:1000 644',
    'file home/node/.claude.json 1000:1000 600',
    'file usr/local/share/ca-certificates/bottle-ca.crt 0:0 644',
  ]);
  const members = await readTarMembers([tarBuffer(entries)]);
  t.same(members.map((m) => [m.path.replace(/\/$/, ''), m.type, m.uid, m.mode]), entries.map((e) => [e.path, e.type, e.uid, e.mode]), 'read back as written');
  t.equal(members[1]!.content.toString(), '{}');
});
