// The provisioning step list (pure) and its runner over a recording transport.
import t from 'tap';
import { claudeSettings, claudeState, gitconfigText, type ProvisionTransport, provisionSteps, runProvision } from '../../lib/backends/docker/provision.js';
import { PLACEHOLDER_API_KEY } from '../../lib/backends/docker/names.js';
import { archiveRoot } from '../../lib/backends/docker/transport.js';
import { samplePlan } from '../fixtures/docker/bottle.js';

const full = samplePlan({
  workspace: '/host/ws',
  skills: ['/host/skills/review', '/host/skills/deploy'],
  git: [{ name: 'origin', upstream: 'git@github.com:acme/app.git' }, { name: 'docs', upstream: 'https://github.com/acme/docs.git' }],
});
const input = { plan: full, caCertHostPath: '/state/x/ca/ca.crt', superviseUrl: 'http://supervise:9100' };

t.test('the full step list, in order', async (t) => {
  const steps = provisionSteps(input);
  t.same(steps.map((s) => s.name), ['trust-ca', 'gitconfig', 'claude-config', 'mcp-supervise', 'prompt', 'skills', 'workspace']);
  const [ca] = steps;
  t.same(ca!.actions, [
    { kind: 'copy-file', from: '/state/x/ca/ca.crt', path: '/usr/local/share/ca-certificates/bottle-ca.crt', mode: 0o644, owner: 'root' },
    { kind: 'exec', user: 'root', argv: ['update-ca-certificates'] },
  ]);
  t.notMatch(JSON.stringify(steps), 'ca.key', 'the CA key is never copied');
  const mcp = steps.find((s) => s.name === 'mcp-supervise')!;
  t.same(mcp.actions.map((a) => a.kind === 'exec' && [a.user, a.argv, a.mayFail]), [
    ['agent', ['claude', 'mcp', 'remove', '-s', 'user', 'supervise'], 'quiet'],
    ['agent', ['claude', 'mcp', 'add', '--transport', 'http', '-s', 'user', 'supervise', 'http://supervise:9100/mcp'], undefined],
  ]);
  t.same(steps.find((s) => s.name === 'skills')!.actions, [
    { kind: 'copy-dir', from: '/host/skills/review', path: '/home/node/.claude/skills/review', owner: 'agent' },
    { kind: 'copy-dir', from: '/host/skills/deploy', path: '/home/node/.claude/skills/deploy', owner: 'agent' },
  ]);
  t.same(steps.find((s) => s.name === 'workspace')!.actions, [
    { kind: 'copy-dir', from: '/host/ws/.git', path: '/workspace/.git', owner: 'agent' },
    { kind: 'exec', user: 'agent', argv: ['git', 'checkout', '-f', '--quiet'], workdir: '/workspace', mayFail: true },
  ]);
  const prompt = steps.find((s) => s.name === 'prompt')!.actions[0]!;
  t.match(prompt, { kind: 'write', path: '/home/node/.bottle/prompt.md', content: 'You are a test agent.\n', owner: 'agent' });
});

t.test('minimal plan: no supervise, prompt, skills or workspace steps', async (t) => {
  const steps = provisionSteps({ plan: samplePlan({ prompt: undefined }), caCertHostPath: '/ca.crt' });
  t.same(steps.map((s) => s.name), ['trust-ca', 'gitconfig', 'claude-config']);
  t.same(claudeSettings(undefined), { skipDangerousModePermissionPrompt: true }, 'no hooks without supervise');
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
  const hook = [{ hooks: [{ type: 'http', url: 'http://supervise:9100/hooks/claude', timeout: 5 }] }];
  t.same(s.hooks, { Notification: hook, Stop: hook });
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

t.test('runProvision: one progress line per step, through the transport', async (t) => {
  const tr = recorder((argv) => (argv[2] === 'remove' ? 1 : 0));
  const lines: string[] = [];
  await runProvision(provisionSteps(input), tr, (l) => lines.push(l));
  t.same(lines.filter((l) => !l.includes(' done (')), [
    'provision: bundle CA into the trust store',
    'provision: git config (upstreams through git-gate)',
    'provision: claude settings and hooks',
    'provision: supervise MCP server for claude',
    'provision: system prompt file',
    'provision: skills (review, deploy)',
    'provision: workspace from /host/ws',
  ]);
  t.same(tr.ops.slice(0, 3), ['read /state/x/ca/ca.crt', 'write /usr/local/share/ca-certificates/bottle-ca.crt root 644 4', 'exec root update-ca-certificates']);
  t.ok(tr.ops.includes('copyDir /host/ws/.git /workspace/.git agent'));
});

t.test('runProvision: a failing command stops with the step name; mayFail only notes', async (t) => {
  const failing = recorder((argv) => (argv[0] === 'update-ca-certificates' ? 2 : 0));
  await t.rejects(runProvision(provisionSteps(input), failing, () => undefined), /provisioning step trust-ca failed: update-ca-certificates exited 2: boom/);
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
